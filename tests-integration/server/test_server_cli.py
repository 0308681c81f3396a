"""The ``fastware`` CLI driving real Granian servers: serve, status, stop, errors."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from typing import TYPE_CHECKING

import httpx
import pytest

from server.conftest import APPS_DIR, free_port, refuses, wait_answering

if TYPE_CHECKING:
    from server.conftest import Servers

APP = "srv_app:app"
FAILING = "fw_failing_lifespan_app:app"


def serve_args(port: int, *extra: str, target: str = APP) -> list[str]:
    return [
        "serve",
        target,
        "--app-dir",
        str(APPS_DIR),
        "--port",
        str(port),
        "--grace",
        "3",
        "--log-level",
        "warning",
        *extra,
    ]


def assert_one_error_line(stderr: str, *fragments: str, app_logged: bool = False) -> None:
    """The command's error is its last line; nothing else unless the app logged it."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if not app_logged:
        assert len(lines) == 1, stderr
    assert "Traceback" not in lines[-1], stderr
    assert lines, "nothing on stderr"
    assert " error: " in lines[-1], stderr
    for fragment in fragments:
        assert fragment in lines[-1], stderr


def test_foreground_serve_status_and_stop(servers: Servers) -> None:
    port = free_port()
    process = servers.start(*serve_args(port))
    servers.track(servers.cwd / ".fastware.pid")
    answer = wait_answering(f"http://127.0.0.1:{port}/")
    assert answer.json()["door"] == "rsgi", process.logs()
    assert (servers.cwd / ".fastware.pid").read_text() == str(process.proc.pid)
    assert (servers.cwd / ".fastware.port").read_text() == str(port)

    shown = servers.cli("status", "--json")
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert record["running"] is True
    assert record["pid"] == process.proc.pid
    assert record["port"] == port
    assert record["url"] == f"http://127.0.0.1:{port}"
    assert record["responding"] is True

    table = servers.cli("status")
    assert table.returncode == 0
    header, row = table.stdout.splitlines()
    assert header.split() == ["PID", "FILE", "STATE", "PID", "URL", "APP", "RESPONDING"]
    assert row.split()[:3] == [".fastware.pid", "running", str(process.proc.pid)]

    stopped = servers.cli("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert f"PID {process.proc.pid}" in stopped.stdout
    assert process.wait(5) == 0, process.logs()
    assert not (servers.cwd / ".fastware.pid").exists()
    assert not (servers.cwd / ".fastware.port").exists()
    assert "serving srv_app:app on http://127.0.0.1:" in process.stdout.read_text()

    after = servers.cli("status", "--json")
    assert after.returncode == 3
    assert json.loads(after.stdout)["running"] is False


def test_daemon_returns_once_the_server_answers(servers: Servers) -> None:
    port = free_port()
    pid_file = servers.track(servers.cwd / "run" / "app.pid")
    started = servers.cli(*serve_args(port, "--daemon", "--pid-file", str(pid_file)))
    assert started.returncode == 0, started.stderr
    assert f"http://127.0.0.1:{port}" in started.stdout
    # No retry: the command returned only once the app answered.
    assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).json()["started"] is True
    pid = int(pid_file.read_text())
    assert f"PID {pid}" in started.stdout
    assert "fastware-server" not in pid_file.with_suffix(".log").read_text()  # no error

    shown = servers.cli("status", "--pid-file", str(pid_file), "--json")
    assert json.loads(shown.stdout)["pid"] == pid

    again = servers.cli(*serve_args(free_port(), "--daemon", "--pid-file", str(pid_file)))
    assert again.returncode == 1
    assert_one_error_line(again.stderr, "already running", f"PID {pid}")

    stopped = servers.cli("stop", "--pid-file", str(pid_file))
    assert stopped.returncode == 0, stopped.stderr
    assert refuses(f"http://127.0.0.1:{port}/")
    assert not pid_file.exists()


def test_serve_over_asgi_when_asked_and_for_plain_asgi_apps(servers: Servers) -> None:
    port = free_port()
    servers.start(*serve_args(port, "--interface", "asgi", "--no-pid-file"))
    assert wait_answering(f"http://127.0.0.1:{port}/").json()["door"] == "asgi"

    plain_port = free_port()
    plain = servers.start(*serve_args(plain_port, "--pid-file", "plain.pid", target="srv_asgi_app"))
    servers.track(servers.cwd / "plain.pid")
    assert wait_answering(f"http://127.0.0.1:{plain_port}/").text == "plain asgi"
    assert re.search(r"^  interface +ASGI$", plain.stdout.read_text(), re.MULTILINE)


@pytest.mark.parametrize("interface", ["rsgi", "asgi"])
def test_failing_lifespan_exits_non_zero_with_the_reason(servers: Servers, interface: str) -> None:
    port = free_port()
    result = servers.cli(*serve_args(port, "--interface", interface, target=FAILING))
    assert result.returncode == 1, result.stdout
    assert_one_error_line(
        result.stderr,
        f"{FAILING} did not start",
        "lifespan startup failed",
        "the database is unreachable",
        app_logged=True,  # the app logs its traceback; the command adds one line
    )
    assert not (servers.cwd / ".fastware.pid").exists()
    assert refuses(f"http://127.0.0.1:{port}/")


