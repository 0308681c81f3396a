"""CSRFMiddleware: double submit, origin check, exemptions, bad input; native and ASGI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fastware_auth import Auth, CSRFMiddleware, create_token
from fastware_core import Request, Router, TestClient, create_app

OTHER_SECRET = "another-secret-0123456789-abcdefghijkl"
SECRET = "test-secret-0123456789-abcdefghijklmnop"

Factory = Callable[..., Any]


def _native(**options: Any) -> list[Any]:
    return [CSRFMiddleware(**options)]


def _asgi(**options: Any) -> list[Any]:
    return [lambda app: CSRFMiddleware(app, **options)]


@pytest.fixture(params=[_native, _asgi], ids=["native", "asgi"])
def make_client(request: pytest.FixtureRequest) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(**options: Any) -> TestClient:
        router = Router()

        @router.get("/form")
        async def form(request: Request) -> dict[str, bool]:
            return {"ok": True}

        @router.route("/submit", methods=["POST", "PUT", "PATCH", "DELETE"])
        async def submit(request: Request) -> dict[str, bool]:
            return {"ok": True}

        @router.post("/login")
        async def login(request: Request) -> dict[str, bool]:
            return {"ok": True}

        @router.post("/login-admin")
        async def login_admin(request: Request) -> dict[str, bool]:
            return {"ok": True}

        @router.post("/hooks/github")
        async def hook(request: Request) -> dict[str, bool]:
            return {"ok": True}

        client = TestClient(create_app(router, middleware=request.param(**options)))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def _with(token: str, header: str | None = None, **extra: str) -> dict[str, str]:
    headers = {"cookie": f"csrf_token={token}", **extra}
    if header is not None:
        headers["x-csrf-token"] = header
    return headers


def test_safe_methods_pass(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    assert client.get("/form").status_code == 200
    assert client.options("/form").status_code in (200, 204, 405)


def test_double_submit(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        ok = client.request(method, "/submit", headers=_with("abc", "abc"))
        assert ok.status_code == 200, method
    missing = client.post("/submit")
    assert missing.status_code == 403
    assert missing.json() == {"detail": "Missing CSRF token"}
    assert client.post("/submit", headers=_with("abc")).json() == {"detail": "Missing CSRF token"}
    assert client.post("/submit", headers={"x-csrf-token": "abc"}).status_code == 403
    mismatch = client.post("/submit", headers=_with("abc", "abd"))
    assert mismatch.json() == {"detail": "CSRF token mismatch"}
    assert client.post("/submit", headers=_with("", "")).json() == {"detail": "Missing CSRF token"}


def test_exempt_paths_on_a_slash_boundary(make_client: Callable[..., TestClient]) -> None:
    client = make_client(exempt_paths=["/login", "/hooks/"])
    assert client.post("/login").status_code == 200
    assert client.post("/login-admin").status_code == 403
    assert client.post("/hooks/github").status_code == 200


def test_disabled(make_client: Callable[..., TestClient]) -> None:
    assert make_client(disabled=True).post("/submit").status_code == 200


def test_bearer_exemption_needs_a_token_that_verifies(
    make_client: Callable[..., TestClient],
) -> None:
    auth = Auth(SECRET)
    client = make_client(auth=auth)
    good = auth.create_token("ada", "user")
    assert client.post("/submit", headers={"authorization": f"Bearer {good}"}).status_code == 200
    # the 0.6.3 bypass: any three-part token skipped the check
    for fake in ("x.y.z", create_token("ada", "user", OTHER_SECRET)):
        refused = client.post("/submit", headers={"authorization": f"Bearer {fake}"})
        assert refused.status_code == 403
    # without keys configured there is no bearer exemption at all
    plain = make_client()
    assert plain.post("/submit", headers={"authorization": f"Bearer {good}"}).status_code == 403
    # secret= works like auth=
    by_secret = make_client(secret=SECRET)
    assert by_secret.post("/submit", headers={"authorization": f"Bearer {good}"}).status_code == 200


def test_origin_check(make_client: Callable[..., TestClient]) -> None:
    client = make_client(trusted_origins=["https://admin.example.com"])
    token = _with("abc", "abc")
    same = client.post("/submit", headers={**token, "origin": "http://test"})
    assert same.status_code == 200
    other = client.post("/submit", headers={**token, "origin": "https://evil.example"})
    assert other.status_code == 403
    assert other.json() == {"detail": "Origin not allowed"}
    trusted = client.post("/submit", headers={**token, "origin": "https://admin.example.com:443"})
    assert trusted.status_code == 200
    for origin in ("null", "file://", "not a url", "https://[bad", "javascript:alert(1)"):
        assert client.post("/submit", headers={**token, "origin": origin}).status_code == 403
    referer = client.post("/submit", headers={**token, "referer": "https://evil.example/page"})
    assert referer.status_code == 403
    own_referer = client.post("/submit", headers={**token, "referer": "http://test/form"})
    assert own_referer.status_code == 200
    # no Origin and no Referer (curl, a server-side client): the token decides
    assert client.post("/submit", headers=token).status_code == 200
    off = make_client(check_origin=False)
    assert (
        off.post("/submit", headers={**token, "origin": "https://evil.example"}).status_code == 200
    )


def test_invalid_trusted_origin_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="trusted origin"):
        CSRFMiddleware(trusted_origins=["example.com"])


@pytest.mark.anyio
async def test_non_ascii_and_malformed_tokens_are_403_never_500() -> None:
    app = create_app(Router(), middleware=[CSRFMiddleware()])
    cases = [
        [(b"cookie", "csrf_token=é".encode()), (b"x-csrf-token", "é".encode())],
        [(b"cookie", b"csrf_token=\xff"), (b"x-csrf-token", b"\xfe")],
        [(b"cookie", b"csrf_token=abc"), (b"x-csrf-token", "ábc".encode())],
        [(b"cookie", b'{"junk"; csrf_token=abc'), (b"x-csrf-token", b"abd")],
        [(b"cookie", b"csrf_token=" + b"a" * 10000), (b"x-csrf-token", b"b" * 10000)],
    ]
    statuses = []
    for headers in cases:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any], sent: list[dict[str, Any]] = sent) -> None:
            sent.append(message)

        scope = {
            "type": "http", "method": "POST", "path": "/x", "raw_path": b"/x",
            "query_string": b"", "headers": headers, "scheme": "http",
            "client": ("127.0.0.1", 1), "server": ("t", 80), "root_path": "",
            "http_version": "1.1", "asgi": {"version": "3.0"}, "state": {},
        }  # fmt: skip
        await app(scope, receive, send)
        statuses.append(sent[0]["status"])
    # equal non-ASCII tokens match (the route then 404s); every other case is refused
    assert statuses == [404, 403, 403, 403, 403]


def test_one_bad_cookie_does_not_hide_the_csrf_cookie(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    headers = {"cookie": 'weird={"json":1}; csrf_token=abc; x', "x-csrf-token": "abc"}
    assert client.post("/submit", headers=headers).status_code == 200


def test_auth_csrf_middleware_uses_its_cookie_names() -> None:
    from fastware_auth import SessionCookies

    auth = Auth(SECRET, cookies=SessionCookies(secure=True, host_prefix=True))
    middleware = auth.csrf_middleware(exempt_paths=["/login"])
    assert middleware.cookie_name == "__Host-csrf_token"
    assert middleware.exempt_paths == ("/login",)
