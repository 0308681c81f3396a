"""In-process test clients that drive an app through its ASGI door.

No third-party dependency: requests never touch a socket, the lifespan runs on enter and
exit, and streamed responses are read chunk by chunk, so a test can read the first events
of a never-ending stream and then disconnect.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Coroutine, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import unquote, urlencode, urljoin, urlsplit

import msgspec

from .datastructures import Headers
from .lifespan import LifespanDriver
from .request import parse_cookie_header
from .types import ASGIApp
from .websocket import WebSocketDisconnect

__all__ = (
    "AsyncTestClient",
    "AsyncWebSocketSession",
    "TestClient",
    "TestResponse",
    "TestStreamResponse",
    "WebSocketDenied",
    "WebSocketTestSession",
)

T = TypeVar("T")

_LINE_END = re.compile(r"\r\n|\r|\n")

_REASONS = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content",
    206: "Partial Content", 301: "Moved Permanently", 302: "Found", 303: "See Other",
    304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict",
    413: "Content Too Large", 415: "Unsupported Media Type", 416: "Range Not Satisfiable",
    422: "Unprocessable Content", 429: "Too Many Requests", 500: "Internal Server Error",
    501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
}  # fmt: skip


class _ResponseBase:
    status_code: int
    headers: Headers
    url: str
    method: str

    @property
    def reason_phrase(self) -> str:
        """The standard reason phrase for the status code."""
        return _REASONS.get(self.status_code, "")

    @property
    def is_success(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status_code < 300

    @property
    def is_redirect(self) -> bool:
        """Whether the status is a redirect with a Location header."""
        return 300 <= self.status_code < 400 and "location" in self.headers

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies set by this response (``name -> value``); deletions map to ``""``."""
        out: dict[str, str] = {}
        for header in self.headers.getlist("set-cookie"):
            first = header.split(";", 1)[0]
            name, _, value = first.partition("=")
            out[name.strip()] = value.strip()
        return out

    @property
    def encoding(self) -> str:
        """The charset of the content type, ``utf-8`` when none is named."""
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip('"')
        return "utf-8"

    def raise_for_status(self) -> None:
        """Raise ``RuntimeError`` for a 4xx or 5xx status."""
        if self.status_code >= 400:
            raise RuntimeError(
                f"{self.status_code} {self.reason_phrase} for {self.method} {self.url}"
            )


class TestResponse(_ResponseBase):
    """A complete response: ``status_code``, ``headers``, ``content``, ``text``, ``json()``."""

    __test__ = False

    def __init__(
        self, status_code: int, headers: Headers, content: bytes, method: str, url: str
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.method = method
        self.url = url

    @property
    def text(self) -> str:
        """The body decoded with the response charset."""
        return self.content.decode(self.encoding, errors="replace")

    def json(self) -> Any:
        """The body decoded as JSON."""
        return msgspec.json.decode(self.content)

    def __repr__(self) -> str:
        return f"<TestResponse [{self.status_code}]>"


class _Exchange:
    """One request in flight against the ASGI app."""

    def __init__(self, app: ASGIApp, scope: dict[str, Any], body: bytes) -> None:
        self.app = app
        self.scope = scope
        self.body = body
        self.sent_request = False
        self.gone = asyncio.Event()
        self.messages: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.error: BaseException | None = None
        self.task: asyncio.Task[None] = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            await self.app(self.scope, self._receive, self._send)
        except BaseException as exc:
            self.error = exc
        finally:
            self.messages.put_nowait(None)

    async def _receive(self) -> dict[str, Any]:
        if not self.sent_request:
            self.sent_request = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        if self.gone.is_set():
            raise OSError("The test client disconnected")
        self.messages.put_nowait(message)

    async def start(self) -> tuple[int, Headers]:
        message = await self.messages.get()
        if message is None:
            await self.task
            if self.error is not None:
                raise self.error
            raise RuntimeError("The application returned without sending a response")
        if message["type"] != "http.response.start":
            raise RuntimeError(f"Expected http.response.start, got {message['type']!r}")
        return int(message["status"]), Headers.from_asgi(message.get("headers", ()))

    async def next_chunk(self) -> bytes | None:
        """The next body chunk, or ``None`` at the end of the body."""
        while True:
            message = await self.messages.get()
            if message is None:
                self.messages.put_nowait(None)
                return None
            if message["type"] != "http.response.body":
                continue
            body = bytes(message.get("body", b""))
            if not message.get("more_body", False):
                self.messages.put_nowait(None)
                return body or None
            if body:
                return body

    async def disconnect(self, grace: float) -> None:
        self.gone.set()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), grace)
        except TimeoutError:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


