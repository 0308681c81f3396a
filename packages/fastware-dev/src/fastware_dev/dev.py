"""``dev()``: serve an app behind ``ViteDevProxy`` with a Vite dev server beside it.

The 0.6.3 entry point, for a script::

    from fastware_dev import dev

    if __name__ == "__main__":
        dev("app:app", vite_command="npm run dev", vite_port=5173, port=8000)

Vite runs as a child process in its own process group, its output streamed with a
``vite |`` prefix; the app is served in the foreground with Granian. When the server stops
(Ctrl-C, SIGTERM), Vite is stopped too. For backend reload, aux services and a daemon, use
``fastware dev`` and ``[tool.fastware.dev]`` instead.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Callable, Sequence
from typing import Any

from .exceptions import DevConfigError, ReadinessError
from .output import Printer
from .processes import DevProcess

__all__ = ("VITE_READY_TIMEOUT", "dev")

VITE_READY_TIMEOUT = 30.0
"""Seconds Vite gets to answer its first request."""


def _vite_target(target: Any) -> tuple[str, str]:
    """``("module:attribute", directory to import it from)`` for ``target``."""
    if isinstance(target, str):
        return target, os.getcwd()
    from fastware_server.targets import reference_for

    ref = reference_for(target)
    if ref is None:
        raise DevConfigError(
            "dev() needs an app it can import again: a module-level app, or its "
            "'module:attribute' string"
        )
    return str(ref), ref.path or os.getcwd()


def dev(
    target: Any,
    *,
    vite_command: str | Sequence[str] = "npm run dev",
    vite_port: int = 5173,
    host: str | None = None,
    port: int | None = None,
    pid_path: str | os.PathLike[str] | None = None,
    name: str = "FASTWARE",
    pre_serve: Callable[[], object] | None = None,
    backend_prefixes: Sequence[str] | None = None,
    api_prefix: str = "/api",
    vite_host: str = "localhost",
    vite_cwd: str | os.PathLike[str] | None = None,
    grace_s: float = 5.0,
) -> None:
    """Start Vite, then serve ``target`` behind ``ViteDevProxy`` until stopped.

    Args:
        target: The app, or ``"module:attribute"``.
        vite_command: The command that starts Vite: a list, or a string split like a shell
            would (no shell runs it).
        vite_port: The port Vite listens on.
        host: The host to serve (default ``<NAME>_HOST``, then ``127.0.0.1``).
        port: The port to serve (default ``<NAME>_PORT``, then 8000).
        pid_path: A PID file for ``fastware stop``.
        name: The server's name (environment prefix).
        pre_serve: Called once, just before serving.
        backend_prefixes: Paths that always go to the backend (default ``/events``,
            ``/ws``).
        api_prefix: The API prefix, always sent to the backend.
        vite_host: Where Vite listens.
        vite_cwd: Vite's working directory (default: the current one).
        grace_s: Seconds Vite gets to stop before it is killed.

    Raises:
        ReadinessError: Vite exited or did not answer within 30 s (with its last output).
        DevRunError: the Vite command cannot be run.
        PortInUseError, AlreadyRunningError, StartupError: from serving the app.
    """
    from fastware_server import serve
    from fastware_server.probe import Endpoint, answers

    from . import _devapp

    command = shlex.split(vite_command) if isinstance(vite_command, str) else list(vite_command)
    reference, app_dir = _vite_target(target)
    spec = {
        "target": reference,
        "vite_port": vite_port,
        "vite_host": vite_host,
        "api_prefix": api_prefix,
        "backend_prefixes": list(backend_prefixes) if backend_prefixes is not None else None,
        "vite_hint": " ".join(command),
        "app_dir": app_dir,
    }
    os.environ[_devapp.ENV] = json.dumps(spec)
    _devapp.app  # noqa: B018 - import the app now: errors surface before Vite starts
    printer = Printer(["vite"])
    vite = DevProcess("vite", command, cwd=vite_cwd, grace_s=grace_s, printer=printer)
    vite.start()
    try:
        endpoint = Endpoint(host=vite_host, port=vite_port)
        deadline = time.monotonic() + VITE_READY_TIMEOUT
        while not answers(endpoint):
            if not vite.is_running():
                vite.wait_output()
                last = next((line for line in reversed(vite.output()) if line.strip()), "")
                raise ReadinessError(
                    f"Vite ({' '.join(command)}) exited with status {vite.returncode()}"
                    + (f": {last.strip()}" if last else "")
                )
            if time.monotonic() >= deadline:
                raise ReadinessError(
                    f"Vite ({' '.join(command)}) did not answer on {endpoint.url} within "
                    f"{VITE_READY_TIMEOUT:g} s; check vite_port"
                )
            time.sleep(0.2)
        serve(
            "fastware_dev._devapp:app",
            foreground=True,
            host=host,
            port=port,
            pid_path=pid_path,
            name=name,
            pre_serve=pre_serve,
            interface="asgi",
        )
    finally:
        vite.stop()
