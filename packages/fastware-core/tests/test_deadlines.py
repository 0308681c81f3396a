"""The body-read deadlines: never early, at most one interval late, cheap to register."""

from __future__ import annotations

import asyncio
import time

import pytest

from fastware_core._deadlines import Deadlines


@pytest.mark.anyio
async def test_a_read_past_its_deadline_is_cancelled_between_timeout_and_one_interval_later() -> (
    None
):
    deadlines = Deadlines(0.2)  # interval 0.05
    began = time.monotonic()
    task = deadlines.start()
    assert task is not None
    assert task is asyncio.current_task()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.sleep(5)
    elapsed = time.monotonic() - began
    assert deadlines.expired(task)
    task.uncancel()
    deadlines.finish(task)
    assert not deadlines.expired(task)
    assert 0.2 <= elapsed < 0.2 + 0.05 + 0.1  # the last term: scheduling slack on a busy machine


@pytest.mark.anyio
async def test_a_read_that_finishes_in_time_is_never_cancelled() -> None:
    deadlines = Deadlines(0.2)

    async def read(delay: float) -> str:
        task = deadlines.start()
        assert task is not None
        try:
            await asyncio.sleep(delay)
            return "done"
        finally:
            deadlines.finish(task)

    # Reads that start at different ticks and finish before their own deadlines.
    results = await asyncio.gather(read(0.15), read(0.05), *(read(0.01 * i) for i in range(10)))
    assert results == ["done"] * 12


@pytest.mark.anyio
async def test_the_reaper_restarts_after_it_went_idle() -> None:
    deadlines = Deadlines(0.1)
    task = deadlines.start()
    assert task is not None
    deadlines.finish(task)
    await asyncio.sleep(0.1)  # the reaper sees nothing pending and exits
    began = time.monotonic()
    task = deadlines.start()
    assert task is not None
    with pytest.raises(asyncio.CancelledError):
        await asyncio.sleep(5)
    task.uncancel()
    deadlines.finish(task)
    assert time.monotonic() - began >= 0.1


def test_outside_a_task_there_is_nothing_to_cancel() -> None:
    loop = asyncio.new_event_loop()
    try:
        # A plain callback runs on the loop but inside no task.
        future: asyncio.Future[object] = loop.create_future()
        loop.call_soon(lambda: future.set_result(Deadlines(1.0).start()))
        assert loop.run_until_complete(future) is None
    finally:
        loop.close()
