from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fastware
from fastware.cli import main


def run_module(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fastware", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def modules_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    return set(result.stdout.split())


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"fastware {fastware.__version__}\n"
    assert run_module("--version").stdout == f"fastware {fastware.__version__}\n"


def test_help_lists_every_command_of_the_entry_point_group(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("flags", "routes", "serve", "status", "stop", "tasks"):
        assert f"\n  {name} " in out
    assert "Serve an app with Granian" in out


def test_help_and_a_command_import_only_what_they_need() -> None:
    after_help = modules_after(
        "from fastware.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass"
    )
    assert not {m for m in after_help if m.split(".")[0] == "granian"}
    after_stop = modules_after(
        "from fastware.cli import main\nmain(['stop', '--pid-file', '/nonexistent/x.pid'])"
    )
    assert "fastware_server.commands.stop" in after_stop
    assert "fastware_server.commands.serve" not in after_stop
    assert not {m for m in after_stop if m.split(".")[0] == "granian"}


def test_no_command_and_unknown_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: fastware" in capsys.readouterr().err
    assert main(["nope"]) == 2
    assert capsys.readouterr().err == (
        "fastware: error: unknown command 'nope' "
        "(commands: dev, errors, flags, openapi, routes, serve, status, stop, tasks, users; "
        "try 'fastware --help')\n"
    )
    assert main(["--bogus"]) == 2


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stop", "--pid-file", str(tmp_path / "x.pid")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("fastware stop: error: no server to stop")
    assert main(["routes", "no_such_module_anywhere:app"]) == 1
    assert "no module named 'no_such_module_anywhere'" in capsys.readouterr().err
    with pytest.raises(Exception, match="no server to stop"):
        main(["--traceback", "stop", "--pid-file", str(tmp_path / "x.pid")])


def test_routes_lists_method_path_handler_flags_and_dependencies(tmp_path: Path) -> None:
    (tmp_path / "routes_demo.py").write_text(
        textwrap.dedent(
            """
            from typing import Annotated

            from fastware_core import Router
            from fastware_di import Depends

            router = Router()
            admin = Router()

            def get_db():
                return "db"

            def get_user():
                return "ada"

            @router.get("/")
            async def index(request):
                return {}

            @router.post("/items/{item_id:int}", deps={"db": get_db})
            async def update(request, db):
                return {}

            @router.get("/me")
            async def me(request, who: Annotated[str, Depends(get_user)]):
                return {}

            @router.ws("/live", feature="live")
            async def live(websocket):
                pass

            @admin.get("/audit", feature="audit")
            async def audit(request):
                return {}

            router.include_router(admin, prefix="/admin", feature="admin")
            """
        )
    )
    result = run_module("routes", "routes_demo:router", "--app-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    rows = [line.split(None, 4) for line in result.stdout.splitlines()]
    assert rows == [
        ["METHOD", "PATH", "HANDLER", "FEATURES", "DEPENDENCIES"],
        ["GET", "/", "routes_demo.index", "-", "-"],
        ["POST", "/items/{item_id:int}", "routes_demo.update", "-", "db=routes_demo.get_db"],
        ["GET", "/me", "routes_demo.me", "-", "who=routes_demo.get_user"],
        ["GET", "/admin/audit", "routes_demo.audit", "admin,audit", "-"],
        ["WS", "/live", "routes_demo.live", "live", "-"],
    ]
    as_json = run_module("routes", "routes_demo:router", "--app-dir", str(tmp_path), "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == {
        "app": "routes_demo:router",
        "routes": [
            {
                "method": "GET",
                "path": "/",
                "handler": "routes_demo.index",
                "features": [],
                "dependencies": [],
            },
            {
                "method": "POST",
                "path": "/items/{item_id:int}",
                "handler": "routes_demo.update",
                "features": [],
                "dependencies": ["db=routes_demo.get_db"],
            },
            {
                "method": "GET",
                "path": "/me",
                "handler": "routes_demo.me",
                "features": [],
                "dependencies": ["who=routes_demo.get_user"],
            },
            {
                "method": "GET",
                "path": "/admin/audit",
                "handler": "routes_demo.audit",
                "features": ["admin", "audit"],
                "dependencies": [],
            },
            {
                "method": "WS",
                "path": "/live",
                "handler": "routes_demo.live",
                "features": ["live"],
                "dependencies": [],
            },
        ],
    }


def test_server_compatibility_module() -> None:
    import fastware.server
    import fastware_server

    assert fastware.server.serve is fastware_server.serve
    for name in ("write_marker", "list_markers", "remove_marker", "ServerStatus", "stop"):
        assert name in fastware.server.__all__
    assert not {m for m in modules_after("import fastware.server") if m.startswith("granian")}


def test_flags_command_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(tmp_path / "flags.json")
    assert main(["flags", "set", "beta", "on", "--store", store]) == 0
    capsys.readouterr()
    assert main(["flags", "list", "--store", store, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["flags"][0]["name"] == "beta"
    assert main(["flags", "set", "beta", "perhaps", "--store", store]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fastware flags: error: the value of 'beta' must be a bool")
    assert len(err.splitlines()) == 1


def test_tasks_command_shows_published_tasks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from fastware.tasks import TaskRegistry

    async def forever() -> None:
        await asyncio.sleep(3600)

    async def scenario() -> None:
        registry = TaskRegistry(status_dir=tmp_path, name="shop")
        registry.register("sweeper", lambda: forever, once="host", feature=None)
        registry.register("mailer", lambda: forever)
        await registry.start()
        assert main(["tasks", "--status-dir", str(tmp_path), "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)["tasks"]
        assert {(r["name"], r["state"], r["once"]) for r in rows} == {
            ("sweeper", "running", "host"),
            ("mailer", "running", "worker"),
        }
        assert main(["tasks", "--status-dir", str(tmp_path)]) == 0
        table = capsys.readouterr().out.splitlines()
        assert table[0].split() == ["PID", "TASK", "STATE", "ONCE", "FEATURE", "RESTARTS", "ERROR"]
        await registry.stop()

    asyncio.run(scenario())
    assert main(["tasks", "--status-dir", str(tmp_path / "missing")]) == 1
    assert "is not a directory" in capsys.readouterr().err


def test_usage_errors_are_one_line_naming_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["serve"])
    assert caught.value.code == 2
    assert capsys.readouterr().err == (
        "fastware serve: error: the following arguments are required: MODULE:APP "
        "(try 'fastware serve --help')\n"
    )
    with pytest.raises(SystemExit):
        main(["serve", "hello:app", "--loop", "tokio"])
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "argument --loop: invalid choice: 'tokio'" in err
    assert err.endswith("(try 'fastware serve --help')\n")


OPENAPI_DEMO = '''
from __future__ import annotations

from typing import Annotated

import msgspec

from fastware import Depends, Query, Router, create_app
from fastware_auth import get_current_user


class Note(msgspec.Struct):
    text: str


router = Router()


@router.post("/notes/{note_id:int}", status_code=201, tags=["notes"])
async def save_note(
    note_id: int,
    note: Note,
    user: Annotated[dict, Depends(get_current_user)],
    draft: Annotated[bool, Query()] = False,
) -> Note:
    """Save a note."""
    return note


app = create_app(router, title="Notes")
'''


def test_openapi_prints_the_document(tmp_path: Path) -> None:
    from openapi_spec_validator import validate

    (tmp_path / "openapi_demo.py").write_text(OPENAPI_DEMO)
    result = run_module("openapi", "openapi_demo:app", "--app-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    validate(document)
    operation = document["paths"]["/notes/{note_id}"]["post"]
    assert operation["summary"] == "Save a note."
    assert [p["name"] for p in operation["parameters"]] == ["note_id", "draft"]  # not `user`
    assert operation["security"] == [{"bearerAuth": []}]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"

    written = tmp_path / "openapi.json"
    result = run_module(
        "openapi", "openapi_demo:app", "--app-dir", str(tmp_path), "-o", str(written)
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(written.read_text()) == document


def test_openapi_refuses_what_is_not_an_app(tmp_path: Path) -> None:
    (tmp_path / "openapi_demo.py").write_text(OPENAPI_DEMO)
    result = run_module("openapi", "openapi_demo:router", "--app-dir", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0  # one line
    assert "not a fastware app" in result.stderr
    missing = run_module("openapi", "nowhere_at_all:app", "--app-dir", str(tmp_path))
    assert missing.returncode != 0
    assert missing.stderr.strip().count("\n") == 0
