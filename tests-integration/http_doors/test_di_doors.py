"""Dependency injection through both doors of a real Granian server (``apps/fw_di_app.py``)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from .conftest import INTERFACES, GranianProcess, StartGranian

APP = "fw_di_app:app"


def _events(http: httpx.Client) -> list[str]:
    events: list[str] = http.get("/events").json()
    return events


@pytest.mark.parametrize("interface", INTERFACES)
def test_dependencies_through_a_real_server(
    start_granian: StartGranian, interface: str, tmp_path: Path
) -> None:
    pool_events = tmp_path / "pool.log"
    process = start_granian(APP, interface, {"DI_EVENTS_FILE": str(pool_events)})
    process.wait_ready()
    # the app-scoped pool was created at startup, before any request used it
    assert pool_events.read_text().splitlines() == ["pool open"]
    with httpx.Client(base_url=process.url, timeout=10.0) as http:
        first = http.get("/items/7", headers={"X-User": "ada"})
        second = http.get("/items/8", headers={"X-User": "bob"})
        assert first.status_code == 200, process.logs()
        body = first.json()
        assert body["item"] == 7
        assert body["user"] == "ada"
        assert body["db"] == "tx1"
        assert body["motd"] == "hello from a thread"
        assert second.json()["db"] == "tx2"
        assert second.json()["pool"] == body["pool"]  # one pool, shared

        refused = http.get("/items/9")
        assert refused.status_code == 401
        assert refused.json() == {"detail": "Not authenticated"}
        assert refused.headers["www-authenticate"] == "Bearer"

        conflict = http.post("/conflict")
        assert conflict.status_code == 409
        assert conflict.json() == {"detail": "Conflict"}

        streamed = http.get("/stream")
        assert streamed.text == "tx4:0\ntx4:1\ntx4:2\n"
        assert _events(http) == [
            "tx1 begin",
            "tx1 commit",
            "tx2 begin",
            "tx2 commit",
            "tx3 begin",
            "tx3 rollback HTTPError",
            "tx4 begin",
            "tx4 chunk 0",
            "tx4 chunk 1",
            "tx4 chunk 2",
            "tx4 commit",
        ]
        host_port = process.url.removeprefix("http://")
        with connect(f"ws://{host_port}/ws?user=cy", open_timeout=10) as socket:
            assert socket.recv(timeout=10) == '{"user":"cy","db":"tx5"}'
            socket.send("ping")
            assert socket.recv(timeout=10) == "tx5:ping"
        with pytest.raises(InvalidStatus) as denied, connect(f"ws://{host_port}/ws"):
            pass
        assert denied.value.response.status_code == 403  # HTTPError before accept
    _stop_and_check_teardown(process, pool_events)


def _stop_and_check_teardown(process: GranianProcess, pool_events: Path) -> None:
    code = process.stop()
    assert code == 0, process.logs()
    assert pool_events.read_text().splitlines() == ["pool open", "pool close"]
