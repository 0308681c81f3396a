"""Headless Chromium drives the login flow against a real Granian.

The page's own script reads the CSRF cookie and sends it as a header; the session cookie is
HttpOnly (the page cannot read it); a form on another origin of the same site, which the
browser sends *with* the session cookie, is refused; logout ends the session.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browser.cdp import Chromium, Page
from support.granian import free_port

from .conftest import StartGranian

EVIL_PAGE = """<!doctype html><html><body>
<form id="f" method="POST" enctype="text/plain" action="{target}/notes">
<input name='{{"text":"stolen","x":"' value='"}}'>
</form>
<script>document.getElementById("f").submit();</script>
</body></html>"""


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    with Chromium(tmp_path / "chromium") as browser:
        yield browser.new_page()


@pytest.fixture
def evil_site() -> Iterator[tuple[int, list[str]]]:
    """A plain HTTP server on another port of 127.0.0.1: same site, other origin."""
    target: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = EVIL_PAGE.format(target=target[0]).encode()
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port, target
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("interface", ["rsgi", "asgi"])
def test_login_form_flow_in_a_real_browser(
    page: Page, start_granian: StartGranian, evil_site: tuple[int, list[str]], interface: str
) -> None:
    server = start_granian(interface)
    created = httpx.post(
        server.url + "/register", json={"username": "ada", "password": "correct horse"}
    )
    assert created.status_code == 200
    page.navigate(server.url + "/page")
    assert page.evaluate("document.cookie.includes('csrf_token=')")

    wrong = page.evaluate("login('ada', 'wrong horse')")
    assert wrong["status"] == 401
    login = page.evaluate("login('ada', 'correct horse')")
    assert login["status"] == 200, login
    assert login["body"]["user"]["username"] == "ada"
    assert "session=" not in page.evaluate("document.cookie")  # HttpOnly
    me = page.evaluate("me()")
    assert me["status"] == 200
    assert me["body"]["sub"] == "ada"
    note = page.evaluate("addNote('from the page')")
    assert note["status"] == 200, note
    # the same call without the header is refused
    bare = page.evaluate(
        "fetch('/notes', {method: 'POST', body: '{\"text\": \"x\"}', "
        "headers: {'content-type': 'application/json'}}).then(r => r.status)"
    )
    assert bare == 403

    port, target = evil_site
    target.append(server.url)
    page.navigate(f"http://127.0.0.1:{port}/")  # the form submits itself to the app
    text = page.wait_for(
        "location.href.endsWith('/notes') && document.body && document.body.innerText"
    )
    assert "Origin not allowed" in text
    texts = [n["text"] for n in httpx.get(server.url + "/notes").json()]
    assert texts == ["from the page"]

    page.navigate(server.url + "/page")
    assert page.evaluate("me()")["status"] == 200  # still logged in
    out = page.evaluate("logout()")
    assert out["status"] == 200
    assert page.evaluate("me()")["status"] == 401
    assert "csrf_token=" not in page.evaluate("document.cookie")
