"""The ``/__fastware/`` runtime in a real browser against a real Granian, through both doors.

- cache mode: after the first load the caching worker serves the app with the server gone
  (a page visited before, and a client-side route never visited, through the SPA shell);
  when the server comes back with a new build, the page that stayed open reloads by itself,
  runs the new build and gets its typed form field back (never its password field), and
  the new build's worker replaces the old cache;
- reset mode: the self-destruct worker replaces the caching worker and a legacy worker at
  ``/sw.js``, deletes every cache and unregisters itself.

Headless Chromium (Debian ``chromium``) is driven over the DevTools protocol (``cdp.py``).
The browser treats ``http://127.0.0.1`` as a secure context, so service workers run. Waits
are conditions checked in the page, never fixed sleeps.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from support.granian import GranianProcess, ServerPool, free_port
from support.granian import servers as servers  # the tests' Granian servers, stopped after each

from .cdp import Chromium, Page

INTERFACES = ("rsgi", "asgi")

BUILDS = {"v1": "app-1a2b3c4d.js", "v2": "app-9f8e7d6c.js"}

INDEX_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>runtime</title></head>
<body>
<form><input name="note" id="note"><input type="password" name="secret" id="secret">
<input type="checkbox" name="agree" id="agree">
<input type="hidden" name="csrf" id="csrf" value="{build}">
<select name="size" id="size"><option>s</option><option>m</option><option>l</option></select></form>
<div id="asset">none</div><div id="restored">none</div>
<script src="/assets/{asset}"></script>
<script src="/__fastware/sw-register.js"></script>
<script src="/__fastware/client.js"></script>
</body></html>
"""

# The app's own state goes through the update client's hooks.
APP_JS = """document.getElementById("asset").textContent = "{build}";
window.__fastwareStateProvider = () => ({{ counter: window.counter || 0 }});
window.__fastwareRestoreState = (saved) => {{
  document.getElementById("restored").textContent = JSON.stringify(saved);
}};
"""

# A worker an older release of the app registered itself, caching into its own cache.
LEGACY_WORKER = """self.addEventListener("install", (event) => {
  self.skipWaiting();
  event.waitUntil(caches.open("legacy-cache").then((c) => c.put("/legacy/x", new Response("old"))));
});
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
"""

RELOADED_UNDER_WORKER = (
    "document.readyState === 'complete' && navigator.serviceWorker.controller !== null"
    " && performance.getEntriesByType('navigation')[0].type === 'reload'"
)


def write_site(root: Path, build: str) -> None:
    """Deploy ``build``: a fresh ``dist/`` whose hashed asset prints the build's name."""
    dist = root / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    (dist / "assets").mkdir(parents=True)
    asset = BUILDS[build]
    (dist / "index.html").write_text(INDEX_HTML.format(asset=asset, build=build))
    (dist / "assets" / asset).write_text(APP_JS.format(build=build))
    (dist / "sw.js").write_text(LEGACY_WORKER)


StartRuntime = Callable[..., GranianProcess]


@pytest.fixture
def start_runtime(servers: ServerPool) -> StartRuntime:
    """Serve ``fw_runtime_app`` for ``site`` in ``mode`` on ``port`` (stopped after the
    test); ``foreign`` lists service-worker paths of other apps."""

    def start(
        interface: str, site: Path, mode: str, port: int, foreign: str = ""
    ) -> GranianProcess:
        env = {"FW_RUNTIME_ROOT": str(site), "FW_SW_MODE": mode, "FW_FOREIGN_SW": foreign}
        return servers.start("fw_runtime_app:app", interface, env=env, port=port)

    return start


def cache_names_are(names: list[str]) -> str:
    """A page condition: the origin's caches are exactly ``names``."""
    expected = ",".join(sorted(names))
    return f"caches.keys().then((k) => k.sort().join(',') === {expected!r})"


def build_id(url: str) -> str:
    found: str = httpx.get(url + "/__fastware/version", timeout=10).json()["build_id"]
    return found


