"""Request timing: a counter, a bounded history, slow-path statistics and 5xx reporting."""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol

from fastware_core.recording import RECORDED_KEY
from fastware_core.types import ASGIApp

from .base import Connection, HookMiddleware, PathPrefixes

__all__ = ("ErrorSink", "RequestTimingMiddleware", "TimingRecord")

logger = logging.getLogger("fastware.timing")
_wall_time = time.time
_perf_counter = time.perf_counter
_DEBUG = logging.DEBUG


def _debug_enabled() -> bool:
    """Whether ``fastware.timing`` logs DEBUG records (logging's answer, uncached)."""
    return logger.isEnabledFor(_DEBUG)


# logging keeps each logger's answer per level in ``Logger._cache`` and empties it whenever
# any level changes; reading it first skips a call per request.
_level_cache: dict[int, bool] = getattr(logger, "_cache", {})

TimingRecord = tuple[float, str, str, int, float]
"""``(time.time(), method, path, status, duration_ms)`` with the duration rounded to 2 places."""


class ErrorSink(Protocol):
    """Where 5xx responses are reported, e.g. fastware-errorlog's ``ErrorLog``."""

    def append(
        self, *, method: str, path: str, status_code: int, detail: str, request_id: str
    ) -> object:
        """Record one failed request."""


class RequestTimingMiddleware(HookMiddleware):
    """Count and time HTTP requests; report 5xx responses to an error sink.

    When a response has been fully sent (a stream counts when it ends):

    - :attr:`request_count` goes up by one, for every request;
    - unless the path is excluded, a :data:`TimingRecord` is appended to
      :attr:`request_history` (a deque holding the last ``maxlen``) and a DEBUG record is
      logged on the ``fastware.timing`` logger;
    - for a status of 500 or more, ``error_log.append(method=, path=, status_code=,
      detail="<METHOD> <path> returned <status>", request_id=)`` is called; an exception it
      raises is logged, never passed on to the request.

    Args:
        app: The ASGI app to wrap (``None`` when the app drives the hooks itself).
        error_log: Any object with a compatible ``append`` method.
        exclude_paths: Path prefixes left out of the history, matched at a ``/`` boundary
            (``/health`` covers ``/health`` and ``/health/db``, not ``/healthz``).
        maxlen: How many records :attr:`request_history` keeps.
    """

    def __init__(
        self,
        app: ASGIApp | None = None,
        *,
        error_log: ErrorSink | None = None,
        exclude_paths: Sequence[str] | None = None,
        maxlen: int = 10000,
    ) -> None:
        super().__init__(app)
        self._excluded = PathPrefixes(exclude_paths)
        self.error_log = error_log
        self.request_count = 0
        """Requests finished since start, excluded paths included."""
        self._history: deque[TimingRecord] = deque(maxlen=maxlen)
        self.pending: deque[tuple[float, str, str, int, float]] = deque(maxlen=maxlen)
        """Finished requests not yet turned into :data:`TimingRecord` entries: ``(ended,
        method, path, status, started)``, both times ``time.perf_counter()`` readings.
        Rounding and the wall clock wait until somebody reads the history; with the same
        maxlen, the records that survive are the same. The doors append to it directly
        while :attr:`log_levels` says DEBUG is off (see :meth:`finished`)."""
        self.log_levels: dict[int, bool] = _level_cache
        """``logging``'s per-level answers for the ``fastware.timing`` logger (emptied on
        every level change; a level missing from it is unknown)."""
        self.records_every_path = not self._excluded
        """Whether no path is excluded from the history."""

    @property
    def request_history(self) -> deque[TimingRecord]:
        """The most recent :data:`TimingRecord` entries, oldest first (at most ``maxlen``)."""
        pending = self.pending
        if pending:
            # perf_counter readings to wall-clock time: the offset between the two clocks now
            offset = _wall_time() - _perf_counter()
            self._history.extend(
                (
                    ended + offset,
                    method,
                    path,
                    status,
                    int((ended - started) * 100000.0 + 0.5) / 100.0,
                )
                for ended, method, path, status, started in pending
            )
            pending.clear()
        return self._history

    def is_excluded(self, path: str) -> bool:
        """Whether ``path`` is one of ``exclude_paths`` or below one of them."""
        return path in self._excluded

    def finished(self, conn: Connection, status: int, seconds: float) -> None:
        """Record one finished request.

        When this is an app's only finished hook and no path is excluded, the doors do the
        commonest case themselves, for a fraction of a call's cost: a status below 500 while
        DEBUG is off for ``fastware.timing`` counts the request and appends ``(ended, method,
        path, status, started)`` to :attr:`pending`; everything else comes here.
        """
        self.request_count += 1
        path = conn.path
        if self.records_every_path or path not in self._excluded:
            method = conn.method
            ended = _perf_counter()
            self.pending.append((ended, method, path, status, ended - seconds))
            debug = _level_cache.get(_DEBUG)
            if debug is None:
                debug = _debug_enabled()
            if debug:
                # round(x, 2) for a non-negative duration, at a fraction of its cost
                duration_ms = int(seconds * 100000.0 + 0.5) / 100.0
                logger.debug(
                    "%s %s %d %.2fms",
                    method,
                    path,
                    status,
                    duration_ms,
                    extra={
                        "method": method,
                        "path": path,
                        "status": status,
                        "duration_ms": duration_ms,
                    },
                )
        if status >= 500 and self.error_log is not None:
            method = conn.method
            if conn.state.get(RECORDED_KEY) is self.error_log:
                return  # the same log recorded this request's exception, with its traceback
            request_id = conn.state.get("request_id") or ""
            try:
                self.error_log.append(
                    method=method,
                    path=path,
                    status_code=status,
                    detail=f"{method} {path} returned {status}",
                    request_id=str(request_id),
                )
            except Exception:
                logger.exception("error_log.append failed for %s %s", method, path)

    def stats(self) -> dict[str, Any]:
        """A summary of the history: count, and p50/p90/p99/max durations in ms.

        ``count`` is :attr:`request_count`; the percentiles cover :attr:`request_history`
        (nearest rank) and are ``None`` while it is empty.
        """
        durations = sorted(record[4] for record in self.request_history)
        summary: dict[str, Any] = {"count": self.request_count, "recorded": len(durations)}
        for name, fraction in (("p50_ms", 0.50), ("p90_ms", 0.90), ("p99_ms", 0.99)):
            summary[name] = _rank(durations, fraction)
        summary["max_ms"] = durations[-1] if durations else None
        return summary


def _rank(ordered: list[float], fraction: float) -> float | None:
    if not ordered:
        return None
    # Nearest rank: the smallest value with at least ``fraction`` of the values at or below.
    index = math.ceil(round(fraction * len(ordered), 9)) - 1
    return ordered[max(0, min(len(ordered) - 1, index))]