class TestStreamResponse(_ResponseBase):
    """A response whose body is read incrementally (``async for chunk in r.aiter_bytes()``).

    Leaving the ``stream()`` block disconnects the client, so the app's stream stops.
    """

    __test__ = False

    def __init__(
        self, exchange: _Exchange, status_code: int, headers: Headers, method: str, url: str
    ) -> None:
        self._exchange = exchange
        self.status_code = status_code
        self.headers = headers
        self.method = method
        self.url = url
        self.content = b""
        self._buffer = b""

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """Body chunks as the app sends them."""
        while True:
            chunk = await self._exchange.next_chunk()
            if chunk is None:
                return
            self.content += chunk
            yield chunk

    async def aiter_text(self) -> AsyncIterator[str]:
        """Body chunks decoded as text."""
        async for chunk in self.aiter_bytes():
            yield chunk.decode(self.encoding, errors="replace")

    async def aiter_lines(self) -> AsyncIterator[str]:
        """Body lines without their line endings (``\\n``, ``\\r\\n`` or ``\\r``)."""
        buffer = ""
        async for text in self.aiter_text():
            buffer += text
            hold = buffer.endswith("\r")  # may be the first half of \r\n
            *complete, rest = _LINE_END.split(buffer[:-1] if hold else buffer)
            for line in complete:
                yield line
            buffer = rest + "\r" if hold else rest
        *complete, rest = _LINE_END.split(buffer)
        for line in complete:
            yield line
        if rest:
            yield rest

    async def aread(self) -> bytes:
        """Read the rest of the body (only for finite streams)."""
        async for _ in self.aiter_bytes():
            pass
        return self.content

    @property
    def text(self) -> str:
        """What has been read so far, decoded."""
        return self.content.decode(self.encoding, errors="replace")

    def json(self) -> Any:
        """What has been read so far, decoded as JSON."""
        return msgspec.json.decode(self.content)


class WebSocketDenied(Exception):
    """The app refused the WebSocket handshake with an HTTP response."""

    __test__ = False

    def __init__(self, status_code: int, headers: Headers, content: bytes) -> None:
        super().__init__(f"WebSocket handshake denied with {status_code}")
        self.status_code = status_code
        self.headers = headers
        self.content = content

    def json(self) -> Any:
        """The denial body decoded as JSON."""
        return msgspec.json.decode(self.content)


