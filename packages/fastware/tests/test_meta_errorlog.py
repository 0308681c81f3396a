"""``fastware.create_app`` records unhandled exceptions in an ErrorLog by default."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from fastware import AppConfig, HTTPError, Request, Router, TestClient, create_app
from fastware.cli import main
from fastware.error_log import ErrorLog, error_log_router


def crashing_router() -> Router:
    router = Router()

    @router.get("/crash")
    async def crash(request: Request) -> None:
        raise RuntimeError("kaput")

    @router.get("/ok")
    async def ok(request: Request) -> dict[str, bool]:
        return {"ok": True}

    return router


@pytest.mark.parametrize("door", ["asgi", "rsgi"])
def test_on_by_default_and_flushed_at_shutdown(error_log_in_tmp: Path, door: str) -> None:
    app = create_app(crashing_router())
    log = app.config.error_recorder
    assert isinstance(log, ErrorLog)
    assert log.path == error_log_in_tmp
    with TestClient(app, door=door, raise_server_exceptions=False) as client:
        assert client.get("/ok").status_code == 200
        assert client.get("/crash").status_code == 500
    # no flush: the lifespan shutdown closed the log
    [record] = ErrorLog(error_log_in_tmp).query()
    assert record.path == "/crash"
    assert "RuntimeError: kaput" in record.traceback


def test_the_default_file_is_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FASTWARE_ERROR_LOG")
    monkeypatch.chdir(tmp_path)
    log = create_app(crashing_router()).config.error_recorder
    assert isinstance(log, ErrorLog)
    assert log.path == Path(".fastware-errors.db")


def test_a_path_an_instance_or_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = create_app(crashing_router(), error_log=tmp_path / "mine.db").config
    assert isinstance(chosen.error_recorder, ErrorLog)
    assert chosen.error_recorder.path == tmp_path / "mine.db"
    assert chosen.error_log is chosen.error_recorder
    mine = ErrorLog(tmp_path / "given.db")
    given = create_app(crashing_router(), config=AppConfig(error_log=mine)).config
    assert given.error_recorder is mine
    off = create_app(crashing_router(), error_log=False).config
    assert off.error_recorder is None
    assert off.error_log is None
    monkeypatch.setenv("FASTWARE_ERROR_LOG", "off")
    assert create_app(crashing_router()).config.error_recorder is None


def test_a_0_6_3_sink_is_kept_without_a_default_log() -> None:
    class Sink:
        def __init__(self) -> None:
            self.rows: list[dict[str, Any]] = []

        def append(self, **row: Any) -> None:
            self.rows.append(row)

    sink = Sink()
    app = create_app(crashing_router(), error_log=sink)
    assert app.config.error_recorder is None
    with TestClient(app, raise_server_exceptions=False) as client:
        client.get("/crash")
    assert [row["status_code"] for row in sink.rows] == [500]


def test_the_users_lifespan_still_runs(error_log_in_tmp: Path) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, str]]:
        events.append("start")
        yield {"greeting": "hi"}
        events.append("stop")

    router = crashing_router()

    @router.get("/greet")
    async def greet(request: Request) -> dict[str, str]:
        return {"greeting": request.state.greeting}

    with TestClient(create_app(router, lifespan=lifespan)) as client:
        assert client.get("/greet").json() == {"greeting": "hi"}
    assert events == ["start", "stop"]


def guard(request: Request) -> None:
    if request.headers.get("x-role") != "admin":
        raise HTTPError(403, "admins only")


def test_the_page_is_protected_by_the_dependency(error_log_in_tmp: Path) -> None:
    router = crashing_router()
    app = create_app(router)
    log = app.config.error_recorder
    assert isinstance(log, ErrorLog)
    router.include_router(error_log_router(log, dependency=guard), prefix="/ops/errors")
    with TestClient(app, raise_server_exceptions=False) as client:
        client.get("/crash")
        log.flush()
        refused = client.get("/ops/errors/")
        assert refused.status_code == 403
        assert refused.json() == {"detail": "admins only"}
        assert client.get("/ops/errors/errors/1").status_code == 403
        page = client.get("/ops/errors/", headers={"x-role": "admin"})
        assert page.status_code == 200
        assert "RuntimeError" in page.text
        assert 'href="/ops/errors/errors/1"' in page.text


def test_fastware_errors_cli(error_log_in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with TestClient(create_app(crashing_router()), raise_server_exceptions=False) as client:
        client.get("/crash")
    assert main(["errors", "list"]) == 0
    assert "RuntimeError: kaput" in capsys.readouterr().out
    assert main(["errors", "show", "1"]) == 0
    assert "Traceback (most recent call last)" in capsys.readouterr().out
    assert main(["errors", "show", "7"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("fastware errors: error: no error with id 7")
    assert main(["errors", "list", "--db", "/nonexistent/x.db"]) == 1
    assert "no error log at /nonexistent/x.db" in capsys.readouterr().err


def test_import_fastware_error_log_loads_no_server() -> None:
    code = "import sys, fastware.error_log\nprint(sorted(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert "granian" not in out.stdout
