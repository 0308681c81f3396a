"""App-scoped dependencies (created at startup, shared, torn down at shutdown) and blocking
factories (run in a worker thread)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pytest

from fastware_core import AsyncTestClient, Request, Router, TestClient, create_app
from fastware_core.app import App
from fastware_di import DependencyOptions, DependencyResolver, Depends, dependency

EVENTS: list[str] = []
THREADS: dict[str, int] = {}
_serial = itertools.count(1)


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    EVENTS.clear()
    THREADS.clear()
    yield
    EVENTS.clear()
    THREADS.clear()


def make_app(router: Router) -> App:
    return create_app(router, injector=DependencyResolver())


# -- app-scoped factories ------------------------------------------------------------------


@dependency(scope="app")
async def app_config() -> AsyncIterator[dict[str, int]]:
    EVENTS.append("up config")
    yield {"serial": next(_serial)}
    EVENTS.append("down config")


@dependency(scope="app")
def app_pool(config: Annotated[dict[str, int], Depends(app_config)]) -> Iterator[dict[str, Any]]:
    EVENTS.append("up pool")
    yield {"serial": next(_serial), "config": config["serial"]}
    EVENTS.append("down pool")


@dependency(scope="app")
async def app_cache() -> AsyncIterator[str]:
    EVENTS.append("up cache")
    yield "cache"
    EVENTS.append("down cache")


@dependency(scope="app")
async def slow_app_value() -> int:
    EVENTS.append("create slow")
    await asyncio.sleep(0.05)
    return next(_serial)


@dependency(scope="app")
def plain_app_value() -> dict[str, int]:
    EVENTS.append("create plain")
    return {"serial": next(_serial)}


@dependency(scope="app")
def app_fails() -> str:
    EVENTS.append("app fails")
    raise RuntimeError("cannot start")


@dependency(scope="app")
def flaky_app_value() -> str:
    THREADS["flaky calls"] = THREADS.get("flaky calls", 0) + 1
    if THREADS["flaky calls"] == 1:
        raise LookupError("first try fails")
    EVENTS.append("flaky ok")
    return "ok"


@dependency(scope="app")
async def app_bad_teardown() -> AsyncIterator[str]:
    EVENTS.append("up bad teardown")
    yield "bad teardown"
    raise OSError("teardown failed")


@dependency(scope="app")
async def slow_failing_app_value() -> str:
    EVENTS.append("try slow failing")
    await asyncio.sleep(0.05)
    raise LookupError("slow failure")


def request_session(
    request: Request, pool: Annotated[dict[str, Any], Depends(app_pool)]
) -> Iterator[str]:
    EVENTS.append("open session")
    yield f"session on pool {pool['serial']} for {request.path}"
    EVENTS.append("close session")


# -- blocking factories --------------------------------------------------------------------


async def loop_thread() -> int:
    THREADS["loop"] = threading.get_ident()
    return THREADS["loop"]


@dependency(blocking=True)
def blocking_value() -> str:
    THREADS["blocking value"] = threading.get_ident()
    return "blocking"


@dependency(blocking=True)
def blocking_gen() -> Iterator[str]:
    THREADS["blocking gen setup"] = threading.get_ident()
    yield "blocking gen"
    THREADS["blocking gen cleanup"] = threading.get_ident()


def plain_sync_value() -> str:
    THREADS["plain sync"] = threading.get_ident()
    return "plain"


def plain_sync_gen() -> Iterator[str]:
    THREADS["plain gen setup"] = threading.get_ident()
    yield "plain gen"
    THREADS["plain gen cleanup"] = threading.get_ident()


@dependency(scope="app", blocking=True)
def blocking_app_gen() -> Iterator[str]:
    THREADS["app gen setup"] = threading.get_ident()
    EVENTS.append("up blocking app")
    yield "blocking app"
    THREADS["app gen cleanup"] = threading.get_ident()
    EVENTS.append("down blocking app")


@dependency(blocking=True)
class BlockingClient:
    def __init__(self, request: Request) -> None:
        THREADS["blocking class"] = threading.get_ident()
        self.path = request.path


# -- app scope -----------------------------------------------------------------------------


def pool_router() -> Router:
    router = Router()

    @router.get("/pool")
    async def pool(
        request: Request, pool: Annotated[dict[str, Any], Depends(app_pool)]
    ) -> dict[str, Any]:
        return pool

    @router.get("/also-pool", deps={"pool": app_pool})
    async def also_pool(request: Request, pool: dict[str, Any]) -> dict[str, Any]:
        return pool

    return router


def test_app_scoped_dependencies_are_created_at_startup() -> None:
    app = make_app(pool_router())
    assert EVENTS == []
    with TestClient(app) as client:
        assert EVENTS == ["up config", "up pool"]  # before any request, nested first
        client.get("/pool")
        assert EVENTS == ["up config", "up pool"]
    assert EVENTS == ["up config", "up pool", "down pool", "down config"]


def test_app_scoped_value_is_shared_by_every_request_and_route() -> None:
    with TestClient(make_app(pool_router())) as client:
        first = client.get("/pool").json()
        second = client.get("/pool").json()
        by_name = client.get("/also-pool").json()
    assert first == second == by_name
    assert first["config"] < first["serial"]


def test_app_scoped_value_is_the_same_object_across_requests() -> None:
    router = Router()
    seen: list[object] = []

    @router.get("/obj")
    async def obj(request: Request, value: Annotated[Any, Depends(plain_app_value)]) -> None:
        seen.append(value)

    with TestClient(make_app(router)) as client:
        client.get("/obj")
        client.get("/obj")
    assert len(seen) == 2
    assert seen[0] is seen[1]
    assert EVENTS == ["create plain"]


def test_teardown_is_in_reverse_order_of_creation() -> None:
    router = Router()

    @router.get("/both")
    async def both(
        request: Request,
        cache: Annotated[str, Depends(app_cache)],
        pool: Annotated[dict[str, Any], Depends(app_pool)],
    ) -> dict[str, str]:
        return {"cache": cache}

    with TestClient(make_app(router)):
        created = list(EVENTS)
    assert created == ["up cache", "up config", "up pool"]
    torn_down = EVENTS[len(created) :]
    assert torn_down == ["down pool", "down config", "down cache"]


def test_teardown_reverses_creation_across_routes() -> None:
    router = Router()

    @router.get("/cache")
    async def cache(request: Request, c: Annotated[str, Depends(app_cache)]) -> None:
        pass  # pragma: no cover

    @router.get("/pool")
    async def pool(request: Request, p: Annotated[dict[str, Any], Depends(app_pool)]) -> None:
        pass  # pragma: no cover

    with TestClient(make_app(router)):
        created = [e.removeprefix("up ") for e in EVENTS]
    torn_down = [e.removeprefix("down ") for e in EVENTS[len(created) :]]
    assert sorted(created) == ["cache", "config", "pool"]
    assert created.index("config") < created.index("pool")
    assert torn_down == list(reversed(created))


def test_request_scoped_dependency_may_use_an_app_scoped_one() -> None:
    router = Router()

    @router.get("/session")
    async def session(
        request: Request, s: Annotated[str, Depends(request_session)]
    ) -> dict[str, str]:
        return {"s": s}

    with TestClient(make_app(router)) as client:
        a = client.get("/session").json()["s"]
        b = client.get("/session").json()["s"]
    assert a == b
    assert a.startswith("session on pool")
    assert EVENTS.count("up pool") == 1
    assert EVENTS.count("open session") == 2
    assert EVENTS.count("close session") == 2
    assert EVENTS[-2:] == ["down pool", "down config"]


def test_each_lifespan_gets_fresh_app_values() -> None:
    app = make_app(pool_router())
    with TestClient(app) as client:
        first = client.get("/pool").json()
    with TestClient(app) as client:
        second = client.get("/pool").json()
    assert first != second
    assert EVENTS.count("up pool") == 2
    assert EVENTS.count("down pool") == 2


@pytest.mark.anyio
async def test_without_lifespan_app_values_are_created_lazily_on_first_use() -> None:
    client = AsyncTestClient(make_app(pool_router()))  # not entered: no lifespan
    assert EVENTS == []
    first = (await client.get("/pool")).json()
    assert EVENTS == ["up config", "up pool"]
    second = (await client.get("/also-pool")).json()
    assert first == second
    assert EVENTS == ["up config", "up pool"]


@pytest.mark.anyio
async def test_concurrent_first_use_creates_the_value_once() -> None:
    router = Router()

    @router.get("/slow")
    async def slow(request: Request, v: Annotated[int, Depends(slow_app_value)]) -> dict[str, int]:
        return {"v": v}

    client = AsyncTestClient(make_app(router))
    responses = await asyncio.gather(*(client.get("/slow") for _ in range(5)))
    values = {r.json()["v"] for r in responses}
    assert len(values) == 1
    assert EVENTS == ["create slow"]


@pytest.mark.anyio
async def test_concurrent_resolve_calls_create_the_value_once() -> None:
    resolver = DependencyResolver()
    results = await asyncio.gather(
        *(resolver.resolve({"v": slow_app_value}, object()) for _ in range(4))
    )
    assert len({values["v"] for values, _ in results}) == 1
    assert all(cleanups == [] for _, cleanups in results)  # the app owns app-scoped cleanup
    assert EVENTS == ["create slow"]


@pytest.mark.anyio
async def test_resolver_shutdown_tears_down_lazily_created_values() -> None:
    resolver = DependencyResolver()
    values, _ = await resolver.resolve({"pool": app_pool}, object())
    again, _ = await resolver.resolve({"pool": app_pool}, object())
    assert values["pool"] is again["pool"]
    await resolver.shutdown()
    assert EVENTS == ["up config", "up pool", "down pool", "down config"]
    fresh, _ = await resolver.resolve({"pool": app_pool}, object())
    assert fresh["pool"] != values["pool"]


@pytest.mark.anyio
async def test_failed_lazy_creation_is_retried() -> None:
    router = Router()

    @router.get("/flaky")
    async def flaky(request: Request, v: Annotated[str, Depends(flaky_app_value)]) -> Any:
        return {"v": v}

    client = AsyncTestClient(make_app(router), raise_server_exceptions=False)
    first = await client.get("/flaky")
    second = await client.get("/flaky")
    assert first.status_code == 500
    assert second.json() == {"v": "ok"}
    assert EVENTS == ["flaky ok"]


def test_app_value_first_used_after_startup_is_torn_down_at_shutdown() -> None:
    router = Router()
    app = make_app(router)
    with TestClient(app) as client:
        assert EVENTS == []

        async def late(request: Request, c: Annotated[str, Depends(app_cache)]) -> Any:
            return {"c": c}

        router.add_route("GET", "/late", late)
        assert client.get("/late").json() == {"c": "cache"}
        assert client.get("/late").json() == {"c": "cache"}
        assert EVENTS == ["up cache"]
    assert EVENTS == ["up cache", "down cache"]


def test_teardown_error_is_logged_and_other_teardowns_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = Router()

    @router.get("/x")
    async def handler(
        request: Request,
        cache: Annotated[str, Depends(app_cache)],
        bad: Annotated[str, Depends(app_bad_teardown)],
    ) -> None:
        pass  # pragma: no cover

    with caplog.at_level(logging.ERROR, logger="fastware.di"), TestClient(make_app(router)):
        pass
    assert EVENTS == ["up cache", "up bad teardown", "down cache"]
    assert any(
        r.name == "fastware.di" and r.exc_info and isinstance(r.exc_info[1], OSError)
        for r in caplog.records
    )


@pytest.mark.anyio
async def test_concurrent_first_use_shares_one_failure_then_retries() -> None:
    router = Router()

    @router.get("/slow-fail")
    async def handler(request: Request, v: Annotated[str, Depends(slow_failing_app_value)]) -> None:
        pass  # pragma: no cover

    client = AsyncTestClient(make_app(router), raise_server_exceptions=False)
    responses = await asyncio.gather(*(client.get("/slow-fail") for _ in range(3)))
    assert [r.status_code for r in responses] == [500, 500, 500]
    assert EVENTS == ["try slow failing"]
    assert (await client.get("/slow-fail")).status_code == 500
    assert EVENTS == ["try slow failing", "try slow failing"]


def test_startup_fails_when_an_app_scoped_factory_raises() -> None:
    router = Router()

    @router.get("/x")
    async def handler(request: Request, v: Annotated[str, Depends(app_fails)]) -> None:
        pass  # pragma: no cover

    with pytest.raises(Exception, match="cannot start"), TestClient(make_app(router)):
        pass  # pragma: no cover


def test_failed_startup_tears_down_what_was_already_created() -> None:
    router = Router()

    @router.get("/x")
    async def handler(
        request: Request,
        cache: Annotated[str, Depends(app_cache)],
        v: Annotated[str, Depends(app_fails)],
    ) -> None:
        pass  # pragma: no cover

    with pytest.raises(Exception, match="cannot start"), TestClient(make_app(router)):
        pass  # pragma: no cover
    assert EVENTS[:2] == ["up cache", "app fails"]
    assert "down cache" in EVENTS


# -- blocking ------------------------------------------------------------------------------


def test_blocking_factory_and_generator_run_in_a_worker_thread() -> None:
    router = Router()

    @router.get("/blocking")
    async def handler(
        request: Request,
        loop: Annotated[int, Depends(loop_thread)],
        value: Annotated[str, Depends(blocking_value)],
        gen: Annotated[str, Depends(blocking_gen)],
    ) -> list[str]:
        return [value, gen]

    with TestClient(make_app(router)) as client:
        assert client.get("/blocking").json() == ["blocking", "blocking gen"]
    loop = THREADS["loop"]
    assert THREADS["blocking value"] != loop
    assert THREADS["blocking gen setup"] != loop
    assert THREADS["blocking gen cleanup"] != loop


def test_plain_sync_factories_run_on_the_event_loop() -> None:
    router = Router()

    @router.get("/plain")
    async def handler(
        request: Request,
        loop: Annotated[int, Depends(loop_thread)],
        value: Annotated[str, Depends(plain_sync_value)],
        gen: Annotated[str, Depends(plain_sync_gen)],
    ) -> list[str]:
        return [value, gen]

    with TestClient(make_app(router)) as client:
        assert client.get("/plain").json() == ["plain", "plain gen"]
    loop = THREADS["loop"]
    assert THREADS["plain sync"] == loop
    assert THREADS["plain gen setup"] == loop
    assert THREADS["plain gen cleanup"] == loop


def test_blocking_class_factory_runs_in_a_worker_thread() -> None:
    router = Router()

    @router.get("/client", deps={"client": BlockingClient, "loop": loop_thread})
    async def handler(request: Request, client: BlockingClient) -> dict[str, str]:
        return {"path": client.path}

    with TestClient(make_app(router)) as client:
        assert client.get("/client").json() == {"path": "/client"}
    assert THREADS["blocking class"] != THREADS["loop"]


def test_blocking_app_scoped_generator_starts_and_stops_in_a_worker_thread() -> None:
    router = Router()

    @router.get("/app-blocking")
    async def handler(
        request: Request,
        loop: Annotated[int, Depends(loop_thread)],
        value: Annotated[str, Depends(blocking_app_gen)],
    ) -> dict[str, str]:
        return {"value": value}

    with TestClient(make_app(router)) as client:
        assert client.get("/app-blocking").json() == {"value": "blocking app"}
    assert EVENTS == ["up blocking app", "down blocking app"]
    assert THREADS["app gen setup"] != THREADS["loop"]
    assert THREADS["app gen cleanup"] != THREADS["loop"]


def test_blocking_on_an_async_factory_is_refused() -> None:
    async def coroutine_factory() -> int:  # pragma: no cover - refused
        return 1

    async def async_gen_factory() -> AsyncIterator[int]:  # pragma: no cover - refused
        yield 1

    with pytest.raises(ValueError, match="blocking"):
        dependency(blocking=True)(coroutine_factory)
    with pytest.raises(ValueError, match="blocking"):
        dependency(blocking=True)(async_gen_factory)


def test_unknown_scope_is_refused() -> None:
    with pytest.raises(ValueError, match="scope"):
        dependency(scope="session")  # type: ignore[call-overload]


def test_dependency_returns_the_factory_itself() -> None:
    def factory() -> int:
        return 1

    assert dependency(factory) is factory
    assert dependency(scope="app")(factory) is factory


def test_dependency_options_defaults() -> None:
    options = DependencyOptions()
    assert (options.scope, options.blocking) == ("request", False)
