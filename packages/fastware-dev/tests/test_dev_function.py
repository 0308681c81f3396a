"""``dev()``, the 0.6.3 one-call dev server: Vite beside the app, stopped with it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

from fastware_server.process import is_alive

VITE = """
import http.server, sys
port = int(sys.argv[1])
if len(sys.argv) > 2 and sys.argv[2] == "crash":
    print("Error: cannot find vite.config.js", flush=True)
    sys.exit(2)
print("vite ready", flush=True)
print("x" * 200000, flush=True)  # chatty: must not fill a pipe nobody reads
handler = http.server.SimpleHTTPRequestHandler
http.server.ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()
"""

SCRIPT = """
import sys
from fastware_core import JSONResponse, Request, Router, create_app
from fastware_dev import dev

router = Router()

@router.get("/api/ping")
async def ping(request: Request) -> JSONResponse:
    return JSONResponse({{"pong": True}})

app = create_app(router)

if __name__ == "__main__":
    dev("server:app", vite_command=[sys.executable, "vite.py", "{vite_port}", *sys.argv[1:]],
        vite_port={vite_port}, vite_host="127.0.0.1", host="127.0.0.1", port={port})
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def vite_pids(root: Path) -> list[int]:
    """The live fake-Vite processes started in ``root`` (not another test's, nor another
    checkout's running at the same time)."""
    found = []
    root = root.resolve()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                cwd = Path(f"/proc/{entry}/cwd").resolve()
            except OSError:
                continue
            if b"vite.py" in cmdline and cwd == root and is_alive(int(entry)):
                found.append(int(entry))
    return found


def setup(tmp_path: Path) -> tuple[int, int]:
    port, vite_port = free_port(), free_port()
    (tmp_path / "vite.py").write_text(VITE)
    (tmp_path / "index.html").write_text("vite page")
    (tmp_path / "server.py").write_text(
        textwrap.dedent(SCRIPT.format(port=port, vite_port=vite_port))
    )
    return port, vite_port


def test_dev_serves_app_and_vite_on_one_port_and_stops_vite(tmp_path: Path) -> None:
    port, _ = setup(tmp_path)
    run = subprocess.Popen(
        [sys.executable, "server.py"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/ping", trust_env=False)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline
                assert run.poll() is None
                time.sleep(0.1)
        assert answer.json() == {"pong": True}
        page = httpx.get(f"http://127.0.0.1:{port}/index.html", trust_env=False)
        assert page.text == "vite page"
        assert vite_pids(tmp_path)
    finally:
        run.send_signal(signal.SIGTERM)
        assert run.wait(30) == 0
    deadline = time.monotonic() + 10
    while vite_pids(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not vite_pids(tmp_path)


def test_a_vite_that_exits_at_once_is_reported_with_its_output(tmp_path: Path) -> None:
    setup(tmp_path)
    done = subprocess.run(
        [sys.executable, "server.py", "crash"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "exited with status 2: Error: cannot find vite.config.js" in done.stderr
    assert not vite_pids(tmp_path)
