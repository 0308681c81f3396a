"""Types at the seams: ASGI aliases (as in fastware 0.6.3), Granian's RSGI interface as
``Protocol``s, and the one rendered-response tuple every layer passes around."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any, Protocol

__all__ = (
    "ASGIApp",
    "Message",
    "RSGIHTTPProtocol",
    "RSGIHeaders",
    "RSGIScope",
    "RSGIStreamTransport",
    "RSGIWebsocketProtocol",
    "RSGIWebsocketTransport",
    "Receive",
    "Rendered",
    "Scope",
    "Send",
)

Scope = dict[str, Any]
"""An ASGI connection scope."""

Message = MutableMapping[str, Any]
"""An ASGI event, sent or received."""

Receive = Callable[[], Awaitable[Any]]
"""The ASGI ``receive`` callable: returns an awaitable event dict."""

Send = Callable[[Any], Awaitable[None]]
"""The ASGI ``send`` callable: takes an event dict."""

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
"""Any ASGI 3 application."""

Rendered = tuple[int, str, bytes, list[tuple[str, str]] | None]
"""A buffered answer: ``(status, content type, body, extra header pairs or None)``.

The one shape for a finished response everywhere in fastware: ``Response.rendered()``, the
dispatcher, error answers and middleware hooks' early answers. An empty content type sends
no Content-Type header.
"""


class RSGIHeaders(Protocol):
    """Request headers of an RSGI scope: lower-case names, ``str`` values."""

    def __contains__(self, key: str) -> bool: ...
    def get(self, key: str, default: Any = None) -> Any: ...
    def get_all(self, key: str) -> list[str]: ...
    def items(self) -> list[tuple[str, str]]: ...
    def keys(self) -> list[str]: ...


class RSGIScope(Protocol):
    """The scope Granian passes to ``__rsgi__`` (``granian/rsgi.py``)."""

    @property
    def proto(self) -> str:
        """``"http"`` or ``"ws"``."""

    @property
    def http_version(self) -> str:
        """``"1"``, ``"1.1"`` or ``"2"``."""

    @property
    def server(self) -> str:
        """The server's ``host:port``."""

    @property
    def client(self) -> str:
        """The peer's ``host:port``."""

    @property
    def scheme(self) -> str:
        """``"http"`` or ``"https"``."""

    @property
    def method(self) -> str:
        """The request method, as sent."""

    @property
    def path(self) -> str:
        """The percent-decoded path."""

    @property
    def query_string(self) -> str:
        """The raw query string."""

    @property
    def authority(self) -> str | None:
        """HTTP/2's ``:authority``."""

    @property
    def headers(self) -> RSGIHeaders:
        """The request headers."""


class RSGIStreamTransport(Protocol):
    """What ``response_stream`` returns."""

    async def send_bytes(self, data: bytes) -> None: ...
    async def send_str(self, data: str) -> None: ...


class RSGIHTTPProtocol(Protocol):
    """Granian's HTTP protocol object: read the body, answer in one call, or stream."""

    def __call__(self) -> Awaitable[bytes]: ...
    def __aiter__(self) -> AsyncIterator[bytes]: ...
    def client_disconnect(self) -> Awaitable[None]: ...
    def response_empty(self, status: int, headers: list[tuple[str, str]]) -> None: ...
    def response_str(self, status: int, headers: list[tuple[str, str]], body: str) -> None: ...
    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None: ...
    def response_file(self, status: int, headers: list[tuple[str, str]], file: str) -> None: ...
    def response_file_range(
        self, status: int, headers: list[tuple[str, str]], file: str, start: int, end: int
    ) -> None: ...
    def response_stream(
        self, status: int, headers: list[tuple[str, str]]
    ) -> RSGIStreamTransport: ...


class RSGIWebsocketTransport(Protocol):
    """What ``accept()`` returns: receive messages, send frames."""

    async def receive(self) -> Any: ...
    async def send_bytes(self, data: bytes) -> None: ...
    async def send_str(self, data: str) -> None: ...


class RSGIWebsocketProtocol(Protocol):
    """Granian's WebSocket protocol object."""

    def accept(self) -> Awaitable[RSGIWebsocketTransport]: ...
    def close(self, status: int | None) -> Any: ...