def text_of(page: Page, element: str) -> str:
    value: str = page.evaluate(f"document.getElementById({element!r}).textContent")
    return value


@pytest.mark.parametrize("interface", INTERFACES)
def test_cache_mode_works_offline_and_an_open_page_picks_up_a_new_build(
    interface: str, tmp_path: Path, start_runtime: StartRuntime
) -> None:
    site = tmp_path / "site"
    write_site(site, "v1")
    port = free_port()
    server = start_runtime(interface, site, "cache", port)
    url = server.url
    first = build_id(url)
    with Chromium(tmp_path / "chromium") as browser:
        page = browser.new_page()
        page.navigate(url + "/")
        # the worker takes over and the page reloads once, now served through it
        page.wait_for(RELOADED_UNDER_WORKER)
        assert text_of(page, "asset") == "v1"
        page.wait_for(
            "Promise.all([caches.match('/'), caches.match('/assets/app-1a2b3c4d.js')])"
            ".then((found) => found.every(Boolean))"
        )
        page.wait_for(cache_names_are([f"fastware-cache-{first}"]))

        # the user types into the open page
        page.evaluate("document.getElementById('note').focus()")
        page.call("Input.insertText", {"text": "typed before the deploy"})
        page.evaluate("document.getElementById('secret').focus()")
        page.call("Input.insertText", {"text": "hunter2"})
        page.evaluate("document.getElementById('agree').click()")
        page.evaluate("document.getElementById('size').value = 'l'")
        page.evaluate("window.counter = 7")

        # the server goes away: a second tab still gets the app, from the cache
        server.stop()
        offline = browser.new_page()
        offline.navigate(url + "/")
        assert text_of(offline, "asset") == "v1"
        offline.navigate(url + "/settings/profile")  # never visited: the SPA shell
        assert offline.evaluate("location.pathname") == "/settings/profile"
        assert text_of(offline, "asset") == "v1"
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/", timeout=2)

        # a new build is deployed and the server comes back on the same address
        write_site(site, "v2")
        start_runtime(interface, site, "cache", port)
        second = build_id(url)
        assert second != first

        # the open page hears of the new build, reloads and keeps what was typed
        page.wait_for("document.getElementById('asset').textContent === 'v2'", 30)
        page.wait_for("document.getElementById('note').value === 'typed before the deploy'")
        assert page.evaluate("document.getElementById('secret').value") == ""
        assert page.evaluate("document.getElementById('agree').checked") is True
        assert page.evaluate("document.getElementById('size').value") == "l"
        assert page.evaluate("document.getElementById('csrf').value") == "v2"  # not restored
        assert text_of(page, "restored") == '{"counter":7}'
        assert page.evaluate("sessionStorage.getItem('fastware:snapshot')") is None

        # the new build's worker took over and deleted the old build's cache
        page.wait_for(f"caches.keys().then((k) => !k.includes('fastware-cache-{first}'))")
        page.navigate(url + "/")
        page.wait_for(cache_names_are([f"fastware-cache-{second}"]))
        assert text_of(page, "asset") == "v2"


