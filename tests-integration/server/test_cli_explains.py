"""The ``fastware`` command explains itself (issue 11): through the installed console script,
in a fresh working directory with a fresh per-user state directory, against real Granian."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.conftest import APPS_DIR, free_port, refuses, wait_answering

FASTWARE = str(Path(sys.executable).parent / "fastware")
TIMESTAMP = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] ")

NOT_APPS = """
import msgspec

from fastware import Router, create_app


class Item(msgspec.Struct):
    name: str


router = Router()
app = create_app(router)
count = 3
"""


class Shell:
    """Runs the installed ``fastware`` like a user's shell: own HOME, own state, own cwd."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.cwd = home / "project"
        self.cwd.mkdir(parents=True)
        self.pid_files: list[Path] = []

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("FASTWARE", "XDG_STATE_HOME", "VIRTUAL_ENV"))
        }
        return {**env, "HOME": str(self.home), "PYTHONUNBUFFERED": "1"}

    def run(
        self, *args: str, cwd: Path | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [FASTWARE, *args],
            cwd=cwd or self.cwd,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def stop_all(self) -> None:
        for pid_file in self.pid_files:
            if pid_file.exists():
                self.run("stop", "--pid-file", str(pid_file), "--grace", "2")


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[Shell]:
    runner = Shell(tmp_path / "home")
    try:
        yield runner
    finally:
        runner.stop_all()


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in lines[0]
    return lines[0]


def test_a_failing_lifespan_under_daemon_says_did_not_start_once(shell: Shell) -> None:
    result = shell.run(
        "serve", "fw_failing_lifespan_app:app", "--app-dir", str(APPS_DIR), "--daemon",
        "--port", str(free_port()),
    )  # fmt: skip
    assert result.returncode == 1
    line = one_error_line(result.stderr)
    assert line.startswith(
        "fastware serve: error: fw_failing_lifespan_app:app did not start: lifespan startup "
        "failed: RuntimeError: the database is unreachable"
    ), line
    assert line.count("did not start") == 1, line
    assert line.endswith("its output is in .fastware.log"), line
    assert not (shell.cwd / ".fastware.pid").exists()


@pytest.mark.parametrize("daemon", [False, True])
@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("notapps:Item", "cannot serve notapps:Item: it is the class Item, not an app"),
        ("notapps:count", "cannot serve notapps:count: it is an int, not an app"),
        ("notapps:", "invalid app 'notapps:': nothing after ':'; name the app"),
    ],
)
def test_what_is_not_an_app_is_refused_at_startup(
    shell: Shell, target: str, message: str, daemon: bool
) -> None:
    (shell.cwd / "notapps.py").write_text(NOT_APPS)
    port = free_port()
    extra = ["--daemon"] if daemon else []
    shell.pid_files.append(shell.cwd / ".fastware.pid")
    result = shell.run("serve", target, "--port", str(port), *extra, timeout=30)
    assert result.returncode == 1, result.stdout
    line = one_error_line(result.stderr)
    assert message in line, line
    assert refuses(f"http://127.0.0.1:{port}/")


