"""``ViteDevProxy`` against real upstream servers: routing, streaming, headers, WebSockets,
and upstreams that are down or misbehave."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from websockets.typing import Subprotocol

from fastware_core import JSONResponse, Request, Router, create_app
from fastware_dev import DevConfigError, ViteDevProxy

pytestmark = pytest.mark.anyio


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- calling an ASGI app by hand, and real upstreams that can misbehave ---------------------


@dataclass
class Exchange:
    """What an ASGI app sent for one HTTP request."""

    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> int:
        return int(next(m for m in self.messages if m["type"] == "http.response.start")["status"])

    @property
    def headers(self) -> dict[str, str]:
        start = next(m for m in self.messages if m["type"] == "http.response.start")
        return {
            bytes(k).decode("latin-1").lower(): bytes(v).decode("latin-1")
            for k, v in start["headers"]
        }

    @property
    def body(self) -> bytes:
        return b"".join(
            m.get("body", b"") for m in self.messages if m["type"] == "http.response.body"
        )

    @property
    def finished(self) -> bool:
        return any(
            m["type"] == "http.response.body" and not m.get("more_body", False)
            for m in self.messages
        )


def http_scope(
    path: str,
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    query: bytes = b"",
) -> dict[str, Any]:
    """An ASGI HTTP scope as a server gives it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": headers if headers is not None else [(b"host", b"example.test:8000")],
        "client": ("10.1.2.3", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def call_http(
    app: Callable[..., Awaitable[None]],
    scope: dict[str, Any],
    body: list[bytes] | None = None,
    *,
    on_message: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    disconnect: asyncio.Event | None = None,
) -> Exchange:
    """Run ``app`` for one request; ``disconnect`` set makes ``receive`` report the client gone."""
    chunks = list(body or [b""])
    exchange = Exchange()
    gone = disconnect or asyncio.Event()

    async def receive() -> dict[str, Any]:
        if chunks:
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        exchange.messages.append(message)
        if on_message is not None:
            await on_message(message)

    await app(scope, receive, send)
    return exchange


# -- a real HTTP upstream that can misbehave -------------------------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "RawRequest"], Awaitable[None]]


@dataclass
class RawRequest:
    """One request the raw upstream read: request line, headers and body."""

    method: str
    target: str
    headers: dict[str, str]
    header_list: list[tuple[str, str]]
    body: bytes


async def read_request(reader: asyncio.StreamReader) -> RawRequest | None:
    """Read one HTTP/1.1 request (Content-Length or chunked body)."""
    line = await reader.readline()
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    header_list = []
    while True:
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        header_list.append((name.strip().lower(), value.strip()))
    headers = dict(header_list)
    body = b""
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readline()).strip(), 16)
            if size == 0:
                await reader.readline()
                break
            body += await reader.readexactly(size)
            await reader.readline()
    return RawRequest(method, target, headers, header_list, body)