@pytest.mark.parametrize("interface", INTERFACES)
def test_reset_mode_unregisters_old_workers_and_deletes_every_cache(
    interface: str, tmp_path: Path, start_runtime: StartRuntime
) -> None:
    site = tmp_path / "site"
    write_site(site, "v1")
    port = free_port()
    server = start_runtime(interface, site, "cache", port, foreign="/sw.js")
    url = server.url
    with Chromium(tmp_path / "chromium") as browser:
        page = browser.new_page()
        page.navigate(url + "/")
        page.wait_for(RELOADED_UNDER_WORKER)
        # an older worker at /sw.js, tolerated by cache mode (foreign_sw_paths)
        page.evaluate(
            "navigator.serviceWorker.register('/sw.js', {scope: '/legacy/'}).then(() => 1)"
        )
        page.wait_for(
            "navigator.serviceWorker.getRegistrations()"
            ".then((r) => r.length === 2 && r.every((x) => x.active))"
        )
        page.wait_for(
            "caches.keys().then((k) => k.includes('legacy-cache')"
            " && k.some((n) => n.startsWith('fastware-cache-')))"
        )
        page.navigate(url + "/")  # cache mode's snippet leaves the foreign worker alone
        assert page.evaluate("navigator.serviceWorker.getRegistrations().then(r => r.length)")
        assert page.evaluate("navigator.serviceWorker.controller !== null")

        # the app moves to reset mode
        server.stop()
        start_runtime(interface, site, "reset", port)

        # a visit makes the browser check the worker: the self-destruct worker replaces
        # it, deletes the caches, unregisters and reloads the page without a worker
        page.navigate(url + "/")
        page.wait_for(
            "navigator.serviceWorker.getRegistrations()"
            f".then((r) => !r.some((x) => x.scope === {url + '/'!r}))",
            30,
        )
        page.wait_for("navigator.serviceWorker.controller === null")
        # the legacy worker's pages get the self-destruct worker at /sw.js
        page.navigate(url + "/legacy/page")
        page.wait_for("navigator.serviceWorker.getRegistrations().then((r) => r.length === 0)", 30)
        page.wait_for(cache_names_are([]))
        page.navigate(url + "/")
        assert text_of(page, "asset") == "v1"  # served by the network, no worker
        assert page.evaluate("navigator.serviceWorker.controller") is None


@pytest.mark.parametrize("interface", INTERFACES)
def test_cache_mode_unregisters_a_worker_not_listed_in_foreign_sw_paths(
    interface: str, tmp_path: Path, start_runtime: StartRuntime
) -> None:
    site = tmp_path / "site"
    write_site(site, "v1")
    server = start_runtime(interface, site, "cache", free_port())
    url = server.url
    with Chromium(tmp_path / "chromium") as browser:
        page = browser.new_page()
        page.navigate(url + "/")
        page.wait_for(RELOADED_UNDER_WORKER)
        page.evaluate(
            "navigator.serviceWorker.register('/sw.js', {scope: '/legacy/'}).then(() => 1)"
        )
        page.wait_for("navigator.serviceWorker.getRegistrations().then((r) => r.length === 2)")
        page.navigate(url + "/")
        page.wait_for(
            "navigator.serviceWorker.getRegistrations().then((r) => r.length === 1"
            " && r[0].active.scriptURL.endsWith('/__fastware/sw.js'))"
        )
        errors = [
            arg.get("value", "")
            for event in page.events
            if event.get("method") == "Runtime.consoleAPICalled"
            and event["params"]["type"] == "error"
            for arg in event["params"]["args"]
        ]
        assert any(
            "unregistering the service worker /sw.js" in text and "foreign_sw_paths" in text
            for text in errors
        ), errors


@pytest.mark.parametrize("interface", INTERFACES)
def test_cache_mode_serves_the_cached_copy_while_a_proxy_answers_502(
    interface: str, tmp_path: Path, start_runtime: StartRuntime
) -> None:
    site = tmp_path / "site"
    write_site(site, "v1")
    server = start_runtime(interface, site, "cache", free_port())
    fetch_report = "fetch('/report').then(async (r) => r.status + ':' + (await r.text()))"
    url = server.url
    with Chromium(tmp_path / "chromium") as browser:
        page = browser.new_page()
        page.navigate(url + "/")
        page.wait_for(RELOADED_UNDER_WORKER)
        assert page.evaluate(fetch_report) == "200:report"
        page.wait_for("caches.match('/report').then(Boolean)")
        (site / "dist" / "down").touch()
        assert httpx.get(url + "/report", timeout=10).status_code == 502
        assert page.evaluate(fetch_report) == "200:report"  # the cached copy
        (site / "dist" / "down").unlink()
