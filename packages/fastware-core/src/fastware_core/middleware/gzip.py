"""Gzip compression of responses, chunk by chunk for streams (a pure-ASGI middleware)."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import Any

from fastware_core.types import ASGIApp, Receive, Scope, Send

from .base import add_vary

__all__ = ("GZipMiddleware",)

_HOLD, _PASS, _COMPRESS = 0, 1, 2


def accepts_gzip(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether ``Accept-Encoding`` lists ``gzip`` (or ``*``) with a non-zero quality."""
    values = [bytes(v) for k, v in headers if k.lower() == b"accept-encoding"]
    if not values:
        return False
    for item in b",".join(values).decode("latin-1").split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        if coding not in ("gzip", "x-gzip", "*"):
            continue
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if quality > 0:
            return True
    return False


class GZipMiddleware:
    """Compress HTTP responses with gzip when the client accepts it.

    This is a pure-ASGI middleware, not a hook middleware: it has to rewrite the body, so
    it runs through the ASGI message path on both doors (``middleware=[...]``).

    A response is passed through untouched when it is a HEAD response, 1xx/204/206/304,
    already has a ``Content-Encoding``, has a media type in ``exclude_media_types`` (server-
    sent events by default: forwarded message by message, never buffered), says
    ``Cache-Control: no-transform``, or is smaller than ``minimum_size`` (known from
    ``Content-Length`` or from a body sent in one message).

    A body sent in one message is compressed whole and gets the new ``Content-Length``. A
    streamed body is compressed chunk by chunk, each chunk flushed (``Z_SYNC_FLUSH``) so the
    client receives it at once, and its ``Content-Length`` is removed. Compressed responses
    get ``Content-Encoding: gzip``, ``Accept-Encoding`` merged into ``Vary``, and a strong
    ``ETag`` made weak.

    Args:
        app: The ASGI app to wrap.
        minimum_size: Bodies smaller than this many bytes are not compressed.
        compresslevel: zlib level, 1 (fastest) to 9 (smallest).
        exclude_media_types: Media types never compressed (compared without parameters).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        minimum_size: int = 500,
        compresslevel: int = 6,
        exclude_media_types: Iterable[str] = ("text/event-stream",),
    ) -> None:
        if not 0 <= compresslevel <= 9:
            raise ValueError(f"compresslevel must be between 0 and 9, got {compresslevel}")
        self.app = app
        self.minimum_size = minimum_size
        self.compresslevel = compresslevel
        self.exclude_media_types = frozenset(m.strip().lower() for m in exclude_media_types)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection, compressing the HTTP response when it is worth it."""
        if (
            scope["type"] != "http"
            or scope.get("method") == "HEAD"
            or not accepts_gzip(scope.get("headers") or ())
        ):
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, _GZipResponder(self, send))

    def should_skip(self, status: int, headers: Iterable[tuple[bytes, bytes]]) -> bool:
        """Whether a response with this start line is passed through uncompressed."""
        if status < 200 or status in (204, 206, 304):
            return True
        for raw_name, raw_value in headers:
            name = bytes(raw_name).lower()
            if name == b"content-encoding":
                if bytes(raw_value).strip().lower() != b"identity":
                    return True
            elif name == b"content-type":
                media = bytes(raw_value).split(b";", 1)[0].strip().lower()
                if media.decode("latin-1") in self.exclude_media_types:
                    return True
            elif name == b"content-length":
                value = bytes(raw_value).strip()
                if value.isdigit() and int(value) < self.minimum_size:
                    return True
            elif name == b"cache-control" and b"no-transform" in bytes(raw_value).lower():
                return True
        return False


class _GZipResponder:
    __slots__ = ("_compressor", "_middleware", "_mode", "_send", "_start")

    def __init__(self, middleware: GZipMiddleware, send: Send) -> None:
        self._middleware = middleware
        self._send = send
        self._mode = _HOLD
        self._start: dict[str, Any] = {}
        self._compressor: Any = None

    async def __call__(self, message: Any) -> None:
        kind = message["type"]
        mode = self._mode
        if kind == "http.response.start":
            if self._middleware.should_skip(message["status"], message.get("headers") or ()):
                self._mode = _PASS
                await self._send(message)
            else:
                self._start = message  # held until the first body message shows the size
            return
        if mode == _PASS or kind != "http.response.body":
            if mode == _HOLD:
                self._mode = _PASS
                await self._send(self._start)
            await self._send(message)
            return
        body = bytes(message.get("body", b""))
        more = bool(message.get("more_body", False))
        if mode == _HOLD:
            if not more:
                await self._send_whole(body)
                return
            self._mode = _COMPRESS
            self._compressor = zlib.compressobj(self._middleware.compresslevel, zlib.DEFLATED, 31)
            await self._send(self._compressed_start(None))
        if more and not body:
            return  # nothing to flush; a sync flush would only add an empty block
        compressor = self._compressor
        data = compressor.compress(body)
        data += compressor.flush(zlib.Z_SYNC_FLUSH if more else zlib.Z_FINISH)
        await self._send({"type": "http.response.body", "body": data, "more_body": more})

    async def _send_whole(self, body: bytes) -> None:
        middleware = self._middleware
        if len(body) >= middleware.minimum_size:
            compressor = zlib.compressobj(middleware.compresslevel, zlib.DEFLATED, 31)
            data = compressor.compress(body) + compressor.flush()
            if len(data) < len(body):
                await self._send(self._compressed_start(len(data)))
                await self._send({"type": "http.response.body", "body": data})
                return
        self._mode = _PASS
        await self._send(self._start)
        await self._send({"type": "http.response.body", "body": body})

    def _compressed_start(self, length: int | None) -> dict[str, Any]:
        headers: list[tuple[str, str]] = []
        for raw_name, raw_value in self._start.get("headers") or ():
            name = bytes(raw_name).decode("latin-1").lower()
            value = bytes(raw_value).decode("latin-1")
            if name == "content-length" or name == "content-encoding":
                continue
            if name == "etag" and not value.startswith("W/"):
                value = "W/" + value
            headers.append((name, value))
        headers.append(("content-encoding", "gzip"))
        if length is not None:
            headers.append(("content-length", str(length)))
        add_vary(headers, "Accept-Encoding")
        start = dict(self._start)
        start["headers"] = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        return start
