"""The ``text/event-stream`` wire format: events, comments and the ``retry:`` hint.

An event is an optional ``id:`` line, an ``event:`` line, one ``data:`` line for each line of
the payload (split at ``\\r\\n``, ``\\r`` and ``\\n``, exactly where a browser splits), then a
blank line. A comment is a line starting with ``:``; browsers ignore it.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from .exceptions import EventValidationError

__all__ = (
    "HEARTBEAT",
    "encode_payload",
    "format_comment",
    "format_event",
    "format_retry",
    "validate_event_name",
)

HEARTBEAT = b": heartbeat\n\n"
"""The comment sent when a client has had nothing for ``heartbeat_interval`` seconds."""

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_encoder = msgspec.json.Encoder()


def encode_payload(data: Any) -> str:
    """The text of an event's data: a ``str`` verbatim, anything else as compact JSON.

    Dicts, lists, numbers, booleans, ``None``, msgspec Structs, dataclasses and everything
    else msgspec can encode are accepted.

    Raises:
        EventValidationError: ``data`` cannot be encoded as JSON.
    """
    if type(data) is str:
        return data
    try:
        return _encoder.encode(data).decode("utf-8")
    except (TypeError, ValueError, OverflowError) as exc:
        raise EventValidationError(
            f"cannot encode a {type(data).__name__} as event data: {exc}"
        ) from None


def validate_event_name(name: str) -> str:
    """Check that ``name`` can be sent in an ``event:`` line and return it.

    Raises:
        ValueError: the name is empty, not a string, or holds a line break or NUL.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"an event name must be a non-empty string, got {name!r}")
    if "\n" in name or "\r" in name or "\x00" in name:
        raise ValueError(f"an event name cannot hold CR, LF or NUL: {name!r}")
    return name


def format_event(event: str, data: str, id: str | None = None) -> bytes:
    """One event as it goes on the wire (UTF-8).

    Args:
        event: The event type (the browser's ``addEventListener`` name).
        data: The payload text; each of its lines becomes a ``data:`` line.
        id: The event id; the browser sends it back as ``Last-Event-ID`` on reconnect.
    """
    parts = [] if id is None else ["id: ", id, "\n"]
    parts += ("event: ", event, "\n")
    if "\n" in data or "\r" in data:
        for line in _LINE_BREAK.split(data):
            parts += ("data: ", line, "\n")
    else:
        parts += ("data: ", data, "\n")
    parts.append("\n")
    return "".join(parts).encode("utf-8")


def format_comment(text: str) -> bytes:
    """A comment (``: text``) that keeps the connection busy; browsers ignore it."""
    return "".join(f": {line}\n" for line in _LINE_BREAK.split(text)).encode("utf-8") + b"\n"


def format_retry(seconds: float) -> bytes:
    """The ``retry:`` field that sets the browser's reconnection delay."""
    return f"retry: {max(0, round(seconds * 1000))}\n\n".encode("ascii")
