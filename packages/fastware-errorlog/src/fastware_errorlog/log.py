"""``ErrorLog``: an SQLite error log that loses nothing.

``append`` and ``record`` only put a row on a bounded in-memory queue (a few microseconds on
the event loop); one writer thread per process formats tracebacks, computes fingerprints and
writes batches in ``BEGIN IMMEDIATE`` transactions. The database runs in WAL mode with a busy
timeout, so workers, other processes and the CLI share one file.

What keeps rows from being lost:

- rows still queued are written by :meth:`ErrorLog.close`, which runs at lifespan shutdown
  (``fastware.create_app``) and at interpreter exit (``atexit``), so a process that exits,
  or a Granian worker stopped with SIGTERM, leaves its rows on disk;
- a write that fails (unwritable path, a directory in the way, a corrupt file, a lock held
  longer than the busy timeout) is logged once, with what to do, and retried with backoff;
  the rows stay queued and are written when the cause goes away. Nothing already stored is
  ever deleted or rewritten;
- the queue is bounded (``max_queue``): when it is full, new rows are dropped, counted
  (:attr:`ErrorLog.dropped`), logged, and recorded as one ``kind="dropped"`` row once the
  writer catches up.
"""

from __future__ import annotations

import atexit
import linecache
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from fastware_core.exceptions import FastwareError
from fastware_core.recording import ErrorContext

from . import records
from ._schema import connect, ensure_schema
from .fingerprint import fingerprint, fingerprint_request
from .records import ErrorFilter, ErrorGroup, ErrorRecord, ErrorStats

__all__ = (
    "DEFAULT_PATH",
    "MAX_DETAIL",
    "MAX_HEADERS",
    "MAX_PATH",
    "MAX_TRACEBACK",
    "REDACTED_HEADERS",
    "ErrorLog",
    "ErrorLogError",
    "ErrorLogStatus",
)

logger = logging.getLogger("fastware.errorlog")

DEFAULT_PATH = Path(".fastware-errors.db")
"""Where ``fastware.create_app`` keeps its error log (``FASTWARE_ERROR_LOG`` overrides)."""

MAX_TRACEBACK = 64 * 1024
"""Longest traceback stored, in characters: longer ones keep their first 8 KiB and their
last 56 KiB (the innermost frames) around a ``[... N characters truncated ...]`` marker."""
MAX_DETAIL = 4 * 1024
"""Longest ``detail`` stored, in characters."""
MAX_PATH = 2 * 1024
"""Longest ``path`` stored, in characters."""
MAX_HEADERS = 8 * 1024
"""Largest header set stored (JSON characters); beyond it the headers are left out."""
_MAX_SHORT = 256  # method, request id, user, task name, exception type
MAX_FRAMES = 200
"""Frames kept per traceback (the innermost ones)."""

REDACTED_HEADERS = frozenset(
    {
        "authorization",
        "cookie",
        "set-cookie",
        "proxy-authorization",
        "x-api-key",
        "x-auth-token",
        "x-csrf-token",
        "x-xsrf-token",
    }
)
"""Request headers whose values are never stored (the name is kept, the value redacted)."""

_BATCH = 500
_STOP = object()


class ErrorLogError(FastwareError):
    """The error log cannot write its database (the message says why and what to do)."""


class ErrorLogStatus(msgspec.Struct, frozen=True, kw_only=True):
    """The writer's health, from :meth:`ErrorLog.status`."""

    path: str
    """The database file."""
    queued: int
    """Rows waiting to be written."""
    written: int
    """Rows this process wrote."""
    dropped: int
    """Rows dropped because the queue was full."""
    failing: str | None
    """Why writing fails right now (``None`` when it works)."""


class _Flush:
    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: BaseException | None = None


