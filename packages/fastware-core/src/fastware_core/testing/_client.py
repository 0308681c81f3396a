"""``AsyncTestClient``: drive an app in-process, through its ASGI or its RSGI door."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, NamedTuple, Self, TypeVar
from urllib.parse import unquote, urlencode, urljoin, urlsplit

import msgspec

from fastware_core.datastructures import Headers
from fastware_core.lifespan import LifespanDriver
from fastware_core.request import parse_cookie_header
from fastware_core.types import ASGIApp

from ._exchange import AsyncWebSocketSession, Exchange
from ._httpx import (
    AuthArg,
    HeadersArg,
    as_httpx_auth,
    auth_headers,
    httpx_request,
    httpx_response,
    timeout_seconds,
    with_basic_auth,
)
from ._multipart import FilesArg, encode_multipart
from ._responses import SentRequest, TestResponse, TestStreamResponse

__all__ = ("AsyncTestClient",)

T = TypeVar("T")


class AsyncTestClient:
    """Drive an app in-process: ``async with AsyncTestClient(app) as client:``.

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
        door: ``"asgi"`` (default) calls ``app(scope, receive, send)``; ``"rsgi"`` calls
            ``app.__rsgi__(scope, protocol)`` with an in-process double of Granian's RSGI
            protocol, as ``fastware serve`` does, and runs ``app.startup()``/``shutdown()``
            as ``__rsgi_init__``/``__rsgi_del__`` do. Over RSGI, unhandled errors are
            answered 500 (as under Granian) whatever ``raise_server_exceptions`` says.
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
        door: str = "asgi",
    ) -> None:
        if door not in ("asgi", "rsgi"):
            raise ValueError(f"door must be 'asgi' or 'rsgi', got {door!r}")
        if door == "rsgi" and not hasattr(app, "__rsgi__"):
            raise ValueError(f"{app!r} has no __rsgi__ method: it cannot be driven over RSGI")
        self.door = door
        if http_version not in ("1.0", "1.1", "2", "3"):
            raise ValueError(f"http_version must be 1.0, 1.1, 2 or 3, got {http_version!r}")
        self.http_version = http_version
        self.app = app
        self.base_url = base_url.rstrip("/")
        self.raise_server_exceptions = raise_server_exceptions
        self.headers = dict(headers or {})
        self.cookies = CookieJar(cookies or {})
        self.root_path = root_path
        self.client = client
        self.timeout = timeout
        self.is_closed = False
        """Whether :meth:`aclose` was called."""
        self._lifespan: LifespanDriver | None = None

    async def __aenter__(self) -> Self:
        if self.door == "rsgi":
            startup = getattr(self.app, "startup", None)
            if startup is not None:
                await startup()
            return self
        self._lifespan = LifespanDriver(self.app)
        await self._lifespan.startup()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.door == "rsgi":
            shutdown = getattr(self.app, "shutdown", None)
            if shutdown is not None:
                await shutdown()
            return
        lifespan, self._lifespan = self._lifespan, None
        if lifespan is not None:
            await lifespan.shutdown()

    def _build(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None,
        headers: HeadersArg | None,
        cookies: Mapping[str, str] | None,
        content: bytes | str | None,
        json: Any,
        data: Mapping[str, Any] | None,
        files: FilesArg | None = None,
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
        elif files is not None:
            body, form_type = encode_multipart(data, files)
            sent.append(("content-type", form_type))
        elif data is not None:
            body = urlencode(data, doseq=True).encode()
            sent.append(("content-type", "application/x-www-form-urlencoded"))
        elif content is not None:
            body = content.encode() if isinstance(content, str) else bytes(content)
        given = list(headers.items() if isinstance(headers, Mapping) else headers or ())
        overrides = {k.lower() for k, _ in given}
        merged = [(k, v) for k, v in self.headers.items() if k.lower() not in overrides]
        merged += given
        lowered = {k.lower() for k, _ in merged}
        sent = [(k, v) for k, v in sent if k not in lowered]
        sent.extend(merged)
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
        headers: HeadersArg | None = None,
        cookies: Mapping[str, str] | None = None,
        content: bytes | str | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: FilesArg | None = None,
        auth: AuthArg | None = None,
        timeout: Any = None,  # noqa: ASYNC109 - httpx's request methods take it
        follow_redirects: bool = False,
        extensions: Mapping[str, Any] | None = None,
    ) -> TestResponse:
        """Send one request and read the whole response.

        ``json=None`` sends no body; pass ``content=b"null"`` to send JSON null. ``files``
        (with ``data`` for the other fields) sends a ``multipart/form-data`` body, as httpx
        does (see :data:`~fastware_core.testing._multipart.FilesArg`). ``auth=(user,
        password)`` sends HTTP Basic credentials; an ``httpx.Auth`` or a function auth
        runs its flow (each request it yields is sent, and sees the response). ``timeout``
        (seconds, or an ``httpx.Timeout``: its largest phase) bounds the whole exchange
        (``TimeoutError`` past it; by default there is no bound). ``extensions`` is
        accepted and, as by httpx's ASGI transport, not used.
        """
        self._check_open()
        flow_auth = None
        if isinstance(auth, tuple):
            headers = with_basic_auth(headers, auth)
        elif auth is not None:
            flow_auth = as_httpx_auth(auth)
        payload = _NO_JSON if json is None else json
        out = _Outgoing(method, url, params, headers, cookies, content, payload, data, files)
        async with asyncio.timeout(timeout_seconds(timeout)):  # None: no deadline
            for _ in range(20):
                if flow_auth is None:
                    response = await self._send(out)
                else:
                    response = await self._send_authenticated(flow_auth, out)
                if not (follow_redirects and response.is_redirect):
                    return response
                out = out._replace(url=response.headers["location"], params=None)
                status = response.status_code
                if status == 303 or (status in (301, 302) and out.method == "POST"):
                    out = out._replace(
                        method="GET", content=None, payload=_NO_JSON, data=None, files=None
                    )
            raise RuntimeError("Too many redirects")

    async def _send(self, out: _Outgoing) -> TestResponse:
        """One exchange: the request sent, the whole response read, its cookies kept."""
        started = time.perf_counter()
        scope, body, full = self._build(*out)
        exchange = Exchange(self.app, scope, body, self.door)
        try:
            status, response_headers = await exchange.start()
            chunks: list[bytes] = []
            while (chunk := await exchange.next_chunk()) is not None:
                chunks.append(chunk)
            await exchange.task
        except asyncio.CancelledError:  # a request timeout, or the test gave up
            await exchange.disconnect(0)
            raise
        except BaseException:
            await exchange.disconnect(self.timeout)
            raise
        exchange.gone.set()
        if exchange.error is not None and self.raise_server_exceptions:
            raise exchange.error
        self._remember_cookies(response_headers)
        return TestResponse(
            status,
            response_headers,
            b"".join(chunks),
            out.method,
            full,
            "HTTP/1.1" if self.http_version == "1.1" else f"HTTP/{self.http_version}",
            timedelta(seconds=time.perf_counter() - started),
            SentRequest(out.method, full, Headers.from_asgi(scope["headers"]), body),
        )

    async def _send_authenticated(self, auth: Any, out: _Outgoing) -> TestResponse:
        """Run an ``httpx.Auth`` flow: send each request it yields (this one, with the
        headers the flow set) and hand it the response, until it stops."""
        scope, body, full = self._build(*out)
        pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        original = httpx_request(out.method, full, pairs, body)
        before = set(original.headers.multi_items())  # flows change the request in place
        headers = out.headers
        given = list(headers.items() if isinstance(headers, Mapping) else headers or ())
        flow = auth.async_auth_flow(original)
        sent = await flow.__anext__()
        try:
            while True:
                added = auth_headers(before, sent)
                names = {name.lower() for name, _ in added}
                extra = [(k, v) for k, v in given if k.lower() not in names] + added
                response = await self._send(out._replace(headers=extra))
                try:
                    sent = await flow.asend(httpx_response(response, sent))
                except StopAsyncIteration:
                    return response
        finally:
            await flow.aclose()

    def _check_open(self) -> None:
        if self.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")

    async def aclose(self) -> None:
        """Close the client: later requests raise ``RuntimeError`` (as httpx's clients
        do). Lifespan shutdown still runs when the ``async with`` block ends."""
        self.is_closed = True

    def build_request(self, method: str, url: str, **kwargs: Any) -> TestRequest:
        """A request to :meth:`send` later (httpx's ``build_request``)."""
        headers = kwargs.pop("headers", None)
        pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
        return TestRequest(method, url, dict(pairs), kwargs)

    async def send(
        self,
        request: TestRequest,
        *,
        auth: AuthArg | None = None,
        follow_redirects: bool = False,
    ) -> TestResponse:
        """Send a request made by :meth:`build_request` (its headers as they are now)."""
        return await self.request(
            request.method,
            request.url,
            headers=request.headers,
            auth=auth,
            follow_redirects=follow_redirects,
            **request.options,
        )

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        headers: HeadersArg | None = None,
        cookies: Mapping[str, str] | None = None,
        content: bytes | str | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: FilesArg | None = None,
        auth: tuple[str, str] | None = None,
        timeout: Any = None,  # noqa: ASYNC109 - accepted as httpx's stream() takes it
        follow_redirects: bool = False,
        extensions: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[TestStreamResponse]:
        """Send a request and read the response incrementally; leaving disconnects.

        ``timeout``, ``follow_redirects`` and ``extensions`` are accepted as httpx takes
        them and not used: a stream is read at the test's pace, and redirects are answers.
        """
        self._check_open()
        if auth is not None:
            headers = with_basic_auth(headers, auth)
        payload = _NO_JSON if json is None else json
        scope, body, full = self._build(
            method, url, params, headers, cookies, content, payload, data, files
        )
        exchange = Exchange(self.app, scope, body, self.door)
        try:
            status, response_headers = await exchange.start()
            self._remember_cookies(response_headers)
            sent = SentRequest(method, full, Headers.from_asgi(scope["headers"]), body)
            yield TestStreamResponse(exchange, status, response_headers, sent)
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
        headers: HeadersArg | None = None,
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
        session = AsyncWebSocketSession(self.app, scope, self.timeout, self.door)
        try:
            await session.handshake()
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


