"""Sending a :class:`FileResponse` through either door: ranges, 304, HEAD, 404 when gone.

The ASGI sender stats, opens and reads in worker threads and sends the file in
``chunk_size`` pieces; the RSGI sender lets Granian stream the file from its own runtime.
Both send ``content-type``, ``content-length``, ``content-range`` (for a range),
``content-disposition`` (with a filename), then the response's own headers and cookies.
A 304 sends only the response's own headers; HEAD sends the headers a GET would, without a
body. A file that is missing (or not a regular file) when sending starts answers 404 JSON.
"""

from __future__ import annotations

import asyncio
import os
import stat as stat_module
from typing import IO, Any

from .datastructures import Headers
from .responses import FileResponse, Response
from .types import Scope, Send

__all__ = (
    "asgi_headers",
    "send_file_asgi",
    "send_file_rsgi",
    "send_static_asgi",
    "send_static_rsgi",
)

_JSON = "application/json"
_NOT_FOUND = b'{"detail":"Not found"}'
_NOT_SATISFIABLE = b'{"detail":"Range not satisfiable"}'

# (status, headers, first byte, byte count)
_Plan = tuple[int, list[tuple[str, str]], int, int]


def asgi_headers(scope: Scope) -> Headers:
    """The request headers of an ASGI scope, for ``StaticFiles.respond()``."""
    return Headers.from_asgi(scope.get("headers", ()))


def _stat_regular(path: str) -> os.stat_result:
    info = os.stat(path)
    if not stat_module.S_ISREG(info.st_mode):
        raise IsADirectoryError(path)  # a directory, FIFO or device: never opened
    return info


def _prepare(
    path: str, info: os.stat_result | None, first: int, open_file: bool
) -> tuple[IO[bytes] | None, os.stat_result]:
    """Stat (unless known) and open the file at byte ``first``; one worker-thread hop."""
    if info is None:
        info = _stat_regular(path)  # before open(): opening a FIFO would block
    if not open_file:
        return None, info
    handle = open(path, "rb")  # noqa: SIM115 - closed by the caller
    try:
        if first:
            handle.seek(first)
    except BaseException:
        handle.close()
        raise
    return handle, info


def _plan(response: FileResponse, size: int) -> _Plan | None:
    """What to send for a file of ``size`` bytes; ``None`` for an unsatisfiable range."""
    if response.range is None:
        first, count, status, content_range = 0, size, response.status, None
    else:
        first, last = response.range
        last = min(last, size - 1)
        if first < 0 or first > last:
            return None
        count = last - first + 1
        status, content_range = 206, f"bytes {first}-{last}/{size}"
    headers = [("content-type", response.content_type), ("content-length", str(count))]
    if content_range is not None:
        headers.append(("content-range", content_range))
    disposition = response.disposition()
    if disposition is not None:
        headers.append(("content-disposition", disposition))
    headers.extend(response.extra_headers() or ())
    return status, headers, first, count


def _encode(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]


async def _send_buffered_asgi(
    send: Send,
    status: int,
    content_type: str,
    body: bytes,
    extra: list[tuple[str, str]] | None,
    head: bool,
) -> None:
    headers = [("content-type", content_type), ("content-length", str(len(body)))]
    headers.extend(extra or ())
    await send({"type": "http.response.start", "status": status, "headers": _encode(headers)})
    await send({"type": "http.response.body", "body": b"" if head else body, "more_body": False})


def _send_buffered_rsgi(
    protocol: Any,
    status: int,
    content_type: str,
    body: bytes,
    extra: list[tuple[str, str]] | None,
) -> None:
    headers = [("content-type", content_type), ("content-length", str(len(body)))]
    headers.extend(extra or ())
    protocol.response_bytes(status, headers, body)


def _unsatisfiable(size: int) -> list[tuple[str, str]]:
    return [("content-range", f"bytes */{size}")]


