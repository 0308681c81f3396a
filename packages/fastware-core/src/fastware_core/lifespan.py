"""Lifespan: the app's own startup and shutdown, and driving other apps' lifespans.

:class:`Lifecycle` (mixed into the app) enters the user's ``lifespan`` context, starts the
lifespans of mounted ASGI apps, the dependency injector and the background tasks
(``AppConfig.tasks``), and undoes all of it in reverse on shutdown, after open streams and
WebSockets were told to finish. It also chains onto the
server's SIGTERM/SIGINT handling so that streams learn about a shutdown as it begins.
:class:`LifespanDriver` runs another ASGI app's lifespan protocol (mounts, the test client).
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from .exceptions import LifespanError
from .streaming import Streaming
from .types import ASGIApp, Scope

__all__ = ("Lifecycle", "LifespanDriver", "LifespanError")


class Lifecycle(Streaming):
    """Startup, shutdown and signal chaining (see the module docstring)."""

    def _init_lifecycle(self) -> None:
        self._init_streaming()
        self._mount_lifespans: list[tuple[str, LifespanDriver]] = []
        self._started = False
        self._lifespan_cm: AbstractAsyncContextManager[Any] | None = None
        self._previous_signals: dict[int, Any] = {}

    def _chain_shutdown_signals(self) -> None:
        # Servers handle SIGTERM/SIGINT with loop signal handlers, which leave a Python-level
        # handler in place and dispatch through the loop's wakeup fd. Replacing that Python
        # handler with one that also starts our stream shutdown keeps the server's own
        # handling intact. Only a callable previous handler is chained, so a signal is never
        # swallowed.
        # Granian's RSGI worker installs its handlers after __rsgi_init__ ran the startup, so
        # this runs again when the first stream or WebSocket opens (_watch_shutdown_signals).
        if not self.config.shutdown_signals:
            return
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            if signum in self._previous_signals:
                continue
            previous = signal.getsignal(signum)
            if not callable(previous):
                continue

            def on_signal(number: int, frame: Any, previous: Any = previous) -> None:
                loop.call_soon_threadsafe(self.begin_shutdown)
                previous(number, frame)

            signal.signal(signum, on_signal)
            self._previous_signals[signum] = previous

    def _watch_shutdown_signals(self) -> None:
        if self._started and len(self._previous_signals) < 2:
            self._chain_shutdown_signals()

    def _restore_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, previous in self._previous_signals.items():
            signal.signal(signum, previous)
        self._previous_signals.clear()

    async def startup(self) -> None:
        """Enter the user's lifespan and start mounted apps' lifespans, in order.

        Raises:
            Exception: whatever the lifespan raised; mounts already started are stopped.
        """
        if self._started:
            return
        self._closing = False
        self._closing_event = None
        self._chain_shutdown_signals()
        if self.runtime is not None:
            self.runtime.start()  # the build id, in a thread
        lifespan = self.config.lifespan
        self._lifespan_cm = lifespan(self) if lifespan is not None else None
        if self._lifespan_cm is not None:
            value = await self._lifespan_cm.__aenter__()
            if isinstance(value, Mapping):
                self._state.update(value)
        try:
            for prefix, app in self._compile().mounts_with_root():
                driver = LifespanDriver(app, {})
                await driver.startup()
                if driver.supported:
                    self._mount_lifespans.append((prefix, driver))
            if self._injector is not None:
                await self._injector.startup()
            tasks = self.config.tasks
            if tasks is not None:
                if tasks.recorder is None:
                    tasks.recorder = self.config.error_recorder  # crashes in the error log
                await tasks.start(self.config.features)
        except BaseException as exc:
            if self.config.tasks is not None:
                await self.config.tasks.stop()
            await self._stop_mounts()
            if self._lifespan_cm is not None:
                await self._lifespan_cm.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        self._started = True

    async def _stop_mounts(self) -> list[BaseException]:
        errors: list[BaseException] = []
        while self._mount_lifespans:
            _, driver = self._mount_lifespans.pop()
            try:
                await driver.shutdown()
            except Exception as exc:
                errors.append(exc)
        return errors

    async def shutdown(self) -> None:
        """Stop mounted apps' lifespans in reverse order, then exit the user's lifespan.

        Raises:
            LifespanError: naming every error met, after all of them ran.
        """
        self._restore_signals()
        if not self._started:
            return
        self._started = False
        self.begin_shutdown(0)
        await self._close_streams()
        errors: list[BaseException] = []
        if self.config.tasks is not None:
            try:
                await self.config.tasks.stop()  # before anything the tasks may use goes
            except Exception as exc:
                errors.append(exc)
        if self._injector is not None:
            try:
                await self._injector.shutdown()
            except Exception as exc:
                errors.append(exc)
        errors += await self._stop_mounts()
        cm, self._lifespan_cm = self._lifespan_cm, None
        if cm is not None:
            try:
                await cm.__aexit__(None, None, None)
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise LifespanError(
                "lifespan shutdown failed: " + "; ".join(str(e) or type(e).__name__ for e in errors)
            ) from errors[0]

    def _mounted_scope(self, scope: Scope, prefix: str) -> Scope:
        child = dict(scope)
        path: str = scope["path"]
        child["path"] = path[len(prefix) :] or "/"
        raw_path = scope.get("raw_path")
        if isinstance(raw_path, bytes) and raw_path.startswith(prefix.encode()):
            child["raw_path"] = raw_path[len(prefix) :] or b"/"
        child["root_path"] = scope.get("root_path", "") + prefix
        child["state"] = {**(scope.get("state") or {}), **self._state, **self._mount_state(prefix)}
        return child

    def _mount_state(self, prefix: str) -> dict[str, Any]:
        for mount_prefix, driver in self._mount_lifespans:
            if mount_prefix == prefix:
                return driver.state
        return {}


class LifespanDriver:
    """Runs ``app``'s lifespan in a task: :meth:`startup`, later :meth:`shutdown`.

    An app that returns (or raises) without sending any lifespan message does not support
    the protocol and is tolerated at startup; an exception from such an app is kept in
    :attr:`error`. ``state`` is passed as the lifespan scope's ``state`` dict.
    """

    def __init__(self, app: ASGIApp, state: dict[str, Any] | None = None) -> None:
        self.app = app
        self.state: dict[str, Any] = {} if state is None else state
        self.supported = True
        self.error: BaseException | None = None
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.4"}}
        scope["state"] = self.state
        try:
            await self.app(scope, self._inbox.get, self._send)
        except BaseException as exc:  # reported to whoever waits on the outbox
            self.error = exc
        finally:
            await self._outbox.put(None)

    async def _send(self, message: dict[str, Any]) -> None:
        await self._outbox.put(message)

    async def startup(self) -> None:
        """Send ``lifespan.startup`` and wait for the answer.

        Raises:
            LifespanError: when the app answers ``lifespan.startup.failed``.
        """
        self._task = asyncio.get_running_loop().create_task(self._run())
        await self._inbox.put({"type": "lifespan.startup"})
        message = await self._outbox.get()
        if message is None:
            self.supported = False
            return
        if message["type"] == "lifespan.startup.failed":
            raise LifespanError(f"ASGI lifespan startup failed: {message.get('message', '')}")
        if message["type"] != "lifespan.startup.complete":
            raise LifespanError(f"Unexpected lifespan message {message['type']!r}")

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` and wait for the app to finish.

        Raises:
            LifespanError: when the app answers ``lifespan.shutdown.failed``.
        """
        if not self.supported or self._task is None:
            return
        await self._inbox.put({"type": "lifespan.shutdown"})
        message = await self._outbox.get()
        await self._task
        if message is not None and message["type"] == "lifespan.shutdown.failed":
            raise LifespanError(f"ASGI lifespan shutdown failed: {message.get('message', '')}")
        if message is None and self.error is not None:
            raise self.error
