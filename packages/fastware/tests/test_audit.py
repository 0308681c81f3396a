"""``fastware.audit.AuditLog``: JSON lines, atomic appends across real processes, a reader."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import msgspec
import pytest

from fastware.audit import AuditEvent, AuditLog


def raw_lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def test_one_compact_json_line_per_event(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "deep" / "er" / "audit.jsonl")  # parents are created
    log.log("user.login", {"user": "ada", "roles": ["admin"]})
    log.log("server.started")
    first, second = raw_lines(log.path)
    assert first.startswith(b'{"timestamp":"')
    record = msgspec.json.decode(first)
    assert list(record) == ["timestamp", "event_type", "payload"]
    assert record["timestamp"].endswith("+00:00")
    assert record["payload"] == {"user": "ada", "roles": ["admin"]}
    assert b" " not in first.replace(b"T", b"")  # compact: no spaces
    assert list(msgspec.json.decode(second)) == ["timestamp", "event_type"]


def test_payloads_msgspec_encodes_and_ones_it_cannot(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    when = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    log.log("typed", {"when": when, "tags": ("a", "b")})
    with pytest.raises(TypeError):
        log.log("bad", {"lock": threading.Lock()})
    with pytest.raises(TypeError, match="event_type must be a str"):
        log.log(42, {})  # type: ignore[arg-type]
    (event,) = log.iter_events()
    assert event.payload == {"when": "2026-12-06T12:00:00Z", "tags": ["a", "b"]}
    assert len(raw_lines(log.path)) == 1  # the failures wrote nothing


def test_iter_events_filters_by_time_and_type(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    base = datetime(2026, 12, 1, tzinfo=UTC)
    lines = [
        {"timestamp": (base + timedelta(hours=h)).isoformat(), "event_type": t, "payload": h}
        for h, t in enumerate(["a", "b", "a", "b", "a"])
    ]
    path.write_bytes(b"".join(msgspec.json.encode(line) + b"\n" for line in lines))
    log = AuditLog(path)
    assert [e.payload for e in log.iter_events()] == [0, 1, 2, 3, 4]
    assert [e.payload for e in log.iter_events(since=base + timedelta(hours=2))] == [2, 3, 4]
    assert [e.payload for e in log.iter_events(until=base + timedelta(hours=2))] == [0, 1]
    window = log.iter_events(
        since=base + timedelta(hours=1), until=base + timedelta(hours=4), event_type="b"
    )
    assert [e.payload for e in window] == [1, 3]
    other_zone = datetime(2026, 12, 1, 5, tzinfo=UTC).astimezone()  # any aware datetime
    assert [e.payload for e in log.iter_events(since=other_zone)] == []
    first = next(log.iter_events())
    assert first == AuditEvent(timestamp=base, event_type="a", payload=0)
    with pytest.raises(ValueError, match="since must be a timezone-aware datetime"):
        list(log.iter_events(since=datetime(2026, 12, 1)))


def test_a_missing_file_has_no_events(tmp_path: Path) -> None:
    assert list(AuditLog(tmp_path / "none.jsonl").iter_events()) == []


def test_the_reader_skips_garbage_and_an_unfinished_last_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.log("one")
    with log.path.open("ab") as stream:
        stream.write(b"not json\n\n")
    log.log("two")
    with log.path.open("ab") as stream:
        stream.write(b'{"timestamp":"2026-12-06T00:00:00+00:00","event_ty')
    with caplog.at_level(logging.WARNING, logger="fastware.audit"):
        assert [e.event_type for e in log.iter_events()] == ["one", "two"]
    assert "line 2 is not an audit event" in caplog.text


@pytest.mark.anyio
async def test_alog_writes_off_the_event_loop(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", fsync=True)
    async with anyio.create_task_group() as group:
        for n in range(20):
            group.start_soon(log.alog, "async", {"n": n})
    assert sorted(e.payload["n"] for e in log.iter_events()) == list(range(20))


def test_threads_never_interleave(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    big = "x" * 70_000  # far over PIPE_BUF and a page

    def write(worker: int) -> None:
        for n in range(100):
            log.log("thread", {"worker": worker, "n": n, "fill": big if n % 10 == 0 else ""})

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = raw_lines(log.path)
    assert len(lines) == 800
    counts = Counter(msgspec.json.decode(line)["payload"]["worker"] for line in lines)
    assert counts == dict.fromkeys(range(8), 100)


WRITER = """
import sys, time
from pathlib import Path
from fastware.audit import AuditLog
path, worker, count, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
log = AuditLog(path)
big = "y" * 100_000
while time.time() < start:  # every process starts writing at the same moment
    time.sleep(0.001)
for n in range(count):
    log.log("proc", {"worker": worker, "n": n, "fill": big if n % 7 == 0 else "z" * (n % 500)})
"""


def test_several_processes_appending_at_once_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "audit.jsonl"
    start = time.time() + 2.0
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w), "250", str(start)])
        for w in range(5)
    ]
    for proc in procs:
        assert proc.wait(60) == 0
    lines = raw_lines(path)
    assert len(lines) == 5 * 250
    seen: dict[int, list[int]] = {w: [] for w in range(5)}
    for line in lines:
        payload = msgspec.json.decode(line)["payload"]  # every line is one whole event
        seen[payload["worker"]].append(payload["n"])
    assert seen == {w: list(range(250)) for w in range(5)}  # each process's order kept
    assert len(list(AuditLog(path).iter_events(event_type="proc"))) == 1250


DIES_MID_WRITE = """
import os, sys, time
from fastware.audit import AuditLog
real_write = os.write
def half_then_hang(fd, data):
    real_write(fd, bytes(data[: len(data) // 2]))
    print("half written", flush=True)
    time.sleep(600)
os.write = half_then_hang
AuditLog(sys.argv[1]).log("doomed", {"fill": "d" * 50_000})
"""


def test_a_process_killed_mid_write_loses_only_its_own_line(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.log("before")
    victim = subprocess.Popen(
        [sys.executable, "-c", DIES_MID_WRITE, str(log.path)], stdout=subprocess.PIPE, text=True
    )
    assert victim.stdout is not None
    assert victim.stdout.readline() == "half written\n"  # it holds the lock, line half out

    blocked = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(log.path), "1", "3", "0"]
    )  # another writer waits for the lock meanwhile
    time.sleep(0.3)
    assert blocked.poll() is None
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(10)
    victim.stdout.close()
    assert blocked.wait(30) == 0  # the kernel released the dead writer's lock
    log.log("after")

    lines = raw_lines(log.path)
    assert lines[1].startswith(b'{"timestamp"')  # the dead writer's fragment, on its own
    assert lines[1].endswith(b"d" * 100)
    events = [(e.event_type, e.payload) for e in log.iter_events()]
    assert events[0] == ("before", None)
    assert [p["n"] for t, p in events if t == "proc"] == [0, 1, 2]
    assert events[-1] == ("after", None)
    assert "doomed" not in {t for t, _ in events}
