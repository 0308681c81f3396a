"""get_current_user / require_role / optional user, over HTTP and WebSocket, with bad input."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import jwt
import pytest

from fastware_auth import (
    Auth,
    AuthConfigurationError,
    SessionCookies,
    create_token,
    get_current_user,
    get_optional_user,
    require_role,
)
from fastware_core import Request, Router, TestClient, WebSocket, WebSocketDisconnect, create_app
from fastware_core.testing import WebSocketDenied

OTHER_SECRET = "another-secret-0123456789-abcdefghijkl"
SECRET = "test-secret-0123456789-abcdefghijklmnop"


def _app(auth: Auth | None, lifespan_state: dict[str, Any] | None = None) -> Any:
    router = Router()
    current: Callable[[Any], Any] = auth.current_user if auth else get_current_user
    admin_dep = auth.require_role("admin") if auth else require_role("admin")
    staff_dep = auth.require_role("admin", "editor") if auth else require_role("admin", "editor")
    optional = auth.optional_user if auth else get_optional_user

    @router.get("/me")
    async def me(request: Request) -> Any:
        return await current(request)

    @router.get("/me-query")
    async def me_query(request: Request) -> Any:
        if auth is not None:
            return await auth.current_user_or_query(request)
        return await get_current_user(request, allow_query_token=True)

    @router.get("/admin")
    async def admin(request: Request) -> Any:
        return await admin_dep(request)

    @router.get("/staff")
    async def staff(request: Request) -> Any:
        return await staff_dep(request)

    @router.get("/maybe")
    async def maybe(request: Request) -> Any:
        return {"user": await optional(request)}

    @router.ws("/ws")
    async def ws(websocket: WebSocket) -> None:
        user = await current(websocket)
        await websocket.accept()
        await websocket.send_json({"hello": user["sub"]})

    lifespan = None
    if lifespan_state is not None:

        @asynccontextmanager
        async def lifespan(app: Any) -> Any:
            yield lifespan_state

    return create_app(router, lifespan=lifespan)


@pytest.fixture(params=["auth-object", "state-auth", "state-config"])
def setup(request: pytest.FixtureRequest, auth: Auth) -> Iterator[tuple[TestClient, Auth]]:
    if request.param == "auth-object":
        app = _app(auth)
    elif request.param == "state-auth":
        app = _app(None, {"auth": auth})
    else:
        app = _app(None, {"config": {"jwt_secret": SECRET}})
    with TestClient(app) as client:
        yield client, auth


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_bearer_header_cookie_and_query(setup: tuple[TestClient, Auth]) -> None:
    client, auth = setup
    token = auth.create_token("ada", "user")
    assert client.get("/me", headers=_bearer(token)).json()["sub"] == "ada"
    assert client.get("/me", headers={"cookie": f"session={token}"}).json()["sub"] == "ada"
    # query tokens only where allowed
    assert client.get(f"/me?token={token}").status_code == 401
    assert client.get(f"/me-query?token={token}").json()["sub"] == "ada"


def test_0_6_3_messages(setup: tuple[TestClient, Auth]) -> None:
    client, auth = setup
    missing = client.get("/me")
    assert missing.status_code == 401
    assert missing.json() == {"detail": "Not authenticated"}
    assert missing.headers["www-authenticate"] == "Bearer"
    bad = client.get("/me", headers=_bearer("nope"))
    assert bad.status_code == 401
    assert bad.json() == {"detail": "Invalid or expired token"}
    user = auth.create_token("ada", "user")
    refused = client.get("/admin", headers=_bearer(user))
    assert refused.status_code == 403
    assert refused.json() == {"detail": "Role 'admin' required"}


def test_an_invalid_bearer_does_not_fall_back_to_the_cookie(
    setup: tuple[TestClient, Auth],
) -> None:
    client, auth = setup
    good = auth.create_token("ada", "user")
    response = client.get("/me", headers={**_bearer("garbage"), "cookie": f"session={good}"})
    assert response.status_code == 401
    # a non-bearer Authorization header (Basic) is not ours: the cookie is used
    basic = {"authorization": "Basic YTpi", "cookie": f"session={good}"}
    assert client.get("/me", headers=basic).status_code == 200


def test_several_roles(setup: tuple[TestClient, Auth]) -> None:
    client, auth = setup
    editor = auth.create_token("ed", "editor")
    assert client.get("/staff", headers=_bearer(editor)).status_code == 200
    assert client.get("/admin", headers=_bearer(editor)).status_code == 403
    viewer = auth.create_token("vi", "viewer")
    refused = client.get("/staff", headers=_bearer(viewer))
    assert refused.json() == {"detail": "One of the roles 'admin', 'editor' required"}
    multi = auth.create_token("mu", "viewer", claims={"roles": ["editor"]})
    assert client.get("/staff", headers=_bearer(multi)).status_code == 200


def test_optional_user(setup: tuple[TestClient, Auth]) -> None:
    client, auth = setup
    assert client.get("/maybe").json() == {"user": None}
    assert client.get("/maybe", headers=_bearer("junk")).json() == {"user": None}
    token = auth.create_token("ada", "user")
    assert client.get("/maybe", headers=_bearer(token)).json()["user"]["sub"] == "ada"


def _nasty_tokens() -> list[str]:
    now = int(time.time())
    return [
        "",
        "a.b",
        "a.b.c",
        "x" * 20_000,
        "é.é.é",
        jwt.encode({"sub": "ada", "role": "admin"}, SECRET, algorithm="HS256"),  # no exp
        jwt.encode({"sub": "ada", "exp": now - 10}, SECRET, algorithm="HS256"),  # expired
        jwt.encode({"sub": "ada", "exp": now + 99, "nbf": now + 90}, SECRET, algorithm="HS256"),
        create_token("ada", "admin", OTHER_SECRET),  # wrong key
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZGEiLCJleHAiOjk5OTk5OTk5OTl9.",  # alg none
        create_token("ada", "admin", SECRET)[:-5],  # truncated
    ]


@pytest.mark.parametrize("token", _nasty_tokens())
def test_nasty_tokens_are_401_never_500(setup: tuple[TestClient, Auth], token: str) -> None:
    client, _ = setup
    for headers in (_bearer(token), {"cookie": f"session={token}"}):
        response = client.get("/me", headers=headers)
        assert response.status_code == 401, response.text
        assert "detail" in response.json()


async def _raw_get(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> int:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 1), "server": ("t", 80),
        "state": {},
    }  # fmt: skip
    await app(scope, receive, send)
    status: int = sent[0]["status"]
    return status


@pytest.mark.anyio
async def test_non_ascii_and_malformed_headers_and_cookies(auth: Auth) -> None:
    app = _app(auth)
    token = auth.create_token("ada", "user")
    raw_headers = [
        [(b"authorization", "Bearer ünïcødé".encode())],
        [(b"authorization", b"Bearer \xff\xfe\x00")],
        [(b"cookie", b"session=\xff\xfe; other")],
        [(b"cookie", "session=ü".encode())],
        [(b"cookie", b'junk{"a":1}; session="' + token.encode() + b'"; x=y')],
    ]
    results = [await _raw_get(app, "/me", raw) for raw in raw_headers]
    assert results == [401, 401, 401, 401, 200]  # one bad cookie does not hide the session


def test_websocket_routes(setup: tuple[TestClient, Auth]) -> None:
    client, auth = setup
    token = auth.create_token("ada", "user")
    with client.websocket_connect("/ws", headers=_bearer(token)) as ws:
        assert ws.receive_json() == {"hello": "ada"}
    with client.websocket_connect("/ws", headers={"cookie": f"session={token}"}) as ws:
        assert ws.receive_json() == {"hello": "ada"}
    with (
        pytest.raises((WebSocketDisconnect, WebSocketDenied)) as refused,
        client.websocket_connect("/ws", headers=_bearer("bad")) as ws,
    ):
        ws.receive_json()
    error = refused.value
    if isinstance(error, WebSocketDenied):
        assert error.status_code == 403
    else:
        assert isinstance(error, WebSocketDisconnect)
        assert error.code == 1008


def test_revoked_tokens_are_refused(auth: Auth) -> None:
    import anyio

    with TestClient(_app(auth)) as client:
        token = auth.create_token("ada", "user")
        assert client.get("/me", headers=_bearer(token)).status_code == 200
        claims = auth.verify_token(token)
        assert claims is not None
        assert anyio.run(auth.revoke, claims)
        assert client.get("/me", headers=_bearer(token)).status_code == 401
        other = auth.create_token("ada", "user")  # same user, new token
        assert client.get("/me", headers=_bearer(other)).status_code == 200


def test_missing_configuration_is_a_clear_error(caplog: pytest.LogCaptureFixture) -> None:
    with (
        TestClient(_app(None, {}), raise_server_exceptions=False) as client,
        caplog.at_level(logging.ERROR),
    ):
        response = client.get("/me")
    assert response.status_code == 500
    assert "jwt_secret" in caplog.text
    with (
        pytest.raises(AuthConfigurationError, match="jwt_secret"),
        TestClient(_app(None, {})) as client,
    ):
        client.get("/me")


def test_auth_without_secret_fails_at_construction() -> None:
    with pytest.raises(AuthConfigurationError, match="secret"):
        Auth()
    with pytest.raises(AuthConfigurationError, match="at least 32"):
        Auth("too-short")
    with pytest.raises(AuthConfigurationError, match="token_lifetime"):
        Auth(SECRET, token_lifetime=0)


def test_custom_cookie_names_are_read(auth: Auth) -> None:
    prefixed = Auth(SECRET, cookies=SessionCookies(secure=True, host_prefix=True))
    with TestClient(_app(prefixed)) as client:
        token = prefixed.create_token("ada", "user")
        assert client.get("/me", headers={"cookie": f"session={token}"}).status_code == 401
        ok = client.get("/me", headers={"cookie": f"__Host-session={token}"})
        assert ok.status_code == 200


def test_require_role_gives_the_same_dependency_for_the_same_roles(auth: Auth) -> None:
    assert auth.require_role("admin") is auth.require_role("admin")
    assert require_role("admin") is require_role("admin")
    assert require_role("admin") is not require_role("admin", "editor")
    with pytest.raises(ValueError, match="role"):
        require_role()


def test_issuer_and_audience_on_the_auth_object() -> None:
    issuing = Auth(SECRET, issuer="https://id.example", audience="api")
    token = issuing.create_token("ada", "user")
    assert issuing.verify_token(token) is not None
    assert Auth(SECRET, audience="other").verify_token(token) is None
    assert Auth(SECRET).verify_token(token) is not None  # no rules configured: not checked
