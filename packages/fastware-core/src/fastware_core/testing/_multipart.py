"""``multipart/form-data`` bodies for the test clients' ``files=``, as httpx builds them."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

__all__ = ("FilesArg", "encode_multipart")

FileContent = IO[bytes] | IO[str] | bytes | str
FileValue = (
    FileContent
    | tuple[str | None, FileContent]
    | tuple[str | None, FileContent, str | None]
    | tuple[str | None, FileContent, str | None, Mapping[str, str]]
)
FilesArg = Mapping[str, FileValue] | Sequence[tuple[str, FileValue]]
"""Uploads, as httpx takes them: ``{"field": value}`` or ``[("field", value), ...]`` (a
field may repeat). A value is the content (bytes, str or an open file), or a tuple
``(filename, content)``, ``(filename, content, content_type)`` or ``(filename, content,
content_type, headers)``. Without a filename an open file's own name is used; without a
content type it is guessed from the filename (``application/octet-stream`` otherwise)."""


def _quote(value: str) -> str:
    # The HTML form encoding of names in Content-Disposition (what browsers and httpx send).
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _as_bytes(content: FileContent) -> bytes:
    if isinstance(content, bytes):
        return content
    if isinstance(content, str):
        return content.encode("utf-8")
    data = content.read()
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def _pairs(values: Mapping[str, Any] | Sequence[tuple[str, Any]]) -> Iterable[tuple[str, Any]]:
    return values.items() if isinstance(values, Mapping) else values


def _part_head(name: str, filename: str | None, content_type: str | None) -> str:
    head = f'Content-Disposition: form-data; name="{_quote(name)}"'
    if filename is not None:
        head += f'; filename="{_quote(filename)}"'
    if content_type is not None:
        head += f"\r\nContent-Type: {content_type}"
    return head


def encode_multipart(
    data: Mapping[str, Any] | None, files: FilesArg, boundary: str | None = None
) -> tuple[bytes, str]:
    """``(body, content type)`` of a form with ``data``'s fields (a list value repeats the
    field), then ``files``' uploads."""
    boundary = boundary or os.urandom(16).hex()
    parts: list[tuple[str, bytes]] = []
    for name, value in _pairs(data or {}):
        for item in value if isinstance(value, list | tuple) else [value]:
            text = item if isinstance(item, str) else str(item)
            parts.append((_part_head(name, None, None), text.encode("utf-8")))
    for name, value in _pairs(files):
        filename: str | None = None
        content_type: str | None = None
        extra: Mapping[str, str] = {}
        if isinstance(value, tuple):
            filename, content = value[0], value[1]
            if len(value) > 2:
                content_type = value[2]
            if len(value) > 3:
                extra = value[3]
        else:
            content = value
            own = getattr(content, "name", None)
            filename = os.path.basename(own) if isinstance(own, str) else "upload"
        if content_type is None and filename is not None:  # (None, value): a plain field
            content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        head = _part_head(name, filename, content_type)
        for key, header in extra.items():
            head += f"\r\n{key}: {header}"
        parts.append((head, _as_bytes(content)))
    body = b"".join(
        b"--%s\r\n%s\r\n\r\n%s\r\n" % (boundary.encode(), head.encode("utf-8"), payload)
        for head, payload in parts
    )
    body += b"--%s--\r\n" % boundary.encode()
    return body, f"multipart/form-data; boundary={boundary}"
