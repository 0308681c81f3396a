"""Running the framework's own middleware natively on the RSGI door.

Hook middleware (``fastware_core.middleware``) declares ``before``/``after``/``finished``
hooks. On the RSGI door they run without any ASGI translation: the request is described by
an :class:`RSGIConnection`, and the protocol is wrapped by a :class:`HookedProtocol` that
runs the ``after`` hooks on the header list of whatever response the app sends (bytes,
file, range, stream or empty) and remembers the status for ``finished``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ("HookedProtocol", "RSGIConnection")


class RSGIConnection:
    """A middleware ``Connection`` over an RSGI scope; fields are read from the scope only
    when a hook asks for them."""

    __slots__ = ("_scope", "state")

    def __init__(self, scope: Any) -> None:
        self._scope = scope
        self.state: dict[str, Any] = {}

    @property
    def type(self) -> str:
        """``http`` or ``websocket``."""
        return "websocket" if self._scope.proto == "ws" else "http"

    @property
    def method(self) -> str:
        """The request method (``""`` for a WebSocket)."""
        return "" if self._scope.proto == "ws" else str(self._scope.method)

    @property
    def path(self) -> str:
        """The percent-decoded path."""
        return str(self._scope.path)

    @property
    def query_string(self) -> str:
        """The raw query string."""
        return str(self._scope.query_string)

    @property
    def scheme(self) -> str:
        """``http``/``https`` (``ws``/``wss`` for a WebSocket)."""
        scheme = str(self._scope.scheme)
        if self._scope.proto == "ws":
            return "wss" if scheme == "https" else "ws"
        return scheme

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lower case), or ``None``."""
        value: str | None = self._scope.headers.get(name)
        if value is None and name == "host":
            value = self._scope.authority  # HTTP/2 sends :authority instead of Host
        return value

    def header_list(self, name: str) -> list[str]:
        """Every value of header ``name`` (lower case), in order."""
        values: list[str] = self._scope.headers.get_all(name)
        if not values and name == "host" and self._scope.authority:
            values = [self._scope.authority]
        return values


class HookedProtocol:
    """An RSGI HTTP protocol whose responses pass through the ``after`` hooks."""

    __slots__ = ("_after", "_conn", "_protocol", "state", "status")

    def __init__(self, protocol: Any, conn: RSGIConnection, after: Sequence[Any]) -> None:
        self._protocol = protocol
        self._conn = conn
        self._after = after
        self.state = conn.state  # seeds request.state (request ids and the like)
        self.status = 0

    def _headers(self, status: int, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        self.status = status
        headers = list(headers)
        for hook in self._after:
            hook.after(self._conn, status, headers)
        return headers

    def __call__(self) -> Any:
        return self._protocol()

    def __aiter__(self) -> Any:
        return self._protocol.__aiter__()

    def client_disconnect(self) -> Any:
        """Resolves when the client leaves."""
        return self._protocol.client_disconnect()

    def response_empty(self, status: int, headers: list[tuple[str, str]]) -> None:
        """An answer without a body."""
        self._protocol.response_empty(status, self._headers(status, headers))

    def response_str(self, status: int, headers: list[tuple[str, str]], body: str) -> None:
        """A text body."""
        self._protocol.response_str(status, self._headers(status, headers), body)

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """A bytes body."""
        self._protocol.response_bytes(status, self._headers(status, headers), body)

    def response_file(self, status: int, headers: list[tuple[str, str]], file: str) -> None:
        """A file sent by the server."""
        self._protocol.response_file(status, self._headers(status, headers), file)

    def response_file_range(
        self, status: int, headers: list[tuple[str, str]], file: str, start: int, end: int
    ) -> None:
        """Part of a file sent by the server."""
        self._protocol.response_file_range(status, self._headers(status, headers), file, start, end)

    def response_stream(self, status: int, headers: list[tuple[str, str]]) -> Any:
        """A streamed body: returns the transport."""
        return self._protocol.response_stream(status, self._headers(status, headers))
