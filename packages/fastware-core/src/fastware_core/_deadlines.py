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

__all__ = ("Deadlines", "current_task", "task_of")

try:  # 3.12+: the C function, taking the loop
    from _asyncio import current_task as _current_task  # type: ignore[attr-defined]
except ImportError:  # 3.11: asyncio.current_task is a Python wrapper around this dict's get
    _current_task: Callable[[Any], Any] = asyncio.tasks._current_tasks.get  # type: ignore[attr-defined,no-redef]

_get_running_loop = asyncio.get_running_loop

task_of: Callable[[asyncio.AbstractEventLoop], Any] = _current_task
"""The task running on a loop, or ``None``: the call behind :func:`current_task`."""


def current_task() -> Any:
    """The task running now: ``asyncio.current_task()`` without its Python wrapper on 3.11.

    Raises:
        RuntimeError: outside a running event loop.
    """
    return _current_task(_get_running_loop())


class Deadlines:
    """Tracks tasks that must finish a step within ``timeout`` seconds."""

    __slots__ = (
        "_interval",
        "_reaper",
        "_ticks",
        "pending",
        "reaper_loop",
        "tick",
        "timed_out",
        "timeout",
    )

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._interval = max(0.02, min(1.0, timeout / 4))
        # A read registered at tick t expires once the tick passes t + _ticks: never before
        # ``timeout`` has elapsed, at most one interval after.
        self._ticks = math.ceil(timeout / self._interval - 1e-9)
        self.tick = 0
        """The reaper's tick count: a read registered at tick ``t`` may run until tick
        ``t`` plus the timeout's ticks."""
        self.pending: dict[asyncio.Task[Any], int] = {}
        """The tasks reading now, each with the tick it began at. The doors register their
        reads here themselves (``start`` and ``finish``, inlined) and call :meth:`watch` when
        :attr:`reaper_loop` is not their loop."""
        self.timed_out: set[asyncio.Task[Any]] = set()
        """The tasks cancelled for their deadline and not yet finished."""
        self._reaper: asyncio.Task[None] | None = None
        self.reaper_loop: asyncio.AbstractEventLoop | None = None
        """The loop the reaper runs on, ``None`` while none runs: a read registered on
        another loop needs :meth:`watch`."""

    def start(self) -> asyncio.Task[Any] | None:
        """Give the current task ``timeout`` seconds from now; past that it is cancelled.

        Returns the task to hand to :meth:`finish`, or ``None`` when the current task is not
        an :class:`asyncio.Task` (a server-specific object that cannot be cancelled).
        """
        loop = _get_running_loop()
        task = _current_task(loop)
        if not isinstance(task, asyncio.Task):
            return None
        self.pending[task] = self.tick
        self.watch(loop)
        return task

    def watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Make sure the reaper runs on ``loop`` (after a read was added to :attr:`pending`)."""
        if self._reaper is None or self.reaper_loop is not loop:
            self.reaper_loop = loop
            self._reaper = loop.create_task(self._reap())

    def expired(self, task: asyncio.Task[Any]) -> bool:
        """Whether ``task`` was cancelled because its deadline passed."""
        return task in self.timed_out

    def finish(self, task: asyncio.Task[Any]) -> None:
        """Stop tracking ``task``."""
        del self.pending[task]
        if self.timed_out:
            self.timed_out.discard(task)

    async def _reap(self) -> None:
        me = asyncio.current_task()
        try:
            while self.pending:
                await asyncio.sleep(self._interval)
                self.tick += 1
                last = self.tick - self._ticks - 1  # reads registered at or before it expire
                for task, started in list(self.pending.items()):
                    if started <= last and task not in self.timed_out:
                        self.timed_out.add(task)
                        task.cancel()
        finally:
            if self._reaper is me:
                self._reaper = None
                self.reaper_loop = None
