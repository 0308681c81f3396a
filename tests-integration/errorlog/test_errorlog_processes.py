"""Several real processes writing one error log file; processes that exit without close."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from fastware_errorlog import ErrorLog

WRITER = """
import sys, time
from fastware_errorlog import ErrorLog
path, name, count, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
log = ErrorLog(path)
while time.time() < start:
    time.sleep(0.001)
for i in range(count):
    log.append(method="GET", path="/" + name, status_code=500, detail=str(i))
log.close(timeout=120)
status = log.status()
print(status.written, status.dropped, flush=True)
"""

EXITING = """
import sys
from fastware_errorlog import ErrorLog
log = ErrorLog(sys.argv[1])
for i in range(int(sys.argv[2])):
    log.append(method="GET", path="/exiting", status_code=500, detail=str(i))
if sys.argv[3] == "raise":
    raise SystemExit(3)
"""


def test_four_processes_append_10000_rows_each_and_lose_none(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    start = time.time() + 1.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), f"p{n}", "10000", str(start)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    reports = []
    for proc in procs:
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0
        reports.append(out.split())
    assert reports == [["10000", "0"]] * 4
    log = ErrorLog(db)
    assert log.count() == 40_000
    for n in range(4):
        assert log.count(path=f"/p{n}") == 10_000
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        # each process's rows are all there, in order
        details = [int(d) for (d,) in conn.execute("SELECT detail FROM errors WHERE path='/p0'")]
    conn.close()
    assert details == list(range(10_000))


def test_a_process_that_exits_without_close_leaves_its_rows(tmp_path: Path) -> None:
    db = tmp_path / "exit.db"
    subprocess.run([sys.executable, "-c", EXITING, str(db), "5000", "return"], check=True)
    assert ErrorLog(db).count() == 5000
    done = subprocess.run([sys.executable, "-c", EXITING, str(db), "2000", "raise"])
    assert done.returncode == 3
    assert ErrorLog(db).count() == 7000
