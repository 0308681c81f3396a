"""WebSockets through the ASGI door, driven by the test client's WebSocket sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from fastware_core import (
    AsyncTestClient,
    HTTPError,
    RouteDefinitionError,
    Router,
    TestClient,
    WebSocket,
    WebSocketDisconnect,
    create_app,
)
from fastware_core.testing import WebSocketDenied


@asynccontextmanager
async def lifespan(app: object) -> AsyncIterator[dict[str, Any]]:
    yield {"greeting": "hello"}


def make_app(**config: Any) -> Any:
    router = Router()
    seen: list[str] = []

    @router.ws("/echo/{room}")
    async def echo(websocket: WebSocket) -> None:
        offered = websocket.headers.get("sec-websocket-protocol", "")
        await websocket.accept(subprotocol="chat" if "chat" in offered else None)
        await websocket.send_json(
            {
                "room": websocket.path_params["room"],
                "q": websocket.query_params.get("q"),
                "greeting": websocket.state.get("greeting"),
                "cookie": websocket.cookie("sid"),
            }
        )
        async for text in websocket.iter_text():
            if text == "bye":
                await websocket.close(4000, "see you")
                return
            await websocket.send_text(text.upper())

    @router.ws("/json")
    async def json_echo(websocket: WebSocket) -> None:
        await websocket.accept()
        async for value in websocket.iter_json():
            await websocket.send_json({"got": value}, mode="binary")

    @router.ws("/deny")
    async def deny(websocket: WebSocket) -> None:
        raise HTTPError(401, "Not authenticated", headers={"WWW-Authenticate": "Bearer"})

    @router.ws("/late-error")
    async def late_error(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()
        raise HTTPError(403, "Role 'admin' required")

    @router.ws("/boom")
    async def boom(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()
        raise LookupError("broken")

    @router.ws("/leave")
    async def leave(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            await websocket.receive_text()
        except WebSocketDisconnect as exc:
            seen.append(f"disconnect {exc.code}")
            raise

    async def on_lookup(websocket: WebSocket, exc: LookupError) -> None:
        seen.append(f"handler {exc}")

    app = create_app(
        router,
        lifespan=lifespan,
        exception_handlers={LookupError: on_lookup},
        **config,
    )
    return app, seen


@pytest.mark.asgi_only  # Granian's RSGI WebSocket sends no subprotocol, denial body or close code
def test_echo_with_params_query_state_cookies_and_subprotocol() -> None:
    app, _ = make_app()
    with (
        TestClient(app, cookies={"sid": "abc"}) as client,
        client.websocket_connect("/echo/lobby?q=x", subprotocols=["chat"]) as ws,
    ):
        assert ws.accepted_subprotocol == "chat"
        assert ws.receive_json() == {
            "room": "lobby",
            "q": "x",
            "greeting": "hello",
            "cookie": "abc",
        }
        ws.send_text("ping")
        assert ws.receive_text() == "PING"
        ws.send_text("bye")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert (closed.value.code, closed.value.reason) == (4000, "see you")


def test_send_json_is_a_text_frame_by_default_and_binary_on_request() -> None:
    app, _ = make_app()
    with TestClient(app) as client, client.websocket_connect("/echo/a") as ws:
        assert isinstance(ws.receive_text(), str)  # a bytes frame would raise TypeError
    with TestClient(app) as client, client.websocket_connect("/json") as ws:
        ws.send_json([1, 2])
        assert ws.receive_bytes() == b'{"got":[1,2]}'


@pytest.mark.asgi_only  # Granian's RSGI WebSocket sends no subprotocol, denial body or close code
def test_invalid_json_message_closes_with_1007() -> None:
    app, _ = make_app()
    with TestClient(app) as client, client.websocket_connect("/json") as ws:
        ws.send_text("{not json")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_bytes()
    assert closed.value.code == 1007


@pytest.mark.asgi_only  # Granian's RSGI WebSocket sends no subprotocol, denial body or close code
def test_unknown_path_closes_with_4004() -> None:
    app, _ = make_app()
    with TestClient(app) as client, pytest.raises(WebSocketDisconnect) as closed:  # noqa: SIM117
        with client.websocket_connect("/nowhere"):
            pass
    assert closed.value.code == 4004


@pytest.mark.asgi_only  # Granian's RSGI WebSocket sends no subprotocol, denial body or close code
def test_http_error_before_accept_closes_with_1008_and_the_detail() -> None:
    app, _ = make_app()
    with TestClient(app) as client, pytest.raises(WebSocketDisconnect) as closed:  # noqa: SIM117
        with client.websocket_connect("/deny"):
            pass
    assert (closed.value.code, closed.value.reason) == (1008, "Not authenticated")


@pytest.mark.asgi_only  # Granian's RSGI WebSocket sends no subprotocol, denial body or close code
def test_deny_refuses_the_handshake_with_an_http_status_and_body() -> None:
    router = Router()

    @router.ws("/private")
    async def private(websocket: WebSocket) -> None:
        await websocket.deny(401, "Not authenticated", headers={"WWW-Authenticate": "Bearer"})

    with TestClient(create_app(router)) as client, pytest.raises(WebSocketDenied) as denied:  # noqa: SIM117
        with client.websocket_connect("/private"):
            pass
    assert denied.value.status_code == 401
    assert denied.value.json() == {"detail": "Not authenticated"}
    assert denied.value.headers["www-authenticate"] == "Bearer"


@pytest.mark.asgi_only  # Granian's RSGI WebSocket sends no subprotocol, denial body or close code
def test_http_error_after_accept_closes_with_1008_and_the_detail() -> None:
    app, _ = make_app()
    with TestClient(app) as client, client.websocket_connect("/late-error") as ws:
        ws.send_text("go")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert (closed.value.code, closed.value.reason) == (1008, "Role 'admin' required")


@pytest.mark.asgi_only  # Granian's RSGI WebSocket sends no subprotocol, denial body or close code
def test_handler_exception_runs_the_exception_handler_then_closes_with_1011() -> None:
    app, seen = make_app()
    with TestClient(app) as client, client.websocket_connect("/boom") as ws:
        ws.send_text("go")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 1011
    assert seen == ["handler broken"]


@pytest.mark.asgi_only  # Granian's RSGI WebSocket sends no subprotocol, denial body or close code
def test_client_disconnect_reaches_the_handler_as_websocket_disconnect() -> None:
    app, seen = make_app()
    with TestClient(app) as client, client.websocket_connect("/leave") as ws:
        ws.close(1001)
    assert seen == ["disconnect 1001"]


@pytest.mark.asgi_only  # Granian's RSGI WebSocket sends no subprotocol, denial body or close code
def test_oversized_message_closes_with_1009() -> None:
    app, _ = make_app(websocket_max_message_size=8)
    with TestClient(app) as client, client.websocket_connect("/echo/a") as ws:
        ws.receive_json()
        ws.send_text("x" * 9)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 1009


def test_origin_check_refuses_foreign_origins_and_allows_listed_ones() -> None:
    app, _ = make_app(websocket_origins=["https://app.example"])
    with TestClient(app) as client:
        with pytest.raises(WebSocketDenied) as denied:  # noqa: SIM117
            with client.websocket_connect("/echo/a", headers={"Origin": "https://evil.example"}):
                pass
        assert denied.value.status_code == 403
        with client.websocket_connect("/echo/a", headers={"Origin": "https://app.example"}) as ws:
            assert ws.receive_json()["room"] == "a"
        with client.websocket_connect("/echo/b") as ws:  # no Origin: not a browser
            assert ws.receive_json()["room"] == "b"


def test_sync_websocket_handler_is_refused_at_registration() -> None:
    router = Router()

    def handler(websocket: WebSocket) -> None:
        pass

    with pytest.raises(RouteDefinitionError, match="must be async"):
        router.add_ws_route("/ws", handler)


def test_included_router_serves_websockets_under_its_prefix() -> None:
    inner = Router()

    @inner.ws("/feed/{name}")
    async def feed(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.path_params["name"])

    outer = Router()
    outer.include_router(inner, prefix="/v1")
    assert outer.match_ws("/v1/feed/x") is not None
    assert outer.match("GET", "/v1/feed/x") is None  # never answers plain HTTP
    with TestClient(create_app(outer)) as client, client.websocket_connect("/v1/feed/x") as ws:
        assert ws.receive_text() == "x"


def test_websocket_built_by_hand_from_an_asgi_scope() -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        pass

    scope = {
        "type": "websocket",
        "path": "/x",
        "headers": [(b"x-a", b"1")],
        "query_string": b"a=b",
        "path_params": {"id": 3},
    }
    websocket = WebSocket(scope, receive, send)
    assert websocket.path_params == {"id": 3}
    assert websocket.headers["X-A"] == "1"
    assert websocket.query_params == {"a": "b"}


@pytest.mark.anyio
async def test_async_client_websocket_session() -> None:
    app, _ = make_app()
    async with AsyncTestClient(app) as client, client.websocket_connect("/echo/r") as ws:
        assert (await ws.receive_json())["room"] == "r"
        await ws.send_text("a")
        assert await ws.receive_text() == "A"