class RawUpstream:
    """An asyncio TCP server on 127.0.0.1 that answers each request with ``handler``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[RawRequest] = []
        self.closed = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await read_request(reader)
                if request is None:
                    break
                self.requests.append(request)
                await self.handler(reader, writer, request)
                if writer.is_closing():
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.closed.set()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def __aenter__(self) -> RawUpstream:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)


def response_bytes(status: int, body: bytes, headers: list[tuple[str, str]] | None = None) -> bytes:
    """An HTTP/1.1 response with a Content-Length."""
    lines = [f"HTTP/1.1 {status} X"]
    for name, value in headers or [("content-type", "text/plain")]:
        lines.append(f"{name}: {value}")
    lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@contextlib.asynccontextmanager
async def raw_upstream(handler: Handler) -> AsyncIterator[RawUpstream]:
    """A :class:`RawUpstream` for the block."""
    async with RawUpstream(handler) as upstream:
        yield upstream


# -- the tests ------------------------------------------------------------------------------


def backend() -> Any:
    router = Router()

    @router.get("/api/items")
    async def items(request: Request) -> JSONResponse:
        return JSONResponse({"items": [1, 2]})

    @router.get("/page")
    async def page(request: Request) -> JSONResponse:
        return JSONResponse({"from": "backend"})

    return create_app(router)


async def echo_vite(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: RawRequest
) -> None:
    body = f"vite {request.method} {request.target} {request.body.decode()}".encode()
    writer.write(response_bytes(200, body, [("content-type", "text/javascript")]))
    await writer.drain()


def test_a_bad_vite_port_is_refused() -> None:
    with pytest.raises(DevConfigError, match="vite_port must be a port number"):
        ViteDevProxy(backend(), vite_port=0)
    with pytest.raises(DevConfigError):
        ViteDevProxy(backend(), vite_port=True)


def test_backend_paths_match_on_slash_boundaries() -> None:
    proxy = ViteDevProxy(backend(), vite_port=5173)
    for path in ("/api", "/api/x", "/events", "/events/1", "/ws", "/__fastware/version"):
        assert proxy.is_backend_path(path), path
    for path in ("/apiary", "/eventsource", "/wsx", "/", "/src/main.js", "/__fastwarex"):
        assert not proxy.is_backend_path(path), path
    custom = ViteDevProxy(backend(), vite_port=5173, api_prefix="/v1/", backend_prefixes=["/rpc"])
    assert custom.is_backend_path("/v1/x")
    assert custom.is_backend_path("/rpc")
    assert not custom.is_backend_path("/api/x")
    assert not custom.is_backend_path("/events")


def test_attributes_come_from_the_wrapped_app() -> None:
    app = backend()
    proxy = ViteDevProxy(app, vite_port=5173)
    assert proxy.router is app.router
    with pytest.raises(AttributeError):
        _ = proxy.no_such_thing


async def test_backend_answers_reach_the_browser_and_404s_go_to_vite() -> None:
    async with raw_upstream(echo_vite) as vite:
        proxy = ViteDevProxy(backend(), vite_port=vite.port, vite_host="127.0.0.1")
        api = await call_http(proxy, http_scope("/api/items"))
        assert api.status == 200
        assert api.body == b'{"items":[1,2]}'
        page = await call_http(proxy, http_scope("/page"))
        assert page.body == b'{"from":"backend"}'
        module = await call_http(proxy, http_scope("/src/main.js", query=b"t=1"))
        assert module.status == 200
        assert module.body == b"vite GET /src/main.js?t=1 "
        assert module.headers["content-type"] == "text/javascript"
        # A 404 under a backend prefix stays the backend's.
        missing = await call_http(proxy, http_scope("/api/nope"))
        assert missing.status == 404
        assert b"vite" not in missing.body
        await proxy.close()
    assert [r.target for r in vite.requests] == ["/src/main.js?t=1"]


async def test_a_request_body_the_backend_read_is_replayed_to_vite() -> None:
    async with raw_upstream(echo_vite) as vite:
        proxy = ViteDevProxy(backend(), vite_port=vite.port, vite_host="127.0.0.1")
        scope = http_scope(
            "/upload",
            "POST",
            [(b"host", b"a:1"), (b"content-length", b"10"), (b"content-type", b"text/plain")],
        )
        answer = await call_http(proxy, scope, [b"hello", b"world"])
        await proxy.close()
    assert answer.body == b"vite POST /upload helloworld"
    assert vite.requests[0].body == b"helloworld"


async def test_headers_the_browser_needs_are_forwarded_and_host_is_rewritten() -> None:
    async with raw_upstream(echo_vite) as vite:
        proxy = ViteDevProxy(backend(), vite_port=vite.port, vite_host="127.0.0.1")
        headers = [
            (b"host", b"shop.test:8000"),
            (b"authorization", b"Bearer abc"),
            (b"cookie", b"a=1"),
            (b"if-none-match", b'"v1"'),
            (b"x-custom", b"kept"),
            (b"connection", b"keep-alive, x-drop"),
            (b"x-drop", b"hop"),
            (b"keep-alive", b"timeout=5"),
        ]
        await call_http(proxy, http_scope("/src/a.js", headers=headers))
        await proxy.close()
    sent = vite.requests[0].headers
    assert sent["host"] == f"127.0.0.1:{vite.port}"
    assert sent["x-forwarded-host"] == "shop.test:8000"
    assert sent["x-forwarded-proto"] == "http"
    assert sent["x-forwarded-for"] == "10.1.2.3"
    assert sent["authorization"] == "Bearer abc"
    assert sent["cookie"] == "a=1"
    assert sent["if-none-match"] == '"v1"'
    assert sent["x-custom"] == "kept"
    assert "x-drop" not in sent
    assert "keep-alive" not in sent


async def test_vite_answers_are_streamed_not_buffered() -> None:
    release = asyncio.Event()

    async def slow_vite(reader: Any, writer: asyncio.StreamWriter, request: RawRequest) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n"
            b"5\r\nfirst\r\n"
        )
        await writer.drain()
        await release.wait()
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
        await writer.drain()

    seen_first = asyncio.Event()

    async def on_message(message: dict[str, Any]) -> None:
        if message.get("body") == b"first":
            seen_first.set()

    async with raw_upstream(slow_vite) as vite:
        proxy = ViteDevProxy(backend(), vite_port=vite.port, vite_host="127.0.0.1")
        task = asyncio.ensure_future(call_http(proxy, http_scope("/stream"), on_message=on_message))
        # The first chunk arrives while Vite still holds the rest back.
        await asyncio.wait_for(seen_first.wait(), 5)
        assert not task.done()
        release.set()
        answer = await asyncio.wait_for(task, 5)
        await proxy.close()
    assert answer.body == b"firstsecond"
    assert answer.finished
    assert "transfer-encoding" not in answer.headers


async def test_a_large_compressed_asset_passes_through_unchanged() -> None:
    payload = bytes(range(256)) * 4096 * 4  # 4 MiB

    async def big(reader: Any, writer: asyncio.StreamWriter, request: RawRequest) -> None:
        writer.write(
            response_bytes(
                200, payload, [("content-type", "image/png"), ("content-encoding", "gzip")]
            )
        )
        await writer.drain()

    async with raw_upstream(big) as vite:
        proxy = ViteDevProxy(backend(), vite_port=vite.port, vite_host="127.0.0.1")
        answer = await call_http(proxy, http_scope("/big.png"))
        await proxy.close()
    assert answer.body == payload
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.headers["content-length"] == str(len(payload))
    assert sum(1 for m in answer.messages if m["type"] == "http.response.body") > 2


async def test_vite_not_running_gives_a_502_page_that_says_how_to_start_it() -> None:
    port = free_port()
    proxy = ViteDevProxy(backend(), vite_port=port, vite_host="127.0.0.1", vite_hint="pnpm dev")
    page = await call_http(proxy, http_scope("/", headers=[(b"accept", b"text/html")]))
    assert page.status == 502
    assert page.headers["content-type"].startswith("text/html")
    assert b"Vite is not running" in page.body
    assert b"pnpm dev" in page.body
    assert b"fastware dev" in page.body
    assert f"127.0.0.1:{port}".encode() in page.body
    script = await call_http(proxy, http_scope("/src/main.js"))
    assert script.status == 502
    assert script.headers["content-type"] == "application/json"
    assert b"The Vite dev server is not running" in script.body
    await proxy.close()


async def test_garbage_from_vite_is_a_502_not_a_hang() -> None:
    async def garbage(reader: Any, writer: asyncio.StreamWriter, request: RawRequest) -> None:
        writer.write(b"this is not http\r\n\r\n")
        await writer.drain()
        writer.close()

    async with raw_upstream(garbage) as vite:
        proxy = ViteDevProxy(backend(), vite_port=vite.port, vite_host="127.0.0.1")
        answer = await asyncio.wait_for(call_http(proxy, http_scope("/x.js")), 10)
        await proxy.close()
    assert answer.status == 502
    assert answer.headers["content-type"] == "application/json"
    assert b"Vite dropped the connection" in answer.body


async def test_vite_closing_mid_body_ends_the_response() -> None:
    async def truncated(reader: Any, writer: asyncio.StreamWriter, request: RawRequest) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly-part")
        await writer.drain()
        writer.close()

    async with raw_upstream(truncated) as vite:
        proxy = ViteDevProxy(backend(), vite_port=vite.port, vite_host="127.0.0.1")
        answer = await asyncio.wait_for(call_http(proxy, http_scope("/x.js")), 10)
        await proxy.close()
    assert answer.status == 200
    assert answer.body == b"only-part"
    assert answer.finished  # the response ends instead of waiting forever


async def test_a_client_that_leaves_mid_proxy_closes_the_upstream_request() -> None:
    async def endless(reader: Any, writer: asyncio.StreamWriter, request: RawRequest) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        while True:
            writer.write(b"4\r\ntick\r\n")
            await writer.drain()
            await asyncio.sleep(0.02)

    gone = asyncio.Event()

    async def on_message(message: dict[str, Any]) -> None:
        if message.get("body") == b"tick":
            gone.set()

    async with raw_upstream(endless) as vite:
        proxy = ViteDevProxy(backend(), vite_port=vite.port, vite_host="127.0.0.1")
        answer = await asyncio.wait_for(
            call_http(proxy, http_scope("/hmr-stream"), on_message=on_message, disconnect=gone),
            10,
        )
        await asyncio.wait_for(vite.closed.wait(), 10)
        await proxy.close()
    assert answer.status == 200


async def test_head_requests_get_no_body() -> None:
    async def head(reader: Any, writer: asyncio.StreamWriter, request: RawRequest) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n")
        await writer.drain()

    async with raw_upstream(head) as vite:
        proxy = ViteDevProxy(backend(), vite_port=vite.port, vite_host="127.0.0.1")
        answer = await asyncio.wait_for(call_http(proxy, http_scope("/a.js", "HEAD")), 10)
        await proxy.close()
    assert answer.status == 200
    assert answer.body == b""
    assert answer.headers["content-length"] == "1234"


# -- WebSockets ----------------------------------------------------------------------------


class WSClient:
    """The server side of one ASGI WebSocket, driven by the test."""

    def __init__(self, path: str, subprotocols: list[str]) -> None:
        self.scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "scheme": "ws",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"token=1",
            "root_path": "",
            "headers": [
                (b"host", b"shop.test:8000"),
                (b"origin", b"http://shop.test:8000"),
                (b"sec-websocket-protocol", ", ".join(subprotocols).encode()),
            ],
            "subprotocols": subprotocols,
            "client": ("10.1.2.3", 5),
            "server": ("127.0.0.1", 8000),
        }
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.inbox.put_nowait({"type": "websocket.connect"})

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def send(self, message: dict[str, Any]) -> None:
        await self.sent.put(message)

    async def next(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.sent.get(), 10)


async def test_hmr_websocket_is_tunnelled_with_subprotocol_and_close_codes() -> None:
    from websockets.asyncio.server import ServerConnection, serve

    seen: dict[str, Any] = {}

    async def handler(connection: ServerConnection) -> None:
        seen["path"] = connection.request.path if connection.request else None
        seen["origin"] = connection.request.headers.get("origin") if connection.request else None
        await connection.send('{"type":"connected"}')
        message = await connection.recv()
        seen["message"] = message
        await connection.send(b"\x00binary")
        await connection.close(4001, "vite says bye")

    async with serve(handler, "127.0.0.1", 0, subprotocols=[Subprotocol("vite-hmr")]) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        proxy = ViteDevProxy(backend(), vite_port=port, vite_host="127.0.0.1")
        client = WSClient("/", ["vite-hmr"])
        task = asyncio.ensure_future(proxy(client.scope, client.receive, client.send))
        accept = await client.next()
        assert accept == {"type": "websocket.accept", "subprotocol": "vite-hmr"}
        assert await client.next() == {"type": "websocket.send", "text": '{"type":"connected"}'}
        await client.inbox.put({"type": "websocket.receive", "text": "ping"})
        assert await client.next() == {"type": "websocket.send", "bytes": b"\x00binary"}
        close = await client.next()
        assert close == {"type": "websocket.close", "code": 4001, "reason": "vite says bye"}
        await asyncio.wait_for(task, 10)
    assert seen == {"path": "/?token=1", "origin": "http://shop.test:8000", "message": "ping"}


async def test_a_client_close_code_reaches_vite() -> None:
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import ConnectionClosed

    closed: asyncio.Future[tuple[int | None, str | None]] = asyncio.Future()

    async def handler(connection: ServerConnection) -> None:
        try:
            await connection.recv()
        except ConnectionClosed:
            pass
        received = connection.protocol.close_rcvd
        closed.set_result((received.code, received.reason) if received else (None, None))

    async with serve(handler, "127.0.0.1", 0, subprotocols=[Subprotocol("vite-hmr")]) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        proxy = ViteDevProxy(backend(), vite_port=port, vite_host="127.0.0.1")
        client = WSClient("/", ["vite-hmr"])
        task = asyncio.ensure_future(proxy(client.scope, client.receive, client.send))
        assert (await client.next())["type"] == "websocket.accept"
        await client.inbox.put({"type": "websocket.disconnect", "code": 4002, "reason": "tab"})
        assert await asyncio.wait_for(closed, 10) == (4002, "tab")
        await asyncio.wait_for(task, 10)


async def test_a_websocket_to_a_vite_that_is_down_closes_with_1011() -> None:
    proxy = ViteDevProxy(backend(), vite_port=free_port(), vite_host="127.0.0.1")
    client = WSClient("/", ["vite-hmr"])
    await asyncio.wait_for(proxy(client.scope, client.receive, client.send), 15)
    close = await client.next()
    assert close["type"] == "websocket.close"
    assert close["code"] == 1011
    assert "Vite is not reachable" in close["reason"]


async def test_a_websocket_vite_refuses_is_refused_with_its_status() -> None:
    async def refuse(reader: Any, writer: asyncio.StreamWriter, request: RawRequest) -> None:
        writer.write(response_bytes(403, b"forbidden origin"))
        await writer.drain()

    async with raw_upstream(refuse) as vite:
        proxy = ViteDevProxy(backend(), vite_port=vite.port, vite_host="127.0.0.1")
        client = WSClient("/", ["vite-hmr"])
        client.scope["extensions"] = {"websocket.http.response": {}}
        await asyncio.wait_for(proxy(client.scope, client.receive, client.send), 15)
        start = await client.next()
        assert start["type"] == "websocket.http.response.start"
        assert start["status"] == 403
        body = await client.next()
        assert body["body"] == b"forbidden origin"


# -- the HTTP/1.1 client under the proxy -----------------------------------------------------


async def test_connections_are_kept_alive_and_a_closed_one_is_replaced() -> None:
    served: list[object] = []

    async def once_then_close(
        reader: Any, writer: asyncio.StreamWriter, request: RawRequest
    ) -> None:
        served.append(writer.get_extra_info("peername"))
        writer.write(response_bytes(200, b"ok"))
        await writer.drain()
        if len(served) == 2:
            writer.close()  # an upstream that drops a kept-alive connection (a restart)

    async with raw_upstream(once_then_close) as vite:
        proxy = ViteDevProxy(backend(), vite_port=vite.port, vite_host="127.0.0.1")
        for _ in range(3):
            answer = await call_http(proxy, http_scope("/a.js"))
            assert answer.body == b"ok"
            await asyncio.sleep(0.05)
        await proxy.close()
    assert len(served) == 3
    assert served[0] == served[1]  # the first connection served two requests
    assert served[2] != served[1]  # then a new one


async def test_a_body_without_length_is_sent_chunked_as_it_arrives() -> None:
    async with raw_upstream(echo_vite) as vite:
        proxy = ViteDevProxy(backend(), vite_port=vite.port, vite_host="127.0.0.1")
        scope = http_scope("/upload", "POST", [(b"host", b"a"), (b"transfer-encoding", b"chunked")])
        answer = await call_http(proxy, scope, [b"one,", b"two,", b"three"])
        await proxy.close()
    assert answer.body == b"vite POST /upload one,two,three"
    assert vite.requests[0].headers["transfer-encoding"] == "chunked"


async def test_an_upstream_that_never_answers_is_a_504() -> None:
    async def silent(reader: Any, writer: asyncio.StreamWriter, request: RawRequest) -> None:
        await asyncio.sleep(30)

    async with raw_upstream(silent) as vite:
        proxy = ViteDevProxy(backend(), vite_port=vite.port, vite_host="127.0.0.1")
        proxy.vite.read_timeout = 0.5
        answer = await asyncio.wait_for(call_http(proxy, http_scope("/a.js")), 10)
        await proxy.close()
    assert answer.status == 504
    assert b"Vite did not answer in time" in answer.body


async def test_interim_answers_are_skipped() -> None:
    async def early_hints(reader: Any, writer: asyncio.StreamWriter, request: RawRequest) -> None:
        writer.write(b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n")
        writer.write(response_bytes(200, b"final"))
        await writer.drain()

    async with raw_upstream(early_hints) as vite:
        proxy = ViteDevProxy(backend(), vite_port=vite.port, vite_host="127.0.0.1")
        answer = await call_http(proxy, http_scope("/a.js"))
        await proxy.close()
    assert answer.status == 200
    assert answer.body == b"final"
