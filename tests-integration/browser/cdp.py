"""A small Chrome DevTools Protocol driver for Debian's headless Chromium.

Tests open pages, run JavaScript and wait for conditions in a real browser, with exact
answers instead of a DOM snapshot taken at an arbitrary moment. It speaks the protocol over
the ``websockets`` client; no browser download, no npm.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

START_TIMEOUT = 30.0
CALL_TIMEOUT = 30.0


class BrowserError(Exception):
    """The browser failed to start, or a protocol call or a script failed."""


def chromium_path() -> str:
    """The Chromium binary; a missing browser is an error (CI installs Debian's package)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise BrowserError("headless Chromium is required (Debian package 'chromium')")


class Page:
    """One browser tab, driven over its DevTools WebSocket."""

    def __init__(self, websocket_url: str) -> None:
        # Entered by hand: the connection lives as long as the page, not one ``with`` block.
        self._socket: ClientConnection = connect(
            websocket_url, max_size=None, open_timeout=10
        ).__enter__()
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one protocol command and return its result (events seen meanwhile are kept)."""
        self._next_id += 1
        ident = self._next_id
        self._socket.send(json.dumps({"id": ident, "method": method, "params": params or {}}))
        deadline = time.monotonic() + CALL_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError(f"{method} got no answer within {CALL_TIMEOUT} s")
            message = json.loads(self._socket.recv(timeout=remaining))
            if message.get("id") == ident:
                if "error" in message:
                    raise BrowserError(f"{method} failed: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def navigate(self, url: str) -> None:
        """Load ``url`` and wait until its load event fired."""
        self.events.clear()
        answer = self.call("Page.navigate", {"url": url})
        if answer.get("errorText"):
            raise BrowserError(f"navigating to {url}: {answer['errorText']}")
        self.wait_for("document.readyState === 'complete'")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises are awaited)."""
        answer = self.call(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
        )
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"{expression!r} threw: {text}")
        return answer.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 20.0) -> Any:
        """Poll ``expression`` until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = self.evaluate(expression)
            except BrowserError as exc:  # a page in the middle of navigating
                last = exc
            else:
                if last:
                    return last
            time.sleep(0.05)
        raise BrowserError(f"{expression!r} did not become true within {timeout} s: {last!r}")

    def close(self) -> None:
        """Close the protocol connection."""
        self._socket.close()


class Chromium:
    """Headless Chromium with remote debugging on a free port; use it as a context manager."""

    def __init__(self, profile: Path) -> None:
        profile.mkdir(parents=True, exist_ok=True)
        self._log = profile / "chromium.log"
        with self._log.open("wb") as log:
            self._proc = subprocess.Popen(
                [
                    chromium_path(),
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--remote-debugging-address=127.0.0.1",
                    "--remote-debugging-port=0",
                    f"--user-data-dir={profile / 'data'}",
                    "about:blank",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        self._http = self._devtools_http()
        self._pages: list[Page] = []

    def _devtools_http(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            text = self._log.read_text(errors="replace")
            for line in text.splitlines():
                if line.startswith("DevTools listening on ws://"):
                    address = line.split("ws://", 1)[1].split("/", 1)[0]
                    return f"http://{address}"
            if self._proc.poll() is not None:
                break
            time.sleep(0.05)
        self.close()
        raise BrowserError(f"Chromium did not start:\n{self._log.read_text(errors='replace')}")

    def new_page(self) -> Page:
        """A new tab."""
        request = urllib.request.Request(f"{self._http}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(request, timeout=10) as response:
            target = json.loads(response.read())
        page = Page(target["webSocketDebuggerUrl"])
        self._pages.append(page)
        return page

    def logs(self) -> str:
        """Chromium's own output."""
        return self._log.read_text(errors="replace")[-4000:]

    def close(self) -> None:
        """Close every page and stop the browser."""
        for page in self._pages:
            page.close()
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
