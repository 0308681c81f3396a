"""Cheap per-request deadlines for reading request bodies.

``asyncio.timeout`` costs a timer-heap entry per use (several µs on the hot path). Body reads
register their task here instead, and one reaper task, alive only while reads are in flight,
cancels the ones past their deadline. Time is counted in the reaper's ticks, one per
interval, so registering a read costs a dictionary store and no clock read: a deadline fires
between ``timeout`` and ``timeout`` plus one interval after the read began, which is fine for
a limit measured in seconds.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

__all__ = ("Deadlines", "current_task")

try:  # 3.12+: the C function, taking the loop
    from _asyncio import current_task as _current_task  # type: ignore[attr-defined]
except ImportError:  # 3.11: asyncio.current_task is a Python wrapper around this dict's get
    _current_task: Callable[[Any], Any] = asyncio.tasks._current_tasks.get  # type: ignore[attr-defined,no-redef]

_get_running_loop = asyncio.get_running_loop


def current_task() -> Any:
    """The task running now: ``asyncio.current_task()`` without its Python wrapper on 3.11.

    Raises:
        RuntimeError: outside a running event loop.
    """
    return _current_task(_get_running_loop())


class Deadlines:
    """Tracks tasks that must finish a step within ``timeout`` seconds."""

    __slots__ = (
        "_expired",
        "_interval",
        "_pending",
        "_reaper",
        "_reaper_loop",
        "_tick",
        "_ticks",
        "timeout",
    )

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._interval = max(0.02, min(1.0, timeout / 4))
        # A read registered at tick t expires once the tick passes t + _ticks: never before
        # ``timeout`` has elapsed, at most one interval after.
        self._ticks = math.ceil(timeout / self._interval - 1e-9)
        self._tick = 0
        self._pending: dict[asyncio.Task[Any], int] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._reaper_loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> asyncio.Task[Any] | None:
        """Give the current task ``timeout`` seconds from now; past that it is cancelled.

        Returns the task to hand to :meth:`finish`, or ``None`` when the current task is not
        an :class:`asyncio.Task` (a server-specific object that cannot be cancelled).
        """
        loop = _get_running_loop()
        task = _current_task(loop)
        if not isinstance(task, asyncio.Task):
            return None
        self._pending[task] = self._tick
        if self._reaper is None or self._reaper_loop is not loop:
            self._reaper_loop = loop
            self._reaper = loop.create_task(self._reap())
        return task

    def expired(self, task: asyncio.Task[Any]) -> bool:
        """Whether ``task`` was cancelled because its deadline passed."""
        return task in self._expired

    def finish(self, task: asyncio.Task[Any]) -> None:
        """Stop tracking ``task``."""
        del self._pending[task]
        if self._expired:
            self._expired.discard(task)

    async def _reap(self) -> None:
        me = asyncio.current_task()
        try:
            while self._pending:
                await asyncio.sleep(self._interval)
                self._tick += 1
                last = self._tick - self._ticks - 1  # reads registered at or before it expire
                for task, started in list(self._pending.items()):
                    if started <= last and task not in self._expired:
                        self._expired.add(task)
                        task.cancel()
        finally:
            if self._reaper is me:
                self._reaper = None
