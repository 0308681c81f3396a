"""Background tasks: :class:`TaskRegistry`, supervised, gated on feature flags, tied to the app.

A registry holds named task factories. ``create_app(router, tasks=registry, features=flags)``
starts them after the lifespan started and stops them, in reverse start order and each within
a timeout, before the lifespan ends, on both doors and under fastware-server. A factory returns
one of:

- a coroutine function (or a coroutine): run as an asyncio task on the app's loop, cancelled
  on stop; a crash is logged with its traceback, shown as ``failed`` and, with
  ``restart=True``, restarted with exponential backoff;
- an object with async ``start()``/``stop()``;
- an object with sync ``start()``/``stop()`` (:class:`BackgroundTask`, fastware 0.6.3):
  ``start()`` runs inline, ``stop()`` in a worker thread so that its timeout holds.

A task may be gated on a feature flag; the gate is re-checked every ``poll_interval`` seconds,
so a task whose flag turns off is stopped and one whose flag turns on is started. With several
workers a task runs once per worker by default, once per host with ``once="host"`` (an OS file
lock, :class:`HostLock`) or once per cluster with ``once=RedisLease(...)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import re
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ._tasklocks import HostLock, RedisLease, TaskLock
from .gating import FlagSource
from .recording import ErrorContext, ErrorRecorder

__all__ = (
    "AsyncBackgroundTask",
    "BackgroundTask",
    "HostLock",
    "RedisLease",
    "TaskLock",
    "TaskRegistry",
    "read_status_dir",
)

_log = logging.getLogger("fastware.tasks")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")


@runtime_checkable
class BackgroundTask(Protocol):
    """A task object with synchronous ``start()`` and ``stop()`` (fastware 0.6.3)."""

    def start(self) -> None:
        """Start the task's work (return soon: run it in a thread of its own)."""
        ...

    def stop(self) -> None:
        """Stop the work and wait for it to end."""
        ...


@runtime_checkable
class AsyncBackgroundTask(Protocol):
    """A task object with async ``start()`` and ``stop()``, awaited on the app's loop."""

    async def start(self) -> None:
        """Start the task's work (return once started)."""
        ...

    async def stop(self) -> None:
        """Stop the work."""
        ...


class _Slot:
    """One registered task and what is known about its current run."""

    __slots__ = (
        "backoff",
        "error",
        "factory",
        "failures",
        "feature",
        "instance",
        "lock",
        "lock_held",
        "max_backoff",
        "name",
        "next_renew",
        "next_start",
        "once",
        "pending",
        "restart",
        "restarts",
        "runner",
        "started_at",
        "started_mono",
        "state",
        "stop_timeout",
    )

    def __init__(
        self,
        name: str,
        factory: Callable[[], Any],
        feature: str | None,
        once: str,
        lock: TaskLock | None,
        restart: bool,
        backoff: float,
        max_backoff: float,
        stop_timeout: float,
    ) -> None:
        self.name = name
        self.factory = factory
        self.feature = feature
        self.once = once
        self.lock = lock
        self.restart = restart
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.stop_timeout = stop_timeout
        self.state = "stopped"
        self.instance: Any = None
        self.pending: Any = None  # what the factory made in start_all, for the first launch
        self.runner: asyncio.Task[None] | None = None
        self.error: str | None = None
        self.failures = 0
        self.restarts = 0
        self.next_start = 0.0
        self.next_renew = 0.0
        self.lock_held = False
        self.started_at: float | None = None
        self.started_mono = 0.0

    @property
    def active(self) -> bool:
        return self.instance is not None or self.runner is not None