@pytest.mark.parametrize("interface", ["rsgi", "asgi"])
@pytest.mark.parametrize("workers", [1, 2])
def test_failing_lifespan_shutdown_exits_non_zero(
    servers: Servers, interface: str, workers: int
) -> None:
    port = free_port()
    process = servers.start(
        *serve_args(
            port,
            "--interface",
            interface,
            "--workers",
            str(workers),
            "--pid-file",
            "app.pid",
            target="fw_failing_shutdown_app:app",
        )
    )
    servers.track(servers.cwd / "app.pid")
    assert wait_answering(f"http://127.0.0.1:{port}/").json() == {"served": True}
    process.proc.send_signal(signal.SIGTERM)
    code = process.wait(15)
    logs = process.logs()
    assert code == 1, logs
    assert_one_error_line(
        process.stderr.read_text(),
        "fw_failing_shutdown_app:app stopped, but its lifespan shutdown failed",
        "the database connection could not be closed",
        app_logged=True,  # the app logs its traceback; the command adds one line
    )
    assert not (servers.cwd / "app.pid").exists(), logs


def test_taken_port_names_its_holder(servers: Servers) -> None:
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = servers.cli(*serve_args(port))
        daemon = servers.cli(*serve_args(port, "--daemon"))
    for attempt in (result, daemon):
        assert attempt.returncode == 1
        assert_one_error_line(attempt.stderr, f"port {port}", f"PID {os.getpid()}")
    assert not (servers.cwd / ".fastware.pid").exists()


def test_bad_targets_are_one_line_errors(servers: Servers) -> None:
    (servers.cwd / "broken.py").write_text("app = undefined_name\n")
    cases = {
        "no_such_module:app": "no module named 'no_such_module'",
        "srv_app:nope": "'nope' not found in srv_app",
        "broken:app": "NameError: name 'undefined_name' is not defined",
        "not a target": "expected MODULE:ATTRIBUTE",
    }
    for target, fragment in cases.items():
        result = servers.cli(*serve_args(free_port(), target=target))
        assert result.returncode == 1, target
        assert_one_error_line(result.stderr, fragment)


def test_stop_and_status_without_a_server(servers: Servers) -> None:
    result = servers.cli("stop")
    assert result.returncode == 1
    assert_one_error_line(result.stderr, "no server to stop", ".fastware.pid")
    shown = servers.cli("status")
    assert shown.returncode == 3
    assert "no server is running (no .fastware.pid here" in shown.stdout
    named = servers.cli("status", "--pid-file", ".fastware.pid")
    assert named.returncode == 3
    assert "not running" in named.stdout


def test_reload_restarts_on_change(servers: Servers) -> None:
    app_dir = servers.cwd / "project"
    app_dir.mkdir()
    module = app_dir / "reloaded.py"
    source = (
        "from fastware_core import Router, create_app\n"
        "router = Router()\n"
        "@router.get('/')\n"
        "async def index(request: object) -> dict[str, str]:\n"
        "    return {'version': 'VERSION'}\n"
        "app = create_app(router)\n"
    )
    module.write_text(source.replace("VERSION", "one"))
    port = free_port()
    process = servers.start(
        "serve", "reloaded:app", "--app-dir", str(app_dir), "--port", str(port), "--reload",
        "--grace", "1", "--log-level", "warning",
    )  # fmt: skip
    servers.track(servers.cwd / ".fastware.pid")
    url = f"http://127.0.0.1:{port}/"
    assert wait_answering(url).json() == {"version": "one"}, process.logs()
    time.sleep(0.05)
    module.write_text(source.replace("VERSION", "two"))
    deadline = time.monotonic() + 15
    seen = None
    while time.monotonic() < deadline and seen != {"version": "two"}:
        try:
            seen = httpx.get(url, timeout=2).json()
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    assert seen == {"version": "two"}, process.logs()
    stopped = servers.cli("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert process.wait(10) == 0, process.logs()
    assert refuses(url)


def test_help_lists_the_commands(servers: Servers) -> None:
    result = servers.cli("--help")
    assert result.returncode == 0
    for name in ("routes", "serve", "status", "stop"):
        assert f"\n  {name} " in result.stdout
    routes = servers.cli("routes", APP, "--app-dir", str(APPS_DIR))
    assert routes.returncode == 0, routes.stderr
    lines = routes.stdout.splitlines()
    assert lines[0].split() == ["METHOD", "PATH", "HANDLER", "FEATURES", "DEPENDENCIES"]
    assert any(line.split()[:3] == ["GET", "/slow", "srv_app.slow"] for line in lines)


def test_demo_script_serves_the_example_with_fastware_serve(servers: Servers) -> None:
    root = APPS_DIR.parent.parent
    port = free_port()
    pid_file = servers.track(servers.cwd / "demo.pid")
    out = servers.cwd / "demo.out"
    with out.open("wb") as output:
        demo = subprocess.Popen(
            [str(root / "scripts" / "demo"), "--pid-file", str(pid_file), "--log-level", "warning"],
            env={**servers.env(), "PORT": str(port)},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        answer = wait_answering(f"http://127.0.0.1:{port}/items/1", timeout=60)
        assert answer.json() == {"name": "teapot", "price": 12.0}, out.read_text()
        assert f"open http://127.0.0.1:{port}/" in out.read_text()
        # A new shell knows neither uv nor fastware: the demo names both, and the stop command.
        assert f"stop it from another terminal: {root}/.venv/bin/fastware stop --pid-file" in (
            out.read_text()
        )
        assert f"the fastware command: {root}/.venv/bin/fastware" in out.read_text()
        assert servers.cli("stop", "--pid-file", str(pid_file)).returncode == 0
        assert demo.wait(15) == 0, out.read_text()
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
