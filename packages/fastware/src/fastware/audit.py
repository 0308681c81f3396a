"""An append-only audit log: one JSON line per event (``fastware.audit``).

    from fastware.audit import AuditLog

    audit = AuditLog("var/audit.jsonl")
    audit.log("user.login", {"user": "ada", "ip": "203.0.113.9"})
    await audit.alog("flag.changed", {"flag": "beta", "value": True})  # off the event loop

    for event in audit.iter_events(since=datetime(2026, 12, 1, tzinfo=UTC)):
        print(event.timestamp, event.event_type, event.payload)

Each line is ``{"timestamp": "<ISO 8601, +00:00>", "event_type": ..., "payload": ...}``
(``payload`` left out when it is ``None``), encoded with msgspec. Appends are atomic across
threads and processes (every worker of a server can share one file): each line is written
whole under an exclusive ``flock`` on a file opened for appending, so lines never
interleave. A writer killed in the middle of a line leaves a fragment that the next writer
closes off with a newline and that :meth:`AuditLog.iter_events` skips. POSIX only.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

__all__ = ("AuditEvent", "AuditLog")

_logger = logging.getLogger("fastware.audit")
_encode = msgspec.json.Encoder().encode


class AuditEvent(msgspec.Struct, frozen=True):
    """One event read back from the log."""

    timestamp: datetime
    """When it was logged (timezone-aware, UTC)."""
    event_type: str
    """The type given to :meth:`AuditLog.log`."""
    payload: Any = None
    """The payload, as JSON decodes it (``None`` when none was given)."""


_decode = msgspec.json.Decoder(AuditEvent).decode


class AuditLog:
    """An append-only JSON-lines audit log in one file.

    Args:
        path: The file; it and its parent directories are created on the first write.
        fsync: Flush every line to the disk before :meth:`log` returns (slower; survives a
            power cut, not only a crash of the process).
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.path = Path(path)
        """The log file."""
        self.fsync = fsync
        """Whether each write is flushed to the disk."""

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path)!r})"

    def log(self, event_type: str, payload: Any = None) -> None:
        """Append one event.

        Blocking (a file lock and a write): from async code use :meth:`alog`.

        Args:
            event_type: What happened (``"user.login"``).
            payload: Anything msgspec encodes as JSON (dicts, lists, strings, numbers,
                datetimes, Structs, dataclasses...); left out of the line when ``None``.

        Raises:
            TypeError: ``event_type`` is not a string, or ``payload`` cannot be encoded
                (nothing is written then).
            OSError: The file cannot be written.
        """
        if not isinstance(event_type, str):
            raise TypeError(f"event_type must be a str, not {type(event_type).__name__}")
        record: dict[str, Any] = {
            "timestamp": datetime.now(UTC).isoformat(),
            "event_type": event_type,
        }
        if payload is not None:
            record["payload"] = payload
        self._append(_encode(record) + b"\n")

    async def alog(self, event_type: str, payload: Any = None) -> None:
        """:meth:`log` in a worker thread, so the event loop never waits for the disk."""
        await asyncio.to_thread(self.log, event_type, payload)

    def _append(self, line: bytes) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            # A lock per open file, so it excludes other threads as well as other processes;
            # the kernel drops it if this process dies while holding it.
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # a writer died mid-line: keep its fragment apart
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)  # releases the lock

    def iter_events(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        event_type: str | None = None,
    ) -> Iterator[AuditEvent]:
        """The events in the order they were written, optionally filtered.

        Lines that are not complete events (a fragment left by a writer that was killed, a
        line being written right now) are skipped; each skipped complete line is logged as
        a warning on the ``fastware.audit`` logger. A missing file has no events.

        Args:
            since: Only events at or after this time (timezone-aware).
            until: Only events before this time (timezone-aware).
            event_type: Only events of this type.

        Raises:
            ValueError: ``since`` or ``until`` is a naive datetime.
        """
        for name, bound in (("since", since), ("until", until)):
            if bound is not None and bound.utcoffset() is None:
                raise ValueError(
                    f"{name} must be a timezone-aware datetime, e.g. datetime(..., tzinfo=UTC)"
                )
        try:
            stream = self.path.open("rb")
        except FileNotFoundError:
            return
        with stream:
            for number, line in enumerate(stream, 1):
                if not line.endswith(b"\n"):
                    break  # the last line, still being written (or torn at the very end)
                if line == b"\n":
                    continue
                try:
                    event = _decode(line)
                except msgspec.DecodeError:
                    _logger.warning("%s line %d is not an audit event; skipped", self.path, number)
                    continue
                if event.timestamp.utcoffset() is None:
                    event = msgspec.structs.replace(
                        event, timestamp=event.timestamp.replace(tzinfo=UTC)
                    )
                if since is not None and event.timestamp < since:
                    continue
                if until is not None and event.timestamp >= until:
                    continue
                if event_type is not None and event.event_type != event_type:
                    continue
                yield event
