"""Two processes creating 200 users each in one store lose none (SQLite and JSON)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fastware_auth import JSONFileUserStore, SQLiteUserStore, UserStore

CREATE = """
import sys
from fastware_auth import JSONFileUserStore, SQLiteUserStore
kind, path, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
store = JSONFileUserStore(path, rounds=4) if kind == "json" else SQLiteUserStore(path, rounds=4)
for n in range(200):
    store.create_user(f"{prefix}{n}", "pw-123456")
# both processes also race for the same names: exactly one of each wins
won = 0
for n in range(50):
    try:
        store.create_user(f"shared{n}", "pw-123456")
        won += 1
    except ValueError:
        pass
print(won)
"""


@pytest.mark.parametrize("kind", ["sqlite", "json"])
def test_two_processes_creating_200_users_each_lose_none(kind: str, tmp_path: Path) -> None:
    path = str(tmp_path / ("users.db" if kind == "sqlite" else "users.json"))
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CREATE, kind, path, f"w{n}-"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    outputs = [process.communicate(timeout=240) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    store: UserStore = SQLiteUserStore(path) if kind == "sqlite" else JSONFileUserStore(path)
    names = {user["username"] for user in store.list_users()}
    assert len(names) == 450
    assert all(f"w{w}-{n}" in names for w in range(2) for n in range(200))
    assert sum(int(out) for out, _ in outputs) == 50  # each shared name created once
