"""Cheap per-request deadlines for reading request bodies.

``asyncio.timeout`` costs a timer-heap entry per use (several µs on the hot path). Body reads
register their task here instead, and one reaper task, alive only while reads are in flight,
cancels the ones past their deadline about once per interval. A deadline can therefore fire
up to one interval late, which is fine for a limit measured in seconds.
"""

from __future__ import annotations

import asyncio
import time

__all__ = ("Deadlines",)


class Deadlines:
    """Tracks tasks that must finish a step within ``timeout`` seconds."""

    __slots__ = ("_expired", "_interval", "_pending", "_reaper", "_reaper_loop", "timeout")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._interval = max(0.02, min(1.0, timeout / 4))
        self._pending: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._reaper_loop: asyncio.AbstractEventLoop | None = None

    def start(self, task: asyncio.Task[object]) -> None:
        """Give ``task`` ``timeout`` seconds from now; past that it is cancelled."""
        self._pending[task] = time.monotonic() + self.timeout
        loop = asyncio.get_running_loop()
        if self._reaper is None or self._reaper_loop is not loop:
            self._reaper_loop = loop
            self._reaper = loop.create_task(self._reap())

    def expired(self, task: asyncio.Task[object]) -> bool:
        """Whether ``task`` was cancelled because its deadline passed."""
        return task in self._expired

    def finish(self, task: asyncio.Task[object]) -> None:
        """Stop tracking ``task``."""
        del self._pending[task]
        if self._expired:
            self._expired.discard(task)

    async def _reap(self) -> None:
        me = asyncio.current_task()
        try:
            while self._pending:
                await asyncio.sleep(self._interval)
                now = time.monotonic()
                for task, deadline in list(self._pending.items()):
                    if deadline <= now and task not in self._expired:
                        self._expired.add(task)
                        task.cancel()
        finally:
            if self._reaper is me:
                self._reaper = None