class ErrorLog:
    """An SQLite error log; also a fastware-core ``ErrorRecorder`` and ``ErrorSink``.

    Nothing touches the disk until the first row or query.

    Args:
        path: The database file (its directory is created when missing).
        busy_timeout: Seconds a write or read waits for another process's lock.
        max_queue: Rows held in memory at most; more are dropped and counted.
        max_age: Retention: rows older than this many seconds are deleted (``None``: keep).
        max_rows: Retention: only the newest this many rows are kept (``None``: all).
        min_status: The lowest ``HTTPError`` status recorded (500; 400 to record 4xx too).
        prune_interval: Seconds between retention passes of the writer thread.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = DEFAULT_PATH,
        *,
        busy_timeout: float = 5.0,
        max_queue: int = 10_000,
        max_age: float | None = None,
        max_rows: int | None = None,
        min_status: int = 500,
        prune_interval: float = 60.0,
    ) -> None:
        if max_queue < 1:
            raise ValueError(f"max_queue must be at least 1, not {max_queue}")
        if max_age is not None and max_age <= 0:
            raise ValueError(f"max_age must be positive seconds, not {max_age}")
        if max_rows is not None and max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, not {max_rows}")
        self.path = Path(os.fspath(path))
        """The database file."""
        self.busy_timeout = busy_timeout
        self.max_queue = max_queue
        self.max_age = max_age
        self.max_rows = max_rows
        self.min_status = min_status
        """The lowest HTTPError status recorded (fastware-core reads it)."""
        self.prune_interval = prune_interval
        self.retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
        """Seconds between write attempts after a failure (the last one repeats)."""
        self._queue: deque[Any] = deque()
        self._wakeup = threading.Event()
        self._kick = threading.Event()  # cuts a retry wait short (flush, close)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._backlog = 0  # rows the writer took but has not written yet
        self._dropped = 0
        self._dropped_noted = 0
        self._written = 0
        self._failing: str | None = None
        self._pid = os.getpid()
        _LIVE.add(self)

    # -- writing (any thread, the event loop included) ------------------------------------------

    def append(
        self,
        *,
        method: str,
        path: str,
        status_code: int,
        detail: str = "",
        request_id: str = "",
        user: str = "",
        traceback: str = "",
    ) -> None:
        """Queue one row (0.6.3's API). Returns at once; never raises for a full queue."""
        self._put((time.time(), method, path, status_code, detail, request_id, user, traceback))

    def record(self, exc: BaseException, context: ErrorContext) -> None:
        """Queue one exception with its context (fastware-core's ``ErrorRecorder``).

        Only a summary of the traceback (file, line and function of each frame) is taken
        here; source lines are read and the text formatted by the writer thread. The
        exception and its frames are not kept: holding them would keep the request's
        objects alive (and Granian's RSGI WebSocket close waits for them to be released).
        """
        captured = _capture(exc)
        self._put((time.time(), captured, context))

    def _put(self, item: Any) -> None:
        if self._pid != os.getpid():
            self._after_fork()
        queue = self._queue
        if len(queue) + self._backlog >= self.max_queue:
            self._dropped += 1
            if self._dropped - self._dropped_noted == 1:
                logger.warning(
                    "The error log queue is full (%d rows waiting for %s): dropping new rows "
                    "until the writer catches up; the count is recorded",
                    self.max_queue,
                    self.path,
                )
            return
        queue.append(item)
        if self._thread is None:
            self._start()
        self._wakeup.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="fastware-errorlog", daemon=True)
                thread.start()
                self._thread = thread

    def _after_fork(self) -> None:
        # A forked worker inherits the queue but not the thread: start afresh.
        self._pid = os.getpid()
        self._queue = deque()
        self._wakeup = threading.Event()
        self._kick = threading.Event()
        self._lock = threading.Lock()
        self._thread = None
        self._backlog = 0

    def flush(self, timeout: float | None = 30.0) -> None:
        """Wait until every row queued so far is written.

        Raises:
            ErrorLogError: when the writer cannot write them (they stay queued and are
                retried), or when ``timeout`` seconds passed first.
        """
        if self._pid != os.getpid():
            self._after_fork()
        marker = _Flush()
        self._queue.append(marker)
        if self._thread is None:
            self._start()
        self._wakeup.set()
        self._kick.set()
        if not marker.done.wait(timeout):
            raise ErrorLogError(
                f"the error log {self.path} did not finish writing within {timeout} s "
                f"({self._failing or 'the writer is busy'})"
            )
        if marker.error is not None:
            raise ErrorLogError(_explain(self.path, marker.error)) from marker.error

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued and stop the writer (a later row starts it again).

        Waits at most ``timeout`` seconds; rows that could not be written by then are logged
        as lost.
        """
        if self._pid != os.getpid():
            return
        if self._thread is None:
            if not any(type(item) is tuple for item in list(self._queue)):
                return
            self._start()
        thread = self._thread
        if thread is None:  # pragma: no cover - it stopped on its own meanwhile
            return
        self._queue.append(_STOP)
        self._wakeup.set()
        self._kick.set()
        thread.join(timeout)

    @property
    def dropped(self) -> int:
        """Rows dropped because the queue was full, since this log was created."""
        return self._dropped

    def status(self) -> ErrorLogStatus:
        """The writer's health: queued, written and dropped rows, and any current failure."""
        return ErrorLogStatus(
            path=str(self.path),
            queued=_rows_in(self._queue) + self._backlog,
            written=self._written,
            dropped=self._dropped,
            failing=self._failing,
        )

    # -- the writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        pending: list[Any] = []  # rows taken off the queue, not written yet
        markers: list[_Flush] = []
        failures = 0
        stopping = False
        last_prune = 0.0
        retention = self.max_age is not None or self.max_rows is not None
        while True:
            if not pending and not stopping and not self._queue:
                self._wakeup.wait(self.prune_interval if retention else None)
            self._wakeup.clear()
            queue = self._queue
            while queue and len(pending) < _BATCH:
                item = queue.popleft()
                if item is _STOP:
                    stopping = True
                elif type(item) is _Flush:
                    markers.append(item)
                else:
                    pending.append(item)
            self._backlog = len(pending)
            note = self._dropped - self._dropped_noted
            if not pending and not note:
                for marker in markers:
                    marker.done.set()
                markers.clear()
                if retention and time.monotonic() - last_prune >= self.prune_interval:
                    conn, last_prune = self._prune_quietly(conn), time.monotonic()
                if stopping and not queue:
                    break
                continue
            try:
                if conn is None:
                    conn = self._open()
                self._write(conn, pending, note)
            except Exception as exc:
                if conn is not None:
                    conn.close()
                    conn = None
                self._failed(exc, len(pending) + _rows_in(queue))
                for marker in markers:
                    marker.error = exc
                    marker.done.set()
                markers.clear()
                failures += 1
                if stopping:
                    logger.error(
                        "fastware-errorlog: %d rows could not be written to %s before exit: %s",
                        len(pending) + _rows_in(queue),
                        self.path,
                        _explain(self.path, exc),
                    )
                    break
                delay = self.retry_delays[min(failures, len(self.retry_delays)) - 1]
                self._kick.wait(delay)
                self._kick.clear()
                continue
            written = len(pending)
            pending.clear()
            self._backlog = 0
            self._dropped_noted += note
            self._written += written
            if failures:
                logger.warning(
                    "fastware-errorlog writes to %s again (%d rows written after the failure)",
                    self.path,
                    written,
                )
                failures = 0
                self._failing = None
            for marker in markers:
                marker.done.set()
            markers.clear()
            if retention and time.monotonic() - last_prune >= self.prune_interval:
                conn, last_prune = self._prune_quietly(conn), time.monotonic()
            if stopping and not queue:
                break
        if conn is not None:
            conn.close()
        with self._lock:
            if self._thread is threading.current_thread():
                self._thread = None

    def _open(self) -> sqlite3.Connection:
        if not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect(self.path, self.busy_timeout)
        try:
            ensure_schema(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _write(self, conn: sqlite3.Connection, pending: list[Any], dropped: int) -> None:
        rows = [_row(item) for item in pending]
        if dropped:
            rows.append(_dropped_row(dropped, self.max_queue))
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(_INSERT, rows)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _failed(self, exc: BaseException, waiting: int) -> None:
        message = _explain(self.path, exc)
        if message != self._failing:
            self._failing = message
            logger.error(
                "fastware-errorlog cannot write %s: %s. The app keeps serving; %d rows wait "
                "in memory (at most %d) and are retried.",
                self.path,
                message,
                waiting,
                self.max_queue,
            )

    def _prune_quietly(self, conn: sqlite3.Connection | None) -> sqlite3.Connection | None:
        try:
            if conn is None:
                conn = self._open()
            _prune(conn, self.max_age, self.max_rows)
        except Exception as exc:
            logger.warning("fastware-errorlog could not prune %s: %s", self.path, exc)
            if conn is not None:
                conn.close()
            return None
        return conn

    # -- reading and pruning (blocking: call from a thread in async code) ------------------------

    def _read(self) -> sqlite3.Connection | None:
        try:
            conn = connect(self.path, self.busy_timeout, readonly=True)
        except FileNotFoundError:
            return None
        except sqlite3.Error as exc:
            raise ErrorLogError(_explain(self.path, exc)) from exc
        try:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version < 1:
                present = conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'errors'"
                ).fetchone()
                conn.close()
                if present is None:
                    return None
                # A 0.6.3 file: migrate it (a write) before reading.
                writer = connect(self.path, self.busy_timeout)
                try:
                    ensure_schema(writer)
                finally:
                    writer.close()
                conn = connect(self.path, self.busy_timeout, readonly=True)
        except sqlite3.Error as exc:
            conn.close()
            raise ErrorLogError(_explain(self.path, exc)) from exc
        return conn

    def _query(self, run: Any, empty: Any) -> Any:
        conn = self._read()
        if conn is None:
            return empty
        try:
            return run(conn)
        except sqlite3.Error as exc:
            raise ErrorLogError(_explain(self.path, exc)) from exc
        finally:
            conn.close()

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest rows as dicts with every column (0.6.3's API; flushes first)."""
        self._flush_quietly()
        return [r.to_dict() for r in self.query(limit=limit)]

    def query(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        status: int | str | None = None,
        path: str | None = None,
        fingerprint: str | None = None,
        kind: str | None = None,
        limit: int = 50,
        offset: int = 0,
        before_id: int | None = None,
    ) -> list[ErrorRecord]:
        """Rows matching the filters, newest first (``before_id`` pages stably)."""
        where = ErrorFilter(since, until, status, path, fingerprint, kind)
        return list(
            self._query(
                lambda c: records.select_records(
                    c, where, limit=limit, offset=offset, before_id=before_id
                ),
                [],
            )
        )

    def count(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        status: int | str | None = None,
        path: str | None = None,
        fingerprint: str | None = None,
        kind: str | None = None,
    ) -> int:
        """How many rows match the filters."""
        where = ErrorFilter(since, until, status, path, fingerprint, kind)
        return int(self._query(lambda c: records.count_records(c, where), 0))

    def get(self, error_id: int) -> ErrorRecord | None:
        """One row by id, or ``None``."""
        return self._query(lambda c: records.select_record(c, error_id), None)  # type: ignore[no-any-return]

    def groups(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        status: int | str | None = None,
        path: str | None = None,
        kind: str | None = None,
        limit: int = 50,
        offset: int = 0,
        order: str = "last",
    ) -> list[ErrorGroup]:
        """Errors grouped by fingerprint: how often, first and last seen.

        ``order="last"`` puts the most recently seen group first, ``"count"`` the largest.
        """
        if order not in ("last", "count"):
            raise ValueError(f"order must be 'last' or 'count', not {order!r}")
        where = ErrorFilter(since, until, status, path, None, kind)
        return list(
            self._query(
                lambda c: records.select_groups(c, where, limit=limit, offset=offset, order=order),
                [],
            )
        )

    def count_groups(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        status: int | str | None = None,
        path: str | None = None,
        kind: str | None = None,
    ) -> int:
        """How many groups match the filters."""
        where = ErrorFilter(since, until, status, path, None, kind)
        return int(self._query(lambda c: records.count_groups(c, where), 0))

    def stats(
        self, *, since: float | None = None, until: float | None = None, top: int = 10
    ) -> ErrorStats:
        """Totals over a time window: per status, per kind, and the top groups."""
        where = ErrorFilter(since, until)
        empty = ErrorStats(
            since=since, until=until, total=0, groups=0, by_status={}, by_kind={}, top=[]
        )
        return self._query(lambda c: records.compute_stats(c, where, top=top), empty)  # type: ignore[no-any-return]

    def prune(self, *, older_than: float | None = None, keep: int | None = None) -> int:
        """Delete rows older than ``older_than`` seconds and/or all but the newest ``keep``;
        return how many were deleted. Without arguments the configured retention applies."""
        if older_than is None and keep is None:
            older_than, keep = self.max_age, self.max_rows
        if not self.path.exists():
            return 0
        try:
            conn = connect(self.path, self.busy_timeout)
            try:
                ensure_schema(conn)
                return _prune(conn, older_than, keep)
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise ErrorLogError(_explain(self.path, exc)) from exc

    def _flush_quietly(self) -> None:
        if self._thread is not None or self._queue:
            try:
                self.flush()
            except ErrorLogError as exc:
                logger.warning("%s; reading what is stored", exc)

    def __repr__(self) -> str:
        return f"ErrorLog({str(self.path)!r})"


_INSERT = (
    "INSERT INTO errors (timestamp, method, path, status_code, detail, request_id, user,"
    " traceback, kind, exception_type, fingerprint, headers, task, pid)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _row(item: tuple[Any, ...]) -> tuple[Any, ...]:
    """A queued item as the values of :data:`_INSERT` (runs on the writer thread)."""
    if len(item) == 3:
        return _exception_row(*item)
    timestamp, method, path, status, detail, request_id, user, traceback = item
    method, path = _short(method), _clip(_text(path), MAX_PATH)
    status = _int(status)
    return (
        float(timestamp),
        method,
        path,
        status,
        _clip(_text(detail), MAX_DETAIL),
        _short(request_id),
        _short(user),
        _clip_traceback(_text(traceback)),
        "appended",
        "",
        fingerprint_request(status, method, path),
        "",
        "",
        os.getpid(),
    )


def _exception_row(timestamp: float, captured: _Captured, context: ErrorContext) -> tuple[Any, ...]:
    try:
        text = _format(captured)
    except Exception as format_error:  # pragma: no cover - defensive
        text = f"{captured.type_name}: <the traceback could not be formatted: {format_error!r}>"
    type_name, message = captured.type_name, captured.message
    frames = [(file, name) for file, _, name in captured.frames]
    detail = context.detail or message
    if context.detail and message and context.detail not in message:
        detail = f"{context.detail}: {message}"
    return (
        float(timestamp),
        _short(context.method),
        _clip(_text(context.path), MAX_PATH),
        _int(context.status_code),
        _clip(_text(detail), MAX_DETAIL),
        _short(context.request_id),
        _short(_user_text(context.user)),
        _clip_traceback(_text(text)),
        _short(context.kind) or "http",
        _short(type_name),
        fingerprint(type_name, frames),
        _headers_json(context.headers),
        _short(context.task),
        os.getpid(),
    )


class _Captured:
    """What is kept of an exception until the writer formats it: no frame, no object."""

    __slots__ = ("cause", "context", "frames", "message", "type_name")

    def __init__(
        self,
        type_name: str,
        message: str,
        frames: list[tuple[str, int, str]],
        cause: _Captured | None,
        context: _Captured | None,
    ) -> None:
        self.type_name = type_name
        self.message = message
        self.frames = frames
        self.cause = cause
        self.context = context


def _capture(exc: BaseException, seen: set[int] | None = None, depth: int = 0) -> _Captured:
    """Type, message, ``(file, line, function)`` of the innermost :data:`MAX_FRAMES` frames,
    and the chained exceptions (cause or context). A few µs: source lines are read later."""
    seen = set() if seen is None else seen
    seen.add(id(exc))
    kind = type(exc)
    module, name = kind.__module__, kind.__qualname__
    type_name = name if module in ("builtins", "__main__") else f"{module}.{name}"
    try:
        message = str(exc)
    except Exception:
        message = f"<{type_name} whose str() fails>"
    frames: deque[tuple[str, int, str]] = deque(maxlen=MAX_FRAMES)
    trace = exc.__traceback__
    while trace is not None:
        code = trace.tb_frame.f_code
        frames.append((code.co_filename, trace.tb_lineno, code.co_name))
        trace = trace.tb_next
    cause = context = None
    if depth < 10:
        if exc.__cause__ is not None and id(exc.__cause__) not in seen:
            cause = _capture(exc.__cause__, seen, depth + 1)
        elif (
            exc.__context__ is not None
            and not exc.__suppress_context__
            and id(exc.__context__) not in seen
        ):
            context = _capture(exc.__context__, seen, depth + 1)
    return _Captured(type_name, message, list(frames), cause, context)


def _format(captured: _Captured) -> str:
    """Python's traceback layout, source lines included (runs on the writer thread)."""
    parts: list[str] = []
    if captured.cause is not None:
        parts += [
            _format(captured.cause),
            "\nThe above exception was the direct cause of the following exception:\n\n",
        ]
    elif captured.context is not None:
        parts += [
            _format(captured.context),
            "\nDuring handling of the above exception, another exception occurred:\n\n",
        ]
    if captured.frames:
        parts.append("Traceback (most recent call last):\n")
        for file, line, name in captured.frames:
            parts.append(f'  File "{file}", line {line}, in {name}\n')
            source = linecache.getline(file, line).strip()
            if source:
                parts.append(f"    {source}\n")
    parts.append(
        f"{captured.type_name}: {captured.message}\n"
        if captured.message
        else f"{captured.type_name}\n"
    )
    return "".join(parts)


def _dropped_row(count: int, capacity: int) -> tuple[Any, ...]:
    detail = (
        f"{count} errors were dropped: the queue was full ({capacity} rows waiting). "
        "Raise ErrorLog(max_queue=...) or find the error storm."
    )
    return (
        time.time(),
        "",
        "",
        0,
        detail,
        "",
        "",
        "",
        "dropped",
        "",
        "dropped",
        "",
        "",
        os.getpid(),
    )


def _prune(conn: sqlite3.Connection, max_age: float | None, max_rows: int | None) -> int:
    deleted = 0
    if max_age is not None:
        cutoff = time.time() - max_age
        while True:  # in chunks, so other writers are never blocked for long
            cursor = conn.execute(
                "DELETE FROM errors WHERE id IN (SELECT id FROM errors WHERE timestamp < ? "
                "LIMIT 5000)",
                (cutoff,),
            )
            deleted += cursor.rowcount
            if cursor.rowcount < 5000:
                break
    if max_rows is not None:
        row = conn.execute(
            "SELECT id FROM errors ORDER BY id DESC LIMIT 1 OFFSET ?", (max_rows - 1,)
        ).fetchone()
        if row is not None:
            while True:
                cursor = conn.execute(
                    "DELETE FROM errors WHERE id IN (SELECT id FROM errors WHERE id < ? "
                    "LIMIT 5000)",
                    (row[0],),
                )
                deleted += cursor.rowcount
                if cursor.rowcount < 5000:
                    break
    return deleted


def _rows_in(queue: deque[Any]) -> int:
    return sum(1 for item in list(queue) if type(item) is tuple)


def _text(value: Any) -> str:
    """Text SQLite can store: lone surrogates (undecodable bytes) become ``\\udcxx``."""
    text = value if isinstance(value, str) else str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _short(value: Any) -> str:
    return _clip(_text(value if value is not None else ""), _MAX_SHORT)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    marker = f" [... {len(text) - limit} characters truncated]"
    return text[: max(0, limit - len(marker))] + marker


def _clip_traceback(text: str) -> str:
    if len(text) <= MAX_TRACEBACK:
        return text
    head = MAX_TRACEBACK // 8
    tail = MAX_TRACEBACK - head - 64
    cut = len(text) - head - tail
    return f"{text[:head]}\n[... {cut} characters truncated ...]\n{text[-tail:]}"


def _user_text(user: Any) -> str:
    if user is None:
        return ""
    if isinstance(user, str):
        return user
    if isinstance(user, Mapping):
        for key in ("username", "email", "sub", "id", "name"):
            if user.get(key):
                return str(user[key])
        return ""
    for attribute in ("username", "email", "sub", "id", "name"):
        value = getattr(user, attribute, None)
        if value:
            return str(value)
    return str(user)


def _headers_json(headers: Iterable[tuple[str, str]]) -> str:
    kept = [
        (name, "[redacted]" if name.lower() in REDACTED_HEADERS else _clip(_text(value), 1024))
        for name, value in headers
    ]
    encoded = msgspec.json.encode(kept).decode()
    if len(encoded) > MAX_HEADERS:
        return msgspec.json.encode([["[headers]", "too large to store"]]).decode()
    return encoded


def _explain(path: Path, exc: BaseException) -> str:
    """What went wrong and what to do, in one line."""
    text = str(exc) or type(exc).__name__
    where = path.resolve() if not path.is_absolute() else path
    if where.is_dir():
        return f"{text}: {where} is a directory; remove it or choose another path"
    if where.parent.exists() and not where.parent.is_dir():
        return f"{text}: {where.parent} is a file, not a directory; move it or choose another path"
    if isinstance(exc, sqlite3.OperationalError):
        lowered = text.lower()
        if "locked" in lowered or "busy" in lowered:
            return (
                f"{text}: another process holds a lock on {where} for longer than the busy "
                "timeout; it is retried (raise busy_timeout, or stop the process holding it)"
            )
        if "unable to open" in lowered or "readonly" in lowered or "read-only" in lowered:
            return (
                f"{text}: check that {where.parent} exists and is writable by this process, "
                "or choose another path"
            )
        if "disk" in lowered and "full" in lowered:
            return f"{text}: free space on the disk holding {where}"
    if isinstance(exc, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text):
        return (
            f"{text}: {where} is not a valid SQLite database; it is left untouched. "
            "Move it aside (it may hold old rows) and the log starts a new file"
        )
    return f"{type(exc).__name__}: {text}"


# -- every live log is written out at interpreter exit ---------------------------------------

_LIVE: weakref.WeakSet[ErrorLog] = weakref.WeakSet()


def _close_all() -> None:
    for log in list(_LIVE):
        try:
            log.close()
        except Exception:  # pragma: no cover - exit must go on
            logger.exception("fastware-errorlog: closing %s at exit failed", log.path)


atexit.register(_close_all)
