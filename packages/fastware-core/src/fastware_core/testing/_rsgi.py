"""An in-process double of Granian's RSGI interface, for the test clients' ``door="rsgi"``.

It follows Granian's documented contract (``granian/rsgi.py``, ``granian/_granian.pyi``):
the scope carries ``proto``, ``http_version``, ``method``, the percent-decoded ``path``, the
raw ``query_string``, ``authority`` and lower-cased ``headers`` with ``get``/``get_all``;
``await protocol()`` returns the whole body and ``async for`` streams it;
``response_empty/str/bytes/file/file_range`` answer in one call (adding the Content-Length
of the body the app passed when it sent none, as Granian 2.8 does) and ``response_stream``
returns a transport; ``client_disconnect()`` resolves when the client leaves. A second answer
raises, as Granian's ``RSGIProtocolError`` does. An HTTP/1 request with conflicting
Content-Length headers gets an empty 400 without reaching the app, as from Granian's parser.
For WebSockets, ``accept()`` returns a transport and ``close(status)`` refuses the handshake
with that HTTP status before accept and, after it, sends a close frame without a code, as
Granian 2.8 does.

The double speaks to the test client in ASGI-style messages, so one client serves both doors.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from fastware_core.exceptions import FastwareError

__all__ = ("RSGIProtocolError", "run_rsgi_http", "run_rsgi_websocket")

_Put = Callable[[dict[str, Any]], None]


class RSGIProtocolError(FastwareError, RuntimeError):
    """The app broke the RSGI contract (answered twice, streamed after the end, ...)."""


class _Headers:
    """Granian's ``RSGIHeaders``: lower-case names, repeated names kept in order."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = [(name.lower(), value) for name, value in pairs]

    def __contains__(self, key: object) -> bool:
        return any(name == key for name, _ in self._pairs)

    def get(self, key: str, default: Any = None) -> Any:
        for name, value in self._pairs:
            if name == key:
                return value
        return default

    def get_all(self, key: str) -> list[str]:
        return [value for name, value in self._pairs if name == key]

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)

    def keys(self) -> list[str]:
        return [name for name, _ in self._pairs]

    def values(self) -> list[str]:
        return [value for _, value in self._pairs]


class _Scope:
    """Granian's RSGI ``Scope``, built from the test client's ASGI-style request."""

    rsgi_version = "1.5"

    def __init__(self, asgi: dict[str, Any], proto: str) -> None:
        pairs = [
            (bytes(k).decode("latin-1"), bytes(v).decode("latin-1")) for k, v in asgi["headers"]
        ]
        self.proto = proto
        version = asgi.get("http_version", "1.1")
        self.http_version = version
        self.scheme = "https" if asgi.get("scheme") in ("https", "wss") else "http"
        self.method = asgi.get("method", "GET")
        raw_path = bytes(asgi.get("raw_path") or asgi["path"].encode())
        self.path = unquote(raw_path.decode("latin-1"), errors="replace")
        self.query_string = bytes(asgi.get("query_string", b"")).decode("latin-1")
        client = asgi.get("client") or ("127.0.0.1", 50000)
        server = asgi.get("server") or ("test", 80)
        self.client = f"{client[0]}:{client[1]}"
        self.server = f"{server[0]}:{server[1]}"
        host = next((value for name, value in pairs if name.lower() == "host"), None)
        if version == "2":
            # HTTP/2 carries the host as :authority, not as a Host header
            self.authority: str | None = host
            pairs = [(name, value) for name, value in pairs if name.lower() != "host"]
        else:
            self.authority = None
        self.headers = _Headers(pairs)


class _StreamTransport:
    def __init__(self, put: _Put, gone: asyncio.Event) -> None:
        self._put = put
        self._gone = gone
        self.ended = False

    async def send_bytes(self, data: bytes) -> None:
        if self.ended:
            raise RSGIProtocolError("send_bytes after the stream ended")
        if self._gone.is_set():
            raise OSError("The client disconnected")
        self._put({"type": "http.response.body", "body": bytes(data), "more_body": True})

    async def send_str(self, data: str) -> None:
        await self.send_bytes(data.encode("utf-8"))


