"""Response classes (plain data holders the app serialises), cookies and ``send_error``."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from ._json import encode_json
from ._mimetypes import guess_content_type
from .types import Send

__all__ = (
    "BytesResponse",
    "FileResponse",
    "HTMLResponse",
    "HeadersInput",
    "JSONResponse",
    "RedirectResponse",
    "Response",
    "StreamResponse",
    "TextResponse",
    "delete_cookie",
    "header_pairs",
    "send_error",
    "set_cookie",
)

HeadersInput = Mapping[str, "str | Sequence[str]"] | Iterable[tuple[str, str]]
"""Response headers: a mapping (a list value sends the header once per item) or pairs."""

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\r\n\x00]")


def header_pairs(headers: HeadersInput | None) -> list[tuple[str, str]]:
    """Flatten response headers into ``(name, value)`` pairs, rejecting injection.

    Raises:
        ValueError: for a name that is not an HTTP token, or a value holding CR, LF or NUL.
    """
    if not headers:
        return []
    items: Iterable[tuple[str, Any]] = headers.items() if isinstance(headers, Mapping) else headers
    pairs: list[tuple[str, str]] = []
    for name, value in items:
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"Invalid response header name {name!r}")
        values = [value] if isinstance(value, str) else value
        for item in values:
            item = str(item)
            if _BAD_VALUE.search(item):
                raise ValueError(f"Response header {name!r} holds CR, LF or NUL")
            pairs.append((name, item))
    return pairs


_text_types: dict[str, str] = {}


def text_type(content_type: str) -> str:
    full = _text_types.get(content_type)
    if full is None:
        full = content_type
        if content_type.startswith("text/") and "charset" not in content_type:
            full = content_type + "; charset=utf-8"
        if len(_text_types) < 256:
            _text_types[content_type] = full
    return full


class Response:
    """Base of every response: a status, extra headers and ``Set-Cookie`` strings.

    ``headers`` and ``cookies`` read as ``{}`` and ``[]`` when not given, and can be changed
    after construction (``response.headers["X-A"] = "1"``).
    """

    __slots__ = ("_cookies", "_headers", "status")

    streaming: ClassVar[bool] = False

    status: int
    """The HTTP status code."""

    def __init__(
        self,
        status: int = 200,
        headers: HeadersInput | None = None,
        cookies: list[str] | None = None,
    ) -> None:
        self.status = status
        self._headers = headers
        self._cookies = cookies

    @property
    def headers(self) -> Any:
        """Extra headers: a dict (``{"X-A": "1"}`` or ``{"X-A": ["1", "2"]}``) or pairs."""
        headers = self._headers
        if headers is None:
            headers = self._headers = {}
        return headers

    @headers.setter
    def headers(self, value: HeadersInput | None) -> None:
        self._headers = value

    @property
    def cookies(self) -> list[str]:
        """Ready-made ``Set-Cookie`` values, usually from :func:`set_cookie`."""
        cookies = self._cookies
        if cookies is None:
            cookies = self._cookies = []
        return cookies

    @cookies.setter
    def cookies(self, value: list[str] | None) -> None:
        self._cookies = value

    def render(self) -> tuple[str, bytes]:
        """``(content_type, body)`` for a buffered response."""
        raise NotImplementedError

    def extra_headers(self) -> list[tuple[str, str]] | None:
        """The headers sent after content-type and content-length, cookies last.

        Raises:
            ValueError: for a header that would inject another one.
        """
        if not self._headers and not self._cookies:
            return None
        extra = header_pairs(self._headers)
        if self._cookies:
            extra.extend(("set-cookie", cookie) for cookie in self._cookies)
        return extra

    def rendered(self) -> tuple[int, str, bytes, list[tuple[str, str]] | None]:
        """``(status, content_type, body, extra headers)``: everything the app sends."""
        content_type, body = self.render()
        return self.status, content_type, body, self.extra_headers()


class JSONResponse(Response):
    """A JSON body encoded with msgspec (Structs, dataclasses, dicts, lists, ...)."""

    __slots__ = ("data",)

    def __init__(
        self,
        data: Any,
        status: int = 200,
        headers: HeadersInput | None = None,
        cookies: list[str] | None = None,
    ) -> None:
        self.status = status
        self._headers = headers
        self._cookies = cookies
        self.data = data

    def render(self) -> tuple[str, bytes]:
        """``("application/json", encoded body)``."""
        return "application/json", encode_json(self.data)

    def rendered(self) -> tuple[int, str, bytes, list[tuple[str, str]] | None]:
        """``(status, content_type, body, extra headers)``."""
        extra = None if not self._headers and not self._cookies else self.extra_headers()
        return self.status, "application/json", encode_json(self.data), extra


class TextResponse(Response):
    """A text body, UTF-8 encoded; ``text/*`` types get ``; charset=utf-8``."""

    __slots__ = ("content_type", "text")

    def __init__(
        self,
        text: str,
        content_type: str = "text/plain",
        status: int = 200,
        headers: HeadersInput | None = None,
        cookies: list[str] | None = None,
    ) -> None:
        self.status = status
        self._headers = headers
        self._cookies = cookies
        self.text = text
        self.content_type = content_type

    def render(self) -> tuple[str, bytes]:
        """``(content type with charset, UTF-8 body)``."""
        content_type = _text_types.get(self.content_type) or text_type(self.content_type)
        return content_type, self.text.encode("utf-8")

    def rendered(self) -> tuple[int, str, bytes, list[tuple[str, str]] | None]:
        """``(status, content_type, body, extra headers)``."""
        content_type = _text_types.get(self.content_type) or text_type(self.content_type)
        extra = None if not self._headers and not self._cookies else self.extra_headers()
        return self.status, content_type, self.text.encode("utf-8"), extra


class HTMLResponse(Response):
    """An HTML body sent as ``text/html; charset=utf-8``."""

    __slots__ = ("html",)

    def __init__(
        self,
        html: str,
        status: int = 200,
        headers: HeadersInput | None = None,
        cookies: list[str] | None = None,
    ) -> None:
        self.status = status
        self._headers = headers
        self._cookies = cookies
        self.html = html

    def render(self) -> tuple[str, bytes]:
        """``("text/html; charset=utf-8", UTF-8 body)``."""
        return "text/html; charset=utf-8", self.html.encode("utf-8")


class BytesResponse(Response):
    """Raw bytes with the given content type."""

    __slots__ = ("content_type", "data")

    def __init__(
        self,
        data: bytes,
        content_type: str = "application/octet-stream",
        status: int = 200,
        headers: HeadersInput | None = None,
        cookies: list[str] | None = None,
    ) -> None:
        self.status = status
        self._headers = headers
        self._cookies = cookies
        self.data = data
        self.content_type = content_type

    def render(self) -> tuple[str, bytes]:
        """``(content_type, data)``."""
        return self.content_type, bytes(self.data)


class RedirectResponse(Response):
    """A redirect to ``url`` (307 by default, keeping the method; 303 after a form POST)."""

    __slots__ = ("url",)

    def __init__(
        self,
        url: str,
        status: int = 307,
        headers: HeadersInput | None = None,
        cookies: list[str] | None = None,
    ) -> None:
        if _BAD_VALUE.search(url):
            raise ValueError("Redirect URL holds CR, LF or NUL")
        if not 300 <= status < 400:
            raise ValueError(f"Redirect status must be 3xx, got {status}")
        super().__init__(status, headers, cookies)
        self.url = quote(url, safe=":/?#[]@!$&'()*+,;=%~-._")

    def render(self) -> tuple[str, bytes]:
        """An empty body."""
        return "text/plain; charset=utf-8", b""

    def extra_headers(self) -> list[tuple[str, str]]:
        """``Location`` first, then the other headers and cookies."""
        return [("location", self.url), *(super().extra_headers() or ())]


class StreamResponse(Response):
    """A body produced chunk by chunk by an async generator (``str`` chunks are UTF-8).

    No Content-Length is sent. The generator is closed when the client disconnects, and it
    is never started for a HEAD request.
    """

    __slots__ = ("content_type", "generator")

    streaming: ClassVar[bool] = True

    def __init__(
        self,
        generator: AsyncIterable[str | bytes],
        content_type: str,
        headers: HeadersInput | None = None,
        status: int = 200,
        cookies: list[str] | None = None,
    ) -> None:
        super().__init__(status, headers, cookies)
        self.generator = generator
        self.content_type = content_type


class FileResponse(Response):
    """A file streamed from disk in chunks (never read whole into memory).

    The content type comes from a fixed extension table unless given. ``filename`` adds a
    ``Content-Disposition: attachment`` header. A missing file answers 404.

    ``range`` and ``stat`` are filled in by :class:`~fastware_core.staticfiles.StaticFiles`
    after it evaluated a request's conditional and ``Range`` headers: with ``range`` set the
    answer is ``206 Partial Content`` carrying only those bytes and a ``Content-Range``
    header; status 304 sends the headers without a body. ``stat`` is the ``os.stat_result``
    the answer was computed from, so the sender does not stat the file a second time.
    """

    __slots__ = ("chunk_size", "content_type", "filename", "path", "range", "stat")

    streaming: ClassVar[bool] = True

    range: tuple[int, int] | None
    """The bytes to send as ``(first, last)``, both inclusive as in HTTP; ``None`` for all."""
    stat: os.stat_result | None
    """The file's ``os.stat_result`` when already known; ``None`` makes the sender stat it."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        content_type: str | None = None,
        status: int = 200,
        headers: HeadersInput | None = None,
        cookies: list[str] | None = None,
        *,
        filename: str | None = None,
        chunk_size: int = 64 * 1024,
        range: tuple[int, int] | None = None,
        stat: os.stat_result | None = None,
    ) -> None:
        super().__init__(status, headers, cookies)
        self.path = os.fspath(path)
        self.content_type = content_type or guess_content_type(self.path)
        self.filename = filename
        self.chunk_size = chunk_size
        self.range = range
        self.stat = stat

    def disposition(self) -> str | None:
        """The Content-Disposition value for ``filename``, or ``None``."""
        if self.filename is None:
            return None
        ascii_name = self.filename.encode("ascii", "replace").decode().replace('"', "")
        ascii_name = _BAD_VALUE.sub("", ascii_name).replace("\\", "")
        if ascii_name == self.filename:
            return f'attachment; filename="{ascii_name}"'
        return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(self.filename)}"


# -- cookies ----------------------------------------------------------------------------------

_COOKIE_VALUE = re.compile(
    r'(?:[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*|"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")'
)
_ATTR_VALUE = re.compile(r"[\x21-\x3a\x3c-\x7e]+")
_SAMESITE = {"lax": "Lax", "strict": "Strict", "none": "None"}


def _cookie_attr(name: str, value: str) -> str:
    if not _ATTR_VALUE.fullmatch(value):
        raise ValueError(f"Cookie {name} {value!r} holds a character not allowed there")
    return value


def set_cookie(
    name: str,
    value: str,
    *,
    httponly: bool = False,
    samesite: Literal["lax", "strict", "none", "Lax", "Strict", "None"] | None = "lax",
    max_age: int | None = None,
    path: str | None = "/",
    secure: bool = False,
    expires: datetime | int | float | None = None,
    domain: str | None = None,
    partitioned: bool = False,
) -> str:
    """Build a ``Set-Cookie`` value; put it in a response's ``cookies`` list.

    Args:
        name: Cookie name (an HTTP token).
        value: Cookie value: printable ASCII without space, ``"``, ``,``, ``;`` or ``\\``
            (encode anything else, e.g. with base64url).
        httponly: Hide the cookie from JavaScript.
        samesite: ``"lax"``, ``"strict"``, ``"none"`` (needs ``secure=True``) or ``None``.
        max_age: Lifetime in seconds; 0 or less expires it.
        path: The path scope.
        secure: Send only over HTTPS.
        expires: An absolute expiry (``datetime``, naive means UTC) or seconds from now.
        domain: The domain scope.
        partitioned: CHIPS partitioned cookie (needs ``secure=True``).

    Raises:
        ValueError: for an invalid name or value, an attribute that would inject another
            attribute, or SameSite=None / Partitioned without ``secure``.
    """
    if not _TOKEN.fullmatch(name):
        raise ValueError(f"Invalid cookie name {name!r}")
    if not _COOKIE_VALUE.fullmatch(value):
        raise ValueError(
            f"Invalid value for cookie {name!r}: use printable ASCII without spaces, "
            "double quotes, commas, semicolons or backslashes (encode it first)"
        )
    parts = [f"{name}={value}"]
    if path is not None:
        parts.append(f"Path={_cookie_attr('path', path)}")
    if samesite is not None:
        canonical = _SAMESITE.get(str(samesite).lower())
        if canonical is None:
            raise ValueError(f"samesite must be 'lax', 'strict' or 'none', got {samesite!r}")
        if canonical == "None" and not secure:
            raise ValueError("SameSite=None cookies must be secure (pass secure=True)")
        # Spelled as given, as 0.6.3 did (browsers read the value case-insensitively), so
        # cookies an upgraded app sets are byte for byte the ones it set before.
        parts.append(f"SameSite={samesite}")
    if httponly:
        parts.append("HttpOnly")
    if secure:
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
    if expires is not None:
        if isinstance(expires, datetime):
            when = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
        else:
            when = datetime.now(UTC) + timedelta(seconds=float(expires))
        parts.append(f"Expires={format_datetime(when.astimezone(UTC), usegmt=True)}")
    if domain is not None:
        parts.append(f"Domain={_cookie_attr('domain', domain)}")
    if partitioned:
        if not secure:
            raise ValueError("Partitioned cookies must be secure (pass secure=True)")
        parts.append("Partitioned")
    return "; ".join(parts)


def delete_cookie(
    name: str,
    *,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    httponly: bool = False,
    samesite: Literal["lax", "strict", "none", "Lax", "Strict", "None"] | None = "lax",
) -> str:
    """Build a ``Set-Cookie`` value that removes cookie ``name`` (empty, ``Max-Age=0``).

    Path and domain must match the ones the cookie was set with.
    """
    return set_cookie(
        name,
        "",
        path=path,
        domain=domain,
        secure=secure,
        httponly=httponly,
        samesite=samesite,
        max_age=0,
        expires=datetime(1970, 1, 1, tzinfo=UTC),
    )


async def send_error(
    send: Send, status: int, detail: Any, headers: HeadersInput | None = None
) -> None:
    """Send a complete JSON ``{"detail": ...}`` response through ASGI ``send``.

    For pure-ASGI middleware that rejects a request before the app sees it.
    """
    body = encode_json({"detail": detail})
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    raw.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in header_pairs(headers))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})