async def send_file_asgi(send: Send, response: FileResponse, head: bool) -> None:
    """Send ``response`` through ASGI ``send``, reading the file in worker threads.

    Args:
        send: The ASGI ``send`` callable.
        response: The file to send (its ``range`` and ``stat`` are honoured).
        head: Whether the request was HEAD: headers only, the file is never opened.
    """
    if response.status == 304:
        unchanged = _encode(response.extra_headers() or [])
        await send({"type": "http.response.start", "status": 304, "headers": unchanged})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    first = response.range[0] if response.range is not None else 0
    try:
        if head and response.stat is not None:
            handle, info = None, response.stat
        else:
            handle, info = await asyncio.to_thread(
                _prepare, response.path, response.stat, max(first, 0), not head
            )
    except OSError:
        await _send_buffered_asgi(send, 404, _JSON, _NOT_FOUND, None, head)
        return
    try:
        plan = _plan(response, info.st_size)
        if plan is None:
            extra = _unsatisfiable(info.st_size)
            await _send_buffered_asgi(send, 416, _JSON, _NOT_SATISFIABLE, extra, head)
            return
        status, headers, _, remaining = plan
        await send({"type": "http.response.start", "status": status, "headers": _encode(headers)})
        if handle is None or remaining == 0:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        chunk_size = max(response.chunk_size, 1)
        try:
            while True:
                chunk = await asyncio.to_thread(handle.read, min(chunk_size, remaining))
                remaining -= len(chunk)
                more = remaining > 0 and bool(chunk)  # a file that shrank ends early
                await send({"type": "http.response.body", "body": chunk, "more_body": more})
                if not more:
                    return
        except Exception:  # the client is gone, or the disk failed: the body cannot be fixed
            return
    finally:
        if handle is not None:
            handle.close()  # closing a regular file does not block; kept off a thread so a
            # cancelled task still closes it


async def send_file_rsgi(protocol: Any, response: FileResponse, head: bool) -> None:
    """Send ``response`` through Granian's RSGI ``protocol``.

    Granian reads and streams the file itself (``response_file``, or
    ``response_file_range`` whose end is exclusive); ``content-length`` is always given,
    since Granian would otherwise send the file chunked. HEAD and 304 use
    ``response_empty``. With ``response.stat`` set the file is not stat-ed again: if it
    disappears in between, Granian answers its own plain-text 404.

    Args:
        protocol: The RSGI HTTP protocol object of the request.
        response: The file to send (its ``range`` and ``stat`` are honoured).
        head: Whether the request was HEAD: headers only.
    """
    if response.status == 304:
        protocol.response_empty(304, response.extra_headers() or [])
        return
    info = response.stat
    if info is None:
        try:
            info = await asyncio.to_thread(_stat_regular, response.path)
        except OSError:
            _send_buffered_rsgi(protocol, 404, _JSON, _NOT_FOUND, None)
            return
    plan = _plan(response, info.st_size)
    if plan is None:
        extra = _unsatisfiable(info.st_size)
        _send_buffered_rsgi(protocol, 416, _JSON, _NOT_SATISFIABLE, extra)
        return
    status, headers, first, count = plan
    if head:
        protocol.response_empty(status, headers)
    elif count == 0:
        protocol.response_bytes(status, headers, b"")
    elif response.range is not None:
        protocol.response_file_range(status, headers, response.path, first, first + count)
    else:
        protocol.response_file(status, headers, response.path)


async def send_static_asgi(send: Send, response: Response | None, head: bool) -> None:
    """Send whatever ``StaticFiles.respond()`` returned; ``None`` answers 404 JSON.

    Args:
        send: The ASGI ``send`` callable.
        response: A :class:`FileResponse`, a buffered response, or ``None``.
        head: Whether the request was HEAD (no body is sent).
    """
    if response is None:
        await _send_buffered_asgi(send, 404, _JSON, _NOT_FOUND, None, head)
    elif isinstance(response, FileResponse):
        await send_file_asgi(send, response, head)
    else:
        status, content_type, body, extra = response.rendered()
        await _send_buffered_asgi(send, status, content_type, body, extra, head)


async def send_static_rsgi(protocol: Any, response: Response | None, head: bool) -> None:
    """The RSGI twin of :func:`send_static_asgi` (Granian drops bodies of HEAD answers)."""
    if response is None:
        _send_buffered_rsgi(protocol, 404, _JSON, _NOT_FOUND, None)
    elif isinstance(response, FileResponse):
        await send_file_rsgi(protocol, response, head)
    else:
        status, content_type, body, extra = response.rendered()
        _send_buffered_rsgi(protocol, status, content_type, body, extra)
