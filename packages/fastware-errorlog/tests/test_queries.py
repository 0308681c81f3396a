"""Migration of 0.6.3 files, the query API, grouping, retention."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from fastware_core.recording import ErrorContext
from fastware_errorlog import ErrorLog

SCHEMA_0_6_3 = """
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


def test_a_0_6_3_file_opens_and_is_migrated_in_place(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(SCHEMA_0_6_3)
        conn.execute(
            "INSERT INTO errors (timestamp, method, path, status_code, detail) "
            "VALUES (1.0, 'GET', '/old', 500, 'GET /old returned 500')"
        )
    conn.close()
    log = ErrorLog(db)
    [old] = log.query()
    assert (old.path, old.kind, old.detail) == ("/old", "http", "GET /old returned 500")
    log.append(method="GET", path="/new", status_code=502)
    log.flush()
    assert [r["path"] for r in log.recent()] == ["/new", "/old"]
    with sqlite3.connect(db) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(errors)")]
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(errors)")}
        # a 0.6.3 reader's query still works
        rows = conn.execute(
            "SELECT id, timestamp, method, path, status_code, detail, request_id, user, "
            "traceback FROM errors ORDER BY id DESC"
        ).fetchall()
    conn.close()
    assert columns[:9] == [
        "id",
        "timestamp",
        "method",
        "path",
        "status_code",
        "detail",
        "request_id",
        "user",
        "traceback",
    ]
    assert {"fingerprint", "kind", "headers", "exception_type"} <= set(columns)
    assert {"errors_timestamp", "errors_fingerprint", "errors_status", "errors_path"} <= indexes
    assert [row[3] for row in rows] == ["/new", "/old"]
    log.close()


def test_queries_use_indexes(log: ErrorLog, db: Path) -> None:
    log.append(method="GET", path="/", status_code=500)
    log.flush()
    with sqlite3.connect(db) as conn:
        for where in ("timestamp >= 1", "fingerprint = 'x'", "status_code = 500", "path = '/'"):
            plan = " ".join(
                str(row[3])
                for row in conn.execute(f"EXPLAIN QUERY PLAN SELECT * FROM errors WHERE {where}")
            )
            assert "USING INDEX" in plan, (where, plan)
    conn.close()


def fill(log: ErrorLog) -> float:
    now = time.time()
    for i in range(30):
        log.append(
            method="GET",
            path=f"/p{i % 3}",
            status_code=500 if i % 2 else 503,
            detail=str(i),
        )
    log.record(ValueError("v"), ErrorContext(kind="websocket", path="/ws", status_code=1011))
    log.flush()
    return now


def test_filters_counts_and_paging(log: ErrorLog) -> None:
    started = fill(log)
    assert log.count() == 31
    assert log.count(status=503) == 15
    assert log.count(status="5xx") == 30
    assert log.count(path="/p1") == 10
    assert log.count(kind="websocket") == 1
    assert log.count(since=started - 1) == 31
    assert log.count(until=started - 1) == 0
    first = log.query(limit=10)
    second = log.query(limit=10, offset=10)
    assert [r.id for r in first] == sorted((r.id for r in first), reverse=True)
    assert first[-1].id > second[0].id
    assert [r.id for r in log.query(limit=10, before_id=first[-1].id)] == [r.id for r in second]
    assert log.get(first[0].id) == first[0]
    assert log.get(10**9) is None


def test_groups_first_last_seen_and_stats(log: ErrorLog) -> None:
    fill(log)
    groups = log.groups(kind="appended", order="count")
    assert len(groups) == 6  # 3 paths x 2 statuses
    assert sum(g.count for g in groups) == 30
    for group in groups:
        assert group.first_seen <= group.last_seen
        assert log.get(group.last_id) is not None
    latest = log.groups(limit=1)[0]
    assert latest.kind == "websocket"
    assert latest.exception_type == "ValueError"
    assert log.count(fingerprint=groups[0].fingerprint) == groups[0].count
    stats = log.stats(top=3)
    assert stats.total == 31
    assert stats.groups == 7
    assert stats.by_status == {"500": 15, "503": 15, "1011": 1}
    assert stats.by_kind == {"appended": 30, "websocket": 1}
    assert len(stats.top) == 3


def test_prune_by_age_and_count(log: ErrorLog, db: Path) -> None:
    fill(log)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE errors SET timestamp = timestamp - 86400 WHERE id <= 10")
    conn.close()
    assert log.prune(older_than=3600) == 10
    assert log.count() == 21
    assert log.prune(keep=5) == 16
    assert [r.id for r in log.query()] == list(range(31, 26, -1))


def test_retention_is_enforced_by_the_writer(db: Path) -> None:
    log = ErrorLog(db, max_rows=5, prune_interval=0.05)
    for i in range(20):
        log.append(method="GET", path="/", status_code=500, detail=str(i))
    log.flush()
    deadline = time.monotonic() + 5
    while log.count() > 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [r.detail for r in log.query()] == ["19", "18", "17", "16", "15"]
    assert log.prune() == 0  # the configured retention
    log.close()


def test_a_missing_file_reads_as_empty(db: Path) -> None:
    log = ErrorLog(db)
    assert log.query() == []
    assert log.count() == 0
    assert log.groups() == []
    assert log.stats().total == 0
    assert log.prune(keep=1) == 0
    assert not db.exists()


@pytest.mark.parametrize("status", ["5xx", "4XX", 404, "404"])
def test_status_forms(log: ErrorLog, status: int | str) -> None:
    log.append(method="GET", path="/", status_code=404)
    log.flush()
    assert log.count(status=status) == (0 if str(status).lower() == "5xx" else 1)
