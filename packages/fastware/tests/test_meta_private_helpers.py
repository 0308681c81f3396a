"""0.6.3's private helpers ``fastware._scope`` and ``fastware._fswrite``, kept for apps that
imported them, without 0.6.3's one-process-only locking."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

from fastware._fswrite import LockedFileWriter
from fastware._scope import cookie, cookies, header_bytes, header_str

SCOPE = {
    "type": "http",
    "headers": [
        (b"host", b"example.com"),
        (b"X-Token", b"first"),
        (b"x-token", b"second"),
        (b"x-empty", b""),
        (b"cookie", b'a=1; broken; b="two"'),
        (b"cookie", b"c=3"),
    ],
}


def test_header_helpers_match_case_insensitively_and_take_the_first_value() -> None:
    assert header_bytes(SCOPE, b"x-token") == b"first"
    assert header_bytes(SCOPE, b"X-TOKEN") == b"first"
    assert header_bytes(SCOPE, b"missing") == b""
    assert header_str(SCOPE, "X-Token") == "first"
    assert header_str(SCOPE, "missing", "fallback") == "fallback"
    assert header_str(SCOPE, "x-empty", "fallback") == ""  # present but empty: not the default
    assert header_str({"type": "http"}, "host", "none") == "none"


def test_cookies_keep_every_well_formed_pair_across_headers() -> None:
    assert cookies(SCOPE) == {"a": "1", "b": "two", "c": "3"}
    assert cookie(SCOPE, "c") == "3"
    assert cookie(SCOPE, "broken", "absent") == "absent"
    assert cookies({"type": "http", "headers": []}) == {}


def _append_many(path: str, tag: str, count: int) -> None:
    writer = LockedFileWriter(path)
    for index in range(count):
        writer.append_line(f"{tag}-{index}-" + "x" * 3000)  # past PIPE_BUF: no atomic-write luck


def test_two_processes_appending_lose_and_tear_nothing(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "audit.log"  # missing directories are created
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=_append_many, args=(str(path), tag, 300)) for tag in ("a", "b")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    lines = path.read_text().splitlines()
    assert len(lines) == 600
    assert all(line.endswith("x" * 3000) and line.count("-") == 2 for line in lines)
    assert sorted(lines) == sorted(f"{t}-{i}-" + "x" * 3000 for t in "ab" for i in range(300))


def _overwrite_forever(path: str) -> None:
    writer = LockedFileWriter(path)
    index = 0
    while True:
        writer.overwrite(f"{index}\n" + "y" * 50_000 + "\n")
        index += 1


def test_overwrite_is_atomic_for_readers_and_survives_a_killed_writer(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    LockedFileWriter(path).overwrite("start\n" + "y" * 50_000 + "\n")
    writer = multiprocessing.get_context("fork").Process(target=_overwrite_forever, args=(path,))
    writer.start()
    try:
        deadline = time.monotonic() + 1.0
        seen = 0
        while time.monotonic() < deadline:
            head, body, end = path.read_text().split("\n")
            assert body == "y" * 50_000  # never a half-written file
            assert end == ""
            seen += head != "start"
        assert seen  # the writer did replace it meanwhile
    finally:
        assert writer.pid is not None
        os.kill(writer.pid, signal.SIGKILL)  # mid-write, most likely
        writer.join(10)
    _, body, _ = path.read_text().split("\n")
    assert body == "y" * 50_000
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) <= 1  # a killed writer may leave its temporary file, never a torn one
