"""Driving another ASGI application's lifespan protocol (mounted apps, the test client)."""

from __future__ import annotations

import asyncio
from typing import Any

from .types import ASGIApp

__all__ = ("LifespanDriver", "LifespanError")


class LifespanError(RuntimeError):
    """The application reported ``lifespan.startup.failed`` or ``lifespan.shutdown.failed``."""


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