class AsyncWebSocketSession:
    """A WebSocket connected to the app in-process (from ``websocket_connect``)."""

    __test__ = False

    def __init__(self, app: ASGIApp, scope: dict[str, Any], grace: float) -> None:
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._grace = grace
        self._app = app
        self._scope = scope
        self._task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None
        self.accepted_subprotocol: str | None = None
        self.accept_headers: Headers = Headers()
        self.close_code: int | None = None
        self.close_reason = ""

    async def _run(self) -> None:
        try:
            await self._app(self._scope, self._to_app.get, self._send)
        except BaseException as exc:
            self.error = exc
        finally:
            self._from_app.put_nowait(None)

    async def _send(self, message: dict[str, Any]) -> None:
        self._from_app.put_nowait(message)

    async def _next(self) -> dict[str, Any]:
        message = await self._from_app.get()
        if message is None:
            self._from_app.put_nowait(None)
            if self.error is not None:
                raise self.error
            self.close_code = self.close_code or 1006
            raise WebSocketDisconnect(self.close_code, "The application returned")
        return message

    async def _connect(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())
        await self._to_app.put({"type": "websocket.connect"})
        message = await self._next()
        kind = message["type"]
        if kind == "websocket.accept":
            self.accepted_subprotocol = message.get("subprotocol")
            self.accept_headers = Headers.from_asgi(message.get("headers") or ())
            return
        if kind == "websocket.close":
            self.close_code = message.get("code", 1000)
            self.close_reason = message.get("reason") or ""
            raise WebSocketDisconnect(self.close_code or 1000, self.close_reason)
        if kind == "websocket.http.response.start":
            headers = Headers.from_asgi(message.get("headers") or ())
            body = b""
            while True:
                part = await self._next()
                body += part.get("body", b"")
                if not part.get("more_body", False):
                    break
            raise WebSocketDenied(int(message["status"]), headers, body)
        raise RuntimeError(f"Unexpected message {kind!r} during the handshake")

    async def send_text(self, data: str) -> None:
        """Send a text message to the app."""
        await self._to_app.put({"type": "websocket.receive", "text": data})

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary message to the app."""
        await self._to_app.put({"type": "websocket.receive", "bytes": data})

    async def send_json(self, data: Any, mode: str = "text") -> None:
        """Send ``data`` as JSON (text frame, or binary with ``mode="binary"``)."""
        encoded = msgspec.json.encode(data)
        if mode == "binary":
            await self.send_bytes(encoded)
        else:
            await self.send_text(encoded.decode())

    async def receive(self) -> dict[str, Any]:
        """The next ``websocket.send`` message from the app.

        Raises:
            WebSocketDisconnect: when the app closed the connection (code and reason kept).
        """
        message = await self._next()
        if message["type"] == "websocket.close":
            self.close_code = message.get("code", 1000)
            self.close_reason = message.get("reason") or ""
            raise WebSocketDisconnect(self.close_code or 1000, self.close_reason)
        return message

    async def receive_text(self) -> str:
        """The next message as text."""
        message = await self.receive()
        text = message.get("text")
        if text is None:
            raise TypeError("Expected a text frame, got a binary one")
        return str(text)

    async def receive_bytes(self) -> bytes:
        """The next message as bytes."""
        message = await self.receive()
        data = message.get("bytes")
        if data is None:
            raise TypeError("Expected a binary frame, got a text one")
        return bytes(data)

    async def receive_json(self) -> Any:
        """The next message decoded as JSON (text or binary frame)."""
        message = await self.receive()
        raw = message.get("text")
        return msgspec.json.decode(raw.encode() if raw is not None else message["bytes"])

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Disconnect and wait for the app's handler to finish."""
        await self._to_app.put({"type": "websocket.disconnect", "code": code, "reason": reason})
        task = self._task
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), self._grace)
            except TimeoutError:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


