"""Real Granian servers for the integration suites: ``python -m granian`` on a free port,
or ``fastware serve`` (:class:`FastwareServeProcess`).

Shared by the suites (tests-integration is on pytest's pythonpath, so they import it as
``support.granian``); a suite's ``conftest.py`` re-exports the :func:`servers` fixture and
wraps :meth:`ServerPool.start` in a ``start_granian`` fixture naming its app.

The two differ in what a worker shares: ``python -m granian`` imports the app again in
every worker, while ``fastware serve`` imports it once in the main process and forks the
workers from it, so module-level objects (a broadcaster, its broker, random state) are
created before the fork and inherited by every worker.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest

APPS_DIR = Path(__file__).resolve().parent.parent / "apps"
STARTUP_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
LOG_TAIL = 6000


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class GranianProcess:
    """``python -m granian`` serving one app of ``apps/`` on a free port, output in files."""

    def __init__(
        self,
        target: str,
        interface: str,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        *,
        workers: int = 1,
        port: int | None = None,
    ) -> None:
        self.target = target
        self.interface = interface
        self.env = dict(env or {})
        self.workers = workers
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.url = f"http://{self.host}:{self.port}"
        stem = f"{target.partition(':')[0]}-{interface}-{self.port}"
        self.stdout_path = log_dir / f"{stem}.stdout.log"
        self.stderr_path = log_dir / f"{stem}.stderr.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            self.interface,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--working-dir",
            str(APPS_DIR),
            self.target,
        ]

    def start(self) -> None:
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            **self.env,
        }
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=APPS_DIR,
                env=env,
                start_new_session=True,  # its own process group: the worker goes with it
            )

    @property
    def returncode(self) -> int | None:
        assert self.proc is not None
        return self.proc.poll()

    def logs(self) -> str:
        """The tail of the captured stderr and stdout."""
        parts = []
        for label, path in (("stderr", self.stderr_path), ("stdout", self.stdout_path)):
            text = path.read_text(errors="replace") if path.exists() else ""
            parts.append(f"--- granian {label} ---\n{text[-LOG_TAIL:]}")
        return "\n".join(parts)

    def _workers_started(self) -> bool:
        # With several workers, GET / may be answered before the last one serves.
        if self.workers == 1:
            return True
        text = "".join(
            path.read_text(errors="replace")
            for path in (self.stdout_path, self.stderr_path)
            if path.exists()
        )
        return all(f"Started worker-{n}" in text for n in range(1, self.workers + 1))

    def describe(self) -> str:
        return f"granian --interface {self.interface} {self.target} on {self.url}"

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Return once the app answers ``GET /``; fail with Granian's output otherwise."""
        deadline = time.monotonic() + timeout
        last_error = "no attempt"
        while time.monotonic() < deadline:
            code = self.returncode
            if code is not None:
                pytest.fail(f"{self.describe()} exited with {code} during startup\n{self.logs()}")
            try:
                response = httpx.get(self.url + "/", timeout=1.0)
            except httpx.HTTPError as exc:
                last_error = repr(exc)
            else:
                if response.status_code == 200 and self._workers_started():
                    return
                last_error = f"GET / answered {response.status_code}"
            time.sleep(0.1)
        pytest.fail(
            f"{self.describe()} did not answer within {timeout} s ({last_error})\n{self.logs()}"
        )

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, then SIGKILL for the whole process group after ``timeout`` seconds.

        Returns Granian's exit code (negative for a signal), ``None`` if it never started.
        """
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(STOP_TIMEOUT)
        try:  # a worker left behind by its main process
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return proc.returncode


class FastwareServeProcess(GranianProcess):
    """``fastware serve`` (no PID file) serving one app of ``apps/`` on a free port: the
    app is imported in the main process before Granian forks its workers."""

    @property
    def command(self) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "fastware",
            "serve",
            self.target,
            "--app-dir",
            str(APPS_DIR),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--no-pid-file",
            "--log-level",
            "info",
        ]
        if self.interface != "auto":
            command += ["--interface", self.interface]
        return command

    def describe(self) -> str:
        return f"fastware serve {self.target} on {self.url}"


class ServerPool:
    """The Granian servers one test started; :func:`servers` stops them all after it.

    Each suite's ``start_granian`` fixture is a thin wrapper naming its app (and what else it
    fixes) over :meth:`start`.
    """

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[GranianProcess] = []

    def start(
        self,
        target: str,
        interface: str = "rsgi",
        *,
        workers: int = 1,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        launcher: type[GranianProcess] = GranianProcess,
        wait: bool = True,
    ) -> GranianProcess:
        """Start ``target`` (``module:app`` in ``apps/``) and, unless ``wait`` is false,
        wait until it answers."""
        server = launcher(target, interface, self.log_dir, env, workers=workers, port=port)
        self.started.append(server)
        server.start()
        if wait:
            server.wait_ready()
        return server

    def stop_all(self) -> None:
        """Stop every server started, the last first."""
        while self.started:
            self.started.pop().stop()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[ServerPool]:
    """A :class:`ServerPool` logging to the test's ``tmp_path``; its servers are stopped
    after the test, passed or failed."""
    pool = ServerPool(tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()
