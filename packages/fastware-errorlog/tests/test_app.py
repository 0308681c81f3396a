"""An ErrorLog wired into a fastware-core app, and the HTML page, through both doors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fastware_core import (
    HTTPError,
    Request,
    Router,
    TestClient,
    WebSocket,
    WebSocketDisconnect,
    create_app,
)
from fastware_errorlog import ErrorLog, error_log_router

DOORS = ["asgi", "rsgi"]


def app_for(log: ErrorLog, *, page: bool = True) -> Any:
    router = Router()

    @router.get("/ok")
    async def ok(request: Request) -> dict[str, bool]:
        return {"ok": True}

    @router.get("/crash/{n:int}")
    async def crash(request: Request) -> None:
        request.state.user = {"username": "alice"}
        raise RuntimeError(f"<script>alert({request.path_params['n']})</script>")

    @router.get("/forbidden")
    async def forbidden(request: Request) -> None:
        raise HTTPError(403, "no")

    @router.ws("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()
        raise LookupError("socket broke")

    if page:
        router.include_router(error_log_router(log, public=True), prefix="/_errors")
    return create_app(router, error_recorder=log, error_log=log)


@pytest.mark.parametrize("door", DOORS)
def test_a_raising_handler_answers_500_and_leaves_one_row(db: Path, door: str) -> None:
    log = ErrorLog(db)
    with TestClient(app_for(log), door=door, raise_server_exceptions=False) as client:
        assert client.get("/ok").status_code == 200
        response = client.get(
            "/crash/1?token=abc", headers={"Authorization": "Bearer top", "Cookie": "sid=1"}
        )
        assert response.status_code == 500
        assert client.get("/forbidden").status_code == 403  # 4xx: not recorded
    log.flush()
    [record] = log.query()
    assert (record.method, record.path, record.status_code) == ("GET", "/crash/1", 500)
    assert record.request_id == response.headers["x-request-id"]
    assert record.user == "alice"
    assert record.exception_type == "RuntimeError"
    assert "in crash" in record.traceback
    stored = str(record.to_dict())
    assert "top" not in stored
    assert "sid=1" not in stored
    assert "token=abc" not in stored
    log.close()


@pytest.mark.parametrize("door", DOORS)
def test_4xx_are_recorded_when_asked(db: Path, door: str) -> None:
    log = ErrorLog(db, min_status=400)
    with TestClient(app_for(log), door=door) as client:
        client.get("/forbidden")
        client.get("/nowhere")
    log.flush()
    assert [(r.path, r.status_code, r.detail) for r in log.query()] == [("/forbidden", 403, "no")]
    log.close()


@pytest.mark.parametrize("door", DOORS)
def test_a_websocket_error_leaves_a_row(db: Path, door: str) -> None:
    log = ErrorLog(db)
    with (
        TestClient(app_for(log), door=door, raise_server_exceptions=False) as client,
        client.websocket_connect("/ws") as socket,
    ):
        socket.send_text("x")
        with pytest.raises(WebSocketDisconnect):
            socket.receive_text()
    log.flush()
    [record] = log.query()
    assert (record.kind, record.path, record.status_code) == ("websocket", "/ws", 1011)
    assert "LookupError: socket broke" in record.traceback
    log.close()


@pytest.mark.parametrize("door", DOORS)
def test_the_page_lists_groups_and_shows_an_escaped_traceback(db: Path, door: str) -> None:
    log = ErrorLog(db)
    with TestClient(app_for(log), door=door, raise_server_exceptions=False) as client:
        for n in (1, 2, 3):
            client.get(f"/crash/{n}")
        log.flush()
        index = client.get("/_errors/")
        assert index.status_code == 200
        assert index.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in index.headers["content-security-policy"]
        assert index.headers["cache-control"] == "no-store"
        page = index.text
        assert "<script>" not in page
        assert "&lt;script&gt;" in page
        assert page.count("class=group ") == 1  # three errors, one group
        assert ">3</td>" in page
        fingerprint = log.groups()[0].fingerprint
        group = client.get(f"/_errors/groups/{fingerprint}")
        assert group.status_code == 200
        assert group.text.count("class=error>") == 3
        detail = client.get("/_errors/errors/3")
        assert detail.status_code == 200
        assert "id=traceback" in detail.text
        assert "in crash" in detail.text
        assert "<script>" not in detail.text
        assert client.get("/_errors/errors/999").status_code == 404
        assert client.get("/_errors/groups/nothing").status_code == 404
        bad = client.get("/_errors/?since=whenever")
        assert bad.status_code == 400
        assert "duration" in bad.json()["detail"]
        assert client.get("/_errors/?page=0").status_code == 400
        assert client.get("/_errors/?status=6xx").status_code == 400
        filtered = client.get("/_errors/?since=1h&status=5xx&path=/crash/2")
        assert filtered.status_code == 200
        assert ">1</td>" in filtered.text
    log.close()


def test_the_page_shows_when_the_log_cannot_be_read(tmp_path: Path) -> None:
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not sqlite" * 100)
    log = ErrorLog(broken)
    with TestClient(app_for(log)) as client:
        response = client.get("/_errors/")
    assert response.status_code == 503
    assert "cannot be read" in response.text


def test_an_empty_log_says_so(db: Path) -> None:
    with TestClient(app_for(ErrorLog(db))) as client:
        assert "No errors recorded" in client.get("/_errors/").text


def test_the_page_needs_a_dependency_or_public(db: Path) -> None:
    with pytest.raises(ValueError, match="needs dependency="):
        error_log_router(ErrorLog(db))
