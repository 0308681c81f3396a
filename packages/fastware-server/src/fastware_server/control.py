"""Finding, checking and stopping a server through its PID file: ``stop`` and ``status``.

A PID file is trusted only if the process it names is alive and is the process that
wrote it (see :mod:`fastware_server.process`): its recorded start time matches, or, for a
bare file without a record (0.6.3's format, or one written by hand), it started before the
file was written *and* its command line is a server's. Otherwise the file is stale, and it
is removed together with its port file and registry descriptor. A stale file never leads to
a signal; when its PID now belongs to another live program, ``status`` says which.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .exceptions import NotRunningError
from .process import (
    children_of,
    command_line,
    is_alive,
    is_same_process,
    is_server_command,
    port_file_for,
    process_start,
    read_int_file,
    read_port_file,
    remove_owned_file,
    send_signal,
    wait_gone,
)
from .registry import deregister_instance, read_descriptor

__all__ = (
    "DEFAULT_GRACE",
    "ServerStatus",
    "check_already_running",
    "status",
    "stop",
    "stop_process",
)

DEFAULT_GRACE = 10.0
"""Seconds a server gets to stop after SIGTERM before it is killed."""
_KILL_MARGIN = 3.0  # beyond the grace: Granian itself kills its workers at the grace
_KILL_CONFIRM = 2.0
_HEALTH_TIMEOUT = 2.0

logger = logging.getLogger("fastware.server")


@dataclass(slots=True)
class ServerStatus:
    """What a PID file says about its server."""

    running: bool
    """Whether the server named by the PID file runs."""
    pid: int | None
    """Its PID (also for a server found dead), ``None`` without a readable PID file."""
    healthy: bool | None
    """The health check's verdict; ``None`` when none was made."""
    port: int | None = None
    """The port it listens on, from the port file."""
    url: str | None = None
    """The URL it serves, as recorded when it started."""
    name: str | None = None
    """The name it was started with."""
    other_process: str | None = None
    """When the PID file named a live process that is not the server (its PID was reused,
    or a bare file names another program): that process's command line. The file was
    removed as stale and the process left alone."""
    app: str | None = None
    """What it serves (``hello:app``), as recorded when it started."""


