"""``reload=True``: restart the server whenever a Python file changes.

The process that called ``serve`` watches the app directory (polling file times twice a
second; no extra package needed) and runs the server in a child process
(``python -m fastware_server._child``), which it stops and starts again on every change.
The app is imported only by the child, so each restart sees the new code. SIGTERM or
Ctrl-C stop the child, then the watcher.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from .detached import child_spec
from .plan import ServerPlan
from .process import children_of

__all__ = ("WATCH_INTERVAL", "run_with_reload", "snapshot")

WATCH_INTERVAL = 0.5
"""Seconds between two scans of the watched files."""
_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "build", "dist"}
_MAX_FILES = 20_000
_KILL_MARGIN = 3.0

logger = logging.getLogger("fastware.server")


def _python_files(root: Path) -> Iterator[Path]:
    count = 0
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = [
            d
            for d in subdirs
            if not d.startswith(".")
            and d not in _SKIP_DIRS
            and not (Path(directory) / d / "pyvenv.cfg").exists()
        ]
        for file in files:
            if file.endswith(".py"):
                count += 1
                if count > _MAX_FILES:
                    return
                yield Path(directory) / file


def snapshot(root: Path) -> dict[Path, int]:
    """Modification times (ns) of the ``.py`` files under ``root`` (virtualenvs, hidden and
    cache directories left out)."""
    times = {}
    for path in _python_files(root):
        try:
            times[path] = path.stat().st_mtime_ns
        except OSError:
            continue
    return times


def _start(spec_json: str, display: str) -> subprocess.Popen[bytes]:
    child = subprocess.Popen(
        [sys.executable, "-m", "fastware_server._child", display], stdin=subprocess.PIPE
    )
    assert child.stdin is not None
    with child.stdin:
        child.stdin.write(spec_json.encode())
    return child


def _stop(child: subprocess.Popen[bytes], grace: float) -> None:
    if child.poll() is not None:
        return
    workers = children_of(child.pid)
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(grace + _KILL_MARGIN)
    except subprocess.TimeoutExpired:
        for pid in [child.pid, *workers]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        child.wait()


def run_with_reload(plan: ServerPlan) -> None:
    """Serve ``plan`` in a child process, restarting it on changes, until SIGTERM/SIGINT."""
    spec = json.dumps(child_spec(plan, pid_path=None, single_instance=False))
    root = Path(plan.config.app_dir or os.getcwd()).resolve()
    stopping = threading.Event()
    previous = {}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, on_signal)
    files = snapshot(root)
    child = _start(spec, plan.display)
    try:
        while not stopping.wait(WATCH_INTERVAL):
            current = snapshot(root)
            if current == files:
                continue
            changed = sorted(
                str(path.relative_to(root))
                for path in set(current) | set(files)
                if current.get(path) != files.get(path)
            )
            files = current
            logger.warning("%s changed: restarting %s", ", ".join(changed[:5]), plan.display)
            _stop(child, plan.config.grace)
            child = _start(spec, plan.display)
    finally:
        _stop(child, plan.config.grace)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
