"""A real Granian (both doors) with ``fastware.create_app``'s default error log."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browser.cdp import Chromium, Page
from support.granian import GranianProcess
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from fastware_errorlog import ErrorLog

INTERFACES = ("rsgi", "asgi")
ARTEFACTS = Path(
    os.environ.get("FASTWARE_TEST_ARTEFACTS")
    or Path(__file__).resolve().parents[2] / ".venvs" / "artefacts"
)


class Served:
    def __init__(self, process: GranianProcess, db: Path) -> None:
        self.process = process
        self.db = db
        self.url = process.url


@pytest.fixture(params=INTERFACES)
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    db = tmp_path / "errors.db"
    process = GranianProcess(
        "fw_errorlog_app:app", request.param, tmp_path, {"FASTWARE_ERROR_LOG": str(db)}
    )
    process.start()
    try:
        process.wait_ready()
        yield Served(process, db)
    finally:
        process.stop()


def wait_rows(db: Path, count: int, timeout: float = 10.0, **filters: object) -> ErrorLog:
    log = ErrorLog(db)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.count(**filters) >= count:  # type: ignore[arg-type]
            return log
        time.sleep(0.05)
    pytest.fail(f"{db} holds {log.count(**filters)} rows matching {filters}, not {count}")  # type: ignore[arg-type]


def test_a_raising_handler_answers_500_and_leaves_a_row_with_its_traceback(
    served: Served,
) -> None:
    with httpx.Client(base_url=served.url, timeout=10) as client:
        response = client.get(
            "/boom/7?api_key=hidden",
            headers={"Authorization": "Bearer very-secret", "Cookie": "session=also-secret"},
        )
        assert response.status_code == 500
        assert response.json() == {"detail": "Internal server error"}
        assert client.get("/").status_code == 200  # still serving
    log = wait_rows(served.db, 1)
    [record] = log.query()
    assert (record.method, record.path, record.status_code) == ("GET", "/boom/7", 500)
    assert record.exception_type == "ZeroDivisionError"
    assert "Traceback (most recent call last)" in record.traceback
    assert "fw_errorlog_app.py" in record.traceback
    assert "in boom" in record.traceback
    assert record.request_id == response.headers["x-request-id"]
    assert record.user == "carol"
    stored = served.db.read_bytes() + (
        served.db.with_name(served.db.name + "-wal").read_bytes()
        if served.db.with_name(served.db.name + "-wal").exists()
        else b""
    )
    assert b"very-secret" not in stored
    assert b"also-secret" not in stored
    assert b"hidden" not in stored


def test_a_websocket_handler_error_leaves_a_row(served: Served) -> None:
    host = served.url.removeprefix("http://")
    with connect(f"ws://{host}/ws", open_timeout=10) as socket:
        socket.send("go")
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=10)
    log = wait_rows(served.db, 1, kind="websocket")
    [record] = log.query(kind="websocket")
    assert record.path == "/ws"
    assert "LookupError: the socket handler failed" in record.traceback


def test_sigterm_flushes_what_is_queued(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=10) as client:
        assert client.get("/burst/5000").json()["queued"] == 5000
    code = served.process.stop()
    assert code == 0, served.process.logs()
    assert ErrorLog(served.db).count(path="/burst") == 5000


def test_the_page_renders_in_chromium_and_shows_the_error(served: Served, tmp_path: Path) -> None:
    with httpx.Client(base_url=served.url, timeout=10) as client:
        for n in (1, 2, 3):
            assert client.get(f"/boom/{n}").status_code == 500
        assert client.get("/_errors/").status_code == 403  # the guard
    wait_rows(served.db, 3)
    with Chromium(tmp_path / "chromium") as browser:
        page = browser.new_page()
        page.call(
            "Network.setCookie",
            {"name": "admin", "value": "yes", "url": served.url},
        )
        page.navigate(f"{served.url}/_errors/")
        rows = page.evaluate("document.querySelectorAll('#groups tr.group').length")
        assert rows == 1
        cells = page.evaluate(
            "[...document.querySelectorAll('#groups tr.group td')].map(td => td.textContent)"
        )
        assert cells[0].startswith("ZeroDivisionError")
        assert "boom number 3 <b>not bold</b>" in cells[0]  # escaped: shown as text
        assert cells[1] == "GET /boom/3"
        assert cells[3] == "3"
        assert page.evaluate("document.querySelectorAll('b').length") == 0
        save_screenshot(page, f"errorlog-groups-{served.process.interface}.png")
        # follow the link to the latest error and read its traceback
        page.navigate(page.evaluate("document.querySelector('#groups a[href*=\"/errors/\"]').href"))
        traceback = page.evaluate("document.getElementById('traceback').textContent")
        assert "Traceback (most recent call last)" in traceback
        assert "ZeroDivisionError: boom number 3" in traceback
        assert page.evaluate("document.title") == "Errors"
        save_screenshot(page, f"errorlog-error-{served.process.interface}.png")


def save_screenshot(page: Page, name: str) -> None:
    """A PNG of the page in the test artefacts (``$FASTWARE_TEST_ARTEFACTS``)."""
    shot = page.call("Page.captureScreenshot", {"format": "png"})
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTEFACTS / name
    target.write_bytes(base64.b64decode(shot["data"]))
    assert target.stat().st_size > 1000