def _remove_files(pid_path: Path, pid: int | None) -> None:
    """Remove the PID file (if it still names ``pid``; any content when ``pid`` is None),
    its port file and ``pid``'s registry descriptor."""
    if pid is not None:
        deregister_instance(pid_path, pid)
        remove_owned_file(pid_path, pid)
        if pid_path.exists():
            return  # another server took the file over: its port file is its own
    for path in (pid_path, port_file_for(pid_path)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _written_at(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


@dataclass(slots=True)
class _Found:
    pid: int | None
    """The live server's PID."""
    recorded: int | None
    """The PID the file held."""
    descriptor: dict[str, Any] | None
    other_process: str | None = None
    """The command line of a live process the file named that is not the server."""


def _live_pid(pid_path: Path) -> _Found:
    """What ``pid_path`` names; stale and corrupt files are removed."""
    try:
        pid = read_int_file(pid_path)
    except (ValueError, OSError):
        _remove_files(pid_path, None)
        return _Found(None, None, None)
    if pid is None:
        return _Found(None, None, None)
    descriptor = read_descriptor(pid_path, pid)
    start = descriptor.get("start") if descriptor is not None else None
    if not is_alive(pid):
        _remove_files(pid_path, pid)
        return _Found(None, pid, descriptor)
    argv = command_line(pid)
    same = is_same_process(pid, start if isinstance(start, int) else None, _written_at(pid_path))
    if same and descriptor is None and argv is not None and not is_server_command(argv):
        same = False  # a bare file naming a program that is no server
    if same:
        return _Found(pid, pid, descriptor)
    _remove_files(pid_path, pid)
    other = " ".join(argv) if argv else f"PID {pid}"
    logger.warning(
        "%s named PID %d, which is not the server but %r: left it alone and removed the "
        "stale PID file",
        pid_path,
        pid,
        other,
    )
    return _Found(None, pid, descriptor, other)


def check_already_running(pid_path: str | os.PathLike[str]) -> int | None:
    """The PID of the live server recorded in ``pid_path``, or ``None``.

    A missing file gives ``None``. A corrupt file, or one naming a dead process or a
    process that is not the one recorded (its PID was reused), is removed with its port
    file and registry descriptor, and gives ``None``. Zombies count as dead.
    """
    return _live_pid(Path(pid_path)).pid


def stop_process(pid: int, grace: float = DEFAULT_GRACE) -> bool:
    """SIGTERM ``pid``, wait ``grace`` seconds (plus a margin), then SIGKILL it and its workers.

    Args:
        pid: A server's main process, already proved to be the right process.
        grace: How long it gets to finish in-flight requests and its lifespan shutdown.

    Returns:
        ``True`` if it stopped by itself, ``False`` if it had to be killed.

    Raises:
        PermissionError: the process belongs to another user.
    """
    workers = [(child, process_start(child)) for child in children_of(pid)]
    if not send_signal(pid, signal.SIGTERM) or wait_gone(pid, grace + _KILL_MARGIN):
        return True
    logger.warning("PID %d did not stop within %.1f s of SIGTERM; killing it", pid, grace)
    with contextlib.suppress(OSError):
        if os.getpgid(pid) == pid:  # a detached server leads its own group: workers too
            os.killpg(pid, signal.SIGKILL)
    send_signal(pid, signal.SIGKILL)
    for child, start in workers:
        if is_alive(child) and is_same_process(child, start, None):
            with contextlib.suppress(OSError):
                send_signal(child, signal.SIGKILL)
    if not wait_gone(pid, _KILL_CONFIRM):
        logger.warning("PID %d is still alive after SIGKILL", pid)
    return False


def stop(pid_path: str | os.PathLike[str], *, grace: float | None = None) -> bool:
    """Stop the server recorded in ``pid_path`` and wait until it has exited.

    The server gets SIGTERM: it stops accepting, finishes in-flight requests, tells open
    streams to end and runs its lifespan shutdown. If it is still running after ``grace``
    seconds (plus a short margin), it and its workers are killed.

    Args:
        pid_path: The server's PID file.
        grace: Seconds to wait before killing; defaults to the grace the server was started
            with (10 s when unknown).

    Returns:
        ``True`` if a server was stopped, ``False`` if the file was stale (its process had
        already exited, or the PID now belongs to another process, which is left alone):
        the stale files are removed.

    Raises:
        NotRunningError: there is no PID file, or it was corrupt (it is removed).
        PermissionError: the server belongs to another user.
    """
    path = Path(pid_path)
    if not path.exists():
        raise NotRunningError(f"no server to stop: there is no PID file {path}")
    found = _live_pid(path)
    pid, descriptor = found.pid, found.descriptor
    if found.recorded is None:
        raise NotRunningError(f"no server to stop: {path} was corrupt (removed)")
    if pid is None:
        return False
    if grace is None:
        recorded_grace = (descriptor or {}).get("grace")
        grace = float(recorded_grace) if isinstance(recorded_grace, int | float) else None
    stop_process(pid, DEFAULT_GRACE if grace is None else grace)
    _remove_files(path, pid)
    return True


def _check_health(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=_HEALTH_TIMEOUT) as response:
            code: int = response.status
    except urllib.error.HTTPError as exc:
        code = exc.code
    except (OSError, ValueError):
        return False
    return 200 <= code < 400


def status(pid_path: str | os.PathLike[str], health_url: str | None = None) -> ServerStatus:
    """Whether the server recorded in ``pid_path`` runs, and optionally whether it is healthy.

    Stale and corrupt files are removed, as :func:`check_already_running` does.

    Args:
        pid_path: The server's PID file.
        health_url: A URL to GET (2 s timeout) when the server runs: ``healthy`` is true for
            a 2xx or 3xx answer, false for anything else or no answer.
    """
    path = Path(pid_path)
    port = read_port_file(path)
    found = _live_pid(path)
    record = found.descriptor or {}
    url = record.get("url") if isinstance(record.get("url"), str) else None
    name = record.get("name") if isinstance(record.get("name"), str) else None
    app = record.get("target") if isinstance(record.get("target"), str) else None
    if found.pid is None:
        return ServerStatus(False, found.recorded, None, port, url, name, found.other_process, app)
    healthy = _check_health(health_url) if health_url is not None else None
    return ServerStatus(True, found.pid, healthy, port, url, name, app=app)
