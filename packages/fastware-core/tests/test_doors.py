"""Behaviour both doors must share (issue 10, B.3, B.4, B.6). Every test here runs over ASGI
and over RSGI (the ``door`` fixture in conftest.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest

from fastware_core import JSONResponse, Request, Router, TestClient, TextResponse, create_app
from fastware_core.testing._rsgi import run_rsgi_http
from fastware_core.types import Receive, Scope, Send


class Item(msgspec.Struct):
    name: str


def json_router() -> Router:
    router = Router()

    @router.post("/json")
    async def read_json(request: Request) -> dict[str, Any]:
        return {"json": request.json}

    @router.post("/item")
    async def read_item(request: Request) -> Item:
        return request.json_as(Item)

    @router.get("/text")
    async def text(request: Request) -> TextResponse:
        return TextResponse("hi")

    @router.get("/own")
    async def own(request: Request) -> JSONResponse:
        return JSONResponse({}, headers={"X-Content-Type-Options": "nosniff"})

    return router


# -- B.4: X-Content-Type-Options: nosniff by default -------------------------------------------


def test_nosniff_is_sent_on_json_text_error_and_static_answers(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("file")
    app = create_app(json_router(), static_dir=tmp_path, max_body_size=10)
    with TestClient(app) as client:
        answers = [
            client.post("/json", json={"a": 1}),
            client.get("/text"),
            client.get("/nowhere"),  # 404
            client.get("/text%00"),  # 400, invalid path
            client.post(
                "/json", content=b"[1,2,3,4,5,6]", headers={"content-type": "application/json"}
            ),
            client.get("/assets/a.txt"),
            client.get("/assets/missing.txt"),
        ]
    assert [a.status_code for a in answers] == [200, 200, 404, 400, 413, 200, 404]
    for answer in answers:
        assert answer.headers.getlist("x-content-type-options") == ["nosniff"], answer


def test_a_response_setting_its_own_nosniff_is_not_doubled() -> None:
    with TestClient(create_app(json_router())) as client:
        assert client.get("/own").headers.getlist("x-content-type-options") == ["nosniff"]


def test_nosniff_can_be_switched_off() -> None:
    with TestClient(create_app(json_router(), nosniff=False)) as client:
        assert "x-content-type-options" not in client.get("/text").headers
        assert "x-content-type-options" not in client.get("/nowhere").headers


# -- B.3: JSON bodies must be sent as JSON --------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "json",
    ],
)
def test_a_body_sent_without_a_json_media_type_is_a_415(content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    with TestClient(create_app(json_router())) as client:
        for path in ("/json", "/item"):
            answer = client.post(path, content=b'{"name": "x"}', headers=headers)
            assert answer.status_code == 415, (path, content_type)
            assert "Content-Type" in answer.json()["detail"]


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "Application/JSON; charset=utf-8", "application/vnd.api+json"],
)
def test_json_media_types_are_accepted(content_type: str) -> None:
    with TestClient(create_app(json_router())) as client:
        answer = client.post(
            "/item", content=b'{"name": "x"}', headers={"content-type": content_type}
        )
    assert answer.json() == {"name": "x"}


def test_a_json_route_without_a_body_needs_no_content_type() -> None:
    with TestClient(create_app(json_router())) as client:
        assert client.post("/json").json() == {"json": None}


def test_legacy_clients_can_be_allowed_per_app() -> None:
    app = create_app(json_router(), json_content_types_only=False)
    with TestClient(app) as client:
        answer = client.post("/json", content=b"[1]", headers={"content-type": "text/plain"})
    assert answer.json() == {"json": [1]}


# -- B.6: the same answers through both doors --------------------------------------------------


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """A plain ASGI WebSocket echo, as a mounted sub-application."""
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    message = await receive()
    await send({"type": "websocket.send", "text": f"echo:{message['text']}:{scope['path']}"})
    await send({"type": "websocket.close", "code": 1000})


def test_websockets_reach_mounted_asgi_apps() -> None:
    router = Router()
    router.mount("/legacy", echo_app)
    with TestClient(create_app(router)) as client, client.websocket_connect("/legacy/chat") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "echo:hi:/chat"


async def headers_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        seen = [[bytes(k).decode(), bytes(v).decode()] for k, v in scope["headers"]]
        body = msgspec.json.encode([h for h in seen if h[0].startswith("x-")])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept", "subprotocol": (scope["subprotocols"] or [None])[0]})
    await send({"type": "websocket.send", "text": ",".join(scope["subprotocols"])})
    await send({"type": "websocket.close", "code": 1000})


def test_mounted_apps_get_the_request_headers() -> None:
    router = Router()
    router.mount("/legacy", headers_app)
    with TestClient(create_app(router)) as client:
        response = client.get("/legacy/", headers={"X-One": "1", "X-Two": "2"})
        assert response.json() == [["x-one", "1"], ["x-two", "2"]]
        with client.websocket_connect("/legacy/ws", subprotocols=["a", "b"]) as ws:
            assert ws.receive_text() == "a,b"


def test_websockets_reach_apps_behind_user_asgi_middleware() -> None:
    router = Router()

    @router.ws("/ws")
    async def talk(websocket: Any) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.state.via)

    def middleware(app: Any) -> Any:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            scope.setdefault("state", {})["via"] = "middleware"
            await app(scope, receive, send)

        return wrapped

    with (
        TestClient(create_app(router, middleware=[middleware])) as client,
        client.websocket_connect("/ws") as ws,
    ):
        assert ws.receive_text() == "middleware"


@pytest.mark.anyio
@pytest.mark.parametrize("version", ["1.1", "2"])
async def test_conflicting_content_lengths_are_refused(
    raw_http: Any, make_scope: Any, door: str, version: str
) -> None:
    router = json_router()
    app = create_app(router)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"2"),
        (b"content-length", b"12"),
    ]
    if door == "asgi":
        # the ASGI door checks every version itself
        sent, _ = await raw_http(app, "POST", "/json", headers=headers, chunks=[b"{}"])
        status, body = sent[0]["status"], sent[1]["body"]
    else:
        messages: list[dict[str, Any]] = []
        scope = make_scope("POST", "/json", headers=headers)
        scope["http_version"] = version
        await run_rsgi_http(app, scope, b"{}", asyncio.Event(), messages.append)
        status, body = messages[0]["status"], messages[1]["body"]
    assert status == 400
    if door == "rsgi" and version == "1.1":
        # Granian's HTTP/1 parser refuses them before the app (so does the RSGI double);
        # tests-integration checks it against real Granian.
        assert body == b""
    else:
        assert msgspec.json.decode(body) == {"detail": "Invalid Content-Length"}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "version", "framing", "read"),
    [
        ("POST", "2", None, True),
        ("PUT", "2", None, True),
        ("GET", "2", None, False),
        ("POST", "1.1", (b"transfer-encoding", b"chunked"), True),
        ("GET", "1.1", (b"transfer-encoding", b"chunked"), False),
        ("HEAD", "1.1", (b"transfer-encoding", b"chunked"), False),
        ("GET", "1.1", (b"content-length", b"5"), True),
        ("GET", "2", (b"content-length", b"5"), True),
    ],
)
async def test_a_get_or_head_body_is_read_only_with_a_length(
    make_scope: Any,
    door: str,
    method: str,
    version: str,
    framing: tuple[bytes, bytes] | None,
    read: bool,
) -> None:
    # A body comes with a Content-Length, chunked encoding, or over HTTP/2 with neither. The
    # doors read every framed body, except that a GET or HEAD (whose content has no meaning:
    # RFC 9110, 9.3.1) is read only with a Content-Length; that spares every GET a look at
    # the HTTP version and the Transfer-Encoding. The server discards what is not read.
    router = Router()

    @router.route("/body", methods=["GET", "POST", "PUT"])
    async def body(request: Request) -> TextResponse:
        return TextResponse(request.body.decode() if request.body else "-")

    app = create_app(router)
    headers = [(b"content-type", b"text/plain")] + ([framing] if framing else [])
    scope = make_scope(method, "/body", headers=headers)
    scope["http_version"] = version
    messages: list[dict[str, Any]] = []
    if door == "asgi":
        chunks = [b"he", b"llo"]

        async def receive() -> dict[str, Any]:
            if chunks:
                return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)

        await app(scope, receive, send)
    else:
        await run_rsgi_http(app, scope, b"hello", asyncio.Event(), messages.append)
    assert messages[0]["status"] == 200
    lengths = [v for k, v in messages[0]["headers"] if k == b"content-length"]
    assert lengths == ([b"5"] if read else [b"1"])  # HEAD too: the answer's own length
    if method != "HEAD":
        assert messages[1]["body"] == (b"hello" if read else b"-")
