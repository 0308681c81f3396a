"""The responses the test clients return (and the WebSocket denial error)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Self, TypeVar

import msgspec

from fastware_core.datastructures import Headers

from ._httpx import status_error
from ._url import TestURL

if TYPE_CHECKING:
    from ._exchange import Exchange

__all__ = ("SentRequest", "TestResponse", "TestStreamResponse", "WebSocketDenied")

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


class SentRequest:
    """The request a test response answers (``response.request``), read as an httpx
    ``Request`` is: ``method``, ``url``, ``headers`` (as sent, names lower-cased) and
    ``content``."""

    __test__ = False
    __slots__ = ("content", "headers", "method", "url")

    def __init__(self, method: str, url: str, headers: Headers, content: bytes) -> None:
        self.method = method
        self.url = TestURL(url)
        self.headers = headers
        self.content = content

    def read(self) -> bytes:
        """The body sent."""
        return self.content

    async def aread(self) -> bytes:
        """The body sent."""
        return self.content

    def __repr__(self) -> str:
        return f"<SentRequest({self.method!r}, {str(self.url)!r})>"


class _ResponseBase:
    status_code: int
    headers: Headers
    content: bytes
    request: SentRequest

    @property
    def url(self) -> TestURL:
        """The URL requested: a string that also has httpx's ``URL`` attributes
        (``path``, ``params``, ``host``, ...)."""
        return self.request.url

    @property
    def method(self) -> str:
        """The request's method."""
        return self.request.method

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
    def has_redirect_location(self) -> bool:
        """Whether the status is a redirect with a Location header (httpx's name)."""
        return self.is_redirect

    @property
    def is_informational(self) -> bool:
        """Whether the status is 1xx."""
        return 100 <= self.status_code < 200

    @property
    def is_client_error(self) -> bool:
        """Whether the status is 4xx."""
        return 400 <= self.status_code < 500

    @property
    def is_server_error(self) -> bool:
        """Whether the status is 5xx."""
        return 500 <= self.status_code < 600

    @property
    def is_error(self) -> bool:
        """Whether the status is 4xx or 5xx."""
        return 400 <= self.status_code < 600

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
    def charset_encoding(self) -> str | None:
        """The charset the content type names, or ``None``."""
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip('"')
        return None

    @property
    def encoding(self) -> str:
        """The charset of the content type, ``utf-8`` when none is named."""
        return self.charset_encoding or "utf-8"

    @property
    def links(self) -> dict[str, dict[str, str]]:
        """The ``Link`` header's links by ``rel`` (or URL), as httpx parses them."""
        links: dict[str, dict[str, str]] = {}
        for header in self.headers.getlist("link"):
            for entry in header.split(","):
                url, _, params = entry.partition(";")
                link = {"url": url.strip(" <>'\"")}
                for param in params.split(";"):
                    key, _, value = param.partition("=")
                    if key.strip():
                        link[key.strip(" '\"")] = value.strip(" '\"")
                links[link.get("rel") or link["url"]] = link
        return links

    def raise_for_status(self) -> Self:
        """Return the response when its status is 2xx; raise otherwise, as httpx does.

        Raises:
            httpx.HTTPStatusError: for a 1xx, 3xx, 4xx or 5xx status (also a
                ``RuntimeError``; a plain ``RuntimeError`` subclass where httpx is not
                installed).
        """
        if self.is_success:
            return self
        raise status_error(self)


class TestResponse(_ResponseBase):
    """A complete response: ``status_code``, ``headers``, ``content``, ``text``, ``json()``."""

    __test__ = False

    def __init__(
        self,
        status_code: int,
        headers: Headers,
        content: bytes,
        method: str,
        url: str,
        http_version: str = "HTTP/1.1",
        elapsed: timedelta = timedelta(0),
        request: SentRequest | None = None,
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.request = request if request is not None else SentRequest(method, url, Headers(), b"")
        """The request sent (``method``, ``url``, ``headers``, ``content``)."""
        self.http_version = http_version
        """``"HTTP/1.1"``, ``"HTTP/2"``: the version the request claimed."""
        self.elapsed = elapsed
        """How long the exchange took."""
        self.num_bytes_downloaded = len(content)
        self.is_closed = True
        self.is_stream_consumed = True

    @property
    def text(self) -> str:
        """The body decoded with the response charset."""
        return self.content.decode(self.encoding, errors="replace")

    def json(self) -> Any:
        """The body decoded as JSON."""
        return msgspec.json.decode(self.content)

    # httpx's reading methods, over the body already read

    def read(self) -> bytes:
        """The body."""
        return self.content

    async def aread(self) -> bytes:
        """The body."""
        return self.content

    def close(self) -> None:
        """Nothing to release: the body was read whole."""

    async def aclose(self) -> None:
        """Nothing to release: the body was read whole."""

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """The body in chunks of ``chunk_size`` bytes (whole by default)."""
        content = self.content
        size = chunk_size or len(content) or 1
        for start in range(0, len(content), size):
            yield content[start : start + size]

    iter_raw = iter_bytes

    def iter_text(self, chunk_size: int | None = None) -> Iterator[str]:
        """The decoded body in chunks of ``chunk_size`` characters (whole by default)."""
        text = self.text
        size = chunk_size or len(text) or 1
        for start in range(0, len(text), size):
            yield text[start : start + size]

    def iter_lines(self) -> Iterator[str]:
        """The body's lines without their line endings."""
        text = self.text
        if text:
            yield from _LINE_END.split(text.removesuffix("\n").removesuffix("\r"))

    async def aiter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """:meth:`iter_bytes`, asynchronously."""
        for chunk in self.iter_bytes(chunk_size):
            yield chunk

    aiter_raw = aiter_bytes

    async def aiter_text(self, chunk_size: int | None = None) -> AsyncIterator[str]:
        """:meth:`iter_text`, asynchronously."""
        for chunk in self.iter_text(chunk_size):
            yield chunk

    async def aiter_lines(self) -> AsyncIterator[str]:
        """:meth:`iter_lines`, asynchronously."""
        for line in self.iter_lines():
            yield line

    def __repr__(self) -> str:
        return f"<TestResponse [{self.status_code}]>"


class TestStreamResponse(_ResponseBase):
    """A response whose body is read incrementally (``async for chunk in r.aiter_bytes()``).

    Leaving the ``stream()`` block disconnects the client, so the app's stream stops.
    """

    __test__ = False

    def __init__(
        self, exchange: Exchange, status_code: int, headers: Headers, request: SentRequest
    ) -> None:
        self._exchange = exchange
        self.status_code = status_code
        self.headers = headers
        self.request = request
        """The request sent (``method``, ``url``, ``headers``, ``content``)."""
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
