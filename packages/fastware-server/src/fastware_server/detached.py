"""Servers in their own process: ``serve_background`` and the CLI's ``--daemon``.

The server runs ``python -m fastware_server._child``, detached: a short-lived launcher
forks the server into a new session and exits, so the server is never a child of the
caller (no zombie, and it outlives the caller). Its output goes to a log file. The caller
returns once the app answers; if the server exits first, the reason it printed is raised.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .background import register_background
from .config import LoopChoice, ServerConfig, merge_config
from .control import check_already_running, stop_process
from .exceptions import StartupError, TargetError
from .plan import LOG_FILE_ENV, ServerPlan, check_startable, plan_server
from .probe import wait_until_answering
from .process import is_alive, is_same_process, process_start
from .targets import check_not_importing

__all__ = ("DetachedServer", "child_spec", "launch_detached", "serve_background")

ERROR_PREFIX = "fastware-server: error: "
"""How the child process prints the reason it could not serve."""
_LAUNCH_TIMEOUT = 30.0


def child_spec(plan: ServerPlan, *, pid_path: Path | None, single_instance: bool) -> dict[str, Any]:
    """The JSON the child process serves from."""
    if plan.ref is None:
        raise TargetError(
            f"cannot serve {plan.display} in another process: it cannot be imported there. "
            "Define the app at module level in an importable module (not in the script being "
            "run), or pass its 'module:attribute' string"
        )
    return {
        "target": plan.ref.to_json(),
        "host": plan.host,
        "port": plan.port,
        "name": plan.name,
        "pid_path": str(pid_path) if pid_path is not None else None,
        "single_instance": single_instance,
        "loop": plan.loop,
        "workers": plan.workers,
        "config": plan.config.to_json(),
    }


class DetachedServer:
    """A server process started by :func:`launch_detached`."""

    def __init__(self, plan: ServerPlan, pid: int, log_path: Path) -> None:
        self.plan = plan
        self.pid = pid
        """The server's main process."""
        self.start_time = process_start(pid)
        self.log_path = log_path
        """Where its output goes."""

    @property
    def url(self) -> str:
        """The URL it serves."""
        return self.plan.url

    def running(self) -> bool:
        """Whether the process still runs (and is still the one started)."""
        return is_alive(self.pid) and is_same_process(self.pid, self.start_time, None)

    def stop(self) -> None:
        """SIGTERM it, wait its grace, kill it if needed; remove its files."""
        if self.running():
            stop_process(self.pid, self.plan.config.grace)
        if self.plan.pid_path is not None:
            check_already_running(self.plan.pid_path)  # removes the files of a dead server


def _failure_reason(log_path: Path, offset: int) -> str | None:
    try:
        with log_path.open("rb") as log:
            log.seek(offset)
            lines = log.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if line.startswith(ERROR_PREFIX):
            return line[len(ERROR_PREFIX) :]
    meaningful = [line.strip() for line in lines if line.strip()]
    return meaningful[-1] if meaningful else None


def launch_detached(plan: ServerPlan, log_path: str | os.PathLike[str]) -> DetachedServer:
    """Start ``plan`` in a detached process; return once it answers.

    Raises:
        AlreadyRunningError: the plan's PID file names a live server.
        PortInUseError: the port is taken.
        StartupError: the server exited before answering (with the reason it printed), or
            did not answer within ``startup_timeout`` (it is then stopped).
    """
    pid_path = plan.pid_path
    check_startable(plan)
    spec = child_spec(plan, pid_path=pid_path, single_instance=plan.single_instance)
    log = Path(log_path)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        offset = output.tell()
        launcher = subprocess.Popen(
            [sys.executable, "-m", "fastware_server._child", "--detach", plan.display],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=output,
            env={**os.environ, "PYTHONUNBUFFERED": "1", LOG_FILE_ENV: str(log.resolve())},
        )
    assert launcher.stdin is not None
    assert launcher.stdout is not None
    with launcher.stdin:
        launcher.stdin.write(json.dumps(spec).encode())
    with launcher.stdout:
        line = launcher.stdout.readline().decode("ascii", "replace").strip()
    launcher.wait(_LAUNCH_TIMEOUT)
    if not line.isdigit():
        reason = _failure_reason(log, offset) or f"launcher exited with {launcher.returncode}"
        raise StartupError(
            f"{plan.display} did not start: {reason}; its output is in {log}", reason
        )
    server = DetachedServer(plan, int(line), log)
    timeout = plan.config.startup_timeout
    if wait_until_answering(plan.endpoint, timeout, server.running):
        return server
    if server.running():
        server.stop()
        raise StartupError(
            f"{plan.display} did not answer on {plan.url} within {timeout:g} s; it was "
            f"stopped; its output is in {log}"
        )
    server.stop()
    reason = _failure_reason(log, offset) or "it exited"
    raise StartupError(f"{plan.display} did not start: {reason}; its output is in {log}", reason)


def serve_background(
    target: Any,
    *,
    host: str | None = None,
    port: int | None = None,
    pid_path: str | os.PathLike[str] | None = None,
    name: str = "FASTWARE",
    loop: LoopChoice = "asyncio",
    workers: int = 1,
    single_instance: bool = True,
    config: ServerConfig | None = None,
    **options: Any,
) -> str:
    """Serve ``target`` from a separate, detached process; return its URL once it answers.

    The process outlives this one. Stop it with :func:`stop` (through ``pid_path``) or
    :func:`stop_background` (through the URL). Its output goes to ``pid_path`` with a
    ``.log`` suffix, or to a temporary file without ``pid_path``.

    Args:
        target: ``"module:attribute"``, or a module-level app of an importable module (the
            process imports it again; objects of the running script are refused).
        host: The host (argument, then ``<NAME>_HOST``, then ``127.0.0.1``).
        port: The port (argument, then ``<NAME>_PORT``, then 8000; 0 for a free port).
        pid_path: The PID file the server writes.
        name: The server's name.
        loop: The workers' event loop.
        workers: Worker processes.
        single_instance: Refuse to start when ``pid_path`` names a live server.
        config: Further Granian options; ``**options`` override its fields.
        **options: Any :class:`ServerConfig` field.

    Raises:
        AlreadyRunningError: ``pid_path`` names a live server.
        PortInUseError: the port is taken.
        StartupError: the server did not start (the reason from its output is included).
        TargetError: the target cannot be imported by another process.
    """
    check_not_importing("serve_background()")
    settings = merge_config(config, options)
    plan = plan_server(
        target,
        host=host,
        port=port,
        name=name,
        pid_path=pid_path,
        single_instance=single_instance,
        loop=loop,
        workers=workers,
        config=settings,
        load=False,
        allow_main=False,
    )
    if plan.pid_path is not None:
        log_path = plan.pid_path.with_suffix(".log")
    else:
        log_path = Path(tempfile.gettempdir()) / f"fastware-server-{plan.port}.log"
    server = launch_detached(plan, log_path)
    register_background(plan.url, server)
    return plan.url
