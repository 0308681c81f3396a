"""``fastware users``: run through the command object, as the fastware CLI runs it."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from fastware_auth import SQLiteUserStore, UserExistsError, verify_password
from fastware_auth.cli import UsersCommand, UsersCommandError, open_store


def _run(argv: list[str], stdin: str = "") -> tuple[int, str]:
    command = UsersCommand()
    parser = argparse.ArgumentParser(prog="fastware users")
    command.configure(parser)
    args = parser.parse_args(argv)
    import contextlib
    import sys

    out = io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out):
            status = command.run(args)
    finally:
        sys.stdin = old_stdin
    return status, out.getvalue()


@pytest.mark.parametrize("name", ["users.db", "users.json"])
def test_create_list_set_role_delete(tmp_path: Path, name: str) -> None:
    store = str(tmp_path / name)
    status, out = _run(
        ["--store", store, "create", "Ada", "--role", "admin", "--password-stdin", "--rounds", "4"],
        "s3cret pass\n",
    )
    assert status == 0
    assert out.strip() == "created user 'ada' (admin)"
    record = open_store(store).find_user("ada")
    assert record is not None
    assert verify_password("s3cret pass", record["password_hash"])
    _, listed = _run(["--store", store, "--json", "list"])
    assert [u["username"] for u in json.loads(listed)] == ["ada"]
    assert "password_hash" not in listed
    _, table = _run(["--store", store, "list"])
    assert table.splitlines()[0].split() == ["USERNAME", "ROLE", "CREATED"]
    assert _run(["--store", store, "set-role", "ADA", "user"])[0] == 0
    assert open_store(store).find_user("ada")["role"] == "user"  # type: ignore[index]
    assert _run(["--store", store, "delete", "ada"])[0] == 0
    assert _run(["--store", store, "list"])[1].strip() == "no users"


def test_user_errors_raise_for_a_one_line_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = str(tmp_path / "users.db")
    monkeypatch.delenv("FASTWARE_USERS", raising=False)
    with pytest.raises(UsersCommandError, match="no user store"):
        _run(["list"])
    with pytest.raises(UsersCommandError, match="name an action"):
        _run(["--store", store])
    with pytest.raises(UsersCommandError, match="not a terminal"):
        _run(["--store", store, "create", "ada"])  # stdin is no tty
    with pytest.raises(UsersCommandError, match="no password"):
        _run(["--store", store, "create", "ada", "--password-stdin"], "")
    _run(["--store", store, "create", "ada", "--password-stdin", "--rounds", "4"], "pw-123456\n")
    with pytest.raises(UserExistsError, match="already exists"):
        _run(["--store", store, "create", "ADA", "--password-stdin", "--rounds", "4"], "x\n")
    with pytest.raises(LookupError, match="not found"):
        _run(["--store", store, "delete", "bob"])
    with pytest.raises(ValueError, match="72"):
        _run(["--store", store, "create", "eve", "--password-stdin"], "p" * 80 + "\n")


def test_the_store_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "env.db"
    monkeypatch.setenv("FASTWARE_USERS", str(store))
    assert _run(["create", "ada", "--password-stdin", "--rounds", "4"], "pw-123456\n")[0] == 0
    assert SQLiteUserStore(store).find_user("ada") is not None


def test_the_password_never_comes_from_argv() -> None:
    parser = argparse.ArgumentParser()
    UsersCommand().configure(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--store", "x.db", "create", "ada", "--password", "leak"])