def test_the_readiness_probe_stays_out_of_the_access_log(shell: Shell) -> None:
    port = free_port()
    shell.pid_files.append(shell.cwd / ".fastware.pid")
    started = shell.run(
        "serve", "srv_app:app", "--app-dir", str(APPS_DIR), "--port", str(port), "--daemon",
        "--access-log",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200
    shown = shell.run("status", "--json")  # status probes too
    assert json.loads(shown.stdout)["responding"] is True
    stopped = shell.run("stop")
    assert stopped.returncode == 0, stopped.stderr
    log = (shell.cwd / ".fastware.log").read_text()
    access = [line for line in log.splitlines() if '" ' in line and "HTTP/" in line]
    assert len(access) == 1, log  # the request above only: no probe, no /health
    assert '"GET / HTTP/1.1" 200' in access[0]
    assert "/health" not in log
    # Every server log line has a timestamp.
    server_lines = [line for line in log.splitlines() if "[INFO]" in line]
    assert server_lines, log
    assert all(TIMESTAMP.match(line) for line in server_lines), log


def test_status_finds_a_server_started_from_another_directory(shell: Shell) -> None:
    port = free_port()
    shell.pid_files.append(shell.cwd / ".fastware.pid")
    started = shell.run(
        "serve", "srv_app:app", "--app-dir", str(APPS_DIR), "--port", str(port), "--daemon"
    )
    assert started.returncode == 0, started.stderr
    pid = int((shell.cwd / ".fastware.pid").read_text())
    elsewhere = shell.home / "elsewhere"
    elsewhere.mkdir()

    table = shell.run("status", cwd=elsewhere)
    assert table.returncode == 0, table.stderr
    header, row = table.stdout.splitlines()
    assert header.split() == ["APP", "PID", "URL", "RESPONDING", "PID", "FILE"]
    pid_file = str((shell.cwd / ".fastware.pid").resolve())
    assert row.split() == ["srv_app:app", str(pid), f"http://127.0.0.1:{port}", "yes", pid_file]

    listed = json.loads(shell.run("status", "--json", cwd=elsewhere).stdout)["servers"]
    assert [(s["app"], s["pid"], s["cwd"]) for s in listed] == [
        ("srv_app:app", pid, str(shell.cwd))
    ]
    assert listed[0]["healthy"] is None
    assert listed[0]["log_file"] == str((shell.cwd / ".fastware.log").resolve())

    # In its own directory: its PID file, with the app's name (not FASTWARE).
    own = shell.run("status")
    header, row = own.stdout.splitlines()
    assert "APP" in header.split()
    assert "srv_app:app" in row.split()
    assert "FASTWARE" not in own.stdout

    # stop from elsewhere names the command that works.
    refused = shell.run("stop", cwd=elsewhere)
    assert refused.returncode == 1
    line = one_error_line(refused.stderr)
    assert f"fastware stop --pid-file {pid_file}" in line, line
    stopped = shell.run("stop", "--pid-file", pid_file, cwd=elsewhere)
    assert stopped.returncode == 0, stopped.stderr
    assert f"stopped srv_app:app of {pid_file} (PID {pid})" in stopped.stdout
    after = shell.run("status", cwd=elsewhere)
    assert after.returncode == 3
    assert "no server is running" in after.stdout


def test_stop_on_a_pid_file_naming_another_program_says_so(shell: Shell) -> None:
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        (shell.cwd / ".fastware.pid").write_text(str(bystander.pid))
        result = shell.run("stop")
        assert result.returncode == 1
        line = one_error_line(result.stderr)
        assert f"named PID {bystander.pid}, which is not a fastware server but `sleep 60`" in line
        assert "is not running" not in line
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_foreground_startup_prints_one_block(shell: Shell) -> None:
    port = free_port()
    shell.pid_files.append(shell.cwd / ".fastware.pid")
    out = shell.cwd / "serve.out"
    with out.open("wb") as output:
        process = subprocess.Popen(
            [FASTWARE, "serve", "srv_app:app", "--app-dir", str(APPS_DIR), "--port", str(port)],
            cwd=shell.cwd,
            env=shell.env(),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_answering(f"http://127.0.0.1:{port}/")
        assert shell.run("stop").returncode == 0
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lines = out.read_text().splitlines()
    assert lines[0] == f"fastware: serving srv_app:app on http://127.0.0.1:{port}"
    block = dict(line.split(None, 1) for line in lines[1:7])
    assert block["app"] == f"srv_app:app (from {APPS_DIR})"
    assert block["url"] == f"http://127.0.0.1:{port}"
    assert block["interface"] == "RSGI"
    assert block["workers"].startswith("1 (main PID ")
    assert block["reload"] == "off"
    assert lines[6].split(None, 2)[:2] == ["PID", "file"]
    rest = [line for line in lines[8:] if line.strip()]
    assert rest, lines
    assert all(TIMESTAMP.match(line) for line in rest if "[INFO]" in line), lines


def test_usage_errors_and_routes_json(shell: Shell) -> None:
    result = shell.run("serve", "hello:app", "--workers", "none")
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert line.endswith("(try 'fastware serve --help')"), line
    assert "--workers" in line
    routes = shell.run("routes", "srv_app:app", "--app-dir", str(APPS_DIR), "--json")
    assert routes.returncode == 0, routes.stderr
    listed = json.loads(routes.stdout)
    assert listed["app"] == "srv_app:app"
    slow = {
        "method": "GET",
        "path": "/slow",
        "handler": "srv_app.slow",
        "features": [],
        "dependencies": [],
    }
    assert slow in listed["routes"]
    helped = shell.run("serve", "--help")
    text = " ".join(helped.stdout.split())
    for option in ("--http", "--loop", "--backlog", "--keep-alive-timeout"):
        described = text.split(option, 1)[1]
        assert described.split()[0] not in ("", option), option
    assert "HTTP versions to speak" in text
    assert "the event loop each worker runs" in text
