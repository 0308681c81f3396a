"""The ``errors`` table: opening a database file, creating and migrating the schema.

fastware 0.6.3 created the table with nine columns and no index. Version 1 of this schema
(``PRAGMA user_version = 1``) adds columns (never removes or renames one, so 0.6.3 readers
keep working) and the indexes the query API needs. Migration runs in one ``BEGIN
IMMEDIATE`` transaction, so several processes opening an old file at once migrate it once.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ("COLUMNS", "SCHEMA_VERSION", "connect", "ensure_schema")

SCHEMA_VERSION = 1

_CREATE = """
CREATE TABLE IF NOT EXISTS errors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp REAL NOT NULL,
    method TEXT,
    path TEXT,
    status_code INTEGER,
    detail TEXT DEFAULT '',
    request_id TEXT DEFAULT '',
    user TEXT DEFAULT '',
    traceback TEXT DEFAULT ''
)
"""

# Columns added after 0.6.3: name -> declaration.
_ADDED = {
    "kind": "TEXT NOT NULL DEFAULT 'http'",
    "exception_type": "TEXT NOT NULL DEFAULT ''",
    "fingerprint": "TEXT NOT NULL DEFAULT ''",
    "headers": "TEXT NOT NULL DEFAULT ''",
    "task": "TEXT NOT NULL DEFAULT ''",
    "pid": "INTEGER NOT NULL DEFAULT 0",
}

COLUMNS = (
    "id",
    "timestamp",
    "method",
    "path",
    "status_code",
    "detail",
    "request_id",
    "user",
    "traceback",
    *_ADDED,
)
"""Every column, in table order."""

_INDEXES = (
    "CREATE INDEX IF NOT EXISTS errors_timestamp ON errors (timestamp)",
    "CREATE INDEX IF NOT EXISTS errors_fingerprint ON errors (fingerprint, timestamp)",
    "CREATE INDEX IF NOT EXISTS errors_status ON errors (status_code, timestamp)",
    "CREATE INDEX IF NOT EXISTS errors_path ON errors (path, timestamp)",
)


def connect(path: str | Path, busy_timeout: float, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with the busy timeout.

    A read-only connection never creates the file (``FileNotFoundError`` when it is missing).
    """
    if readonly:
        target = Path(path)
        if not target.exists():
            raise FileNotFoundError(f"no error log at {target}")
        uri = target.resolve().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout, isolation_level=None)
    else:
        conn = sqlite3.connect(
            str(path), timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        if not readonly:
            # WAL: readers never block the writer, several processes append to one file.
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the table and indexes, or migrate a 0.6.3 table in place."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version >= SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version < SCHEMA_VERSION:
            conn.execute(_CREATE)
            present = {row[1] for row in conn.execute("PRAGMA table_info(errors)")}
            for name, declaration in _ADDED.items():
                if name not in present:
                    conn.execute(f"ALTER TABLE errors ADD COLUMN {name} {declaration}")
            for statement in _INDEXES:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
