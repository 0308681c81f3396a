"""Forwarding one ASGI request or WebSocket to an upstream HTTP server, streamed both ways.

:class:`Upstream` is the reverse-proxy half of :class:`~fastware_dev.proxy.ViteDevProxy`
(the upstream is Vite) and of the ``fastware dev`` front process (the upstream is the
backend, restarted on every code change):

- the request body is streamed to the upstream as it arrives, the response body back to
  the client chunk by chunk (large assets and streaming responses are never buffered),
  compressed bodies stay compressed;
- every end-to-end header is forwarded (Authorization and cookies included); hop-by-hop
  headers are dropped; ``Host`` becomes the upstream's own address, which Vite's host check
  accepts, and the original goes in ``X-Forwarded-Host`` (with ``X-Forwarded-Proto`` and
  ``X-Forwarded-For``);
- a client that leaves cancels the upstream request;
- WebSockets are tunnelled frame by frame: the upstream chooses the subprotocol, and close
  codes and reasons pass through in both directions.

The HTTP side is :mod:`fastware_dev._http1` (asyncio streams and h11); websockets is
imported on first use, not with this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import quote

from fastware_core.types import Receive, Scope, Send

from ._http1 import (
    BadResponse,
    ConnectFailed,
    ConnectionPool,
    Response,
    ResponseTimeout,
    StaleConnection,
    UpstreamError,
)

__all__ = ("HOP_BY_HOP", "Unreachable", "Upstream", "sendable_close_code")

logger = logging.getLogger("fastware.dev")

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
"""Headers that belong to one connection and are never forwarded (RFC 9110 §7.6.1)."""
_WS_HANDSHAKE = frozenset(
    {
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "sec-websocket-accept",
        "origin",
        "host",
        "content-length",
    }
)
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "TRACE"})

Unreachable = Callable[[Scope, Send, BaseException], Awaitable[None]]
"""``async (scope, send, error)``: answer an HTTP request the upstream could not take."""
Retry = Callable[[BaseException], Awaitable[bool]]
"""``async (error) -> bool``: after a failed connect, whether to try once more."""


class _ClientGone(Exception):
    """The client disconnected while its request body was being forwarded."""


def sendable_close_code(code: int | None, abnormal: int = 1011) -> int:
    """A close code that may appear in a close frame (1005, 1006 and 1015 may not)."""
    if code is None or code in (1006, 1015):
        return abnormal
    if code == 1005:
        return 1000
    if code in (1000, 1001, 1002, 1003) or 1007 <= code <= 1014 or 3000 <= code <= 4999:
        return code
    return 1000


def _decode(value: bytes) -> str:
    return bytes(value).decode("latin-1")


def _client_ip(scope: Scope) -> str | None:
    client = scope.get("client")
    if client:
        return str(client[0])
    return None


class Upstream:
    """One upstream HTTP server (``host:port``) that requests and WebSockets are sent to.

    Args:
        host: The upstream's host name or address (``localhost`` tries IPv4 and IPv6).
        port: Its port.
        name: Its name in log lines and error pages (``Vite``, ``the backend``).
        read_timeout: Seconds without a byte from the upstream before a request fails
            (``None`` waits forever; streams that idle longer should send heartbeats).
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        name: str = "upstream",
        read_timeout: float | None = 300.0,
    ) -> None:
        self.host = host
        self.port = port
        self.name = name
        self.read_timeout = read_timeout
        self._pools: dict[int, ConnectionPool] = {}

    @property
    def authority(self) -> str:
        """``host:port`` (IPv6 addresses in brackets): the Host header the upstream gets."""
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.authority}"

    def _pool(self) -> ConnectionPool:
        # One pool per event loop: a connection belongs to the loop that opened it.
        loop = asyncio.get_running_loop()
        pool = self._pools.get(id(loop))
        if pool is None:
            pool = ConnectionPool(self.host, self.port, read_timeout=self.read_timeout)
            self._pools[id(loop)] = pool
        return pool

    async def aclose(self) -> None:
        """Close the idle connections of the running loop's pool."""
        with contextlib.suppress(RuntimeError):
            pool = self._pools.pop(id(asyncio.get_running_loop()), None)
            if pool is not None:
                pool.close()

    # -- HTTP -------------------------------------------------------------------------------

    def _target(self, scope: Scope) -> str:
        """The request target (path and query) for the upstream."""
        raw = scope.get("raw_path")
        if isinstance(raw, bytes) and raw:
            path = raw.decode("latin-1")
        else:
            path = quote(scope.get("path") or "/", safe=_PATH_SAFE)
        query = bytes(scope.get("query_string") or b"")
        return path + (f"?{query.decode('latin-1')}" if query else "")

    def request_headers(self, scope: Scope) -> list[tuple[str, str]]:
        """The headers sent upstream for ``scope``: end-to-end ones, ``Host`` rewritten."""
        raw: Sequence[tuple[bytes, bytes]] = scope.get("headers") or ()
        connection_tokens: set[str] = set()
        for key, value in raw:
            if key.lower() == b"connection":
                connection_tokens.update(
                    token.strip().lower() for token in _decode(value).split(",")
                )
        headers: list[tuple[str, str]] = []
        host = None
        forwarded_for = None
        for key, value in raw:
            name = _decode(key).lower()
            if name == "host":
                host = _decode(value)
                continue
            if name == "x-forwarded-for":
                forwarded_for = _decode(value)
                continue
            if name in HOP_BY_HOP or name in connection_tokens:
                continue
            headers.append((name, _decode(value)))
        headers.append(("host", self.authority))
        if host is not None:
            headers.append(("x-forwarded-host", host))
        headers.append(("x-forwarded-proto", str(scope.get("scheme") or "http")))
        client = _client_ip(scope)
        if client is not None:
            chain = f"{forwarded_for}, {client}" if forwarded_for else client
            headers.append(("x-forwarded-for", chain))
        return headers

    async def forward_http(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        replayed: Sequence[bytes] = (),
        body_done: bool = False,
        on_unreachable: Unreachable | None = None,
        retry: Retry | None = None,
    ) -> None:
        """Send the request of ``scope`` upstream and stream the answer back.

        Args:
            scope: The ASGI HTTP scope.
            receive: Gives the rest of the request body.
            send: Sends the response.
            replayed: Body chunks already read from ``receive`` (sent first).
            body_done: Whether ``receive`` has already given the last body chunk.
            on_unreachable: Answers when the upstream cannot be reached (default: 502).
            retry: Decides, after a refused connection, whether to try again (the backend
                may be restarting).
        """
        method = str(scope.get("method") or "GET").upper()
        headers = [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in self.request_headers(scope)
        ]
        names = {name for name, _ in headers}
        streamed = b"content-length" in names or any(
            bytes(k).lower() == b"transfer-encoding" for k, _ in scope.get("headers") or ()
        )
        if not streamed and scope.get("http_version") == "2" and method not in _BODYLESS:
            streamed = True  # HTTP/2 bodies need no length header
        state = {"done": body_done}

        async def body() -> AsyncIterator[bytes]:
            for chunk in replayed:
                yield chunk
            while not state["done"]:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _ClientGone
                chunk = message.get("body", b"")
                if not message.get("more_body", False):
                    state["done"] = True
                if chunk:
                    yield bytes(chunk)

        pool = self._pool()
        target = self._target(scope)
        attempts = 0
        while True:
            attempts += 1
            content = body() if streamed or replayed else None
            try:
                response = await pool.request(method, target, headers, content)
                break
            except _ClientGone:
                return
            except ConnectFailed as exc:
                if retry is not None and attempts < 50 and await retry(exc):
                    continue
                await (on_unreachable or self.unreachable)(scope, send, exc)
                return
            except ResponseTimeout as exc:
                await _plain(send, 504, f"{self.name} did not answer in time ({exc})")
                return
            except StaleConnection as exc:
                # A kept-alive connection the upstream closed (it restarted): retry when no
                # body was consumed yet.
                if attempts < 3 and not streamed and not replayed:
                    continue
                await _plain(send, 502, f"{self.name} dropped the connection: {exc}")
                return
            except BadResponse as exc:
                await _plain(send, 502, f"{self.name} dropped the connection: {exc}")
                return
        try:
            await self._relay(response, target, receive, send, method == "HEAD")
        finally:
            response.close()

    async def _relay(
        self, response: Response, target: str, receive: Receive, send: Send, head: bool
    ) -> None:
        connection_tokens = {
            token.strip().lower()
            for key, value in response.headers
            if key == b"connection"
            for token in value.decode("latin-1").split(",")
        }
        headers = [
            (key, value)
            for key, value in response.headers
            if key.decode("latin-1") not in HOP_BY_HOP
            and key.decode("latin-1") not in connection_tokens
        ]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if head:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return

        async def pump() -> None:
            try:
                async for chunk in response.body():
                    if chunk:
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except UpstreamError as exc:
                logger.warning("%s stopped sending %s: %s", self.name, target, exc)
            except OSError:
                return  # the client is gone; the server reports that as a send error
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        async def disconnected() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return

        streaming = asyncio.ensure_future(pump())
        watcher = asyncio.ensure_future(disconnected())
        try:
            await asyncio.wait({streaming, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (streaming, watcher):
                task.cancel()
            for task in (streaming, watcher):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def unreachable(self, scope: Scope, send: Send, error: BaseException) -> None:
        """The default answer when the upstream cannot be reached: 502."""
        await _plain(send, 502, f"{self.name} is not reachable at {self.url}")

    # -- WebSocket --------------------------------------------------------------------------

    async def forward_websocket(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        retry: Retry | None = None,
    ) -> None:
        """Tunnel the WebSocket of ``scope`` to the upstream.

        The upstream handshake happens first; the client is accepted with the subprotocol
        the upstream chose, or refused (403) when the upstream refuses or cannot be reached.
        """
        try:
            import websockets
            from websockets.asyncio.client import connect
        except ImportError:  # pragma: no cover - a declared dependency
            await receive()
            await send(
                {"type": "websocket.close", "code": 1011, "reason": "websockets is not installed"}
            )
            return
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        raw: Sequence[tuple[bytes, bytes]] = scope.get("headers") or ()
        origin = None
        extra: list[tuple[str, str]] = []
        for key, value in raw:
            name = _decode(key).lower()
            if name == "origin":
                origin = _decode(value)
            elif name == "host":
                extra.append(("x-forwarded-host", _decode(value)))
            elif name not in HOP_BY_HOP and name not in _WS_HANDSHAKE and name != "user-agent":
                extra.append((name, _decode(value)))
        client = _client_ip(scope)
        if client is not None:
            extra.append(("x-forwarded-for", client))
        path = quote(scope.get("path") or "/", safe=_PATH_SAFE)
        raw_path = scope.get("raw_path")
        if isinstance(raw_path, bytes) and raw_path:
            path = raw_path.decode("latin-1")
        query = bytes(scope.get("query_string") or b"").decode("latin-1")
        uri = f"ws://{self.authority}{path}" + (f"?{query}" if query else "")
        subprotocols = [str(p) for p in scope.get("subprotocols") or ()]
        user_agent = next((_decode(v) for k, v in raw if k.lower() == b"user-agent"), None)
        attempts = 0
        while True:
            attempts += 1
            try:
                upstream = await connect(
                    uri,
                    subprotocols=subprotocols or None,  # type: ignore[arg-type]
                    additional_headers=extra,
                    origin=origin,  # type: ignore[arg-type]
                    user_agent_header=user_agent,
                    open_timeout=10,
                    ping_interval=None,
                    close_timeout=5,
                    max_size=None,
                    compression=None,
                    proxy=None,
                )
                break
            except websockets.InvalidStatus as exc:
                status = exc.response.status_code
                logger.info("%s refused the WebSocket %s with %s", self.name, path, status)
                await _deny(scope, send, status, bytes(exc.response.body or b""))
                return
            except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
                if (
                    retry is not None
                    and attempts < 50
                    and isinstance(exc, OSError)
                    and await retry(exc)
                ):
                    continue
                logger.info("WebSocket %s: %s is not reachable (%s)", path, self.name, exc)
                await send(
                    {
                        "type": "websocket.close",
                        "code": 1011,
                        "reason": f"{self.name} is not reachable",
                    }
                )
                return
        await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
        await _tunnel(upstream, receive, send)


async def _tunnel(upstream: Any, receive: Receive, send: Send) -> None:
    from websockets.exceptions import ConnectionClosed

    async def client_to_upstream() -> None:
        while True:
            message = await receive()
            kind = message["type"]
            if kind == "websocket.receive":
                text = message.get("text")
                data = text if text is not None else message.get("bytes") or b""
                try:
                    await upstream.send(data)
                except ConnectionClosed:
                    return
            elif kind == "websocket.disconnect":
                code = sendable_close_code(message.get("code", 1000), abnormal=1001)
                await upstream.close(code, str(message.get("reason") or "")[:120])
                return

    async def upstream_to_client() -> None:
        try:
            async for data in upstream:
                if isinstance(data, str):
                    await send({"type": "websocket.send", "text": data})
                else:
                    await send({"type": "websocket.send", "bytes": bytes(data)})
        except ConnectionClosed:
            pass
        received = upstream.protocol.close_rcvd
        code = sendable_close_code(received.code if received is not None else None)
        reason = received.reason if received is not None else ""
        with contextlib.suppress(Exception):
            await send({"type": "websocket.close", "code": code, "reason": reason})

    inbound = asyncio.ensure_future(client_to_upstream())
    outbound = asyncio.ensure_future(upstream_to_client())
    try:
        await asyncio.wait({inbound, outbound}, return_when=asyncio.FIRST_COMPLETED)
        if inbound.done():
            # The client left: give the upstream's close frame a moment to arrive.
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(asyncio.shield(outbound), 5)
    finally:
        for task in (inbound, outbound):
            task.cancel()
        for task in (inbound, outbound):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await upstream.close()


async def _deny(scope: Scope, send: Send, status: int, body: bytes) -> None:
    """Refuse a WebSocket handshake with ``status`` (when the server supports it)."""
    extensions = scope.get("extensions") or {}
    if "websocket.http.response" in extensions:
        await send(
            {
                "type": "websocket.http.response.start",
                "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": body, "more_body": False})
        return
    await send({"type": "websocket.close", "code": 1008})


async def _plain(send: Send, status: int, detail: str) -> None:
    import json

    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
