"""WebSockets: the 0.6.3 ``WebSocket`` API over both doors (ASGI and Granian's RSGI)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, cast

from ._json import DEFAULT_MAX_DEPTH, decode_json, encode_json
from .connection import ASGIConnection, RSGIConnection
from .datastructures import Address, Headers, QueryParams, State
from .exceptions import FastwareError, HTTPError
from .request import parse_cookie_header, parse_query_string
from .types import Receive, Scope, Send

if TYPE_CHECKING:
    from .sessions import Session

__all__ = ("WebSocket", "WebSocketDisconnect", "close_at_once")

DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024


class WebSocketDisconnect(FastwareError):
    """The peer closed the connection (or it was closed for a protocol reason).

    Attributes:
        code: The close code (1000 normal, 1001 going away, 1009 message too big, ...).
        reason: The close reason, when one was given.
    """

    def __init__(self, code: int = 1000, reason: str = "") -> None:
        super().__init__(f"WebSocket closed with code {code}" + (f": {reason}" if reason else ""))
        self.code = code
        self.reason = reason


class _Transport:
    """What a door provides: accept, receive, send and close."""

    async def accept(self, subprotocol: str | None, headers: list[tuple[str, str]]) -> None:
        raise NotImplementedError

    async def receive(self) -> tuple[str, Any]:
        """``("text", str)``, ``("bytes", bytes)`` or ``("close", (code, reason))``."""
        raise NotImplementedError

    async def receive_raw(self) -> dict[str, Any]:
        raise NotImplementedError

    async def send_text(self, data: str) -> None:
        raise NotImplementedError

    async def send_bytes(self, data: bytes) -> None:
        raise NotImplementedError

    async def close(self, code: int, reason: str) -> None:
        raise NotImplementedError

    async def deny(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        raise NotImplementedError


class _ASGITransport(_Transport):
    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self._receive = receive
        self._send = send
        self.connected = False

    async def _connect(self) -> None:
        if not self.connected:
            message = await self._receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000), message.get("reason") or "")
            self.connected = True

    async def accept(self, subprotocol: str | None, headers: list[tuple[str, str]]) -> None:
        await self._connect()
        message: dict[str, Any] = {"type": "websocket.accept", "subprotocol": subprotocol}
        if headers:
            message["headers"] = [(k.lower().encode(), v.encode()) for k, v in headers]
        await self._send(message)

    async def receive_raw(self) -> dict[str, Any]:
        message: dict[str, Any] = await self._receive()
        return message

    async def receive(self) -> tuple[str, Any]:
        message = await self._receive()
        kind = message["type"]
        if kind == "websocket.disconnect":
            return "close", (message.get("code", 1000), message.get("reason") or "")
        if message.get("text") is not None:
            return "text", message["text"]
        return "bytes", message.get("bytes") or b""

    async def send_text(self, data: str) -> None:
        await self._send({"type": "websocket.send", "text": data})

    async def send_bytes(self, data: bytes) -> None:
        await self._send({"type": "websocket.send", "bytes": data})

    async def close(self, code: int, reason: str) -> None:
        if not self.connected:
            await self._connect()
        await self._send({"type": "websocket.close", "code": code, "reason": reason})

    async def deny(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        await self._connect()
        if "websocket.http.response" in (self.scope.get("extensions") or {}):
            raw = [(b"content-type", b"application/json")]
            raw += [(k.lower().encode(), v.encode()) for k, v in headers]
            await self._send(
                {"type": "websocket.http.response.start", "status": status, "headers": raw}
            )
            await self._send({"type": "websocket.http.response.body", "body": body})
        else:  # the server answers the handshake with 403
            await self._send({"type": "websocket.close", "code": 1008, "reason": ""})


class _RSGITransport(_Transport):
    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol
        self.transport: Any = None

    async def accept(self, subprotocol: str | None, headers: list[tuple[str, str]]) -> None:
        # Granian's RSGI accept() cannot send a subprotocol or extra headers.
        self.transport = await self.protocol.accept()

    async def receive_raw(self) -> dict[str, Any]:
        kind, data = await self.receive()
        if kind == "close":
            return {"type": "websocket.disconnect", "code": data[0], "reason": data[1]}
        key = "text" if kind == "text" else "bytes"
        return {"type": "websocket.receive", key: data}

    async def receive(self) -> tuple[str, Any]:
        message = await self.transport.receive()
        kind = int(message.kind)
        if kind == 0:
            return "close", (1000, "")
        if kind == 2:
            return "text", message.data
        return "bytes", bytes(message.data)

    async def send_text(self, data: str) -> None:
        await self.transport.send_str(data)

    async def send_bytes(self, data: bytes) -> None:
        await self.transport.send_bytes(data)

    async def close(self, code: int, reason: str) -> None:
        self.close_now(code)

    def close_now(self, code: int) -> None:
        # Before accept() Granian's close() takes an HTTP status for the handshake answer;
        # after it, Granian (2.8) sends a close frame without code or reason.
        self.protocol.close(code if self.transport is not None else 403)

    async def deny(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.protocol.close(status if 400 <= status < 600 else 403)


class WebSocket:
    """One WebSocket connection, handed to ``@router.ws`` handlers.

    ``WebSocket(scope, receive, send)`` also builds one from an ASGI scope, as in 0.6.3.
    """

    __slots__ = (
        "_conn",
        "_query",
        "_state",
        "_transport",
        "accepted",
        "closed",
        "max_message_size",
        "path_params",
    )

    path_params: dict[str, Any]
    """Converted path parameters."""
    accepted: bool
    """Whether the handshake was accepted."""
    closed: bool
    """Whether the connection is closed (by either side)."""
    max_message_size: int | None
    """The largest message accepted (``None``: no limit); a bigger one closes with 1009. The
    app sets it from ``AppConfig.websocket_max_message_size``."""

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._conn: ASGIConnection | RSGIConnection = ASGIConnection.of(scope, receive)
        self._transport: _Transport = _ASGITransport(scope, receive, send)
        self.path_params = scope.get("path_params") or {}
        self._query: QueryParams | None = None
        self._state: State | None = None
        self.max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE
        self.accepted = False
        self.closed = False

    @classmethod
    def over_rsgi(cls, conn: RSGIConnection, path_params: dict[str, Any]) -> WebSocket:
        """The WebSocket of a connection that came through the RSGI door."""
        self = cls.__new__(cls)
        self._conn = conn
        self._transport = _RSGITransport(conn.protocol)
        self.path_params = path_params
        self._query = None
        self._state = None
        self.max_message_size = DEFAULT_MAX_MESSAGE_SIZE
        self.accepted = False
        self.closed = False
        return self

    # -- connection data ----------------------------------------------------------------------

    @property
    def connection(self) -> ASGIConnection | RSGIConnection:
        """The door's view of this connection."""
        return self._conn

    @property
    def path(self) -> str:
        """The request path."""
        return self._conn.path

    @property
    def headers(self) -> Headers:
        """Handshake headers: case-insensitive, ``getlist`` for repeats."""
        return self._conn.headers

    def header(self, name: str, default: str | None = None) -> str | None:
        """One handshake header, or ``default``."""
        return self.headers.get(name, default)

    @property
    def query_string(self) -> str:
        """The raw query string (invalid UTF-8 replaced)."""
        conn = self._conn
        if isinstance(conn, ASGIConnection):
            raw = conn.scope.get("query_string", b"")
            return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return conn.query_string

    @property
    def query_params(self) -> QueryParams:
        """Query parameters (first value per key, ``getlist`` for all)."""
        if self._query is None:
            self._query = parse_query_string(self.query_string)
        return self._query

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies sent with the handshake."""
        values = self.headers.getlist("cookie")
        return parse_cookie_header("; ".join(values)) if values else {}

    def cookie(self, name: str, default: str | None = None) -> str | None:
        """One cookie's value, or ``default``."""
        return self.cookies.get(name, default)

    @property
    def client(self) -> Address | None:
        """The peer's address."""
        return self._conn.client

    @property
    def session(self) -> Session:
        """The visitor's session as the handshake's cookie found it, read-only (a
        :class:`~fastware_core.sessions.WebSocketSession`; change it in an HTTP route).

        Raises:
            FastwareError: when the app has no ``SessionMiddleware``.
        """
        slot = self._conn.state.get("session")
        if slot is None:
            raise FastwareError(
                "websocket.session needs SessionMiddleware: create_app(router, middleware="
                "[SessionMiddleware(secret_key=...)])"
            )
        if isinstance(slot, dict):  # a plain dict someone stored
            return cast("Session", slot)
        return cast("Session", slot.get())

    @property
    def state(self) -> State:
        """Per-connection state, starting from the lifespan state."""
        if self._state is None:
            self._state = State(self._conn.state)
        return self._state

    @property
    def scope(self) -> Scope:
        """The ASGI scope (an equivalent one under RSGI)."""
        conn = self._conn
        if isinstance(conn, ASGIConnection):
            return conn.scope
        scope = conn.asgi_scope()
        scope["path_params"] = self.path_params
        return scope

    @property
    def query(self) -> str:
        """Alias of :attr:`query_string`."""
        return self.query_string

    # -- handshake and close ------------------------------------------------------------------

    async def accept(
        self, subprotocol: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        """Accept the handshake, optionally choosing a subprotocol (ASGI door only: Granian's
        RSGI interface cannot send one).

        Raises:
            WebSocketDisconnect: when the client left before the handshake was accepted.
        """
        await self._transport.accept(subprotocol, list((headers or {}).items()))
        self.accepted = True

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (the reason is not transmitted on the RSGI door)."""
        if self.closed:
            return
        self.closed = True
        await self._transport.close(code, reason)

    async def deny(
        self, status: int = 403, detail: Any = "Forbidden", headers: Mapping[str, str] | None = None
    ) -> None:
        """Refuse the handshake with an HTTP status and a JSON ``{"detail": ...}`` body.

        Servers without the ASGI denial extension (and Granian's RSGI door) answer the
        handshake with 403 and no body instead.
        """
        if self.accepted or self.closed:
            raise RuntimeError("deny() must be called before accept()")
        self.closed = True
        await self._transport.deny(
            status, encode_json({"detail": detail}), list((headers or {}).items())
        )

    # -- sending ----------------------------------------------------------------------------------

    async def send_text(self, data: str) -> None:
        """Send a text frame.

        Raises:
            WebSocketDisconnect: when the connection is already closed (by either side, or
                by the server shutting down).
        """
        if self.closed:
            raise WebSocketDisconnect(1006, "WebSocket is closed")
        await self._transport.send_text(data)

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary frame.

        Raises:
            WebSocketDisconnect: when the connection is already closed.
        """
        if self.closed:
            raise WebSocketDisconnect(1006, "WebSocket is closed")
        await self._transport.send_bytes(data)

    async def send_json(self, data: Any, mode: Literal["text", "binary"] = "text") -> None:
        """Send ``data`` as JSON, in a text frame (or a binary one with ``mode="binary"``)."""
        encoded = encode_json(data)
        if mode == "binary":
            await self.send_bytes(encoded)
        else:
            await self.send_text(encoded.decode("utf-8"))

    # -- receiving --------------------------------------------------------------------------------

    async def _receive(self) -> tuple[str, Any]:
        kind, data = await self._transport.receive()
        if kind == "close":
            self.closed = True
            raise WebSocketDisconnect(*data)
        limit = self.max_message_size
        if limit is not None and len(data) > limit:
            await self.close(1009, "Message too big")
            raise WebSocketDisconnect(1009, "Message too big")
        return kind, data

    async def receive_raw(self) -> dict[str, Any]:
        """The next raw ASGI-style message; does not raise on disconnect."""
        message = await self._transport.receive_raw()
        if message.get("type") == "websocket.disconnect":
            self.closed = True
        return message

    async def receive_text(self) -> str:
        """The next message as text (``""`` for a binary frame).

        Raises:
            WebSocketDisconnect: when the peer closed the connection.
        """
        kind, data = await self._receive()
        return str(data) if kind == "text" else ""

    async def receive_bytes(self) -> bytes:
        """The next message as bytes (``b""`` for a text frame)."""
        kind, data = await self._receive()
        return bytes(data) if kind == "bytes" else b""

    async def receive_json(self) -> Any:
        """The next message decoded as JSON (text or binary frame).

        Raises:
            WebSocketDisconnect: on close; the connection is closed with 1007 when the
                message is not valid JSON.
        """
        kind, data = await self._receive()
        raw = data.encode("utf-8") if kind == "text" else bytes(data)
        try:
            return decode_json(raw, max_depth=DEFAULT_MAX_DEPTH)
        except HTTPError as exc:
            await self.close(1007, "Invalid JSON")
            raise WebSocketDisconnect(1007, str(exc.detail)) from None

    async def iter_text(self) -> AsyncIterator[str]:
        """Text messages until the peer closes (the disconnect ends the loop)."""
        try:
            while True:
                yield await self.receive_text()
        except WebSocketDisconnect:
            return

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        """Binary messages until the peer closes."""
        try:
            while True:
                yield await self.receive_bytes()
        except WebSocketDisconnect:
            return

    async def iter_json(self) -> AsyncIterator[Any]:
        """JSON messages until the peer closes."""
        try:
            while True:
                yield await self.receive_json()
        except WebSocketDisconnect:
            return


def close_at_once(websocket: WebSocket, code: int) -> bool:
    """Close ``websocket`` without awaiting where the door allows it (RSGI); ``False`` when
    it is closed already or only an awaited close can do it (ASGI)."""
    transport = websocket._transport
    if websocket.closed or not isinstance(transport, _RSGITransport):
        return False
    websocket.closed = True
    transport.close_now(code)
    return True