class AsyncTestClient:
    """Drive an ASGI app in-process: ``async with AsyncTestClient(app) as client:``.

    Entering runs lifespan startup and exiting runs shutdown. Requests use an httpx-like
    surface (``await client.get("/x", params=..., headers=..., json=...)``), cookies set
    by responses are kept and sent back, and ``client.stream(...)`` reads a response
    incrementally.

    Args:
        app: Any ASGI application (a fastware app, or anything else).
        base_url: Scheme and host the requests claim to go to.
        raise_server_exceptions: Re-raise a handler's unhandled exception in the test
            instead of answering 500.
        headers: Headers sent with every request.
        cookies: Initial cookies.
        root_path: The ASGI ``root_path`` to send.
        timeout: Seconds a stream's app may take to finish after a disconnect.
        http_version: The ASGI ``http_version`` requests claim (``"1.1"``, ``"2"``).
    """

    __test__ = False

    def __init__(
        self,
        app: ASGIApp,
        base_url: str = "http://test",
        *,
        raise_server_exceptions: bool = True,
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        root_path: str = "",
        client: tuple[str, int] = ("testclient", 50000),
        timeout: float = 5.0,
        http_version: str = "1.1",
    ) -> None:
        if http_version not in ("1.0", "1.1", "2", "3"):
            raise ValueError(f"http_version must be 1.0, 1.1, 2 or 3, got {http_version!r}")
        self.http_version = http_version
        self.app = app
        self.base_url = base_url.rstrip("/")
        self.raise_server_exceptions = raise_server_exceptions
        self.headers = dict(headers or {})
        self.cookies: dict[str, str] = dict(cookies or {})
        self.root_path = root_path
        self.client = client
        self.timeout = timeout
        self._lifespan: LifespanDriver | None = None

    async def __aenter__(self) -> Self:
        self._lifespan = LifespanDriver(self.app)
        await self._lifespan.startup()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        lifespan, self._lifespan = self._lifespan, None
        if lifespan is not None:
            await lifespan.shutdown()

    def _build(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None,
        headers: Mapping[str, str] | None,
        cookies: Mapping[str, str] | None,
        content: bytes | str | None,
        json: Any,
        data: Mapping[str, Any] | None,
    ) -> tuple[dict[str, Any], bytes, str]:
        full = (
            urljoin(self.base_url + "/", url)
            if not url.startswith(("http://", "https://"))
            else url
        )
        if url.startswith("/"):
            full = self.base_url + url
        parts = urlsplit(full)
        query = parts.query
        if params:
            extra = urlencode(params, doseq=True)
            query = f"{query}&{extra}" if query else extra
        body = b""
        sent: list[tuple[str, str]] = [
            ("host", parts.netloc),
            ("user-agent", "fastware-testclient"),
            ("accept", "*/*"),
        ]
        if json is not _NO_JSON:
            body = msgspec.json.encode(json)
            sent.append(("content-type", "application/json"))
        elif data is not None:
            body = urlencode(data, doseq=True).encode()
            sent.append(("content-type", "application/x-www-form-urlencoded"))
        elif content is not None:
            body = content.encode() if isinstance(content, str) else bytes(content)
        overrides = {k.lower() for k in headers or {}}
        merged = {k: v for k, v in self.headers.items() if k.lower() not in overrides}
        merged.update(headers or {})
        lowered = {k.lower() for k in merged}
        sent = [(k, v) for k, v in sent if k not in lowered]
        sent.extend(merged.items())
        sends_body = body or method.upper() in {"POST", "PUT", "PATCH"}
        if sends_body and "content-length" not in lowered and "transfer-encoding" not in lowered:
            sent.append(("content-length", str(len(body))))
        jar = {**self.cookies, **(cookies or {})}
        if jar and "cookie" not in lowered:
            sent.append(("cookie", "; ".join(f"{k}={v}" for k, v in jar.items())))
        raw_path = parts.path or "/"
        port = parts.port or (443 if parts.scheme == "https" else 80)
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": self.http_version,
            "method": method,
            "scheme": parts.scheme or "http",
            "path": unquote(raw_path, errors="replace"),
            "raw_path": raw_path.encode("latin-1", "replace"),
            "query_string": query.encode("latin-1", "replace"),
            "root_path": self.root_path,
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in sent],
            "client": self.client,
            "server": (parts.hostname or "test", port),
            "state": {},
        }
        if self.raise_server_exceptions:
            scope["fastware.raise_server_exceptions"] = True
        return scope, body, full if not query else f"{full.split('?')[0]}?{query}"

    def _remember_cookies(self, headers: Headers) -> None:
        for header in headers.getlist("set-cookie"):
            pieces = [p.strip() for p in header.split(";")]
            name = pieces[0].partition("=")[0]
            attrs = {p.partition("=")[0].lower(): p.partition("=")[2] for p in pieces[1:]}
            expired = False
            max_age = attrs.get("max-age")
            if max_age is not None and max_age.lstrip("-").isdigit():
                expired = int(max_age) <= 0
            elif "expires" in attrs:
                try:
                    expired = parsedate_to_datetime(attrs["expires"]) <= datetime.now(UTC)
                except (TypeError, ValueError):
                    expired = False
            if expired:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies.update(parse_cookie_header(pieces[0]))

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        content: bytes | str | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        follow_redirects: bool = False,
    ) -> TestResponse:
        """Send one request and read the whole response.

        ``json=None`` sends no body; pass ``content=b"null"`` to send JSON null.
        """
        payload = _NO_JSON if json is None else json
        for _ in range(20):
            scope, body, full = self._build(
                method, url, params, headers, cookies, content, payload, data
            )
            exchange = _Exchange(self.app, scope, body)
            try:
                status, response_headers = await exchange.start()
            except BaseException:
                await exchange.disconnect(self.timeout)
                raise
            chunks: list[bytes] = []
            while (chunk := await exchange.next_chunk()) is not None:
                chunks.append(chunk)
            await exchange.task
            exchange.gone.set()
            if exchange.error is not None and self.raise_server_exceptions:
                raise exchange.error
            self._remember_cookies(response_headers)
            response = TestResponse(status, response_headers, b"".join(chunks), method, full)
            if not (follow_redirects and response.is_redirect):
                return response
            url = response.headers["location"]
            if status == 303 or (status in (301, 302) and method == "POST"):
                method, content, payload, data = "GET", None, _NO_JSON, None
            params = None
        raise RuntimeError("Too many redirects")

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        content: bytes | str | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[TestStreamResponse]:
        """Send a request and read the response incrementally; leaving disconnects."""
        payload = _NO_JSON if json is None else json
        scope, body, full = self._build(
            method, url, params, headers, cookies, content, payload, data
        )
        exchange = _Exchange(self.app, scope, body)
        try:
            status, response_headers = await exchange.start()
            self._remember_cookies(response_headers)
            yield TestStreamResponse(exchange, status, response_headers, method, full)
        finally:
            await exchange.disconnect(self.timeout)
        error = exchange.error
        if error is not None and self.raise_server_exceptions and not isinstance(error, OSError):
            raise error

    @asynccontextmanager
    async def websocket_connect(
        self,
        url: str,
        *,
        subprotocols: list[str] | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[AsyncWebSocketSession]:
        """Open a WebSocket to the app: ``async with client.websocket_connect("/ws") as ws:``.

        Raises:
            WebSocketDisconnect: when the app closes before accepting (e.g. 4004).
            WebSocketDenied: when the app refuses the handshake with an HTTP response.
        """
        scope, _, _ = self._build("GET", url, params, headers, None, None, _NO_JSON, None)
        scope["type"] = "websocket"
        scope["scheme"] = "wss" if scope["scheme"] == "https" else "ws"
        scope["subprotocols"] = list(subprotocols or [])
        scope["extensions"] = {"websocket.http.response": {}}
        for key in ("method", "http_version"):
            scope.pop(key, None)
        if subprotocols:
            scope["headers"].append((b"sec-websocket-protocol", ", ".join(subprotocols).encode()))
        session = AsyncWebSocketSession(self.app, scope, self.timeout)
        try:
            await session._connect()
            yield session
        finally:
            await session.close()
        if session.error is not None and self.raise_server_exceptions:
            raise session.error

    async def get(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a GET request."""
        return await self.request("GET", url, **kwargs)

    async def head(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a HEAD request."""
        return await self.request("HEAD", url, **kwargs)

    async def options(self, url: str, **kwargs: Any) -> TestResponse:
        """Send an OPTIONS request."""
        return await self.request("OPTIONS", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a POST request."""
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a PUT request."""
        return await self.request("PUT", url, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a PATCH request."""
        return await self.request("PATCH", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a DELETE request."""
        return await self.request("DELETE", url, **kwargs)


_NO_JSON: Any = object()


class _LoopThread:
    """An event loop running in a daemon thread; coroutines are submitted to it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="fastware-testclient", daemon=True
        )
        self.thread.start()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise TimeoutError(f"The application did not answer within {timeout} s") from None

    def stop(self) -> None:
        async def drain() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.loop.shutdown_asyncgens()

        asyncio.run_coroutine_threadsafe(drain(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class _SyncStream:
    """The synchronous view of a :class:`TestStreamResponse`."""

    __test__ = False

    def __init__(
        self, portal: _LoopThread, inner: TestStreamResponse, timeout: float | None
    ) -> None:
        self._portal = portal
        self._inner = inner
        self._timeout = timeout
        self.status_code = inner.status_code
        self.headers = inner.headers
        self.url = inner.url

    def _iterate(self, iterator: AsyncIterator[T]) -> Iterator[T]:
        while True:
            try:
                yield self._portal.call(_anext(iterator), self._timeout)
            except StopAsyncIteration:
                return

    def iter_bytes(self) -> Iterator[bytes]:
        """Body chunks as the app sends them."""
        return self._iterate(self._inner.aiter_bytes())

    def iter_text(self) -> Iterator[str]:
        """Body chunks decoded as text."""
        return self._iterate(self._inner.aiter_text())

    def iter_lines(self) -> Iterator[str]:
        """Body lines without line endings."""
        return self._iterate(self._inner.aiter_lines())

    def read(self) -> bytes:
        """Read the rest of the body (only for finite streams)."""
        return self._portal.call(self._inner.aread(), self._timeout)

    @property
    def content(self) -> bytes:
        """What has been read so far."""
        return self._inner.content

    @property
    def text(self) -> str:
        """What has been read so far, decoded."""
        return self._inner.text

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies set by the response."""
        return self._inner.cookies

    def json(self) -> Any:
        """What has been read so far, decoded as JSON."""
        return self._inner.json()


async def _anext(iterator: AsyncIterator[T]) -> T:
    return await iterator.__anext__()


class WebSocketTestSession:
    """The synchronous view of an :class:`AsyncWebSocketSession`."""

    __test__ = False

    def __init__(
        self, portal: _LoopThread, inner: AsyncWebSocketSession, timeout: float | None
    ) -> None:
        self._portal = portal
        self._inner = inner
        self._timeout = timeout

    @property
    def accepted_subprotocol(self) -> str | None:
        """The subprotocol the app accepted."""
        return self._inner.accepted_subprotocol

    @property
    def close_code(self) -> int | None:
        """The code the app closed with, once it did."""
        return self._inner.close_code

    @property
    def close_reason(self) -> str:
        """The reason the app closed with."""
        return self._inner.close_reason

    def send_text(self, data: str) -> None:
        """Send a text message."""
        self._portal.call(self._inner.send_text(data), self._timeout)

    def send_bytes(self, data: bytes) -> None:
        """Send a binary message."""
        self._portal.call(self._inner.send_bytes(data), self._timeout)

    def send_json(self, data: Any, mode: str = "text") -> None:
        """Send JSON."""
        self._portal.call(self._inner.send_json(data, mode), self._timeout)

    def receive_text(self) -> str:
        """The next text message."""
        return self._portal.call(self._inner.receive_text(), self._timeout)

    def receive_bytes(self) -> bytes:
        """The next binary message."""
        return self._portal.call(self._inner.receive_bytes(), self._timeout)

    def receive_json(self) -> Any:
        """The next message as JSON."""
        return self._portal.call(self._inner.receive_json(), self._timeout)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Disconnect."""
        self._portal.call(self._inner.close(code, reason), self._timeout)


class TestClient:
    """The synchronous test client: the same surface as :class:`AsyncTestClient`.

    The app runs on an event loop in a background thread. Use it as a context manager
    (``with TestClient(app) as client:``) to run the lifespan; used without ``with``, the
    first request starts it and :meth:`close` stops it.

    Args:
        timeout: Seconds each call waits for the app (``None`` waits forever).
        http_version: The ASGI ``http_version`` requests claim (``"1.1"``, ``"2"``).
    """

    __test__ = False

    def __init__(
        self,
        app: ASGIApp,
        base_url: str = "http://test",
        *,
        raise_server_exceptions: bool = True,
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        root_path: str = "",
        timeout: float | None = 30.0,
        http_version: str = "1.1",
    ) -> None:
        self._async = AsyncTestClient(
            app,
            base_url,
            raise_server_exceptions=raise_server_exceptions,
            headers=headers,
            cookies=cookies,
            root_path=root_path,
            http_version=http_version,
        )
        self.timeout = timeout
        self._portal: _LoopThread | None = None

    @property
    def app(self) -> ASGIApp:
        """The application under test."""
        return self._async.app

    @property
    def cookies(self) -> dict[str, str]:
        """The cookie jar, updated from responses."""
        return self._async.cookies

    def _open(self) -> _LoopThread:
        if self._portal is None:
            portal = _LoopThread()
            try:
                portal.call(self._async.__aenter__(), self.timeout)
            except BaseException:
                portal.stop()
                raise
            self._portal = portal
        return self._portal

    def __enter__(self) -> Self:
        self._open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Run lifespan shutdown and stop the background loop."""
        portal, self._portal = self._portal, None
        if portal is not None:
            try:
                portal.call(self._async.__aexit__(None, None, None), self.timeout)
            finally:
                portal.stop()

    def _call(self, coro: Awaitable[T]) -> T:
        async def run() -> T:
            return await coro

        return self._open().call(run(), self.timeout)

    def request(self, method: str, url: str, **kwargs: Any) -> TestResponse:
        """Send one request and read the whole response."""
        return self._call(self._async.request(method, url, **kwargs))

    @contextmanager
    def stream(self, method: str, url: str, **kwargs: Any) -> Iterator[_SyncStream]:
        """Read a response incrementally: ``with client.stream("GET", "/events") as r:``."""
        portal = self._open()
        manager = self._async.stream(method, url, **kwargs)
        inner = portal.call(manager.__aenter__(), self.timeout)
        try:
            yield _SyncStream(portal, inner, self.timeout)
        except BaseException as exc:
            portal.call(manager.__aexit__(type(exc), exc, exc.__traceback__), self.timeout)
            raise
        else:
            portal.call(manager.__aexit__(None, None, None), self.timeout)

    @contextmanager
    def websocket_connect(self, url: str, **kwargs: Any) -> Iterator[WebSocketTestSession]:
        """Open a WebSocket to the app: ``with client.websocket_connect("/ws") as ws:``."""
        portal = self._open()
        manager = self._async.websocket_connect(url, **kwargs)
        inner = portal.call(manager.__aenter__(), self.timeout)
        try:
            yield WebSocketTestSession(portal, inner, self.timeout)
        except BaseException as exc:
            portal.call(manager.__aexit__(type(exc), exc, exc.__traceback__), self.timeout)
            raise
        else:
            portal.call(manager.__aexit__(None, None, None), self.timeout)

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a GET request."""
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a HEAD request."""
        return self.request("HEAD", url, **kwargs)

    def options(self, url: str, **kwargs: Any) -> TestResponse:
        """Send an OPTIONS request."""
        return self.request("OPTIONS", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a POST request."""
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a PUT request."""
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a PATCH request."""
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a DELETE request."""
        return self.request("DELETE", url, **kwargs)
