"""A real browser against a real server: headless Chromium loads the SPA from Granian,
lands on a client-side route through the fallback, runs a hashed asset and talks over a
WebSocket, through both doors.

Chromium comes from Debian (``.ci/run`` installs it) and is driven over the DevTools
protocol (``cdp.py``); a missing browser fails the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.granian import ServerPool
from support.granian import servers as servers  # the tests' Granian servers, stopped after each

from .cdp import Chromium

INTERFACES = ("rsgi", "asgi")

INDEX_HTML = """<!doctype html>
<html><head><title>spa</title><script src="/assets/app-1a2b3c4d.js"></script></head>
<body><div id="route"></div><div id="asset"></div><div id="ws">pending</div></body></html>
"""

APP_JS = """window.addEventListener("DOMContentLoaded", () => {
  document.getElementById("route").textContent = location.pathname;
  document.getElementById("asset").textContent = "loaded";
  const ws = new WebSocket(`ws://${location.host}/ws/echo`);
  ws.onopen = () => ws.send("hello");
  ws.onmessage = (event) => {
    document.getElementById("ws").textContent = event.data;
    ws.close();
  };
  ws.onerror = () => { document.getElementById("ws").textContent = "error"; };
});
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser-site")
    (root / "dist" / "assets").mkdir(parents=True)
    (root / "dist" / "index.html").write_text(INDEX_HTML)
    (root / "dist" / "assets" / "app-1a2b3c4d.js").write_text(APP_JS)
    return root


@pytest.fixture(params=INTERFACES)
def server_url(request: pytest.FixtureRequest, site: Path, servers: ServerPool) -> str:
    interface: str = request.param
    env = {"FW_STATIC_ROOT": str(site)}
    return servers.start("fw_static_app:app", interface, env=env).url


def test_browser_follows_a_client_route_runs_assets_and_talks_websocket(
    server_url: str, tmp_path: Path
) -> None:
    with Chromium(tmp_path / "chromium") as browser:
        page = browser.new_page()
        page.navigate(f"{server_url}/settings/profile")
        # served index.html through the fallback, on the client-side route
        assert page.evaluate("location.pathname") == "/settings/profile"
        assert page.evaluate("document.getElementById('route').textContent") == (
            "/settings/profile"
        )
        # the hashed asset came from static_dir and ran
        assert page.evaluate("document.getElementById('asset').textContent") == "loaded"
        # and a WebSocket message came back
        reply = page.wait_for(
            "(t => t !== 'pending' && t)(document.getElementById('ws').textContent)"
        )
        assert reply == "echo:hello"
