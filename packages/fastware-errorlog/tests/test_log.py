"""ErrorLog: 0.6.3's API, recording exceptions, durability, the bounded queue."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fastware_core.recording import ErrorContext, ErrorRecorder
from fastware_errorlog import ErrorLog, ErrorLogError


def raised(exc: BaseException) -> BaseException:
    """``exc`` with a traceback."""
    try:
        raise exc
    except BaseException as caught:
        return caught


COLUMNS_0_6_3 = (
    "id",
    "timestamp",
    "method",
    "path",
    "status_code",
    "detail",
    "request_id",
    "user",
    "traceback",
)


def test_nothing_touches_the_disk_before_the_first_row(db: Path) -> None:
    log = ErrorLog(db)
    assert not db.exists()
    assert log.recent() == []
    assert not db.exists()
    log.close()
    assert not db.exists()


def test_append_flush_recent_like_0_6_3(log: ErrorLog, db: Path) -> None:
    before = time.time()
    log.append(method="GET", path="/a", status_code=500, detail="boom", request_id="r1")
    log.append(method="POST", path="/b", status_code=502, user="bob", traceback="tb")
    log.flush()
    rows = log.recent(limit=10)
    assert [r["path"] for r in rows] == ["/b", "/a"]  # newest first
    assert set(COLUMNS_0_6_3) <= set(rows[0])
    assert rows[0]["user"] == "bob"
    assert rows[0]["traceback"] == "tb"
    assert rows[1]["detail"] == "boom"
    assert rows[1]["request_id"] == "r1"
    assert before <= rows[1]["timestamp"] <= time.time()
    assert log.recent(limit=1)[0]["path"] == "/b"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_is_an_error_recorder() -> None:
    assert isinstance(ErrorLog("x.db"), ErrorRecorder)
    assert ErrorLog("x.db").min_status == 500


def test_record_stores_the_traceback_type_fingerprint_and_context(log: ErrorLog) -> None:
    def fail() -> None:
        raise ValueError("bad value")

    try:
        fail()
    except ValueError as exc:
        error = exc
    context = ErrorContext(
        kind="http",
        method="GET",
        path="/items/1",
        status_code=500,
        request_id="req-1",
        user={"username": "alice", "role": "admin"},
        headers=(("authorization", "Bearer secret"), ("cookie", "sid=s"), ("accept", "*/*")),
    )
    log.record(error, context)
    log.flush()
    [record] = log.query()
    assert record.kind == "http"
    assert record.exception_type == "ValueError"
    assert record.detail == "bad value"
    assert (record.method, record.path, record.status_code) == ("GET", "/items/1", 500)
    assert record.request_id == "req-1"
    assert record.user == "alice"
    assert "Traceback (most recent call last)" in record.traceback
    assert "in fail" in record.traceback
    assert "ValueError: bad value" in record.traceback
    assert len(record.fingerprint) == 16
    assert record.headers == [
        ("authorization", "[redacted]"),
        ("cookie", "[redacted]"),
        ("accept", "*/*"),
    ]
    assert "secret" not in str(record.to_dict())
    assert "sid=s" not in str(record.to_dict())


def test_same_error_same_group_other_error_other_group(log: ErrorLog) -> None:
    def fail(n: int) -> None:
        if n:
            raise KeyError(n)
        raise KeyError("other line, same function")

    def other() -> None:
        raise KeyError("elsewhere")

    calls: list[Callable[[], None]] = [lambda: fail(1), lambda: fail(0), other, lambda: fail(2)]
    for call in calls:
        try:
            call()
        except KeyError as exc:
            log.record(exc, ErrorContext(kind="http", path="/x"))
    log.flush()
    groups = log.groups(order="count")
    assert [g.count for g in groups] == [3, 1]
    assert groups[0].exception_type == "KeyError"
    assert log.count_groups() == 2


def test_a_task_crash_is_recorded(log: ErrorLog) -> None:
    log.record(
        raised(RuntimeError("mailer died")),
        ErrorContext(kind="task", task="mailer", status_code=0),
    )
    log.flush()
    [record] = log.query(kind="task")
    assert (record.task, record.method, record.path, record.status_code) == ("mailer", "", "", 0)
    assert "RuntimeError: mailer died" in record.traceback


def test_chained_exceptions_keep_both_tracebacks(log: ErrorLog) -> None:
    try:
        try:
            raise OSError("disk")
        except OSError as inner:
            raise RuntimeError("outer") from inner
    except RuntimeError as exc:
        log.record(exc, ErrorContext(kind="http"))
    log.flush()
    text = log.query()[0].traceback
    assert "OSError: disk" in text
    assert "RuntimeError: outer" in text
    assert "direct cause" in text


def test_a_hostile_exception_is_still_recorded(log: ErrorLog) -> None:
    class Hostile(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no str for you")

    log.record(raised(Hostile()), ErrorContext(kind="http", path="/h"))
    log.flush()
    [record] = log.query()
    assert record.exception_type.endswith("Hostile")
    assert record.path == "/h"


def test_threads_append_concurrently_without_loss(log: ErrorLog) -> None:
    log.max_queue = 100_000

    def work(n: int) -> None:
        for i in range(2000):
            log.append(method="GET", path=f"/t{n}", status_code=500, detail=str(i))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.flush()
    assert log.count() == 8000
    assert log.dropped == 0


def test_a_full_queue_drops_counts_and_records_the_drop(db: Path) -> None:
    log = ErrorLog(db, max_queue=10)
    blocker = sqlite3.connect(db)
    blocker.execute("PRAGMA journal_mode=WAL")
    blocker.execute("CREATE TABLE t (x)")
    blocker.execute("BEGIN EXCLUSIVE")  # the writer cannot write: rows pile up
    log.busy_timeout = 0.05
    log.retry_delays = (0.05,)
    for i in range(25):
        log.append(method="GET", path="/storm", status_code=500, detail=str(i))
    assert log.dropped == 15
    assert log.status().queued == 10
    blocker.rollback()
    blocker.close()
    log.flush()
    assert log.count(kind="appended") == 10
    [note] = log.query(kind="dropped")
    assert note.detail.startswith("15 errors were dropped")
    log.close()


def test_close_writes_what_is_queued(db: Path) -> None:
    log = ErrorLog(db)
    for i in range(100):
        log.append(method="GET", path="/c", status_code=500, detail=str(i))
    log.close()
    assert ErrorLog(db).count() == 100
    log.append(method="GET", path="/after-close", status_code=500)  # starts a new writer
    log.close()
    assert ErrorLog(db).count() == 101


def test_a_process_that_exits_without_close_keeps_its_rows(db: Path) -> None:
    script = (
        "import sys\n"
        "from fastware_errorlog import ErrorLog\n"
        "log = ErrorLog(sys.argv[1])\n"
        "for i in range(3000):\n"
        "    log.append(method='GET', path='/exit', status_code=500, detail=str(i))\n"
    )
    subprocess.run([sys.executable, "-c", script, str(db)], check=True, timeout=60)
    assert ErrorLog(db).count() == 3000


def test_flush_after_fork_in_a_child_writes_the_childs_rows(db: Path) -> None:
    script = (
        "import os, sys\n"
        "from fastware_errorlog import ErrorLog\n"
        "log = ErrorLog(sys.argv[1])\n"
        "log.append(method='GET', path='/parent', status_code=500)\n"
        "log.flush()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    log.append(method='GET', path='/child', status_code=500)\n"
        "    log.flush()\n"
        "    os._exit(0)\n"
        "os.waitpid(pid, 0)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(db)], check=True, timeout=60)
    assert sorted(r.path for r in ErrorLog(db).query()) == ["/child", "/parent"]


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_queue"):
        ErrorLog("x.db", max_queue=0)
    with pytest.raises(ValueError, match="max_age"):
        ErrorLog("x.db", max_age=0)
    with pytest.raises(ValueError, match="max_rows"):
        ErrorLog("x.db", max_rows=0)


def test_flush_times_out_with_a_clear_error(db: Path) -> None:
    blocker = sqlite3.connect(db)
    blocker.execute("PRAGMA journal_mode=WAL")
    blocker.execute("CREATE TABLE t (x)")
    blocker.execute("BEGIN EXCLUSIVE")
    log = ErrorLog(db, busy_timeout=2.0)
    log.append(method="GET", path="/", status_code=500)
    with pytest.raises(ErrorLogError, match=r"did not finish writing within 0\.2 s"):
        log.flush(timeout=0.2)
    blocker.rollback()
    blocker.close()
    log.flush()
    assert log.count() == 1
    log.close()


def test_record_keeps_neither_the_exception_nor_its_frames(log: ErrorLog) -> None:
    import gc
    import weakref

    class Held:
        pass

    def fail(held: Held) -> None:
        raise RuntimeError("held")

    held = Held()
    watcher = weakref.ref(held)
    try:
        fail(held)
    except RuntimeError as exc:
        log.record(exc, ErrorContext(kind="websocket", path="/ws"))
    del held
    gc.collect()
    assert watcher() is None  # the handler's locals are free before the row is written
    log.flush()
    assert "RuntimeError: held" in log.query()[0].traceback
    assert "in fail" in log.query()[0].traceback
