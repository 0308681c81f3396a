"""SessionMiddleware: signed and encrypted cookie sessions, rotation, expiry, tampering,
size limits, and the SQLite backend, through both doors."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fastware_core import Router, TestClient, create_app
from fastware_core.exceptions import FastwareError
from fastware_core.middleware import SessionMiddleware
from fastware_core.request import Request
from fastware_core.sessions import (
    ReadOnlySessionError,
    Session,
    SessionCodec,
    SessionTooLargeError,
    SQLiteSessionBackend,
    WebSocketSession,
)
from fastware_core.testing import WebSocketDenied
from fastware_core.websocket import WebSocket, WebSocketDisconnect

SECRET = "s3cret-key-for-tests-0123456789"


def session_router() -> Router:
    router = Router()

    async def show(request: Request) -> dict[str, Any]:
        return dict(request.session)

    async def put(request: Request) -> dict[str, Any]:
        request.session.update(request.query_params)
        return dict(request.session)

    async def clear(request: Request) -> dict[str, Any]:
        request.session.clear()
        return {}

    async def big(request: Request) -> dict[str, Any]:
        try:
            request.session["blob"] = "x" * 5000
        except SessionTooLargeError as exc:
            return {"error": str(exc), "kept": dict(request.session)}
        return {"error": None}

    async def untouched(request: Request) -> dict[str, Any]:
        return {"ok": True}

    async def login(request: Request) -> dict[str, Any]:
        request.session["user"] = "ada"
        request.session.regenerate()
        return {}

    async def watch(websocket: WebSocket) -> None:
        await websocket.accept()
        session = websocket.session
        refused = []
        for change in (
            lambda: session.__setitem__("user", "eve"),
            lambda: session.pop("user", None),
            lambda: session.update(user="eve"),
            lambda: session.setdefault("new", 1),
            session.clear,
            session.changed,
            session.regenerate,
        ):
            try:
                change()
            except ReadOnlySessionError as exc:
                refused.append(str(exc))
        await websocket.send_json({"session": dict(session), "refused": refused})
        await websocket.close()

    router.ws("/watch")(watch)
    router.get("/show")(show)
    router.get("/put")(put)
    router.get("/clear")(clear)
    router.get("/big")(big)
    router.get("/untouched")(untouched)
    router.get("/login")(login)
    return router


_clients: list[TestClient] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop().close()


def _client(app: Any) -> TestClient:
    client = TestClient(app)
    _clients.append(client)
    return client


def client_for(**options: Any) -> TestClient:
    options.setdefault("secret_key", SECRET)
    return _client(create_app(session_router(), middleware=[SessionMiddleware(**options)]))


def set_cookie(response: Any) -> str:
    values = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    assert len(values) == 1, values
    return str(values[0])


def test_a_session_round_trips_through_a_signed_cookie() -> None:
    client = client_for()
    first = client.get("/put", params={"user": "ada", "theme": "dark"})
    cookie = set_cookie(first)
    assert cookie.startswith("session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/" in cookie
    assert f"Max-Age={14 * 24 * 3600}" in cookie
    assert "Secure" not in cookie
    assert first.headers["cache-control"] == "private, no-store"
    assert client.get("/show").json() == {"user": "ada", "theme": "dark"}


def test_reading_a_session_writes_no_cookie_and_routes_that_never_look_pay_nothing() -> None:
    client = client_for()
    client.get("/put", params={"a": "1"})
    assert "set-cookie" not in client.get("/show").headers
    assert "set-cookie" not in client.get("/untouched").headers


def test_cookie_options_are_honoured() -> None:
    client = client_for(
        cookie_name="sid",
        max_age=60,
        path="/app",
        domain="example.com",
        secure=True,
        samesite="strict",
        httponly=False,
    )
    cookie = set_cookie(client.get("/put", params={"a": "1"}))
    assert cookie.startswith("sid=")
    for part in ("Path=/app", "Domain=example.com", "Max-Age=60", "Secure", "SameSite=Strict"):
        assert part in cookie
    assert "HttpOnly" not in cookie


def test_clearing_the_session_deletes_the_cookie() -> None:
    client = client_for()
    client.get("/put", params={"a": "1"})
    cookie = set_cookie(client.get("/clear"))
    assert cookie.startswith("session=;")
    assert "Max-Age=0" in cookie
    assert client.get("/show").json() == {}


@pytest.mark.parametrize(
    "mangle",
    [
        lambda v: v[:-2] + ("AA" if not v.endswith("AA") else "BB"),  # signature changed
        lambda v: "eyJ" + v[3:],  # payload changed
        lambda v: v.replace(".", ""),  # no signature
        lambda v: "not-a-session",
        lambda v: "%%%.@@@",
        lambda v: v + "." + v,
    ],
)
def test_a_tampered_cookie_is_an_empty_session_and_is_deleted(mangle: Any) -> None:
    client = client_for()
    client.get("/put", params={"role": "user"})
    client.cookies["session"] = mangle(client.cookies["session"])
    response = client.get("/show")
    assert response.status_code == 200
    assert response.json() == {}
    assert "Max-Age=0" in set_cookie(response)


def test_a_cookie_signed_with_another_key_is_ignored() -> None:
    other = client_for(secret_key="another-secret-key-0123456789")
    other.get("/put", params={"admin": "yes"})
    client = client_for()
    client.cookies["session"] = other.cookies["session"]
    assert client.get("/show").json() == {}


def test_key_rotation_accepts_old_cookies_and_signs_with_the_new_key() -> None:
    old = client_for(secret_key="old-secret-key-0123456789")
    old.get("/put", params={"user": "ada"})
    rotated = client_for(secret_key=["new-secret-key-0123456789", "old-secret-key-0123456789"])
    rotated.cookies["session"] = old.cookies["session"]
    assert rotated.get("/show").json() == {"user": "ada"}
    rotated.get("/put", params={"more": "1"})
    new_only = client_for(secret_key="new-secret-key-0123456789")
    new_only.cookies["session"] = rotated.cookies["session"]
    assert new_only.get("/show").json() == {"user": "ada", "more": "1"}


def test_an_expired_cookie_is_an_empty_session() -> None:
    codec = SessionCodec(SECRET)
    stale = codec.encode({"user": "ada"}, issued=int(time.time()) - 120)
    client = client_for(max_age=60)
    client.cookies["session"] = stale
    assert client.get("/show").json() == {}
    client.cookies["session"] = codec.encode({"user": "ada"})
    assert client.get("/show").json() == {"user": "ada"}


def test_an_old_but_valid_session_is_refreshed_when_read() -> None:
    codec = SessionCodec(SECRET)
    client = client_for(max_age=100)
    client.cookies["session"] = codec.encode({"user": "ada"}, issued=int(time.time()) - 70)
    response = client.get("/show")
    assert response.json() == {"user": "ada"}
    refreshed = client.cookies["session"]
    assert codec.decode(refreshed, 100) is not None
    assert codec.decode(refreshed, 100)[1] >= int(time.time()) - 2  # type: ignore[index]


def test_encrypted_sessions_hide_their_content() -> None:
    client = client_for(encrypt=True)
    client.get("/put", params={"card": "4111-1111"})
    raw = client.cookies["session"]
    assert raw.startswith("e.")
    assert "4111" not in raw
    assert client.get("/show").json() == {"card": "4111-1111"}
    client.cookies["session"] = raw[:-4] + "AAAA"
    assert client.get("/show").json() == {}


def test_a_signed_cookie_is_not_accepted_by_an_encrypting_app() -> None:
    plain = client_for()
    plain.get("/put", params={"a": "1"})
    encrypted = client_for(encrypt=True)
    encrypted.cookies["session"] = plain.cookies["session"]
    assert encrypted.get("/show").json() == {}


def test_a_session_too_big_for_its_cookie_is_a_clear_error_and_is_left_unchanged() -> None:
    client = client_for()
    client.get("/put", params={"a": "1"})
    response = client.get("/big")
    data = response.json()
    assert "limit is 4096" in data["error"]
    assert "backend" in data["error"]
    assert data["kept"] == {"a": "1"}
    assert "set-cookie" not in response.headers


def test_request_session_without_the_middleware_says_what_to_install() -> None:
    router = Router()

    async def handler(request: Request) -> Any:
        try:
            return request.session
        except FastwareError as exc:
            return {"error": str(exc)}

    router.get("/")(handler)
    assert "SessionMiddleware" in _client(create_app(router)).get("/").json()["error"]


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        SessionMiddleware(secret_key="short")
    with pytest.raises(ValueError, match="secure"):
        SessionMiddleware(secret_key=SECRET, samesite="none")
    with pytest.raises(ValueError, match="cookie name"):
        SessionMiddleware(secret_key=SECRET, cookie_name="a b")
    with pytest.raises(ValueError, match="max_age"):
        SessionMiddleware(secret_key=SECRET, max_age=0)


def test_the_middleware_also_works_as_plain_asgi_middleware() -> None:
    inner = create_app(session_router())
    app = SessionMiddleware(inner, secret_key=SECRET)
    with TestClient(app) as client:
        client.get("/put", params={"a": "1"})
        assert client.get("/show").json() == {"a": "1"}


def test_session_tracks_changes() -> None:
    session = Session({"a": 1})
    assert not session.modified
    assert session.setdefault("a", 2) == 1
    assert not session.modified
    session.pop("missing", None)
    assert not session.modified
    changed = Session({"a": 1})
    changed["cart"] = []
    assert changed.modified
    fresh = Session({"cart": [1]})
    fresh["cart"].append(2)
    fresh.changed()
    assert fresh.modified


# -- server-side sessions -------------------------------------------------------------------


def backend_client(tmp_path: Path, **options: Any) -> tuple[TestClient, SQLiteSessionBackend]:
    backend = SQLiteSessionBackend(tmp_path / "sessions.db")
    options.setdefault("secret_key", SECRET)
    app = create_app(session_router(), middleware=[SessionMiddleware(backend=backend, **options)])
    return _client(app), backend


def test_server_side_sessions_keep_only_a_signed_id_in_the_cookie(tmp_path: Path) -> None:
    client, backend = backend_client(tmp_path)
    client.get("/put", params={"user": "ada", "note": "n" * 10_000})  # far too big for a cookie
    cookie = client.cookies["session"]
    assert "ada" not in cookie
    assert len(cookie) < 200
    assert client.get("/show").json() == {"user": "ada", "note": "n" * 10_000}
    assert len(list(backend.ids())) == 1


def test_clearing_a_server_side_session_deletes_it(tmp_path: Path) -> None:
    client, backend = backend_client(tmp_path)
    client.get("/put", params={"a": "1"})
    response = client.get("/clear")
    assert "Max-Age=0" in set_cookie(response)
    assert list(backend.ids()) == []
    assert client.get("/show").json() == {}


def test_regenerate_moves_the_session_to_a_new_id(tmp_path: Path) -> None:
    client, backend = backend_client(tmp_path)
    client.get("/put", params={"cart": "1"})
    before = list(backend.ids())
    client.get("/login")
    after = list(backend.ids())
    assert len(after) == 1
    assert after != before
    assert client.get("/show").json() == {"cart": "1", "user": "ada"}


def test_a_forged_or_unknown_session_id_is_an_empty_session(tmp_path: Path) -> None:
    client, _ = backend_client(tmp_path)
    client.cookies["session"] = SessionCodec(SECRET).encode("guessed-id")
    assert client.get("/show").json() == {}
    client.cookies["session"] = "guessed-id"
    assert client.get("/show").json() == {}


@pytest.mark.anyio
async def test_stored_sessions_expire(tmp_path: Path) -> None:
    backend = SQLiteSessionBackend(tmp_path / "s.db")
    await backend.save("a", {"x": 1}, 1)
    await backend.save("b", {"x": 2}, None)
    await asyncio.sleep(1.05)
    assert await backend.load("a") is None
    assert await backend.load("b") == {"x": 2}


def test_a_backend_with_an_asgi_app_is_refused(tmp_path: Path) -> None:
    backend = SQLiteSessionBackend(tmp_path / "s.db")
    with pytest.raises(FastwareError, match="create_app"):
        SessionMiddleware(create_app(Router()), secret_key=SECRET, backend=backend)


def test_a_response_setting_the_session_is_not_cacheable() -> None:
    from fastware_core import JSONResponse

    router = Router()

    async def handler(request: Request) -> JSONResponse:
        request.session["a"] = 1
        return JSONResponse({}, headers={"Cache-Control": "public, max-age=600"})

    router.get("/")(handler)
    app = create_app(router, middleware=[SessionMiddleware(secret_key=SECRET)])
    response = _client(app).get("/")
    assert response.headers.getlist("cache-control") == ["public, max-age=600", "private, no-store"]


def test_encryption_without_cryptography_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastware_core.exceptions import MissingPackageError

    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.ciphers.aead", None)
    with pytest.raises(MissingPackageError, match=r"fastware-core\[encryption\]"):
        SessionCodec(SECRET, encrypt=True)


def test_a_route_that_never_reads_the_session_opens_nothing() -> None:
    router = Router()

    async def handler(request: Request) -> dict[str, Any]:
        return {"slot": "session" in request.connection.state}

    router.get("/")(handler)
    app = create_app(router, middleware=[SessionMiddleware(secret_key=SECRET)])
    assert _client(app).get("/").json() == {"slot": False}


def test_sessions_work_beside_user_asgi_middleware_that_copies_the_scope() -> None:
    def copying(app: Any) -> Any:
        async def middleware(scope: Any, receive: Any, send: Any) -> None:
            await app(dict(scope), receive, send)

        return middleware

    app = create_app(session_router(), middleware=[copying, SessionMiddleware(secret_key=SECRET)])
    client = _client(app)
    client.get("/put", params={"a": "1"})
    assert client.get("/show").json() == {"a": "1"}


READ_ONLY = (
    "websocket.session is read-only: a WebSocket cannot send the session cookie, so change "
    "the session in an HTTP route"
)


def watch(client: TestClient) -> dict[str, Any]:
    with client.websocket_connect("/watch") as ws:
        answer: dict[str, Any] = ws.receive_json()
    return answer


def test_a_websocket_handler_reads_the_cookie_session_and_cannot_change_it() -> None:
    client = client_for()
    assert watch(client) == {"session": {}, "refused": [READ_ONLY] * 7}
    client.get("/put", params={"user": "ada"})
    assert watch(client) == {"session": {"user": "ada"}, "refused": [READ_ONLY] * 7}
    assert client.get("/show").json() == {"user": "ada"}  # nothing changed it
    client.cookies["session"] = client.cookies["session"][:-2] + "xx"
    assert watch(client)["session"] == {}  # a tampered cookie is an empty session


def test_a_websocket_handler_reads_the_server_side_session(tmp_path: Path) -> None:
    client, backend = backend_client(tmp_path)
    assert watch(client) == {"session": {}, "refused": [READ_ONLY] * 7}
    client.get("/put", params={"user": "ada"})
    assert watch(client) == {"session": {"user": "ada"}, "refused": [READ_ONLY] * 7}
    assert client.get("/show").json() == {"user": "ada"}
    assert len(list(backend.ids())) == 1
    client.cookies["session"] = SessionCodec(SECRET).encode("guessed-id")
    assert watch(client)["session"] == {}


def test_websocket_session_without_the_middleware_says_what_to_install() -> None:
    router = Router()

    @router.ws("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            await websocket.send_json(websocket.session)
        except FastwareError as exc:
            await websocket.send_text(str(exc))
        await websocket.close()

    with _client(create_app(router)).websocket_connect("/ws") as connection:
        assert connection.receive_text().startswith("websocket.session needs SessionMiddleware")


def test_a_websocket_session_is_a_session_that_refuses_changes() -> None:
    session = WebSocketSession({"user": "ada"})
    assert isinstance(session, Session)
    assert session.setdefault("user") == "ada"
    with pytest.raises(ReadOnlySessionError, match="read-only"):
        session.__ior__({"user": "eve"})  # session |= {...}
    with pytest.raises(ReadOnlySessionError):
        del session["user"]
    with pytest.raises(TypeError):
        session.popitem()
    assert session == {"user": "ada"}
    assert not session.modified


class FailingBackend:
    """A store that is down."""

    async def load(self, session_id: str) -> dict[str, Any] | None:
        raise ConnectionError("the session store is down")

    async def save(self, session_id: str, data: dict[str, Any], max_age: int | None) -> None:
        raise ConnectionError("the session store is down")

    async def delete(self, session_id: str) -> None:
        raise ConnectionError("the session store is down")


def test_a_session_store_that_fails_refuses_the_websocket_and_is_logged(
    caplog: pytest.LogCaptureFixture, door: str
) -> None:
    middleware = SessionMiddleware(secret_key=SECRET, backend=FailingBackend())
    client = _client(create_app(session_router(), middleware=[middleware]))
    client.cookies["session"] = SessionCodec(SECRET).encode("some-id")
    if door == "asgi":  # the app closes with 1011 before accepting
        with pytest.raises(WebSocketDisconnect) as closed:
            watch(client)
        assert closed.value.code == 1011
    else:  # which RSGI answers, as servers do over ASGI, with a 403 to the handshake
        with pytest.raises(WebSocketDenied) as denied:
            watch(client)
        assert denied.value.status_code == 403
    assert "the session store is down" in caplog.text


class CountingBackend:
    """An in-memory store that counts the loads it answers."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {"known-id": {"user": "ada"}}
        self.loads = 0

    async def load(self, session_id: str) -> dict[str, Any] | None:
        self.loads += 1
        return self.data.get(session_id)

    async def save(self, session_id: str, data: dict[str, Any], max_age: int | None) -> None:
        self.data[session_id] = dict(data)

    async def delete(self, session_id: str) -> None:
        self.data.pop(session_id, None)


class Flags:
    def __init__(self) -> None:
        self.on: set[str] = set()

    def enabled(self, name: str) -> bool:
        return name in self.on


def test_a_route_gated_off_answers_404_without_loading_the_session() -> None:
    router = Router()

    @router.get("/beta", feature="beta")
    async def beta(request: Request) -> dict[str, Any]:
        return dict(request.session)

    @router.ws("/beta/ws", feature="beta")
    async def beta_ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json(dict(websocket.session))
        await websocket.close()

    backend, flags = CountingBackend(), Flags()
    middleware = SessionMiddleware(secret_key=SECRET, backend=backend)
    client = _client(create_app(router, middleware=[middleware], features=flags))
    client.cookies["session"] = SessionCodec(SECRET).encode("known-id")
    assert client.get("/beta").status_code == 404
    with pytest.raises(WebSocketDenied) as denied, client.websocket_connect("/beta/ws"):
        pass
    assert denied.value.status_code == 404
    assert backend.loads == 0  # a route that is not there reads nothing from the store
    flags.on.add("beta")
    assert client.get("/beta").json() == {"user": "ada"}
    with client.websocket_connect("/beta/ws") as connection:
        assert connection.receive_json() == {"user": "ada"}
    assert backend.loads == 2
