"""The per-user list of running servers, so ``fastware status`` finds them from anywhere.

The registry of fastware 0.6.3 (:mod:`fastware_server.registry`) lives next to each PID file,
so a server started from another directory was invisible. Every server that writes a PID file
also records itself here, one JSON file per server, ``<pid>.json``, in the user's state
directory:

- ``$FASTWARE_STATE_DIR/servers`` when that variable is set;
- else ``$XDG_STATE_HOME/fastware/servers``;
- else ``~/.local/state/fastware/servers``.

A record holds the PID and start time (to recognise the process), the PID file (absolute),
the app, the URL, the working directory and the log file. Readers skip and delete the
records of processes that are gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .process import is_alive, is_same_process, process_start

__all__ = (
    "STATE_DIR_ENV",
    "ServerRecord",
    "forget_server",
    "list_servers",
    "record_server",
    "servers_dir",
)

STATE_DIR_ENV = "FASTWARE_STATE_DIR"
"""Overrides the directory the per-user list lives in (its ``servers`` subdirectory)."""


@dataclass(frozen=True, slots=True)
class ServerRecord:
    """One running server, as it recorded itself."""

    pid: int
    """Its main process."""
    pid_file: str
    """Its PID file, absolute: ``fastware stop --pid-file`` this stops it."""
    app: str
    """What it serves (``hello:app``)."""
    url: str
    """Where it answers."""
    cwd: str
    """The directory it was started from."""
    log_file: str | None
    """Where its output goes (``--daemon``), or ``None`` for a terminal."""


def servers_dir() -> Path:
    """The directory holding the records (see the module docstring)."""
    override = os.environ.get(STATE_DIR_ENV)
    if override:
        return Path(override) / "servers"
    state = os.environ.get("XDG_STATE_HOME")
    base = Path(state) if state and os.path.isabs(state) else Path.home() / ".local" / "state"
    return base / "fastware" / "servers"


def record_server(
    pid_file: str | os.PathLike[str], app: str, url: str, log_file: str | None = None
) -> Path | None:
    """Record this process as a running server; ``None`` if the directory is not writable
    (the server runs anyway; only ``status`` from elsewhere will not find it)."""
    pid = os.getpid()
    record = {
        "pid": pid,
        "start": process_start(pid),
        "pid_file": str(Path(pid_file).resolve()),
        "app": app,
        "url": url,
        "cwd": os.getcwd(),
        "log_file": log_file,
    }
    directory = servers_dir()
    path = directory / f"{pid}.json"
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temporary = tempfile.mkstemp(prefix=f".{pid}.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(record, handle)
            os.replace(temporary, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
    except OSError:
        return None
    return path


def forget_server(pid: int | None = None) -> None:
    """Delete the record of ``pid`` (default: this process); a missing one is fine."""
    with contextlib.suppress(OSError):
        (servers_dir() / f"{os.getpid() if pid is None else pid}.json").unlink()


def _load(path: Path) -> ServerRecord | None:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        pid, start = data["pid"], data.get("start")
        record = ServerRecord(
            pid=int(pid),
            pid_file=str(data["pid_file"]),
            app=str(data["app"]),
            url=str(data["url"]),
            cwd=str(data["cwd"]),
            log_file=data.get("log_file") if isinstance(data.get("log_file"), str) else None,
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        with contextlib.suppress(OSError):
            path.unlink()  # corrupt
        return None
    alive = is_alive(record.pid) and is_same_process(
        record.pid, start if isinstance(start, int) else None, None
    )
    if not alive or not os.path.exists(record.pid_file):
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    return record


def list_servers() -> list[ServerRecord]:
    """This user's running servers, sorted by PID; records of dead ones are deleted."""
    directory = servers_dir()
    if not directory.is_dir():
        return []
    found = [_load(path) for path in directory.glob("*.json")]
    return sorted((r for r in found if r is not None), key=lambda record: record.pid)