class TaskRegistry:
    """Named background tasks (see the module docstring).

    Args:
        name: names the registry's lock files (``once="host"``) and status files.
        lock_dir: directory of the ``once="host"`` lock files (default: a per-user directory
            under the system temp directory).
        poll_interval: seconds between supervision rounds: flag gates re-checked, locks
            retried and renewed, crashed tasks restarted when their backoff ran out.
        recorder: where crashes are recorded besides the log (fastware-errorlog's error log).
        status_dir: when set, each process writes its tasks' states to
            ``status_dir/<pid>.json`` (read by ``fastware tasks``).
    """

    def __init__(
        self,
        *,
        name: str = "fastware",
        lock_dir: str | os.PathLike[str] | None = None,
        poll_interval: float = 1.0,
        recorder: ErrorRecorder | None = None,
        status_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, got {poll_interval!r}")
        self.name = name
        """The registry's name."""
        self.lock_dir = (
            Path(lock_dir)
            if lock_dir is not None
            else Path(tempfile.gettempdir()) / f"fastware-tasks-{os.getuid()}"
        )
        """Where ``once="host"`` lock files live."""
        self.poll_interval = poll_interval
        """Seconds between supervision rounds."""
        self.recorder: ErrorRecorder | None = recorder
        """Receives ``record(exc, context)`` for every task crash (``None``: log only)."""
        self.status_dir = Path(status_dir) if status_dir is not None else None
        """Where this process publishes its tasks' states (``None``: nowhere)."""
        self._slots: dict[str, _Slot] = {}
        self._order: list[_Slot] = []  # start order, for stopping in reverse
        self._features: FlagSource | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._round_lock: asyncio.Lock | None = None
        self._active = False

    # -- registration ----------------------------------------------------------------------

    def register(
        self,
        name: str,
        factory: Callable[[], Any],
        *,
        feature: str | None = None,
        once: str | TaskLock = "worker",
        restart: bool = False,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        stop_timeout: float = 10.0,
    ) -> None:
        """Register a task under ``name``.

        Args:
            name: unique name of the task.
            factory: called without arguments for every run; returns a coroutine function,
                a coroutine, or an object with ``start()``/``stop()`` (sync or async).
            feature: run only while this feature flag is on.
            once: ``"worker"`` (every worker runs it), ``"host"`` (one worker per host, a
                :class:`HostLock` under ``lock_dir``) or any :class:`TaskLock`, such as a
                :class:`RedisLease` for once per cluster.
            restart: restart a crashed task, waiting ``backoff`` seconds, doubled after
                each crash in a row up to ``max_backoff``.
            stop_timeout: seconds its stop may take before it is abandoned (and logged).

        Raises:
            ValueError: for a duplicate name, an unknown ``once`` or bad timings.
            TypeError: for a factory that is not callable.
        """
        if name in self._slots:
            raise ValueError(f"Background task '{name}' is already registered")
        if not callable(factory):
            raise TypeError(f"the factory of task {name!r} must be callable, not {factory!r}")
        if backoff <= 0 or max_backoff < backoff or stop_timeout <= 0:
            raise ValueError(
                f"task {name!r}: backoff and stop_timeout must be positive and max_backoff "
                "at least backoff"
            )
        lock: TaskLock | None
        if once == "worker":
            lock, kind = None, "worker"
        elif once == "host":
            safe = _SAFE_NAME.sub("_", f"{self.name}-{name}")
            lock, kind = HostLock(self.lock_dir / f"{safe}.lock"), "host"
        elif isinstance(once, str):
            raise ValueError(
                f"once must be 'worker', 'host' or a TaskLock (RedisLease(...) for once per "
                f"cluster), not {once!r}"
            )
        else:
            lock, kind = once, "lock" if not isinstance(once, RedisLease) else "cluster"
        self._slots[name] = _Slot(
            name, factory, feature, kind, lock, restart, backoff, max_backoff, stop_timeout
        )
        if self._active and self._wake is not None:
            self._wake.set()

    # -- inspection ------------------------------------------------------------------------

    def list_tasks(self) -> list[dict[str, Any]]:
        """One dict per task, in registration order.

        Keys: ``name``, ``feature``, ``running`` (as in 0.6.3), plus ``state`` (``stopped``,
        ``disabled`` (flag off), ``standby`` (another process holds its lock), ``starting``,
        ``running``, ``stopping``, ``failed``, ``finished``), ``once``, ``restarts``,
        ``error`` (the last crash, one line) and ``pid``.
        """
        pid = os.getpid()
        return [
            {
                "name": slot.name,
                "feature": slot.feature,
                "running": slot.state == "running",
                "state": slot.state,
                "once": slot.once,
                "restarts": slot.restarts,
                "error": slot.error,
                "started_at": slot.started_at,
                "pid": pid,
            }
            for slot in self._slots.values()
        ]

    def get_task(self, name: str) -> Any:
        """The running instance of task ``name`` (the object its factory returned, or the
        asyncio task of a coroutine task), or ``None``."""
        slot = self._slots.get(name)
        if slot is None or slot.state != "running":
            return None
        return slot.instance if slot.instance is not None else slot.runner

    def state(self, name: str) -> str:
        """The state of task ``name`` (see :meth:`list_tasks`).

        Raises:
            KeyError: for a name that is not registered.
        """
        return self._slots[name].state

    # -- starting and stopping -------------------------------------------------------------

    def start_all(self, features: FlagSource | None = None) -> None:
        """Start every task whose gate is open (0.6.3's synchronous form).

        Sync tasks start at once, in registration order. Inside a running event loop the
        supervisor is started too, which starts async and ``once=`` tasks right after (so
        they start after every sync one, and stop before them) and keeps watching gates,
        locks and crashes. Without a loop only sync, per-worker tasks can run; the others are
        logged and left stopped. ``await registry.start()`` starts every kind in order.
        """
        self._features = features
        self._active = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        for slot in self._slots.values():
            if slot.active or not self._gate_open(slot):
                if not slot.active:
                    self._set_state(slot, "disabled")
                continue
            if slot.lock is not None:
                if loop is None:
                    _log.error(
                        "Background task %r (once=%s) needs a running event loop; not started",
                        slot.name,
                        slot.once,
                    )
                continue
            self._start_now(slot, loop is not None)
        if loop is not None:
            self._ensure_supervisor(loop)

    async def start(self, features: FlagSource | None = None) -> None:
        """Start the registry on the running loop (what ``create_app(tasks=...)`` calls):
        every task whose gate is open starts in registration order, sync or async, before
        this returns; then the supervisor keeps watching gates, locks and crashes."""
        self._features = features
        self._active = True
        self._ensure_supervisor(asyncio.get_running_loop())
        await self._round()

    def _ensure_supervisor(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._supervisor is None:
            self._wake = asyncio.Event()
            self._round_lock = asyncio.Lock()
            self._supervisor = loop.create_task(self._supervise(), name="fastware-tasks")

    def stop_all(self) -> None:
        """Stop every task now, in reverse start order (0.6.3's synchronous form).

        Sync ``stop()`` runs inline; async tasks are cancelled (or their async ``stop()``
        scheduled) without waiting. Prefer ``await registry.stop()``, which waits, with a
        timeout per task.
        """
        self._active = False
        if self._supervisor is not None:
            self._supervisor.cancel()
            self._supervisor = None
        for slot in reversed(self._order):
            slot.state = "stopping"
            try:
                if slot.runner is not None:
                    slot.runner.cancel()
                elif slot.instance is not None:
                    result = slot.instance.stop()
                    if inspect.isawaitable(result):
                        _schedule(result, slot.name)
            except Exception:
                _log.exception("Background task %r failed to stop", slot.name)
            self._clear(slot, "stopped")
            if isinstance(slot.lock, HostLock):
                slot.lock.release_now()
                slot.lock_held = False
        self._order.clear()
        self._publish()

    async def stop(self, grace: float | None = None) -> None:
        """Stop every task in reverse start order and wait for each, up to its
        ``stop_timeout`` (or ``grace`` seconds when given); release every lock. A failing or slow
        stop is logged and the others still run."""
        self._active = False
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        for slot in reversed(list(self._order)):
            await self._halt(slot, "stopped", grace)
        for slot in self._slots.values():
            await self._release(slot)
            if slot.state not in ("failed", "finished"):
                slot.state = "stopped"
        self._publish(final=True)

    # -- one task ----------------------------------------------------------------------------

    def _gate_open(self, slot: _Slot) -> bool:
        if slot.feature is None:
            return True
        features = self._features
        if features is None:
            return False
        try:
            return bool(features.enabled(slot.feature))
        except Exception:
            _log.exception(
                "Flag %r of task %r cannot be read; treated as off", slot.feature, slot.name
            )
            return False

    def _set_state(self, slot: _Slot, state: str) -> None:
        if slot.state != state:
            slot.state = state
            self._publish()

    def _clear(self, slot: _Slot, state: str) -> None:
        slot.instance = None
        slot.runner = None
        slot.started_at = None
        if slot in self._order:
            self._order.remove(slot)
        self._set_state(slot, state)

    def _start_now(self, slot: _Slot, in_loop: bool) -> None:
        """Run the factory; start a sync task object inline. Inside a loop anything else is
        left to the next supervision round (:meth:`_launch`)."""
        try:
            made = slot.factory()
        except Exception as exc:
            self._crashed(slot, exc, "its factory failed")
            return
        start = getattr(made, "start", None)
        if (
            callable(start)
            and not inspect.iscoroutinefunction(start)
            and callable(getattr(made, "stop", None))
        ):
            self._mark_starting(slot, made)
            try:
                start()
            except Exception as exc:
                self._order.remove(slot)
                self._crashed(slot, exc, "start() failed")
                return
            self._mark_running(slot)
            return
        if in_loop:
            slot.pending = made
            return
        if inspect.iscoroutine(made):
            made.close()
        _log.error(
            "Background task %r is async and needs a running event loop; not started "
            "(use create_app(..., tasks=registry) or await registry.start())",
            slot.name,
        )

    def _mark_starting(self, slot: _Slot, instance: Any) -> None:
        slot.instance = instance
        slot.state = "starting"
        self._order.append(slot)

    def _mark_running(self, slot: _Slot) -> None:
        slot.started_at = time.time()
        slot.started_mono = time.monotonic()
        self._set_state(slot, "running")

    async def _launch(self, slot: _Slot) -> None:
        if slot.state == "failed":
            slot.restarts += 1
        made, slot.pending = slot.pending, None
        if made is None:
            try:
                made = slot.factory()
            except Exception as exc:
                self._crashed(slot, exc, "its factory failed")
                return
        coro: Coroutine[Any, Any, Any] | None = None
        if inspect.iscoroutine(made):
            coro = made
        elif callable(made) and not hasattr(made, "start"):
            try:
                produced = made()
            except Exception as exc:
                self._crashed(slot, exc, "it failed to start")
                return
            if not inspect.iscoroutine(produced):
                self._crashed(
                    slot,
                    TypeError(
                        f"task {slot.name!r}: the factory's function returned "
                        f"{type(produced).__name__}, not a coroutine"
                    ),
                    "it is not a task",
                )
                return
            coro = produced
        if coro is not None:
            self._order.append(slot)
            slot.runner = asyncio.get_running_loop().create_task(
                self._run(slot, coro), name=f"fastware-task:{slot.name}"
            )
            self._mark_running(slot)
            return
        start = getattr(made, "start", None)
        if not callable(start) or not callable(getattr(made, "stop", None)):
            self._crashed(
                slot,
                TypeError(
                    f"task {slot.name!r}: the factory returned {type(made).__name__}, which is "
                    "neither a coroutine function nor an object with start() and stop()"
                ),
                "it is not a task",
            )
            return
        self._mark_starting(slot, made)
        try:
            result = start()
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            if slot in self._order:
                self._order.remove(slot)
            slot.instance = None
            self._crashed(slot, exc, "start() failed")
            return
        self._mark_running(slot)

    async def _run(self, slot: _Slot, coro: Awaitable[Any]) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if slot.state == "running":
                if slot in self._order:
                    self._order.remove(slot)
                slot.runner = None
                self._crashed(slot, exc, "it crashed")
        else:
            if slot.state == "running":
                _log.info("Background task %r finished", slot.name)
                slot.failures = 0
                self._clear(slot, "finished")

    def _crashed(self, slot: _Slot, exc: BaseException, what: str) -> None:
        now = time.monotonic()
        if slot.started_mono and now - slot.started_mono >= slot.max_backoff:
            slot.failures = 0  # it ran long enough: the backoff starts over
        slot.failures += 1
        delay = min(slot.backoff * 2 ** (slot.failures - 1), slot.max_backoff)
        slot.next_start = now + delay
        slot.error = f"{type(exc).__name__}: {exc}"
        slot.instance = None
        slot.runner = None
        slot.started_at = None
        plan = f"restarting in {delay:g} s" if slot.restart else "not restarted"
        _log.error(
            "Background task %r failed (%s; %s):\n%s",
            slot.name,
            what,
            plan,
            "".join(traceback.format_exception(exc)).rstrip(),
        )
        recorder = self.recorder
        if recorder is not None:
            try:
                recorder.record(
                    exc,
                    ErrorContext(
                        kind="task",
                        status_code=0,
                        task=slot.name,
                        detail=f"{what}; registry {self.name!r}, pid {os.getpid()}, "
                        f"{slot.restarts} restarts, {plan}",
                    ),
                )
            except Exception:
                _log.exception("Recording the failure of task %r failed", slot.name)
        self._set_state(slot, "failed")
        if self._wake is not None:
            self._wake.set()

    async def _halt(self, slot: _Slot, state: str, grace: float | None = None) -> None:
        """Stop one task and wait (up to its timeout); errors are logged, never raised."""
        limit = slot.stop_timeout if grace is None else grace
        runner, instance = slot.runner, slot.instance
        slot.state = "stopping"
        try:
            if runner is not None:
                runner.cancel()
                done, _ = await asyncio.wait({runner}, timeout=limit)
                if not done:
                    _log.error(
                        "Background task %r did not stop within %g s after cancellation",
                        slot.name,
                        limit,
                    )
            elif instance is not None:
                stop = instance.stop
                if inspect.iscoroutinefunction(stop):
                    await asyncio.wait_for(stop(), limit)
                else:
                    await asyncio.wait_for(asyncio.to_thread(stop), limit)
        except TimeoutError:
            _log.error("Background task %r did not stop within %g s", slot.name, limit)
        except Exception:
            _log.exception("Background task %r failed to stop", slot.name)
        self._clear(slot, state)

    async def _release(self, slot: _Slot) -> None:
        if slot.lock is None or not slot.lock_held:
            return
        slot.lock_held = False
        try:
            await slot.lock.release()
        except Exception as exc:
            _log.warning("Could not release the lock of task %r: %s", slot.name, exc)

    # -- supervision -------------------------------------------------------------------------

    async def _supervise(self) -> None:
        wake = self._wake
        assert wake is not None
        while self._active:
            try:
                await self._round()
            except asyncio.CancelledError:
                raise
            except Exception:  # pragma: no cover - a bug here must not end supervision
                _log.exception("Task supervision round failed")
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self.poll_interval)

    async def _round(self) -> None:
        """Bring every task to what its gate, its lock and its crash history call for."""
        lock = self._round_lock
        if lock is None:
            return
        async with lock:
            await self._round_locked()

    async def _round_locked(self) -> None:
        for slot in list(self._slots.values()):
            if not self._active:
                return
            if slot.state in ("starting", "stopping"):
                continue
            if not self._gate_open(slot):
                if slot.active:
                    _log.info("Feature %r is off: stopping task %r", slot.feature, slot.name)
                    await self._halt(slot, "disabled")
                elif slot.state != "failed" or not slot.restart:
                    self._set_state(slot, "disabled")
                await self._release(slot)
                continue
            if not await self._hold_lock(slot):
                continue
            if slot.active or slot.state == "finished":
                continue
            if slot.state == "failed":
                if not slot.restart:
                    await self._release(slot)
                    continue
                if time.monotonic() < slot.next_start:
                    continue
            await self._launch(slot)
            if slot.state == "failed" and not slot.restart:
                await self._release(slot)

    async def _hold_lock(self, slot: _Slot) -> bool:
        """Whether this process may run the task now (taking or renewing its lock)."""
        lock = slot.lock
        if lock is None:
            return True
        if slot.state == "failed" and not slot.restart:
            return False
        now = time.monotonic()
        if slot.lock_held:
            interval = lock.renew_interval
            if interval is None or now < slot.next_renew:
                return True
            try:
                kept = await lock.renew()
            except Exception as exc:
                _log.warning("Task %r could not renew its lock (%s): stopping it", slot.name, exc)
                kept = False
            if kept:
                slot.next_renew = now + interval
                return True
            _log.warning("Task %r lost its lock %r: stopping it", slot.name, lock)
            slot.lock_held = False
            if slot.active:
                await self._halt(slot, "standby")
            else:
                self._set_state(slot, "standby")
            return False
        try:
            got = await lock.acquire()
        except Exception as exc:
            _log.warning("Task %r could not try its lock %r: %s", slot.name, lock, exc)
            got = False
        if not got:
            if not slot.active:
                self._set_state(slot, "standby")
            return False
        _log.info("Task %r: this process (pid %d) holds %r", slot.name, os.getpid(), lock)
        slot.lock_held = True
        if lock.renew_interval is not None:
            slot.next_renew = now + lock.renew_interval
        return True

    # -- status files ------------------------------------------------------------------------

    def _publish(self, final: bool = False) -> None:
        directory = self.status_dir
        if directory is None:
            return
        path = directory / f"{os.getpid()}.json"
        try:
            if final:
                path.unlink(missing_ok=True)
                return
            from ._json import encode_json

            directory.mkdir(parents=True, exist_ok=True)
            record = {"registry": self.name, "pid": os.getpid(), "updated_at": time.time()}
            record["tasks"] = self.list_tasks()
            temp = directory / f".{os.getpid()}.json.tmp"
            temp.write_bytes(encode_json(record))
            os.replace(temp, path)
        except OSError as exc:
            _log.warning("Could not write the task status file %s: %s", path, exc)


def _schedule(awaitable: Awaitable[Any], name: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        if inspect.iscoroutine(awaitable):
            awaitable.close()
        _log.error("Background task %r has an async stop() and no loop runs to await it", name)
        return
    future = asyncio.ensure_future(awaitable)
    _PENDING_STOPS.add(future)
    future.add_done_callback(_PENDING_STOPS.discard)


_PENDING_STOPS: set[asyncio.Future[Any]] = set()  # keeps scheduled stops alive until done


def read_status_dir(directory: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The task records published under ``directory`` by processes that still run."""
    import msgspec

    out: list[dict[str, Any]] = []
    for path in sorted(Path(directory).glob("*.json")):
        try:
            record = msgspec.json.decode(path.read_bytes())
            pid = int(record["pid"])
        except (OSError, ValueError, KeyError, TypeError, msgspec.DecodeError):
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            pass
        if isinstance(record, Mapping):
            out.append(dict(record))
    return out
