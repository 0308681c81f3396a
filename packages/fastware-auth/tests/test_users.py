"""User stores: the 0.6.3 JSON store, SQLite, normalisation, concurrency across processes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from fastware_auth import (
    InvalidUsernameError,
    JSONFileUserStore,
    SQLiteUserStore,
    UserExistsError,
    UserNotFoundError,
    UserStore,
    normalize_username,
    verify_password,
)


@pytest.fixture(params=["json", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> UserStore:
    if request.param == "json":
        return JSONFileUserStore(tmp_path / "data" / "users.json", rounds=4)
    return SQLiteUserStore(tmp_path / "data" / "users.db", rounds=4)


def test_create_find_delete(store: UserStore) -> None:
    record = store.create_user("ada", "s3cret-pass", "admin")
    assert set(record) == {"username", "password_hash", "role", "created_at"}
    assert record["created_at"].endswith("+00:00")
    found = store.find_user("ada")
    assert found is not None
    assert found["role"] == "admin"
    assert verify_password("s3cret-pass", found["password_hash"])
    store.delete_user("ada")
    assert store.find_user("ada") is None


def test_duplicates_and_missing_users_raise_0_6_3_errors(store: UserStore) -> None:
    store.create_user("ada", "pw-123456")
    with pytest.raises(ValueError, match="User 'ada' already exists"):
        store.create_user("ada", "other-pw")
    with pytest.raises(UserExistsError):
        store.create_user("ADA", "other-pw")
    with pytest.raises(LookupError):
        store.delete_user("bob")
    with pytest.raises(UserNotFoundError):
        store.set_role("bob", "admin")


def test_usernames_are_normalised(store: UserStore) -> None:
    store.create_user("Ada", "pw-123456")
    for spelling in ("ada", "ADA", " Ada ", "\uff21\uff44\uff41"):  # full-width too
        found = store.find_user(spelling)
        assert found is not None
        assert found["username"] == "ada"
    with pytest.raises(UserExistsError):
        store.create_user("\uff41\uff44\uff41", "pw-123456")


@pytest.mark.parametrize("bad", ["", "   ", "a b", "a\nb", "x" * 65, "semi;colon", "\udc80"])
def test_invalid_usernames_are_refused(store: UserStore, bad: str) -> None:
    with pytest.raises(InvalidUsernameError):
        store.create_user(bad, "pw-123456")
    assert store.find_user(bad) is None


def test_normalize_username() -> None:
    assert normalize_username("Straße") == "strasse"
    assert normalize_username("ÅNGSTRÖM") == normalize_username("ångström")
    assert normalize_username("dev.ops+1@example.com") == "dev.ops+1@example.com"


def test_set_role_and_password_and_list(store: UserStore) -> None:
    store.create_user("bob", "pw-123456")
    store.create_user("ada", "pw-123456")
    assert store.set_role("Bob", "admin")["role"] == "admin"
    store.set_password("bob", "new-password")
    found = store.find_user("bob")
    assert found is not None
    assert verify_password("new-password", found["password_hash"])
    assert [u["username"] for u in store.list_users()] == ["ada", "bob"]


def test_over_long_password_is_refused_and_nothing_is_stored(store: UserStore) -> None:
    with pytest.raises(ValueError, match="72"):
        store.create_user("ada", "p" * 73)
    assert store.find_user("ada") is None


@pytest.mark.anyio
async def test_async_twins(store: UserStore) -> None:
    await store.create_user_async("ada", "pw-123456", "admin")
    found = await store.find_user_async("ADA")
    assert found is not None
    assert (await store.set_role_async("ada", "user"))["role"] == "user"
    assert len(await store.list_users_async()) == 1
    await store.delete_user_async("ada")
    assert await store.find_user_async("ada") is None


def test_json_file_format_matches_0_6_3(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    store = JSONFileUserStore(path, rounds=4)
    assert store.load_users() == []
    store.create_user("ada", "pw-123456", "admin")
    text = path.read_text()
    assert text.endswith("]\n")
    assert text.startswith('[\n  {\n    "username": "ada"')
    data = json.loads(text)
    assert isinstance(data, list)
    assert data[0]["role"] == "admin"


def test_json_store_reads_0_6_3_records_with_unnormalised_names(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    store = JSONFileUserStore(path, rounds=4)
    legacy = {"username": "Ada", "password_hash": "x", "role": "admin", "created_at": "2024"}
    path.write_text(json.dumps([legacy]))
    assert store.find_user("ada") is not None
    with pytest.raises(UserExistsError):
        store.create_user("ADA", "pw-123456")


def test_json_store_never_overwrites_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_text('{"not": "a list"}')
    store = JSONFileUserStore(path, rounds=4)
    with pytest.raises(ValueError, match="JSON list"):
        store.create_user("ada", "pw-123456")
    assert path.read_text() == '{"not": "a list"}'
    path.write_text("[truncat")
    with pytest.raises(ValueError):
        store.create_user("ada", "pw-123456")
    assert path.read_text() == "[truncat"


def test_failed_save_keeps_the_original_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "users.json"
    store = JSONFileUserStore(path, rounds=4)
    store.create_user("ada", "pw-123456")
    before = path.read_text()

    def boom(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("fastware_auth.users.os.replace", boom)
    with pytest.raises(OSError, match="disk full"):
        store.create_user("bob", "pw-123456")
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["users.json", "users.json.lock"]


def test_sqlite_uses_wal_and_a_primary_key(tmp_path: Path) -> None:
    path = tmp_path / "users.db"
    store = SQLiteUserStore(path, rounds=4)
    store.create_user("ada", "pw-123456")
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    plan = " ".join(
        str(row) for row in db.execute("EXPLAIN QUERY PLAN SELECT * FROM users WHERE username='a'")
    )
    assert "PRIMARY KEY" in plan or "INDEX" in plan
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO users VALUES ('ada', 'x', 'user', 'now')")
    db.close()
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.find_user("ada")


def test_sqlite_lookups_do_not_reload_the_store(tmp_path: Path) -> None:
    store = SQLiteUserStore(tmp_path / "users.db", rounds=4)
    store.create_user("ada", "pw-123456")

    def forbidden() -> Any:
        raise AssertionError("find_user reloaded the whole store")

    store.load_users = forbidden  # type: ignore[method-assign]
    assert store.find_user("ada") is not None
    assert store.count_users() == 1


def test_threads_creating_users_lose_none(store: UserStore) -> None:
    errors: list[BaseException] = []

    def create(offset: int) -> None:
        try:
            for n in range(15):
                store.create_user(f"user{offset}-{n}", "pw-123456")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(store.list_users()) == 60


_CREATE_MANY = """
import sys
from fastware_auth import JSONFileUserStore, SQLiteUserStore
kind, path, prefix, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = JSONFileUserStore(path, rounds=4) if kind == "json" else SQLiteUserStore(path, rounds=4)
for n in range(count):
    store.create_user(f"{prefix}{n}", "pw-123456")
"""


@pytest.mark.parametrize("kind", ["json", "sqlite"])
def test_processes_creating_users_lose_none(kind: str, tmp_path: Path) -> None:
    path = str(tmp_path / ("users.json" if kind == "json" else "users.db"))
    workers = [
        subprocess.Popen([sys.executable, "-c", _CREATE_MANY, kind, path, f"p{n}-", "40"])
        for n in range(2)
    ]
    assert [worker.wait(120) for worker in workers] == [0, 0]
    store = JSONFileUserStore(path) if kind == "json" else SQLiteUserStore(path)
    assert len(store.list_users()) == 80
