"""TaskRegistry: 0.6.3's API, async tasks, supervision, gates, locks and the app lifespan."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from fastware_core import Router, TestClient, create_app
from fastware_core.recording import ErrorContext
from fastware_core.tasks import BackgroundTask, HostLock, TaskRegistry, read_status_dir

pytestmark = pytest.mark.anyio


class Flags:
    def __init__(self, **values: bool) -> None:
        self.values = dict(values)

    def enabled(self, name: str) -> bool:
        return self.values.get(name, False)


class SyncTask:
    """A 0.6.3-style task: sync start()/stop(), recording into a shared journal."""

    def __init__(self, name: str, journal: list[str]) -> None:
        self.name = name
        self.journal = journal

    def start(self) -> None:
        self.journal.append(f"start {self.name}")

    def stop(self) -> None:
        self.journal.append(f"stop {self.name}")


async def wait_for(condition: Any, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


# -- 0.6.3 ---------------------------------------------------------------------------------


def test_duplicate_name_is_refused_with_the_03_message() -> None:
    registry = TaskRegistry()
    registry.register("a", lambda: SyncTask("a", []))
    with pytest.raises(ValueError, match=r"^Background task 'a' is already registered$"):
        registry.register("a", lambda: SyncTask("a", []))


def test_sync_start_all_and_stop_all_without_a_loop_in_reverse_order() -> None:
    journal: list[str] = []
    registry = TaskRegistry()
    for name in ("a", "b", "c"):
        registry.register(name, lambda name=name: SyncTask(name, journal))  # type: ignore[misc]
    registry.start_all()
    assert journal == ["start a", "start b", "start c"]
    assert isinstance(registry.get_task("b"), BackgroundTask)
    assert [t["running"] for t in registry.list_tasks()] == [True, True, True]
    registry.start_all()  # running tasks are skipped
    assert len(journal) == 3
    registry.stop_all()
    assert journal[3:] == ["stop c", "stop b", "stop a"]
    assert registry.get_task("b") is None
    assert {t["state"] for t in registry.list_tasks()} == {"stopped"}


def test_list_tasks_keeps_the_03_keys() -> None:
    registry = TaskRegistry()
    registry.register("a", lambda: SyncTask("a", []), feature="beta")
    (record,) = registry.list_tasks()
    assert {"name": "a", "feature": "beta", "running": False}.items() <= record.items()


def test_gated_task_is_skipped_without_features_or_while_off() -> None:
    journal: list[str] = []
    registry = TaskRegistry()
    registry.register("a", lambda: SyncTask("a", journal), feature="beta")
    registry.start_all()
    registry.start_all(Flags(beta=False))
    assert journal == []
    assert registry.state("a") == "disabled"
    registry.start_all(Flags(beta=True))
    assert journal == ["start a"]
    registry.stop_all()


def test_a_failing_start_is_logged_and_the_others_still_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal: list[str] = []

    class Broken(SyncTask):
        def start(self) -> None:
            raise RuntimeError("no database")

    registry = TaskRegistry()
    registry.register("broken", lambda: Broken("broken", journal))
    registry.register("fine", lambda: SyncTask("fine", journal))
    registry.start_all()
    assert journal == ["start fine"]
    assert registry.state("broken") == "failed"
    assert registry.list_tasks()[0]["error"] == "RuntimeError: no database"
    assert "RuntimeError: no database" in caplog.text
    assert "Traceback" in caplog.text
    registry.stop_all()
    assert journal == ["start fine", "stop fine"]


@pytest.mark.parametrize("bad", [{"backoff": 0}, {"stop_timeout": -1}, {"once": "planet"}])
def test_bad_registration_options_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        TaskRegistry().register("a", lambda: None, **bad)


def test_a_factory_must_be_callable() -> None:
    with pytest.raises(TypeError, match="callable"):
        TaskRegistry().register("a", 3)  # type: ignore[arg-type]


# -- async tasks ---------------------------------------------------------------------------


async def test_coroutine_task_runs_on_the_loop_and_is_cancelled_on_stop() -> None:
    ticks: list[int] = []
    cancelled = asyncio.Event()

    async def ticker() -> None:
        try:
            while True:
                ticks.append(1)
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    registry = TaskRegistry()
    registry.register("ticker", lambda: ticker)
    await registry.start()
    assert registry.state("ticker") == "running"
    await wait_for(lambda: len(ticks) >= 3)
    await registry.stop()
    assert cancelled.is_set()
    assert registry.state("ticker") == "stopped"
    count = len(ticks)
    await asyncio.sleep(0.05)
    assert len(ticks) == count


async def test_async_object_task_is_started_and_stopped_with_await() -> None:
    journal: list[str] = []

    class Service:
        async def start(self) -> None:
            await asyncio.sleep(0)
            journal.append("start")

        async def stop(self) -> None:
            await asyncio.sleep(0)
            journal.append("stop")

    registry = TaskRegistry()
    registry.register("svc", Service)
    await registry.start()
    assert journal == ["start"]
    assert isinstance(registry.get_task("svc"), Service)
    await registry.stop()
    assert journal == ["start", "stop"]


async def test_stop_is_reverse_start_order_with_a_timeout_and_survives_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal: list[str] = []

    class Hangs:
        async def start(self) -> None:
            journal.append("start hangs")

        async def stop(self) -> None:
            journal.append("stop hangs")
            await asyncio.sleep(60)

    class Fails(SyncTask):
        def stop(self) -> None:
            journal.append("stop fails")
            raise OSError("disk gone")

    registry = TaskRegistry()
    registry.register("first", lambda: SyncTask("first", journal))
    registry.register("hangs", Hangs, stop_timeout=0.2)
    registry.register("fails", lambda: Fails("fails", journal))
    registry.register("last", lambda: SyncTask("last", journal))
    await registry.start()
    started = time.monotonic()
    await registry.stop()
    assert time.monotonic() - started < 5
    assert journal[4:] == ["stop last", "stop fails", "stop hangs", "stop first"]
    assert "did not stop within 0.2 s" in caplog.text
    assert "OSError: disk gone" in caplog.text


async def test_a_sync_stop_that_blocks_is_abandoned_after_its_timeout() -> None:
    release = threading.Event()

    class Blocks(SyncTask):
        def stop(self) -> None:
            release.wait(10)

    registry = TaskRegistry()
    registry.register("blocks", lambda: Blocks("b", []), stop_timeout=0.2)
    await registry.start()
    started = time.monotonic()
    await registry.stop()
    release.set()
    assert time.monotonic() - started < 3


async def test_a_crash_is_logged_recorded_failed_and_restarted_with_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: list[float] = []
    recorded: list[tuple[BaseException, ErrorContext]] = []

    class Recorder:
        min_status = 500

        def record(self, exc: BaseException, context: ErrorContext) -> None:
            recorded.append((exc, context))

    async def flaky() -> None:
        runs.append(time.monotonic())
        await asyncio.sleep(0)
        raise ValueError(f"boom {len(runs)}")

    registry = TaskRegistry(poll_interval=0.02, recorder=Recorder())
    registry.register("flaky", lambda: flaky, restart=True, backoff=0.1, max_backoff=0.4)
    await registry.start()
    await wait_for(lambda: len(runs) >= 4)
    await registry.stop()
    gaps = [b - a for a, b in itertools.pairwise(runs)]
    assert [round(gap, 1) >= want for gap, want in zip(gaps, (0.1, 0.2, 0.4), strict=False)] == [
        True,
        True,
        True,
    ]  # doubling, capped at max_backoff
    assert "ValueError: boom 1" in caplog.text
    assert "Traceback" in caplog.text
    exc, context = recorded[0]
    assert isinstance(exc, ValueError)
    assert (context.kind, context.task, context.status_code) == ("task", "flaky", 0)
    assert "restarting in" in context.detail
    assert registry.list_tasks()[0]["restarts"] >= 3


async def test_a_crash_without_restart_stays_failed() -> None:
    async def once() -> None:
        raise RuntimeError("bad config")

    registry = TaskRegistry(poll_interval=0.02)
    registry.register("once", lambda: once)
    await registry.start()
    await wait_for(lambda: registry.state("once") == "failed")
    await asyncio.sleep(0.1)
    assert registry.list_tasks()[0]["restarts"] == 0
    assert registry.list_tasks()[0]["error"] == "RuntimeError: bad config"
    await registry.stop()
    assert registry.state("once") == "failed"


async def test_a_task_that_returns_is_finished_and_not_restarted() -> None:
    runs: list[int] = []

    async def job() -> None:
        runs.append(1)

    registry = TaskRegistry(poll_interval=0.02)
    registry.register("job", lambda: job, restart=True)
    await registry.start()
    await wait_for(lambda: registry.state("job") == "finished")
    await asyncio.sleep(0.1)
    assert runs == [1]
    await registry.stop()


async def test_a_factory_returning_something_else_fails_clearly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = TaskRegistry()
    registry.register("odd", lambda: 42)
    await registry.start()
    assert registry.state("odd") == "failed"
    assert "neither a coroutine function nor an object with start() and stop()" in caplog.text
    await registry.stop()


# -- live gates ----------------------------------------------------------------------------


async def test_a_gated_task_follows_its_flag_while_the_registry_runs() -> None:
    journal: list[str] = []
    flags = Flags(beta=False)
    registry = TaskRegistry(poll_interval=0.02)
    registry.register("beta", lambda: SyncTask("beta", journal), feature="beta")
    await registry.start(flags)
    assert registry.state("beta") == "disabled"
    flags.values["beta"] = True
    await wait_for(lambda: registry.state("beta") == "running")
    flags.values["beta"] = False
    await wait_for(lambda: registry.state("beta") == "disabled")
    flags.values["beta"] = True
    await wait_for(lambda: registry.state("beta") == "running")
    await registry.stop()
    assert journal == ["start beta", "stop beta", "start beta", "stop beta"]


async def test_a_flag_source_that_raises_counts_as_off(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def enabled(self, name: str) -> bool:
            raise OSError("flag store down")

    registry = TaskRegistry()
    registry.register("beta", lambda: SyncTask("beta", []), feature="beta")
    await registry.start(Broken())
    assert registry.state("beta") == "disabled"
    assert "treated as off" in caplog.text
    await registry.stop()


# -- once per host -------------------------------------------------------------------------


async def test_once_per_host_runs_in_one_registry_and_moves_when_it_stops(tmp_path: Path) -> None:
    first = TaskRegistry(lock_dir=tmp_path, poll_interval=0.02)
    second = TaskRegistry(lock_dir=tmp_path, poll_interval=0.02)
    journal: list[str] = []
    first.register("sweep", lambda: SyncTask("one", journal), once="host")
    second.register("sweep", lambda: SyncTask("two", journal), once="host")
    await first.start()
    await second.start()
    await asyncio.sleep(0.1)
    assert (first.state("sweep"), second.state("sweep")) == ("running", "standby")
    await first.stop()
    await wait_for(lambda: second.state("sweep") == "running")
    await second.stop()
    assert journal == ["start one", "stop one", "start two", "stop two"]


def test_host_lock_is_exclusive_across_open_files(tmp_path: Path) -> None:
    a, b = HostLock(tmp_path / "x.lock"), HostLock(tmp_path / "x.lock")
    assert a.try_acquire()
    assert not b.try_acquire()
    a.release_now()
    assert b.try_acquire()
    b.release_now()


# -- status files --------------------------------------------------------------------------


async def test_status_dir_publishes_states_and_is_cleaned_up(tmp_path: Path) -> None:
    registry = TaskRegistry(status_dir=tmp_path, name="shop")
    registry.register("a", lambda: SyncTask("a", []))
    await registry.start()
    (record,) = read_status_dir(tmp_path)
    assert record["registry"] == "shop"
    assert record["tasks"][0]["state"] == "running"
    await registry.stop()
    assert read_status_dir(tmp_path) == []


# -- the app -------------------------------------------------------------------------------


def test_create_app_starts_tasks_after_startup_and_stops_them_before_shutdown() -> None:
    journal: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, str]]:
        journal.append("lifespan startup")
        yield {"db": "ready"}
        journal.append("lifespan shutdown")

    async def worker() -> None:
        journal.append("worker runs")
        try:
            await asyncio.sleep(60)
        finally:
            journal.append("worker cancelled")

    registry = TaskRegistry()
    registry.register("sync", lambda: SyncTask("sync", journal))
    registry.register("worker", lambda: worker)
    registry.register("gated", lambda: SyncTask("gated", journal), feature="off")
    router = Router()

    @router.get("/tasks")
    async def tasks(request: Any) -> list[dict[str, Any]]:
        await wait_for(lambda: "worker runs" in journal)  # the task's first step ran
        return registry.list_tasks()

    app = create_app(router, lifespan=lifespan, tasks=registry, features=Flags())
    with TestClient(app) as client:
        states = {t["name"]: t["state"] for t in client.get("/tasks").json()}
        assert states == {"sync": "running", "worker": "running", "gated": "disabled"}
    assert journal == [
        "lifespan startup",
        "start sync",
        "worker runs",
        "worker cancelled",
        "stop sync",
        "lifespan shutdown",
    ]


def test_task_crash_in_an_app_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    async def crash() -> None:
        raise KeyError("missing")

    crashed = asyncio.Event()

    class Recorder:
        min_status = 500

        def record(self, exc: BaseException, context: ErrorContext) -> None:
            crashed.set()  # called in the same step that marks the task failed

    registry = TaskRegistry(recorder=Recorder())
    registry.register("crash", lambda: crash)
    router = Router()

    @router.get("/")
    async def index(request: Any) -> dict[str, str]:
        await asyncio.wait_for(crashed.wait(), 5)
        return {"state": registry.state("crash")}

    with caplog.at_level(logging.ERROR), TestClient(create_app(router, tasks=registry)) as client:
        assert client.get("/").json() == {"state": "failed"}
    assert "KeyError: 'missing'" in caplog.text


def test_the_apps_error_recorder_records_task_crashes() -> None:
    recorded: list[tuple[BaseException, ErrorContext]] = []
    seen = threading.Event()

    class Recorder:
        min_status = 500

        def record(self, exc: BaseException, context: ErrorContext) -> None:
            recorded.append((exc, context))
            seen.set()

    async def crash() -> None:
        raise KeyError("missing")

    registry = TaskRegistry()
    registry.register("crash", lambda: crash)
    recorder = Recorder()
    app = create_app(Router(), tasks=registry, error_recorder=recorder)
    with TestClient(app):
        assert seen.wait(5)
    assert registry.recorder is recorder
    exc, context = recorded[0]
    assert isinstance(exc, KeyError)
    assert (context.kind, context.task, context.method, context.path) == ("task", "crash", "", "")


async def test_03_style_start_all_inside_a_loop_starts_sync_at_once_and_async_next() -> None:
    journal: list[str] = []
    running = asyncio.Event()

    async def worker() -> None:
        running.set()
        await asyncio.sleep(60)

    registry = TaskRegistry()
    registry.register("worker", lambda: worker)
    registry.register("sync", lambda: SyncTask("sync", journal))
    registry.start_all()
    assert journal == ["start sync"]
    assert registry.get_task("sync") is not None
    await asyncio.wait_for(running.wait(), 5)
    assert registry.state("worker") == "running"
    registry.stop_all()
    assert journal == ["start sync", "stop sync"]
    await asyncio.sleep(0.01)
    assert registry.state("worker") == "stopped"
