"""Real Granian servers started through fastware-server: the library and the CLI.

Every server a test starts is recorded and stopped afterwards, however the test ended:
through its PID file when it has one, else by killing its process group. The apps live in
``tests-integration/apps`` (``srv_app.py`` mostly).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from fastware_server import stop
from fastware_server.control import check_already_running

APPS_DIR = Path(__file__).resolve().parent.parent / "apps"
STARTUP_TIMEOUT = 20.0
LOG_TAIL = 4000

if str(APPS_DIR) not in sys.path:
    sys.path.insert(0, str(APPS_DIR))  # the in-process (background thread) tests import apps


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_answering(url: str, timeout: float = STARTUP_TIMEOUT) -> httpx.Response:
    """GET ``url`` until it answers; the first answer."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2.0)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def refuses(url: str) -> bool:
    """Whether nothing accepts connections at ``url`` any more."""
    try:
        httpx.get(url, timeout=2.0)
    except httpx.ConnectError:
        return True
    return False


@dataclass
class CLIProcess:
    """A ``fastware`` command running in the background (``fastware serve`` in the
    foreground, mostly), with its output in files."""

    proc: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def logs(self) -> str:
        parts = []
        for label, path in (("stderr", self.stderr), ("stdout", self.stdout)):
            text = path.read_text(errors="replace") if path.exists() else ""
            parts.append(f"--- {label} ---\n{text[-LOG_TAIL:]}")
        return "\n".join(parts)

    def wait(self, timeout: float = 20.0) -> int:
        return self.proc.wait(timeout)


@dataclass
class Servers:
    """Runs ``fastware`` commands from ``cwd`` and cleans up every server afterwards."""

    cwd: Path
    pid_files: list[Path] = field(default_factory=list)
    processes: list[CLIProcess] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        # Its own per-user server list, so `fastware status` sees only this test's servers.
        return {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "FASTWARE_STATE_DIR": str(self.cwd / ".state"),
        }

    def cli(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run ``python -m fastware ARGS`` to completion."""
        return subprocess.run(
            [sys.executable, "-m", "fastware", *args],
            cwd=self.cwd,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str, name: str = "cli") -> CLIProcess:
        """Start ``fastware ARGS`` (the console script) without waiting for it."""
        index = len(self.processes)
        out = self.cwd / f"{name}-{index}.stdout.log"
        err = self.cwd / f"{name}-{index}.stderr.log"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "fastware"), *args],
                cwd=self.cwd,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
        process = CLIProcess(proc, out, err)
        self.processes.append(process)
        return process

    def track(self, pid_file: Path) -> Path:
        """Stop the server of ``pid_file`` (if any) when the test ends."""
        self.pid_files.append(pid_file)
        return pid_file

    def cleanup(self) -> None:
        for pid_file in self.pid_files:
            with contextlib.suppress(Exception):
                if check_already_running(pid_file) is not None:
                    stop(pid_file, grace=2.0)
        for process in self.processes:
            if process.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.proc.pid, signal.SIGTERM)
                try:
                    process.proc.wait(5)
                except subprocess.TimeoutExpired:
                    os.killpg(process.proc.pid, signal.SIGKILL)
                    process.proc.wait(5)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    """Run ``fastware`` commands in ``tmp_path``; every server is stopped after the test."""
    runner = Servers(tmp_path)
    try:
        yield runner
    finally:
        runner.cleanup()
