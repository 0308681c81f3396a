"""How a connection looks through each door: the :class:`Connection` view and its two forms.

An HTTP request or WebSocket handshake arrives either as an ASGI scope (with ``receive``) or
as a Granian RSGI scope (with its protocol object). Everything above the doors reads it
through one small view: :class:`ASGIConnection` or :class:`RSGIConnection`. The framework's
middleware hooks see it as a :class:`Connection`; :class:`~fastware_core.request.Request`
and :class:`~fastware_core.websocket.WebSocket` sit on it, so neither branches on the door.

Views read the scope lazily: a field nobody asks for costs nothing.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import MutableMapping
from typing import Any, ClassVar, Protocol

import msgspec

from ._rsgi_asgi import asgi_scope_from_rsgi, parse_address
from .datastructures import Address, Headers
from .exceptions import HTTPError
from .types import Receive, RSGIScope, Scope

__all__ = ("ASGIConnection", "Connection", "RSGIConnection")


class Connection(Protocol):
    """What middleware hooks see of a request, on either door.

    Attributes are declared read-only so that plain attributes, slots and properties all
    satisfy the protocol.
    """

    @property
    def method(self) -> str:
        """The request method as sent (``""`` for a WebSocket)."""

    @property
    def path(self) -> str:
        """The percent-decoded path."""

    @property
    def query_string(self) -> str:
        """The raw query string, without ``?`` (``""`` when there is none)."""

    @property
    def scheme(self) -> str:
        """``http`` or ``https`` (``ws`` or ``wss`` for a WebSocket)."""

    @property
    def type(self) -> str:
        """``http`` or ``websocket``."""

    @property
    def state(self) -> MutableMapping[str, Any]:
        """Per-request state; it becomes ``request.state``."""

    def header(self, name: str) -> str | None:
        """The first value of request header ``name`` (given in lower case), or ``None``."""

    def header_list(self, name: str) -> list[str]:
        """Every value of request header ``name`` (given in lower case), in order."""


def _utf8_query(raw: Any) -> str:
    if not isinstance(raw, bytes):
        return str(raw)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPError(400, "Query string is not valid UTF-8") from None


class ASGIConnection(msgspec.Struct, eq=False):
    """A :class:`Connection` over an ASGI scope (HTTP or WebSocket).

    A struct, so that the door builds one per request in C: ``ASGIConnection(scope,
    receive, method, path, state)``; :meth:`of` reads method, path and state from the scope.

    Args:
        scope: The ASGI connection scope.
        receive: The ASGI ``receive`` callable, when the view should be able to wait for the
            client to leave (``None`` for a view that only reads the scope).
        method: The request method (``""`` for a WebSocket).
        path: The percent-decoded path (``scope["path"]``).
        state: ``scope["state"]``.
    """

    scope: Scope
    """The ASGI scope itself."""
    receive: Receive | None
    """The ASGI ``receive`` callable, if known."""
    method: str
    """The request method (``""`` for a WebSocket)."""
    path: str
    """The percent-decoded path."""
    state: dict[str, Any]
    """``scope["state"]`` (created when the server sent none): per-request state."""
    _headers: Headers | None = None
    ends: bool = False
    """Whether the request holds something to release once its handler has returned (a
    disconnect watcher, a parsed form's files): set by :class:`~fastware_core.Request`, so
    that the doors call ``end_request`` only then."""

    door: ClassVar[str] = "asgi"
    """Which door the connection came through."""

    @classmethod
    def of(cls, scope: Scope, receive: Receive | None = None) -> ASGIConnection:
        """The view of ``scope`` (HTTP or WebSocket); a scope without ``state`` gets one."""
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        return cls(scope, receive, scope.get("method", ""), scope.get("path", "/"), state)

    @property
    def type(self) -> str:
        """``http`` or ``websocket``."""
        return str(self.scope["type"])

    @property
    def raw_path(self) -> bytes | None:
        """The path as sent, still percent-encoded, when the server provides it."""
        raw = self.scope.get("raw_path")
        return raw if isinstance(raw, bytes) else None

    @property
    def root_path(self) -> str:
        """The prefix the app is mounted under (``""`` at the root)."""
        return str(self.scope.get("root_path", ""))

    @property
    def query_string(self) -> str:
        """The raw query string, without ``?``.

        Raises:
            HTTPError: 400 when it is not valid UTF-8.
        """
        return _utf8_query(self.scope.get("query_string", b""))

    @property
    def scheme(self) -> str:
        """``http``/``https``/``ws``/``wss``."""
        scheme = self.scope.get("scheme")
        if scheme:
            return str(scheme)
        return "ws" if self.scope["type"] == "websocket" else "http"

    @property
    def http_version(self) -> str:
        """``1.0``, ``1.1`` or ``2``."""
        return str(self.scope.get("http_version", "1.1"))

    @property
    def client(self) -> Address | None:
        """The peer's ``(host, port)``, or ``None`` when the server does not say."""
        client = self.scope.get("client")
        if not client:
            return None
        port = client[1]
        return Address(str(client[0]), int(port) if str(port).isdigit() else 0)

    @property
    def server_authority(self) -> str:
        """The server's own ``host:port``, for a request without a Host header."""
        server = self.scope.get("server")
        if server:
            return f"{server[0]}:{server[1]}" if server[1] is not None else str(server[0])
        return "localhost"

    @property
    def headers(self) -> Headers:
        """Every request header (decoded once, on first use)."""
        headers = self._headers
        if headers is None:
            headers = self._headers = Headers.from_asgi(self.scope.get("headers") or ())
        return headers

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lower case), or ``None``."""
        key = name.encode("latin-1")
        for k, v in self.scope.get("headers") or ():
            if k == key:  # ASGI servers send lower-case names
                return bytes(v).decode("latin-1")
        return None

    def header_list(self, name: str) -> list[str]:
        """Every value of header ``name`` (lower case), in order."""
        key = name.encode("latin-1")
        return [
            bytes(v).decode("latin-1")
            for k, v in self.scope.get("headers") or ()
            if k.lower() == key
        ]

    def asgi_scope(self) -> Scope:
        """The ASGI scope."""
        return self.scope

    async def wait_disconnect(self) -> None:
        """Return once the client has gone away (never, for a view without ``receive``)."""
        receive = self.receive
        if receive is None:
            await asyncio.get_running_loop().create_future()  # never resolves
            return
        while (await receive()).get("type") not in ("http.disconnect", "websocket.disconnect"):
            pass


class RSGIConnection(msgspec.Struct, eq=False):
    """A :class:`Connection` over a Granian RSGI scope (HTTP or WebSocket).

    A struct, so that the door builds one per request in C: ``RSGIConnection(scope,
    protocol, method, path, state, header_map)``; :meth:`of` reads method, path and
    headers from the scope.

    Args:
        scope: The RSGI scope.
        protocol: The RSGI protocol object of the connection (``None`` when only the scope
            is read).
        method: The request method (``""`` for a WebSocket).
        path: The percent-decoded path (``scope.path``).
        state: The per-request state to start from.
        header_map: ``scope.headers``, read once: Granian copies every header on each read
            of that attribute.
    """

    _scope: RSGIScope
    protocol: Any
    """The RSGI protocol the server handed to the app, if known."""
    method: str
    """The request method (``""`` for a WebSocket)."""
    path: str
    """The percent-decoded path."""
    state: dict[str, Any]
    """Per-request state; it becomes ``request.state``."""
    header_map: Any
    """The server's mapping of the request headers (Granian's ``RSGIHeaders``: lower-case
    names, ``get``, ``get_all``, ``items``)."""
    _headers: Headers | None = None
    ends: bool = False
    """Whether the request holds something to release once its handler has returned (a
    disconnect watcher, a parsed form's files): set by :class:`~fastware_core.Request`, so
    that the doors call ``end_request`` only then."""

    door: ClassVar[str] = "rsgi"
    """Which door the connection came through."""

    @classmethod
    def of(cls, scope: RSGIScope, protocol: Any = None) -> RSGIConnection:
        """The view of ``scope`` (HTTP or WebSocket) with an empty state."""
        method = "" if scope.proto == "ws" else scope.method
        return cls(scope, protocol, method, scope.path, {}, scope.headers)

    @property
    def type(self) -> str:
        """``http`` or ``websocket``."""
        return "websocket" if self._scope.proto == "ws" else "http"

    @property
    def raw_path(self) -> bytes | None:
        """``None``: Granian hands the app the decoded path only."""
        return None

    @property
    def root_path(self) -> str:
        """``""``: the RSGI door serves the app at the root."""
        return ""

    @property
    def query_string(self) -> str:
        """The raw query string."""
        return self._scope.query_string

    @property
    def scheme(self) -> str:
        """``http``/``https`` (``ws``/``wss`` for a WebSocket)."""
        scheme = self._scope.scheme
        if self._scope.proto == "ws":
            return "wss" if scheme == "https" else "ws"
        return scheme

    @property
    def http_version(self) -> str:
        """``1.0``, ``1.1`` or ``2``."""
        return self._scope.http_version

    @property
    def client(self) -> Address | None:
        """The peer's ``(host, port)``."""
        return _client_address(self._scope.client)

    @property
    def server_authority(self) -> str:
        """The ``:authority`` of an HTTP/2 request, else the server's own ``host:port``."""
        return self._scope.authority or self._scope.server

    @property
    def headers(self) -> Headers:
        """Every request header (built once, on first use)."""
        headers = self._headers
        if headers is None:
            headers = self._headers = Headers(self.header_map.items())
        return headers

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lower case), or ``None``."""
        value: str | None = self.header_map.get(name)
        if value is None and name == "host":
            value = self._scope.authority  # HTTP/2 sends :authority instead of Host
        return value

    def header_list(self, name: str) -> list[str]:
        """Every value of header ``name`` (lower case), in order."""
        values: list[str] = self.header_map.get_all(name)
        if not values and name == "host" and self._scope.authority:
            values = [self._scope.authority]
        return values

    def asgi_scope(self) -> Scope:
        """An equivalent ASGI scope, sharing this view's state."""
        return asgi_scope_from_rsgi(self._scope, self.state, self.header_map)

    async def wait_disconnect(self) -> None:
        """Return once the client has gone away (never, for a view without a protocol)."""
        if self.protocol is None:
            await asyncio.get_running_loop().create_future()  # never resolves
            return
        await self.protocol.client_disconnect()


@functools.lru_cache(maxsize=4096)
def _client_address(text: str) -> Address | None:
    """Granian's ``"host:port"`` peer as an :class:`Address`, parsed once per peer: a
    keep-alive connection sends many requests, and rate limits read it on each."""
    address = parse_address(text)
    return None if address is None else Address(*address)
