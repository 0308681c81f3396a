"""Rate limits: token buckets, headers, placement, before dependencies, proxies, memory."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fastware_auth import (
    MemoryRateLimitBackend,
    Rate,
    RateLimit,
    RateLimitInjector,
    TrustedProxies,
    parse_rate,
    rate_limit,
)
from fastware_core import HTTPError, Request, Router, TestClient, create_app


def test_parse_rate() -> None:
    assert parse_rate("5/minute") == Rate(5, 60.0)
    assert parse_rate("1/second") == Rate(1, 1.0)
    assert parse_rate(" 100 / hour ") == Rate(100, 3600.0)
    assert parse_rate("10/day") == Rate(10, 86400.0)
    assert str(parse_rate("5/minute")) == "5/minute"
    for bad in ("5", "five/minute", "0/minute", "5/fortnight", "-1/second", "", "5/minute/x"):
        with pytest.raises(ValueError, match="Invalid rate"):
            parse_rate(bad)
    with pytest.raises(ValueError):
        rate_limit("5 per minute")


def test_token_bucket_semantics(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("fastware_auth.ratelimit.time.monotonic", lambda: clock[0])
    backend = MemoryRateLimitBackend()
    results = [backend.hit_now("k", 3, 60.0).allowed for _ in range(4)]
    assert results == [True, True, True, False]
    refused = backend.hit_now("k", 3, 60.0)
    assert refused.retry_after == pytest.approx(20.0)
    tokens_before = backend.buckets["k"][0]
    backend.hit_now("k", 3, 60.0)
    assert backend.buckets["k"][0] == tokens_before  # a refusal does not drain further
    clock[0] += 20.0  # one token refilled (3 per 60 s)
    assert backend.hit_now("k", 3, 60.0).allowed
    assert not backend.hit_now("k", 3, 60.0).allowed
    clock[0] += 3600
    decision = backend.hit_now("k", 3, 60.0)
    assert decision.allowed
    assert decision.remaining == 2
    assert backend.hit_now("other", 3, 60.0).remaining == 2  # a new key starts full


def test_memory_stays_bounded_under_a_flood_of_keys() -> None:
    backend = MemoryRateLimitBackend(max_keys=1000)
    for n in range(20_000):
        backend.hit_now(f"client-{n}", 5, 60.0)
    assert len(backend.buckets) <= 1000
    assert backend.evicted > 0


def test_refilled_buckets_are_swept(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr("fastware_auth.ratelimit.time.monotonic", lambda: clock[0])
    backend = MemoryRateLimitBackend()
    for n in range(100):
        backend.hit_now(f"old-{n}", 5, 1.0)
    clock[0] += 10
    for n in range(100):
        backend.hit_now(f"new-{n}", 5, 1.0)
    assert not any(key.startswith("old-") for key in backend.buckets)
    assert backend.evicted == 0


def _make_app(place: str, injector: bool, counter: list[str]) -> Any:
    router = Router()

    async def expensive(request: Request) -> str:  # stands for a database connection
        counter.append("dep")
        return "db"

    if place == "below":

        @router.get("/limited")
        @rate_limit("3/minute")
        async def limited(request: Request) -> dict[str, bool]:
            counter.append("handler")
            return {"ok": True}
    else:

        @rate_limit("3/minute")
        @router.get("/limited")
        async def limited(request: Request) -> dict[str, bool]:
            counter.append("handler")
            return {"ok": True}

    @router.get("/sync")
    @rate_limit("2/minute")
    def sync_handler(request: Request) -> dict[str, bool]:
        return {"sync": True}

    @router.get("/")
    async def index(request: Request) -> dict[str, bool]:
        return {"ready": True}

    return create_app(router, injector=RateLimitInjector() if injector else None)


@pytest.mark.parametrize(
    ("place", "injector"), [("below", True), ("above", True), ("below", False)]
)
def test_limits_apply_on_either_side_of_the_route_decorator(place: str, injector: bool) -> None:
    calls: list[str] = []
    with TestClient(_make_app(place, injector, calls)) as client:
        statuses = [client.get("/limited").status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        assert calls.count("handler") == 3
        refused = client.get("/limited")
        assert refused.json() == {"detail": "Rate limit exceeded"}
        assert int(refused.headers["retry-after"]) == 20
        assert refused.headers["ratelimit-limit"] == "3"
        assert refused.headers["ratelimit-remaining"] == "0"
        assert 1 <= int(refused.headers["ratelimit-reset"]) <= 60
        assert refused.headers["ratelimit-policy"] == "3;w=60"
        assert [client.get("/sync").status_code for _ in range(3)] == [200, 200, 429]
        assert [client.get("/").status_code for _ in range(10)] == [200] * 10


def test_the_limit_is_checked_before_dependencies() -> None:
    """With fastware-di absent, a stand-in inner injector resolves one 'dependency'."""
    calls: list[str] = []

    class CountingInjector:
        def __init__(self) -> None:
            self.overrides: dict[Any, Any] = {}

        def prepare(self, entry: Any, *, websocket: bool) -> Any:
            async def call(connection: Any) -> Any:
                calls.append("dependency")
                return await entry.call(connection)

            return call

        async def startup(self) -> None:
            return None

        async def shutdown(self) -> None:
            return None

    router = Router()

    @router.get("/x")
    @rate_limit("2/minute")
    async def x(request: Request) -> dict[str, bool]:
        calls.append("handler")
        return {"ok": True}

    app = create_app(router, injector=RateLimitInjector(CountingInjector()))
    with TestClient(app) as client:
        assert [client.get("/x").status_code for _ in range(5)] == [200, 200, 429, 429, 429]
    assert calls == ["dependency", "handler", "dependency", "handler"]


def test_stacked_limits_all_apply() -> None:
    router = Router()

    @router.get("/x")
    @rate_limit("5/minute")
    @rate_limit("2/second")
    async def x(request: Request) -> dict[str, bool]:
        return {"ok": True}

    with TestClient(create_app(router, injector=RateLimitInjector())) as client:
        assert [client.get("/x").status_code for _ in range(3)] == [200, 200, 429]


def test_keys_and_0_6_3_attributes() -> None:
    router = Router()

    @router.get("/x")
    @rate_limit("1/minute", key_func=lambda request: request.headers.get("x-api-key", "anon"))
    async def x(request: Request) -> dict[str, bool]:
        return {"ok": True}

    assert isinstance(x._buckets, dict)  # type: ignore[attr-defined]
    assert x.__name__ == "x"
    with TestClient(create_app(router, injector=RateLimitInjector())) as client:
        assert client.get("/x", headers={"x-api-key": "a"}).status_code == 200
        assert client.get("/x", headers={"x-api-key": "a"}).status_code == 429
        assert client.get("/x", headers={"x-api-key": "b"}).status_code == 200
    assert set(x._buckets) == {"a", "b"}  # type: ignore[attr-defined]


class FakeConnection:
    def __init__(self, peer: str | None, forwarded: list[str] | None = None) -> None:
        from fastware_core import Headers

        self.client = (peer, 1234) if peer is not None else None
        self.headers = Headers([("x-forwarded-for", v) for v in forwarded or []])


def test_forwarded_headers_are_read_only_behind_trusted_proxies() -> None:
    limit = RateLimit("5/minute", trusted_proxies=["10.0.0.0/8", "127.0.0.1"])
    untrusted = RateLimit("5/minute")
    spoofed = FakeConnection("203.0.113.9", ["1.2.3.4"])
    assert untrusted.key(spoofed) == "203.0.113.9"
    assert limit.key(spoofed) == "203.0.113.9"  # the peer is no proxy: header ignored
    via_proxy = FakeConnection("10.1.2.3", ["1.2.3.4, 198.51.100.7, 10.9.9.9"])
    assert limit.key(via_proxy) == "198.51.100.7"  # rightmost untrusted hop
    two_headers = FakeConnection("127.0.0.1", ["1.1.1.1", "198.51.100.8"])
    assert limit.key(two_headers) == "198.51.100.8"
    garbage = FakeConnection("10.0.0.1", ["not-an-ip"])
    assert limit.key(garbage) == "10.0.0.1"
    with_port = FakeConnection("10.0.0.1", ["198.51.100.9:5555"])
    assert limit.key(with_port) == "198.51.100.9"
    assert limit.key(FakeConnection(None)) == "unknown"
    with pytest.raises(ValueError, match="trusted proxy"):
        TrustedProxies(["example.com"])


def test_ipv6_clients_are_grouped_by_prefix() -> None:
    limit = RateLimit("5/minute")
    a = limit.key(FakeConnection("2001:db8:1:2::1"))
    b = limit.key(FakeConnection("2001:db8:1:2:ffff::9"))
    c = limit.key(FakeConnection("2001:db8:1:3::1"))
    assert a == b == "2001:db8:1:2::/64"
    assert c != a
    exact = RateLimit("5/minute", ipv6_prefix=None)
    assert exact.key(FakeConnection("2001:db8::1")) == "2001:db8::1"


def test_process_local_limits_are_described_for_the_server_warning() -> None:
    router = Router()

    @router.get("/x")
    @rate_limit("5/minute")
    async def x(request: Request) -> dict[str, bool]:
        return {"ok": True}

    injector = RateLimitInjector()
    create_app(router, injector=injector)
    assert injector.fastware_process_local is not None
    assert "5/minute" in injector.fastware_process_local
    assert "test_ratelimit" in injector.fastware_process_local
    assert MemoryRateLimitBackend.fastware_process_local


def test_the_injector_refuses_deps_without_an_inner_injector() -> None:
    from fastware_core import FastwareError

    router = Router()

    @router.get("/x", deps={"db": lambda: 1})
    async def x(request: Request, db: int) -> int:
        return db

    with pytest.raises(FastwareError, match="deps"):
        create_app(router, injector=RateLimitInjector())


@pytest.mark.anyio
async def test_concurrent_requests_never_exceed_the_limit() -> None:
    limit = RateLimit("50/hour")
    connection = FakeConnection("198.51.100.1")
    results = await asyncio.gather(*(limit.hit(connection) for _ in range(200)))
    assert sum(decision.allowed for decision in results) == 50


@pytest.mark.anyio
async def test_check_raises_a_429_http_error() -> None:
    limit = RateLimit("1/hour")
    connection = FakeConnection("198.51.100.2")
    await limit.check(connection)
    with pytest.raises(HTTPError) as refused:
        await limit.check(connection)
    assert refused.value.status_code == 429
    assert dict(refused.value.headers or [])["Retry-After"] == "3600"


def test_a_thread_hammering_the_memory_backend_stays_consistent() -> None:
    import threading

    backend = MemoryRateLimitBackend()
    allowed: list[bool] = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(500):
            decision = backend.hit_now("shared", 100, 3600.0)
            with lock:
                allowed.append(decision.allowed)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 100


def test_rate_limited_typed_handlers_get_their_parameters_after_the_check() -> None:
    router = Router()

    @router.get("/with-request/{n:int}")
    @rate_limit("100/minute")
    async def with_request(request: Request, n: int, q: int = 1) -> dict[str, int]:
        return {"n": n, "q": q}

    @router.get("/typed/{n:int}")
    @rate_limit("2/minute")
    async def typed(n: int, q: int = 1) -> dict[str, int]:
        return {"n": n, "q": q}

    with TestClient(create_app(router, injector=RateLimitInjector())) as client:
        assert client.get("/with-request/3?q=4").json() == {"n": 3, "q": 4}
        assert client.get("/typed/3?q=5").json() == {"n": 3, "q": 5}
        invalid = client.get("/typed/3?q=x")
        assert invalid.status_code == 422
        assert invalid.json()["detail"][0]["loc"] == ["query", "q"]
        assert client.get("/typed/3").status_code == 429  # the limit is checked first