class _Outgoing(NamedTuple):
    """What one request sends, in :meth:`AsyncTestClient._build`'s argument order."""

    method: str
    url: str
    params: Mapping[str, Any] | list[tuple[str, Any]] | None
    headers: HeadersArg | None
    cookies: Mapping[str, str] | None
    content: bytes | str | None
    payload: Any
    data: Mapping[str, Any] | None
    files: FilesArg | None


class CookieJar(dict[str, str]):
    """The client's cookies (``name -> value``), with httpx's ``set``/``delete`` too."""

    def set(self, name: str, value: str, domain: str = "", path: str = "/") -> None:
        """Set a cookie (``domain`` and ``path`` are accepted as httpx takes them)."""
        self[name] = value

    def delete(self, name: str, domain: str | None = None, path: str | None = None) -> None:
        """Remove a cookie if present."""
        self.pop(name, None)


class TestRequest:
    """A request from :meth:`AsyncTestClient.build_request`: ``method``, ``url``,
    ``headers`` (changeable before sending) and the other arguments it was built with."""

    __test__ = False

    def __init__(
        self, method: str, url: str, headers: dict[str, str], options: dict[str, Any]
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.options = options

    def __repr__(self) -> str:
        return f"<TestRequest({self.method!r}, {self.url!r})>"
