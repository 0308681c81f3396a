"""``SQLiteUserStore``: the embedded default user store for new apps."""

from __future__ import annotations

import contextlib
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from .exceptions import UserExistsError, UserNotFoundError
from .passwords import DEFAULT_ROUNDS
from .users import UserRecord, UserStore, check_role, normalize_username

__all__ = ("SQLiteUserStore",)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL
) WITHOUT ROWID
"""
_COLUMNS = "username, password_hash, role, created_at"


def _row(row: tuple[str, str, str, str]) -> UserRecord:
    return {"username": row[0], "password_hash": row[1], "role": row[2], "created_at": row[3]}


class SQLiteUserStore(UserStore):
    """Users in a SQLite database: WAL journal, a busy timeout, unique usernames.

    - The username is the table's primary key, so the database itself refuses a duplicate,
      also between processes (several Granian workers can share one file), and a lookup is
      one indexed read: nothing is reloaded per request.
    - WAL lets readers run while one writer writes; ``timeout`` is how long a writer waits
      for another before giving up (``sqlite3.OperationalError: database is locked``).
    - Connections are pooled per store and may be used from any thread; the ``*_async``
      methods run every call in a worker thread, off the event loop.

    Args:
        path: The database file (created with its directory when missing).
        rounds: The bcrypt cost used for new passwords.
        timeout: Seconds to wait for a lock held by another connection.
        pool_size: How many idle connections to keep.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        rounds: int = DEFAULT_ROUNDS,
        timeout: float = 30.0,
        pool_size: int = 4,
    ) -> None:
        super().__init__(rounds=rounds)
        self.path = Path(path)
        self.timeout = timeout
        self._idle: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue(maxsize=pool_size)
        self._closed = False
        self._ready = threading.Lock()
        self._initialised = False

    # -- connections --------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            if not self._initialised:
                with self._ready:
                    if not self._initialised:
                        self._initialise(connection)
                        self._initialised = True
            connection.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            connection.close()
            raise
        return connection

    def _initialise(self, connection: sqlite3.Connection) -> None:
        # Switching a new database to WAL takes an exclusive lock and SQLite does not call the
        # busy handler for it: two processes opening a fresh file at once see "database is
        # locked" straight away. Retry until the timeout instead.
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            try:
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                message = str(exc).lower()
                if ("locked" not in message and "busy" not in message) or (
                    time.monotonic() >= deadline
                ):
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        try:
            connection = self._idle.get_nowait()
        except queue.Empty:
            connection = self._connect()
        try:
            yield connection
        except BaseException:
            connection.close()  # its state is unknown (an open transaction): do not reuse
            raise
        try:
            self._idle.put_nowait(connection)
        except queue.Full:
            connection.close()

    def close(self) -> None:
        """Close the pooled connections; the store cannot be used afterwards."""
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    # -- the API ------------------------------------------------------------------------------

    def load_users(self) -> list[UserRecord]:
        """Every record (for the 0.6.3 API; lookups do not use it)."""
        with self._connection() as db:
            return [_row(row) for row in db.execute(f"SELECT {_COLUMNS} FROM users")]

    def save_users(self, users: list[UserRecord]) -> None:
        """Replace every record with ``users``, in one transaction.

        Raises:
            UserExistsError: when two records normalise to the same username.
        """
        rows = [
            (normalize_username(u["username"]), u["password_hash"], u["role"], u["created_at"])
            for u in users
        ]
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("DELETE FROM users")
                db.executemany(f"INSERT INTO users ({_COLUMNS}) VALUES (?, ?, ?, ?)", rows)
            except sqlite3.IntegrityError:
                db.execute("ROLLBACK")
                raise UserExistsError("Two users have the same username") from None
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def find_user(self, username: str) -> UserRecord | None:
        """The record of ``username`` (normalised), or ``None``: one indexed read."""
        try:
            name = normalize_username(username)
        except ValueError:
            return None
        with self._connection() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM users WHERE username = ?", (name,)).fetchone()
        return None if row is None else _row(row)

    def list_users(self) -> list[UserRecord]:
        """Every user, sorted by username."""
        with self._connection() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM users ORDER BY username").fetchall()
        return [_row(row) for row in rows]

    def count_users(self) -> int:
        """How many users are stored."""
        with self._connection() as db:
            count: int = db.execute("SELECT count(*) FROM users").fetchone()[0]
        return count

    def _insert(self, record: UserRecord) -> UserRecord:
        with self._connection() as db:
            try:
                db.execute(
                    f"INSERT INTO users ({_COLUMNS}) VALUES (?, ?, ?, ?)",
                    (
                        record["username"],
                        record["password_hash"],
                        record["role"],
                        record["created_at"],
                    ),
                )
            except sqlite3.IntegrityError:
                raise UserExistsError(f"User '{record['username']}' already exists") from None
        return record

    def delete_user(self, username: str) -> None:
        """Remove ``username``.

        Raises:
            UserNotFoundError: when there is no such user.
        """
        name = self._name_or_missing(username)
        with self._connection() as db:
            cursor = db.execute("DELETE FROM users WHERE username = ?", (name,))
        if cursor.rowcount == 0:
            raise UserNotFoundError(f"User '{name}' not found")

    def _update(self, name: str, changes: dict[str, str]) -> UserRecord:
        assignments = ", ".join(f"{column} = ?" for column in changes)
        for column in changes:
            if column not in ("role", "password_hash"):
                raise ValueError(f"cannot update column {column!r}")
        with self._connection() as db:
            row = db.execute(
                f"UPDATE users SET {assignments} WHERE username = ? RETURNING {_COLUMNS}",
                (*changes.values(), name),
            ).fetchone()
        if row is None:
            raise UserNotFoundError(f"User '{name}' not found")
        return _row(row)

    def set_role(self, username: str, role: str) -> UserRecord:
        """Change the role of ``username``; returns the updated record.

        Raises:
            UserNotFoundError: when there is no such user.
        """
        name = self._name_or_missing(username)
        check_role(role)
        return self._update(name, {"role": role})

    def __repr__(self) -> str:
        return f"SQLiteUserStore({str(self.path)!r})"