class _HTTPProtocol:
    """Granian's ``RSGIHTTPProtocol`` for one request."""

    def __init__(self, body: bytes, gone: asyncio.Event, put: _Put, head: bool = False) -> None:
        self._head = head  # Granian sends no body in answer to HEAD, whatever the app passes
        self._body = body
        self._gone = gone
        self._put = put
        self.answered = False
        self.stream: _StreamTransport | None = None

    async def __call__(self) -> bytes:
        return self._body

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        if self._body:
            yield self._body

    async def client_disconnect(self) -> None:
        await self._gone.wait()

    def _start(self, status: int, headers: list[tuple[str, str]]) -> None:
        if self.answered:
            raise RSGIProtocolError("the response was already started")
        self.answered = True
        raw = [(str(k).lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in headers]
        self._put({"type": "http.response.start", "status": status, "headers": raw})

    def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        # Granian (hyper) sets Content-Length from the body when the app sent none: to a HEAD
        # request too, never on a 204 or 304.
        if (
            status >= 200
            and status not in (204, 304)
            and (body or not self._head)
            and not any(str(name).lower() == "content-length" for name, _ in headers)
        ):
            headers = [*headers, ("content-length", str(len(body)))]
        self._start(status, headers)
        payload = b"" if self._head else body
        self._put({"type": "http.response.body", "body": payload, "more_body": False})

    def response_empty(self, status: int, headers: list[tuple[str, str]]) -> None:
        self._answer(status, headers, b"")

    def response_str(self, status: int, headers: list[tuple[str, str]], body: str) -> None:
        self._answer(status, headers, body.encode("utf-8"))

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self._answer(status, headers, bytes(body))

    def response_file(self, status: int, headers: list[tuple[str, str]], file: str) -> None:
        self._answer(status, headers, Path(file).read_bytes())

    def response_file_range(
        self, status: int, headers: list[tuple[str, str]], file: str, start: int, end: int
    ) -> None:
        with Path(file).open("rb") as handle:
            handle.seek(start)
            self._answer(status, headers, handle.read(end - start))

    def response_stream(self, status: int, headers: list[tuple[str, str]]) -> _StreamTransport:
        self._start(status, headers)
        self.stream = _StreamTransport(self._put, self._gone)
        return self.stream


async def run_rsgi_http(
    app: Any, asgi_scope: dict[str, Any], body: bytes, gone: asyncio.Event, put: _Put
) -> None:
    """Serve one request through ``app.__rsgi__``; answers arrive at ``put`` as ASGI
    messages. An app that returns without answering gets Granian's 500."""
    protocol = _HTTPProtocol(body, gone, put, head=asgi_scope.get("method") == "HEAD")
    scope = _Scope(asgi_scope, "http")
    if scope.http_version != "2" and len(set(scope.headers.get_all("content-length"))) > 1:
        # Granian's HTTP/1 parser (hyper) answers conflicting lengths 400 without the app.
        protocol.response_empty(400, [("connection", "close")])
        return
    await app.__rsgi__(scope, protocol)
    if not protocol.answered:
        protocol.response_bytes(500, [("content-type", "text/plain")], b"Internal Server Error")
    elif protocol.stream is not None and not protocol.stream.ended:
        protocol.stream.ended = True
        put({"type": "http.response.body", "body": b"", "more_body": False})


class _WebsocketMessage:
    def __init__(self, kind: int, data: Any) -> None:
        self.kind = kind  # 0 close, 1 bytes, 2 string (granian.rsgi.WebsocketMessageType)
        self.data = data


class _WebsocketTransport:
    def __init__(self, inbox: Callable[[], Awaitable[dict[str, Any]]], put: _Put) -> None:
        self._inbox = inbox
        self._put = put
        self.closed = False

    async def receive(self) -> _WebsocketMessage:
        if self.closed:
            return _WebsocketMessage(0, None)
        message = await self._inbox()
        if message["type"] == "websocket.disconnect":
            self.closed = True
            return _WebsocketMessage(0, None)
        text = message.get("text")
        if text is not None:
            return _WebsocketMessage(2, text)
        return _WebsocketMessage(1, bytes(message.get("bytes") or b""))

    async def send_bytes(self, data: bytes) -> None:
        if self.closed:
            raise RSGIProtocolError("the WebSocket is closed")
        self._put({"type": "websocket.send", "bytes": bytes(data)})

    async def send_str(self, data: str) -> None:
        if self.closed:
            raise RSGIProtocolError("the WebSocket is closed")
        self._put({"type": "websocket.send", "text": data})


class _WebsocketProtocol:
    def __init__(self, inbox: Callable[[], Awaitable[dict[str, Any]]], put: _Put) -> None:
        self._inbox = inbox
        self._put = put
        self.transport: _WebsocketTransport | None = None
        self.closed = False

    async def accept(self) -> _WebsocketTransport:
        if self.transport is None:
            self.transport = _WebsocketTransport(self._inbox, self._put)
            self._put({"type": "websocket.accept", "subprotocol": None, "headers": []})
        return self.transport

    def close(self, status: int | None) -> tuple[int, bool]:
        if self.closed:
            return (status or 0, False)
        self.closed = True
        if self.transport is None:
            code = status if status is not None and 400 <= status < 600 else 403
            self._put({"type": "websocket.http.response.start", "status": code, "headers": []})
            self._put({"type": "websocket.http.response.body", "body": b"", "more_body": False})
        else:
            self.transport.closed = True
            # Granian 2.8 sends a close frame without a status code (1005 at the client).
            self._put({"type": "websocket.close", "code": 1005, "reason": ""})
        return (status or 0, True)


async def run_rsgi_websocket(
    app: Any, asgi_scope: dict[str, Any], inbox: Callable[[], Awaitable[dict[str, Any]]], put: _Put
) -> None:
    """Serve one WebSocket through ``app.__rsgi__``, speaking ASGI messages to the client."""
    first = await inbox()  # the client's websocket.connect
    if first["type"] != "websocket.connect":  # pragma: no cover - the client always connects
        return
    protocol = _WebsocketProtocol(inbox, put)
    await app.__rsgi__(_Scope(asgi_scope, "ws"), protocol)
    if not protocol.closed:  # Granian closes the connection when the app returns
        protocol.close(None)
