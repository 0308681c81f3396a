"""The responses the test clients return (and the WebSocket denial error)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from fastware_core.datastructures import Headers

if TYPE_CHECKING:
    from ._exchange import Exchange

__all__ = ("TestResponse", "TestStreamResponse", "WebSocketDenied")

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


class TestStreamResponse(_ResponseBase):
    """A response whose body is read incrementally (``async for chunk in r.aiter_bytes()``).

    Leaving the ``stream()`` block disconnects the client, so the app's stream stops.
    """

    __test__ = False

    def __init__(
        self, exchange: Exchange, status_code: int, headers: Headers, method: str, url: str
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
