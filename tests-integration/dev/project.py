"""Helpers for the dev-mode tests: Vite from npm, ``fastware dev`` as a developer runs it.

Vite is installed with npm (Debian's ``nodejs`` and ``npm``; ``.ci/run`` installs them when
missing; a missing npm fails the tests, it never skips them) once per ``package.json`` of
the ``fastware dev new`` template and Node version, into ``.venvs/npm/`` of the repository,
and every test project gets a hard-linked copy of that ``node_modules``. npm's own cache
(``~/.npm``) makes a fresh install fast too.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from fastware_dev import create_project
from fastware_server.process import is_alive

ROOT = Path(__file__).resolve().parents[2]
NPM_CACHE = ROOT / ".venvs" / "npm"
INSTALL_TIMEOUT = 300.0
RUN_TIMEOUT = 90.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not installed (apt-get install nodejs npm; .ci/run does it)")
    return npm


def install_vite(package_json: str) -> Path:
    """``node_modules`` with the template's Vite, installed once per package.json + Node."""
    npm = _npm()
    node = subprocess.run(
        ["node", "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    key = hashlib.sha256(f"{node}\n{package_json}".encode()).hexdigest()[:16]
    target = NPM_CACHE / f"vite-{key}"
    NPM_CACHE.mkdir(parents=True, exist_ok=True)
    with (NPM_CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test session may be installing too
        if (target / "node_modules" / ".bin" / "vite").exists():
            return target / "node_modules"
        staging = NPM_CACHE / f".staging-{key}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        (staging / "package.json").write_text(package_json)
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"],
            cwd=staging,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            pytest.fail(f"npm install vite failed ({done.returncode}):\n{done.stderr[-3000:]}")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return target / "node_modules"


class DevProject:
    """A ``fastware dev new`` project with Vite installed, and the runs started in it."""

    def __init__(self, root: Path, modules: Path) -> None:
        self.root = root
        self.port = free_port()
        self.vite_port = free_port()
        create_project(root, name="shop", port=self.port, vite_port=self.vite_port)
        shutil.copytree(
            modules, root / "frontend" / "node_modules", copy_function=os.link, symlinks=True
        )
        self.runs: list[subprocess.Popen[str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}

    def fastware(
        self, *args: str, timeout: float = RUN_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """``fastware ARGS`` (the meta-package's CLI), run to its end."""
        return subprocess.run(
            [sys.executable, "-m", "fastware", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
            stdin=subprocess.DEVNULL,
        )

    def start(self) -> subprocess.Popen[str]:
        """``fastware dev`` in the foreground, its output on a pipe the test reads."""
        process = subprocess.Popen(
            [sys.executable, "-m", "fastware", "dev"],
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
            stdin=subprocess.DEVNULL,
        )
        self.runs.append(process)
        return process

    def wait_running(self, process: subprocess.Popen[str]) -> str:
        """The output up to the URL block (fails with the output when it exits first)."""
        lines: list[str] = []
        assert process.stdout is not None
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                raise AssertionError("fastware dev exited:\n" + "".join(lines))
            lines.append(line)
            if "stop: Ctrl-C" in line:
                return "".join(lines)
        raise AssertionError("fastware dev was not ready:\n" + "".join(lines))

    def components(self) -> dict[str, int]:
        """``fastware dev status --json``: component name -> PID."""
        done = self.fastware("dev", "status", "--json")
        rows: list[dict[str, Any]] = json.loads(done.stdout)
        assert len(rows) == 1, done.stdout
        return {c["name"]: c["pid"] for c in rows[0]["components"]}

    def close(self) -> None:
        for process in self.runs:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
        self.fastware("dev", "stop", "--grace", "2")


def project_processes(root: Path) -> set[int]:
    """Live processes started for a project: their command line or working directory is in it."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            cwd = os.readlink(f"/proc/{entry}/cwd")
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
            if (cwd.startswith(str(root)) or str(root) in cmdline) and is_alive(int(entry)):
                found.add(int(entry))
    return found


def wait_gone(root: Path, timeout: float = 15.0) -> set[int]:
    """Wait until no process of the project is left; the ones left after ``timeout``."""
    deadline = time.monotonic() + timeout
    left = project_processes(root)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = project_processes(root)
    return left


def get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, timeout=10, trust_env=False, **kwargs)
