"""``fastware dev`` end to end, with real processes: a fastware app served by Granian, and a
static HTTP server standing in for Vite (the real Vite runs in tests-integration/dev).

Every run goes through ``python -m fastware_dev``, as a developer would, and every test
checks that no process is left behind.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fastware_server.process import is_alive, process_start
from fastware_server.registry import registry_dir

STAND_IN_VITE = '''
"""Serves index.html and files of this directory on argv[1]; argv[2:] are Vite's flags."""
import http.server, os, sys
port = int(sys.argv[1])
if os.environ.get("VITE_SAY_BAD_BYTES"):
    sys.stdout.buffer.write(b"\\xff\\xfe not utf-8\\n")
    sys.stdout.flush()
if os.environ.get("VITE_EXIT"):
    print("Error: vite.config.js: Unexpected token", flush=True)
    sys.exit(int(os.environ["VITE_EXIT"]))
print(f"  VITE ready on http://127.0.0.1:{port}/ flags={sys.argv[2:]}", flush=True)
class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
'''

APP = """
from fastware_core import JSONResponse, Request, Router, create_app

MESSAGE = "{message}"
router = Router()


@router.get("/api/hello")
async def hello(request: Request) -> JSONResponse:
    return JSONResponse({{"message": MESSAGE}})


app = create_app(router)
"""

RUN_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Project:
    """A directory with ``[tool.fastware.dev]``, app.py and the stand-in Vite."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.vite_port = free_port()
        self.runs: list[subprocess.Popen[str]] = []
        self.write_app("hello")
        (root / "frontend").mkdir()
        (root / "frontend" / "index.html").write_text("<h1>from vite</h1>")
        (root / "frontend" / "vite.py").write_text(STAND_IN_VITE)
        self.write_config()

    def write_app(self, message: str) -> None:
        (self.root / "app.py").write_text(APP.format(message=message))

    def write_config(self, extra: str = "", backend: str = "", vite_env: str = "") -> None:
        text = f"""
            [project]
            name = "shop"

            [tool.fastware.dev]
            topology = "vite-first"
            {extra}

            [tool.fastware.dev.backend]
            app = "app:app"
            port = {self.port}
            {backend}

            [tool.fastware.dev.vite]
            cmd = ["{sys.executable}", "vite.py", "{self.vite_port}"]
            port = {self.vite_port}
            host = "127.0.0.1"
            cwd = "frontend"
            {vite_env}
        """
        (self.root / "pyproject.toml").write_text(textwrap.dedent(text))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "fastware_dev", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "NO_COLOR": "1"},
        )

    def start(self) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "fastware_dev"],
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "NO_COLOR": "1"},
        )
        self.runs.append(process)
        return process

    def wait_running(self, process: subprocess.Popen[str]) -> list[str]:
        """Read output until the URL block; the lines read so far."""
        lines: list[str] = []
        assert process.stdout is not None
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                raise AssertionError("fastware dev exited:\n" + "".join(lines))
            lines.append(line)
            if "stop: Ctrl-C" in line:
                return lines
        raise AssertionError("fastware dev was not ready:\n" + "".join(lines))

    def components(self) -> dict[str, int]:
        status = json.loads(self.cli("status", "--json").stdout)
        assert len(status) == 1
        return {c["name"]: c["pid"] for c in status[0]["components"]}

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
        self.cli("stop", "--grace", "2")


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    (tmp_path / "shop").mkdir()
    made = Project(tmp_path / "shop")
    yield made
    made.close()


@pytest.fixture(autouse=True)
def _no_leaked_process() -> Iterator[None]:
    """Fail a test that leaves a process of its own session behind."""
    before = _descendants()
    yield
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _descendants() - before:
        time.sleep(0.1)
    left = _descendants() - before
    assert not left, f"processes left behind: {left}"


def _descendants() -> set[tuple[int, str]]:
    """Live processes whose command line mentions fastware_dev or the stand-in Vite."""
    found = set()
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if ("fastware_dev" in cmdline or "vite.py" in cmdline) and is_alive(int(entry)):
            found.add((int(entry), cmdline[:80]))
    return found


def wait_for(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except httpx.HTTPError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.1)
    raise AssertionError(f"not met in time; last: {last!r}")


def get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, timeout=10, trust_env=False, **kwargs)


def gone(pid: int) -> bool:
    return not is_alive(pid)


# -- the happy path --------------------------------------------------------------------------


def test_one_origin_for_backend_and_vite_and_reload_on_save(project: Project) -> None:
    run = project.start()
    lines = project.wait_running(run)
    block = "".join(lines)
    assert f"app      {project.url}/" in block
    assert f"vite     http://127.0.0.1:{project.vite_port}/" in block
    assert "--strictPort" in block  # the flag reached Vite
    assert get(f"{project.url}/api/hello").json() == {"message": "hello"}
    assert get(f"{project.url}/").text == "<h1>from vite</h1>"  # the app's 404, replayed
    components = project.components()
    assert set(components) == {"vite", "backend", "proxy"}

    # A saved .py file restarts the backend; Vite and the front stay.
    project.write_app("edited")
    wait_for(lambda: get(f"{project.url}/api/hello").json() == {"message": "edited"})
    after = project.components()
    assert after["vite"] == components["vite"]
    assert after["proxy"] == components["proxy"]
    assert after["backend"] != components["backend"]
    assert gone(components["backend"])

    # A syntax error shows the traceback and keeps watching.
    (project.root / "app.py").write_text("def broken(:\n")
    failed = wait_for(
        lambda: (
            (r := get(f"{project.url}/api/hello", headers={"accept": "text/html"})).status_code
            == 503
            and r
        )
    )
    assert "The backend failed to start" in failed.text
    assert "SyntaxError" in failed.text
    project.write_app("fixed")
    wait_for(lambda: get(f"{project.url}/api/hello").json() == {"message": "fixed"})

    # SIGTERM stops everything, in reverse order, and leaves nothing behind.
    final = project.components()
    run.send_signal(signal.SIGTERM)
    assert run.wait(30) == 0
    for pid in final.values():
        assert gone(pid)
    assert not list(registry_dir(project.root / "x.pid").glob("*.json"))


def test_daemon_status_and_stop(project: Project) -> None:
    started = project.cli("run", "--daemon")
    assert started.returncode == 0, started.stderr
    assert "fastware dev daemon started" in started.stdout
    assert "name 'shop-dev'" in started.stdout
    assert get(f"{project.url}/api/hello").json() == {"message": "hello"}
    table = project.cli("status")
    assert table.stdout.splitlines()[0].split()[:3] == ["NAME", "PID", "PORT"]
    assert "shop-dev" in table.stdout
    assert "running" in table.stdout
    components = project.components()
    again = project.cli("run", "--daemon")
    assert again.returncode == 1
    assert "shop-dev is already running" in again.stderr
    stopped = project.cli("stop", "--json")
    assert stopped.returncode == 0
    assert [entry["name"] for entry in json.loads(stopped.stdout)] == ["shop-dev"]
    for pid in components.values():
        assert gone(pid)
    assert project.cli("status").stdout.strip() == "no running fastware dev environments"
    assert "no running fastware dev environments to stop" in project.cli("stop").stdout
    assert (project.root / ".fastware-dev-shop.log").read_text().count("VITE ready") == 1


def test_stop_never_signals_a_process_that_reused_a_pid(project: Project) -> None:
    # A descriptor whose PID now belongs to an unrelated process (start time differs).
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        directory = registry_dir(project.root / ".fastware-dev-shop.pid")
        directory.mkdir(parents=True)
        start = process_start(bystander.pid)
        assert start is not None
        record = {
            "pid": bystander.pid,
            "port": project.port,
            "name": "shop-dev",
            "start": start - 1000,
            "components": [{"name": "vite", "pid": bystander.pid, "start": start - 1000}],
        }
        (directory / f"{bystander.pid}.json").write_text(json.dumps(record))
        stopped = project.cli("stop", "--json")
        assert json.loads(stopped.stdout) == []
        time.sleep(0.3)
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_aux_services_start_first_and_become_healthy(project: Project) -> None:
    aux_port = free_port()
    project.write_config(
        extra=textwrap.dedent(f"""
            [[tool.fastware.dev.pre_spawn]]
            file = "frontend/vite.py"
            message = "install the frontend"

            [[tool.fastware.dev.aux]]
            name = "mock-api"
            cmd = ["{sys.executable}", "-m", "http.server", "--bind", "127.0.0.1", "{aux_port}"]
            health = {{ http = "http://127.0.0.1:{aux_port}/" }}
            timeout_s = 20
        """).replace("\n", "\n            ")
    )
    run = project.start()
    block = "".join(project.wait_running(run))
    assert "mock-api healthy (an HTTP answer from" in block
    assert get(f"http://127.0.0.1:{aux_port}/").status_code == 200
    assert set(project.components()) == {"mock-api", "vite", "backend", "proxy"}
    run.send_signal(signal.SIGINT)
    assert run.wait(30) == 0


# -- bad input: one clear line, exit 1, nothing left behind -----------------------------------


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("fastware dev: error: ")
    return errors[0]


def test_a_taken_port_names_the_holder_and_the_key(project: Project) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", project.vite_port))
        holder.listen()
        line = one_error_line(project.cli("run"))
    assert f"port {project.vite_port} (Vite) is already in use by PID {os.getpid()}" in line
    assert "change vite.port in" in line
    assert str(project.root / "pyproject.toml") in line


def test_a_vite_that_exits_at_once(project: Project) -> None:
    project.write_config(vite_env='env = { VITE_EXIT = "3" }')
    line = one_error_line(project.cli("run"))
    assert "vite exited with status 3 while starting: Error: vite.config.js" in line


def test_a_missing_vite_command(project: Project) -> None:
    text = (project.root / "pyproject.toml").read_text()
    (project.root / "pyproject.toml").write_text(
        text.replace(f'cmd = ["{sys.executable}", "vite.py"', 'cmd = ["no-such-npx", "vite.py"')
    )
    line = one_error_line(project.cli("run"))
    assert "vite: command not found: no-such-npx (is it installed and on PATH?)" in line


def test_a_backend_that_fails_to_import(project: Project) -> None:
    (project.root / "app.py").write_text("import no_such_module_here\n")
    line = one_error_line(project.cli("run"))
    assert "backend exited with status 1 while starting" in line
    assert "the backend app:app failed to import" in line
    assert "no_such_module_here" in line


def test_an_app_in_service_worker_cache_mode_is_refused(project: Project) -> None:
    (project.root / "app.py").write_text(
        APP.format(message="x") + '\napp.fastware_sw_mode = "cache"\n'
    )
    line = one_error_line(project.cli("run"))
    assert 'uses sw_mode="cache"' in line
    assert 'Use sw_mode="off"' in line


def test_a_failing_gate_stops_before_anything_starts(project: Project) -> None:
    project.write_config(
        extra=(
            "[[tool.fastware.dev.pre_spawn]]\n"
            'file = "frontend/node_modules/.bin/vite"\n'
            'message = "run npm install in frontend first"\n'
        )
    )
    line = one_error_line(project.cli("run"))
    assert "pre-spawn gate failed: run npm install in frontend first" in line
    assert "node_modules/.bin/vite does not exist" in line


def test_an_aux_service_that_never_becomes_healthy(project: Project) -> None:
    project.write_config(
        extra=textwrap.dedent(f"""
            [[tool.fastware.dev.aux]]
            name = "db"
            cmd = ["{sys.executable}", "-c", "import time; time.sleep(60)"]
            health = {{ tcp = "127.0.0.1:{free_port()}" }}
            timeout_s = 1.5
        """)
    )
    began = time.monotonic()
    line = one_error_line(project.cli("run"))
    assert time.monotonic() - began < 20
    assert "db did not become healthy (a TCP connection to 127.0.0.1:" in line
    assert "within 1.5 s" in line


def test_vite_crashing_mid_session_stops_everything_with_its_status(project: Project) -> None:
    project.write_config(vite_env='env = { VITE_SAY_BAD_BYTES = "1" }')
    run = project.start()
    lines = "".join(project.wait_running(run))
    assert "vite | \ufffd\ufffd not utf-8" in lines
    components = project.components()
    os.kill(components["vite"], signal.SIGKILL)
    assert run.wait(30) == 1
    assert run.stdout is not None
    rest = run.stdout.read()
    assert "vite was killed by signal 9" in rest
    for pid in components.values():
        assert gone(pid)
