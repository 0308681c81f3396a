"""Bad input: the app keeps going, the problem is logged once, stored rows are never lost."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fastware_core.recording import ErrorContext
from fastware_errorlog import MAX_DETAIL, MAX_PATH, MAX_TRACEBACK, ErrorLog, ErrorLogError


def failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "fastware.errorlog" and r.levelno >= logging.ERROR
    ]


def quick(path: Path, **options: float) -> ErrorLog:
    log = ErrorLog(path, busy_timeout=options.pop("busy_timeout", 0.2))
    log.retry_delays = (0.05, 0.1)
    return log


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits (see the next test)")
def test_an_unwritable_directory_is_logged_once_and_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    log = quick(locked / "errors.db")
    try:
        for i in range(5):
            log.append(method="GET", path="/", status_code=500, detail=str(i))
        with pytest.raises(ErrorLogError, match="writable"):
            log.flush()
        time.sleep(0.3)  # several retries
        assert len(failures(caplog)) == 1
        locked.chmod(0o700)
        log.flush()
        assert log.count() == 5
    finally:
        locked.chmod(0o700)
        log.close()


def test_an_impossible_path_is_logged_once_and_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "logs"
    blocker.write_text("a file where the directory should be")
    log = quick(blocker / "errors.db")
    for i in range(5):
        log.append(method="GET", path="/", status_code=500, detail=str(i))
    with pytest.raises(ErrorLogError, match="is a file, not a directory"):
        log.flush()
    time.sleep(0.3)  # several retries, one log line
    assert len(failures(caplog)) == 1
    assert "rows wait in memory" in failures(caplog)[0]
    blocker.unlink()
    log.flush()
    assert log.count() == 5
    log.close()


def test_a_read_only_file_is_retried_until_writable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "errors.db"
    first = quick(db)
    first.append(method="GET", path="/kept", status_code=500)
    first.close()
    # A read-only database file (root ignores mode bits, so use SQLite's own read-only mode
    # through a query_only pragma on a shared lock instead when running as root).
    blocker = sqlite3.connect(db)
    blocker.execute("BEGIN EXCLUSIVE")
    log = quick(db)
    log.append(method="GET", path="/new", status_code=500)
    with pytest.raises(ErrorLogError, match="lock"):
        log.flush()
    blocker.rollback()
    blocker.close()
    log.flush()
    assert sorted(r.path for r in log.query()) == ["/kept", "/new"]
    log.close()


def test_a_directory_where_the_file_should_be(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "errors.db"
    db.mkdir()
    (db / "keep.txt").write_text("precious")
    log = quick(db)
    log.append(method="GET", path="/", status_code=500)
    with pytest.raises(ErrorLogError, match="is a directory"):
        log.flush()
    assert len(failures(caplog)) == 1
    assert "is a directory" in failures(caplog)[0]
    assert (db / "keep.txt").read_text() == "precious"
    with pytest.raises(ErrorLogError, match="is a directory"):
        log.query()
    log.close(timeout=0.5)


def test_a_corrupt_file_is_left_untouched(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "errors.db"
    garbage = b"this is not sqlite at all\x00" * 200
    db.write_bytes(garbage)
    log = quick(db)
    log.append(method="GET", path="/", status_code=500)
    with pytest.raises(ErrorLogError, match="not a valid SQLite database"):
        log.flush()
    [message] = failures(caplog)
    assert "Move it aside" in message
    assert db.read_bytes() == garbage
    with pytest.raises(ErrorLogError, match="not a valid SQLite database"):
        log.query()
    # moving it aside lets the queued row through
    db.rename(tmp_path / "corrupt.db")
    log.flush()
    assert log.count() == 1
    log.close()


def test_a_lock_held_longer_than_the_busy_timeout_by_another_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "errors.db"
    seed = quick(db)
    seed.append(method="GET", path="/before", status_code=500)
    seed.close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "time.sleep(1.5)\n"
            "c.execute('ROLLBACK')\n",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    log = quick(db, busy_timeout=0.2)
    started = time.monotonic()
    for i in range(50):
        log.append(method="GET", path="/during", status_code=500, detail=str(i))
    assert time.monotonic() - started < 0.05  # append never waits for the lock
    with pytest.raises(ErrorLogError, match="busy timeout"):
        log.flush()
    holder.wait(timeout=10)
    holder.stdout.close()
    log.flush()
    assert log.count(path="/during") == 50
    assert log.count(path="/before") == 1
    assert len(failures(caplog)) == 1
    log.close()


def test_enormous_tracebacks_and_details_are_truncated(tmp_path: Path) -> None:
    log = quick(tmp_path / "errors.db")
    huge = "x" * (5 * MAX_TRACEBACK)
    log.append(
        method="GET" * 500,
        path="/p" * MAX_PATH,
        status_code=500,
        detail="d" * (10 * MAX_DETAIL),
        traceback="HEAD" + huge + "TAIL",
        user="u" * 10_000,
    )

    def deep(n: int) -> None:
        if n == 0:
            raise RecursionError("deep " + "y" * (2 * MAX_TRACEBACK))
        deep(n - 1)

    try:
        deep(900)
    except RecursionError as exc:
        log.record(exc, ErrorContext(kind="http", path="/deep"))
    log.flush()
    deep_row, appended = log.query()
    assert len(appended.traceback) <= MAX_TRACEBACK
    assert appended.traceback.startswith("HEAD")
    assert appended.traceback.endswith("TAIL")
    assert "characters truncated" in appended.traceback
    assert len(appended.detail) <= MAX_DETAIL
    assert "truncated" in appended.detail
    assert len(appended.path) <= MAX_PATH
    assert len(appended.method) <= 256
    assert len(appended.user) <= 256
    assert len(deep_row.traceback) <= MAX_TRACEBACK
    assert deep_row.traceback.startswith("Traceback (most recent call last)")
    assert "characters truncated ...]" in deep_row.traceback
    assert deep_row.traceback.rstrip().endswith("y" * 100)  # the innermost part is kept
    assert len(deep_row.detail) <= MAX_DETAIL
    log.close()


def test_non_utf8_paths_and_values_are_stored(tmp_path: Path) -> None:
    log = quick(tmp_path / "errors.db")
    undecodable = b"/caf\xe9/\xff".decode("utf-8", "surrogateescape")
    log.append(method="GET", path=undecodable, status_code=500, detail="nul\x00byte")
    log.record(
        ValueError("bad \udcff"),
        ErrorContext(kind="http", path=undecodable, headers=(("x-h", "v\udce9"),)),
    )
    log.flush()
    recorded, appended = log.query()
    assert appended.path == "/caf\\udce9/\\udcff"
    assert appended.detail == "nul\x00byte"
    assert recorded.path == "/caf\\udce9/\\udcff"
    assert recorded.detail == "bad \\udcff"
    assert recorded.headers == [("x-h", "v\\udce9")]
    log.close()


def test_bad_status_values_and_filters(tmp_path: Path) -> None:
    log = quick(tmp_path / "errors.db")
    log.append(method="GET", path="/", status_code="nonsense")  # type: ignore[arg-type]
    log.flush()
    assert log.query()[0].status_code == 0
    with pytest.raises(ValueError, match="status must be a code like 503"):
        log.query(status="5x")
    with pytest.raises(ValueError, match="limit"):
        log.query(limit=-1)
    with pytest.raises(ValueError, match="order"):
        log.groups(order="random")
    log.close()
