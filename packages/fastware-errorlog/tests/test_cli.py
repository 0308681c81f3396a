"""``fastware errors``: list, show, stats, prune, --json, and user errors."""

from __future__ import annotations

import argparse
import json
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from fastware_core.recording import ErrorContext
from fastware_errorlog import ErrorLog, ErrorLogError
from fastware_errorlog.cli import command


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="fastware errors")
    command.configure(parser)
    return command.run(parser.parse_args(argv))


@pytest.fixture
def filled(db: Path) -> Path:
    log = ErrorLog(db)
    for i in range(3):
        log.append(method="GET", path="/a", status_code=500, detail=f"a{i}")
    log.append(method="POST", path="/b", status_code=503, detail="b")
    try:
        raise ValueError("exploded")
    except ValueError as exc:
        log.record(
            exc,
            ErrorContext(
                kind="http", method="GET", path="/c", headers=(("authorization", "Bearer s3"),)
            ),
        )
    log.close()
    return db


def test_the_command_is_an_entry_point() -> None:
    [entry] = [e for e in entry_points(group="fastware.cli") if e.name == "errors"]
    assert entry.load() is command
    assert command.help.strip()


def test_list_grouped_and_raw(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("list", "--db", str(filled)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["COUNT", "LAST", "SEEN", "STATUS", "WHERE", "LATEST", "ERROR"]
    assert "ValueError: exploded" in out[1]  # newest first
    assert any(line.startswith("3 ") and "GET /a" in line for line in out)
    assert run("list", "--db", str(filled), "--raw", "--status", "5xx", "--limit", "2") == 0
    raw = capsys.readouterr().out.splitlines()
    assert len(raw) == 3
    assert raw[1].startswith("#5")


def test_list_json_and_filters(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("list", "--db", str(filled), "--json", "--path", "/a") == 0
    [group] = json.loads(capsys.readouterr().out)
    assert group["count"] == 3
    assert group["path"] == "/a"
    assert run("list", "--db", str(filled), "--json", "--fingerprint", group["fingerprint"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["detail"] for r in rows] == ["a2", "a1", "a0"]
    assert "traceback" not in rows[0]
    assert run("list", "--db", str(filled), "--json", "--since", "1h", "--status", "503") == 0
    assert [g["path"] for g in json.loads(capsys.readouterr().out)] == ["/b"]


def test_show_prints_the_traceback(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("show", "--db", str(filled), "5") == 0
    out = capsys.readouterr().out
    assert "GET /c  ->  500" in out
    assert "Traceback (most recent call last)" in out
    assert "ValueError: exploded" in out
    assert "authorization: [redacted]" in out
    assert "s3" not in out
    assert run("show", "--db", str(filled), "5", "--json") == 0
    record = json.loads(capsys.readouterr().out)
    assert record["id"] == 5
    assert "ValueError: exploded" in record["traceback"]


def test_stats(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("stats", "--db", str(filled), "--since", "24h") == 0
    out = capsys.readouterr().out
    assert out.startswith("5 errors in 3 groups since ")
    assert "500: 4" in out
    assert "503: 1" in out
    assert run("stats", "--db", str(filled), "--json") == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["total"] == 5
    assert stats["by_status"] == {"500": 4, "503": 1}


def test_prune(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("prune", "--db", str(filled), "--keep", "2") == 0
    assert capsys.readouterr().out.startswith("deleted 3 errors; 2 remain")
    assert run("prune", "--db", str(filled), "--older-than", "30d", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"deleted": 0, "remaining": 2}


def test_user_errors_are_clear(tmp_path: Path, filled: Path) -> None:
    with pytest.raises(ErrorLogError, match=r"no error log at .*missing\.db"):
        run("list", "--db", str(tmp_path / "missing.db"))
    with pytest.raises(ErrorLogError, match="is a directory"):
        run("list", "--db", str(tmp_path))
    with pytest.raises(ErrorLogError, match="no error with id 99"):
        run("show", "--db", str(filled), "99")
    with pytest.raises(ValueError, match="prune needs --older-than"):
        run("prune", "--db", str(filled))
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"garbage" * 100)
    with pytest.raises(ErrorLogError, match="not a valid SQLite database"):
        run("list", "--db", str(corrupt))


@pytest.mark.parametrize(
    "argv",
    [
        ("list", "--since", "yesterday-ish"),
        ("list", "--status", "5x"),
        ("list", "--limit", "-3"),
        ("show", "abc"),
        ("prune", "--older-than", "forever"),
        ("nope",),
    ],
)
def test_bad_arguments_exit_2(argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run(*argv)
    assert exited.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_the_environment_names_the_default_file(
    filled: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FASTWARE_ERROR_LOG", str(filled))
    assert run("stats", "--json") == 0
    assert json.loads(capsys.readouterr().out)["total"] == 5
