"""The ``fastware dev`` front: an ASGI app that forwards everything to the backend process.

``fastware dev`` serves the backend on an internal port and restarts it on every code
change. The browser talks to a front process that does not restart:
``ViteDevProxy(BackendForwarder(...))``. So Vite's HMR WebSocket (tunnelled by the proxy)
stays open while the backend restarts, and a request that arrives during a restart waits
for the new backend instead of failing. When the backend failed to start (a syntax error),
requests get a 503 page showing its error output until the next change fixes it.

The supervisor tells the front how the backend is doing through a small JSON status file
(:func:`write_status`): ``{"state": "starting" | "running" | "failed", "message", "output"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastware_core.types import Receive, Scope, Send

from .proxy import send_error_page
from .upstream import Upstream

__all__ = ("BackendForwarder", "BackendStatus", "read_status", "write_status")


@dataclass(slots=True)
class BackendStatus:
    """What the supervisor last said about the backend."""

    state: str = "starting"
    """``starting``, ``running`` or ``failed``."""
    message: str = ""
    """A line for people (why it failed)."""
    output: list[str] = field(default_factory=list)
    """Its last output lines when it failed."""


def write_status(path: str | os.PathLike[str], status: BackendStatus) -> None:
    """Write ``status`` to ``path`` atomically (readers never see half a file)."""
    target = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=".status.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(
                {"state": status.state, "message": status.message, "output": status.output},
                handle,
            )
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def read_status(path: str | os.PathLike[str] | None) -> BackendStatus:
    """The status in ``path``; ``running`` when there is no readable file."""
    if path is None:
        return BackendStatus("running")
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return BackendStatus("running")
    if not isinstance(data, dict):
        return BackendStatus("running")
    output = data.get("output")
    return BackendStatus(
        state=str(data.get("state") or "running"),
        message=str(data.get("message") or ""),
        output=[str(line) for line in output] if isinstance(output, list) else [],
    )


class BackendForwarder:
    """Forward every HTTP request and WebSocket to the backend at ``host:port``.

    Args:
        host: The backend's address.
        port: The backend's port.
        status_file: The supervisor's status file (see :func:`write_status`).
        restart_wait: Seconds a request waits for a restarting backend before a 503.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        status_file: str | os.PathLike[str] | None = None,
        restart_wait: float = 20.0,
    ) -> None:
        self.backend = Upstream(host, port, name="the backend", read_timeout=None)
        self.status_file = status_file
        self.restart_wait = restart_wait

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        kind = scope["type"]
        if kind == "http":
            await self.backend.forward_http(
                scope, receive, send, retry=self._wait_for_backend, on_unreachable=self._down
            )
        elif kind == "websocket":
            await self.backend.forward_websocket(scope, receive, send, retry=self._wait_for_backend)
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.backend.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _connectable(self) -> bool:
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(self.backend.host, self.backend.port), 1.0
            )
        except (TimeoutError, OSError):
            return False
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        return True

    async def _wait_for_backend(self, error: BaseException) -> bool:
        """Wait while the backend restarts; ``True`` once it accepts connections again."""
        deadline = time.monotonic() + self.restart_wait
        while time.monotonic() < deadline:
            if read_status(self.status_file).state == "failed":
                return False
            if await self._connectable():
                await asyncio.sleep(0.05)  # let the worker that accepted finish starting
                return True
            await asyncio.sleep(0.1)
        return False

    async def _down(self, scope: Scope, send: Send, error: BaseException) -> None:
        status = read_status(self.status_file)
        if status.state == "failed":
            await send_error_page(
                scope,
                send,
                503,
                "The backend failed to start",
                (status.message or "The backend exited.")
                + " Fix the error and save: fastware dev restarts it on the next change.",
                status.output,
            )
            return
        await send_error_page(
            scope,
            send,
            503,
            "The backend is not answering",
            f"The backend at {self.backend.url} did not answer within {self.restart_wait:g} s "
            "(is it restarting?). The output of 'fastware dev' says more.",
        )


def front_app(spec: dict[str, Any]) -> Any:
    """The front app for a spec: ``ViteDevProxy(BackendForwarder(...))``."""
    from .proxy import ViteDevProxy

    backend = spec["backend"]
    forwarder = BackendForwarder(
        backend["host"], backend["port"], status_file=spec.get("status_file")
    )
    return ViteDevProxy(
        forwarder,
        vite_port=spec["vite_port"],
        vite_host=spec.get("vite_host", "localhost"),
        api_prefix=spec.get("api_prefix", "/api"),
        backend_prefixes=spec.get("backend_prefixes"),
    )
