"""``fastware dev`` with the real thing: a ``fastware dev new`` project, Vite from npm, the
backend and the dev front served by Granian, and headless Chromium.

- the page comes from Vite through the backend port, and its API calls reach the backend;
- editing a frontend module updates the page through HMR without a reload (a page-level
  marker survives), over the HMR WebSocket tunnelled through the backend port;
- editing a backend handler changes the API answer, without restarting Vite, and HMR still
  works afterwards;
- SIGTERM on the foreground run and ``fastware dev stop`` leave no process behind.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import time
from pathlib import Path

from browser.cdp import Chromium, Page

from .project import DevProject, get, project_processes, wait_gone


def ws_handshakes(page: Page) -> list[tuple[str, int]]:
    """(URL, status) of every WebSocket handshake the page made, from DevTools events."""
    urls = {
        event["params"]["requestId"]: event["params"]["url"]
        for event in page.events
        if event.get("method") == "Network.webSocketCreated"
    }
    return [
        (urls.get(event["params"]["requestId"], "?"), event["params"]["response"]["status"])
        for event in page.events
        if event.get("method") == "Network.webSocketHandshakeResponseReceived"
    ]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_page_hmr_backend_reload_and_sigterm(dev_project: DevProject, tmp_path: Path) -> None:
    project = dev_project
    run = project.start()
    block = project.wait_running(run)
    assert "VITE v" in block
    assert f"app      {project.url}/" in block

    with Chromium(tmp_path / "chromium") as browser:
        page = browser.new_page()
        page.call("Network.enable")
        page.navigate(f"{project.url}/")
        # The page and its modules come from Vite through the backend; /api from the app.
        assert page.wait_for("document.querySelector('#greeting').textContent") == (
            "Hello from Vite"
        )
        assert page.wait_for("document.querySelector('#api').textContent !== 'loading...'")
        assert page.evaluate("document.querySelector('#api').textContent") == (
            "Hello from fastware"
        )
        # Vite's client connected its HMR socket through the backend port (subprotocol
        # vite-hmr: Chromium refuses a 101 without it).
        through_backend = f"ws://127.0.0.1:{project.port}/"
        deadline = time.monotonic() + 20
        while not any(
            url.startswith(through_backend) and status == 101 for url, status in ws_handshakes(page)
        ):
            assert time.monotonic() < deadline, ws_handshakes(page)
            page.evaluate("new Promise(r => setTimeout(r, 50))")  # DevTools events arrive
        page.evaluate("window.__marker = 'kept'")

        # A frontend edit: HMR, no reload.
        greeting = project.root / "frontend" / "src" / "greeting.js"
        edit(greeting, "Hello from Vite", "Hello from HMR")
        page.wait_for("document.querySelector('#greeting').textContent === 'Hello from HMR'")
        assert page.evaluate("window.__marker") == "kept"

        # A backend edit: the API answer changes, Vite keeps running.
        before = project.components()
        edit(project.root / "app.py", "Hello from fastware", "Hello from the edited backend")
        page.wait_for(
            "fetch('/api/hello').then(r => r.json()).then(d => d.message)"
            " .then(m => m === 'Hello from the edited backend')",
            timeout=30,
        )
        after = project.components()
        assert after["vite"] == before["vite"]
        assert after["backend"] != before["backend"]
        assert page.evaluate("window.__marker") == "kept"

        # The browser's HMR connection survived the backend restart.
        edit(greeting, "Hello from HMR", "Hello again")
        page.wait_for("document.querySelector('#greeting').textContent === 'Hello again'")
        assert page.evaluate("window.__marker") == "kept"

    components = project.components()
    run.send_signal(signal.SIGTERM)
    assert run.wait(30) == 0
    assert not wait_gone(project.root)
    assert not project_processes(project.root) & set(components.values())
    # The backend came back within about a second of the save.
    assert run.stdout is not None
    rest = run.stdout.read()
    restarts = [float(m) for m in re.findall(r"backend restarted in ([\d.]+) s", rest)]
    assert restarts, rest
    assert max(restarts) < 3.0, restarts
    assert "app.py changed: restarting the backend" in rest


def test_vite_crashing_mid_session_stops_everything(dev_project: DevProject) -> None:
    project = dev_project
    run = project.start()
    project.wait_running(run)
    vite = project.components()["vite"]
    os.killpg(vite, signal.SIGKILL)  # npm and the node process under it
    assert run.wait(30) == 1
    assert run.stdout is not None
    assert "fastware dev: error: vite was killed by signal 9" in run.stdout.read()
    assert not wait_gone(project.root)


def test_daemon_serves_the_page_and_stop_leaves_nothing(
    dev_project: DevProject, tmp_path: Path
) -> None:
    project = dev_project
    started = project.fastware("dev", "run", "--daemon")
    assert started.returncode == 0, started.stderr
    assert "fastware dev daemon started" in started.stdout
    page = get(f"{project.url}/", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert '<script type="module" src="/@vite/client"></script>' in page.text
    assert get(f"{project.url}/src/main.js").headers["content-type"].startswith("text/javascript")
    assert get(f"{project.url}/api/hello").json() == {"message": "Hello from fastware"}
    assert len(project_processes(project.root)) >= 3
    stopped = project.fastware("dev", "stop", "--json")
    assert stopped.returncode == 0
    assert [row["name"] for row in json.loads(stopped.stdout)] == ["shop-dev"]
    assert not wait_gone(project.root)


# -- bad input with the real Vite --------------------------------------------------------------


def one_error_line(done: object) -> str:
    import subprocess

    assert isinstance(done, subprocess.CompletedProcess)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("fastware dev: error: ")
    return str(lines[0])


def test_a_vite_config_error_makes_vite_exit_at_once(dev_project: DevProject) -> None:
    project = dev_project
    (project.root / "frontend" / "vite.config.js").write_text("export default {{{ broken\n")
    line = one_error_line(project.fastware("dev"))
    assert "vite exited with status 1 while starting" in line
    assert not wait_gone(project.root)


def test_vite_not_installed_is_caught_by_the_gate(dev_project: DevProject) -> None:
    project = dev_project
    (project.root / "frontend" / "node_modules" / ".bin" / "vite").unlink()
    line = one_error_line(project.fastware("dev"))
    assert "pre-spawn gate failed: install the frontend first: cd frontend && npm install" in line


def test_the_vite_port_already_taken(dev_project: DevProject) -> None:
    project = dev_project
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", project.vite_port))
        holder.listen()
        line = one_error_line(project.fastware("dev"))
    assert f"port {project.vite_port} (Vite) is already in use" in line
    assert "change vite.port in" in line
    assert not wait_gone(project.root)


def test_a_backend_that_fails_to_import(dev_project: DevProject) -> None:
    project = dev_project
    (project.root / "app.py").write_text("from fastware import NoSuchThing\n")
    line = one_error_line(project.fastware("dev"))
    assert "the backend app:app failed to import" in line
    assert "NoSuchThing" in line
    assert not wait_gone(project.root)
