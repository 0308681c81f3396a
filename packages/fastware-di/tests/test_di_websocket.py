"""Dependencies on WebSocket routes: the factory receives the WebSocket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pytest

from fastware_core import (
    HTTPError,
    Router,
    TestClient,
    WebSocket,
    WebSocketDisconnect,
    create_app,
)
from fastware_core.app import App
from fastware_di import DependencyResolver, Depends, dependency

EVENTS: list[str] = []


@pytest.fixture(autouse=True)
def _clear_events() -> Iterator[None]:
    EVENTS.clear()
    yield
    EVENTS.clear()


def make_app(router: Router) -> App:
    return create_app(router, injector=DependencyResolver())


def room_of(websocket: WebSocket) -> str:
    return str(websocket.path_params["room"])


def user_of(request: Any) -> str:
    # 0.6.3 style: the factory's first parameter gets the connection, here the WebSocket.
    assert isinstance(request, WebSocket)
    return request.query_params.get("user") or "anonymous"


async def get_channel(websocket: WebSocket) -> AsyncIterator[str]:
    EVENTS.append("open channel")
    try:
        yield f"channel:{websocket.path_params.get('room', '-')}"
    except BaseException as exc:
        EVENTS.append(f"channel saw {type(exc).__name__}")
        raise
    finally:
        EVENTS.append("close channel")


def get_sync_channel() -> Iterator[str]:
    EVENTS.append("open sync channel")
    try:
        yield "sync channel"
    finally:
        EVENTS.append("close sync channel")


def require_token(websocket: WebSocket) -> str:
    token = websocket.query_params.get("token")
    if token is None:
        raise HTTPError(401, "Not authenticated")
    return token


def broken_dep() -> str:
    raise LookupError("dependency broke")


@dependency(scope="app")
def app_registry() -> Iterator[dict[str, int]]:
    EVENTS.append("up registry")
    yield {"connections": 0}
    EVENTS.append("down registry")


def chat_router() -> Router:
    router = Router()

    @router.ws("/chat/{room}", deps={"room": room_of, "user": user_of})
    async def chat(
        websocket: WebSocket,
        room: str,
        user: str,
        channel: Annotated[str, Depends(get_channel)],
    ) -> None:
        await websocket.accept()
        await websocket.send_json({"room": room, "user": user, "channel": channel})
        while True:
            text = await websocket.receive_text()
            if text == "fail":
                raise RuntimeError("handler failed")
            if text == "bye":
                await websocket.close(1000)
                return
            await websocket.send_text(text.upper())

    @router.ws("/guarded", deps={"channel": get_channel, "token": require_token})
    async def guarded(websocket: WebSocket, token: str) -> None:
        EVENTS.append("guarded handler")
        await websocket.accept()
        await websocket.send_text(token)

    @router.ws("/broken", deps={"broken": broken_dep})
    async def broken(websocket: WebSocket) -> None:  # pragma: no cover - never runs
        EVENTS.append("broken handler")

    return router


def test_deps_by_name_and_marker_reach_the_websocket_handler() -> None:
    with (
        TestClient(make_app(chat_router())) as client,
        client.websocket_connect("/chat/lobby?user=ann") as ws,
    ):
        assert ws.receive_json() == {"room": "lobby", "user": "ann", "channel": "channel:lobby"}
        ws.send_text("hi")
        assert ws.receive_text() == "HI"
        ws.send_text("bye")
        with pytest.raises(WebSocketDisconnect):
            ws.receive_text()
    assert EVENTS == ["open channel", "close channel"]


def test_generator_deps_stay_open_while_the_socket_is_open() -> None:
    with (
        TestClient(make_app(chat_router())) as client,
        client.websocket_connect("/chat/a") as ws,
    ):
        ws.receive_json()
        ws.send_text("x")
        assert ws.receive_text() == "X"
        assert EVENTS == ["open channel"]
    assert EVENTS == ["open channel", "close channel"]


def test_client_disconnect_is_a_normal_end_for_the_deps() -> None:
    with (
        TestClient(make_app(chat_router())) as client,
        client.websocket_connect("/chat/a") as ws,
    ):
        ws.receive_json()
        ws.close(1001)
    # WebSocketDisconnect is not thrown in: the except did not see it, finally ran.
    assert EVENTS == ["open channel", "close channel"]


def test_handler_error_is_thrown_into_the_deps_and_closes_with_1011() -> None:
    with (
        TestClient(make_app(chat_router())) as client,
        client.websocket_connect("/chat/a") as ws,
    ):
        ws.receive_json()
        ws.send_text("fail")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 1011
    assert EVENTS == ["open channel", "channel saw RuntimeError", "close channel"]


def test_dependency_http_error_closes_with_1008_and_the_handler_never_runs() -> None:
    with TestClient(make_app(chat_router())) as client:
        with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/guarded"):
            pass  # pragma: no cover - the handshake is refused
        assert (closed.value.code, closed.value.reason) == (1008, "Not authenticated")
        assert "guarded handler" not in EVENTS
        # The channel opened before the guard refused is closed again.
        assert EVENTS == ["open channel", "channel saw HTTPError", "close channel"]
        EVENTS.clear()
        with client.websocket_connect("/guarded?token=t0k") as ws:
            assert ws.receive_text() == "t0k"
    assert EVENTS == ["open channel", "guarded handler", "close channel"]


def test_other_dependency_error_closes_with_1011() -> None:
    with (
        TestClient(make_app(chat_router())) as client,
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect("/broken"),
    ):
        pass  # pragma: no cover
    assert closed.value.code == 1011
    assert EVENTS == []


def test_add_ws_route_and_include_router_deps() -> None:
    inner = Router()

    async def handler(websocket: WebSocket, prefix: str, sync: str) -> None:
        await websocket.accept()
        await websocket.send_text(f"{prefix}/{sync}")

    inner.add_ws_route("/feed", handler, deps={"sync": get_sync_channel})
    outer = Router()
    outer.include_router(inner, prefix="/v1", deps={"prefix": lambda: "v1"})
    with TestClient(make_app(outer)) as client, client.websocket_connect("/v1/feed") as ws:
        assert ws.receive_text() == "v1/sync channel"
    assert EVENTS == ["open sync channel", "close sync channel"]


def test_app_scoped_dependency_is_shared_by_websockets() -> None:
    router = Router()

    @router.ws("/count")
    async def count(
        websocket: WebSocket, registry: Annotated[dict[str, int], Depends(app_registry)]
    ) -> None:
        registry["connections"] += 1
        await websocket.accept()
        await websocket.send_json(registry)

    with TestClient(make_app(router)) as client:
        with client.websocket_connect("/count") as ws:
            assert ws.receive_json() == {"connections": 1}
        with client.websocket_connect("/count") as ws:
            assert ws.receive_json() == {"connections": 2}
        assert EVENTS == ["up registry"]
    assert EVENTS == ["up registry", "down registry"]


def test_overrides_apply_to_websocket_routes() -> None:
    app = make_app(chat_router())
    with (
        TestClient(app) as client,
        app.dependency_overrides({require_token: lambda: "fake-token"}),
        client.websocket_connect("/guarded") as ws,
    ):
        assert ws.receive_text() == "fake-token"
