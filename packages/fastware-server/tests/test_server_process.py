from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fastware_server import read_port_file
from fastware_server.process import (
    children_of,
    is_alive,
    is_same_process,
    port_file_for,
    process_start,
    read_int_file,
    remove_owned_file,
    write_int_file,
)

Sleeper = Callable[..., subprocess.Popen[str]]


def test_pid_file_is_bare_decimal_text(tmp_path: Path) -> None:
    path = tmp_path / "run" / "app.pid"
    write_int_file(path, 4242)
    assert path.read_bytes() == b"4242"
    assert read_int_file(path) == 4242
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert not [p for p in path.parent.iterdir() if p != path]  # no temporary left behind


def test_exclusive_write_refuses_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "app.pid"
    write_int_file(path, 1, exclusive=True)
    with pytest.raises(FileExistsError):
        write_int_file(path, 2, exclusive=True)
    assert read_int_file(path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.pid"]


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    assert read_int_file(tmp_path / "nope.pid") is None
    (tmp_path / "bad.pid").write_text("12abc")
    with pytest.raises(ValueError, match="does not hold a number"):
        read_int_file(tmp_path / "bad.pid")
    (tmp_path / "zero.pid").write_text("0")
    with pytest.raises(ValueError):
        read_int_file(tmp_path / "zero.pid")


def test_port_file_sits_next_to_the_pid_file(tmp_path: Path) -> None:
    assert port_file_for(tmp_path / ".app.pid") == tmp_path / ".app.port"
    assert read_port_file(tmp_path / ".app.pid") is None
    (tmp_path / ".app.port").write_text("8123")
    assert read_port_file(tmp_path / ".app.pid") == 8123
    (tmp_path / ".app.port").write_text("garbage")
    assert read_port_file(tmp_path / ".app.pid") is None


def test_remove_owned_file_leaves_someone_elses_file(tmp_path: Path) -> None:
    path = tmp_path / "app.pid"
    path.write_text("10")
    remove_owned_file(path, 11)
    assert path.exists()
    remove_owned_file(path, 10)
    assert not path.exists()


def test_liveness_of_self_of_a_dead_pid_and_of_a_zombie() -> None:
    assert is_alive(os.getpid())
    assert not is_alive(0)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while is_alive(child.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    # Exited but not reaped yet: a zombie, which is not alive...
    assert not is_alive(child.pid)
    # ...and which was left for its parent, who still gets the exit status.
    assert child.wait(5) == 0


def test_start_time_identifies_a_process(spawn_sleeper: Sleeper) -> None:
    sleeper = spawn_sleeper()
    start = process_start(sleeper.pid)
    assert start is not None
    assert is_same_process(sleeper.pid, start, None)
    assert not is_same_process(sleeper.pid, start + 1, None)


def test_file_older_than_the_process_cannot_name_it(spawn_sleeper: Sleeper, tmp_path: Path) -> None:
    sleeper = spawn_sleeper()
    assert is_same_process(sleeper.pid, None, time.time())
    assert not is_same_process(sleeper.pid, None, time.time() - 3600)
    assert is_same_process(sleeper.pid, None, None)  # nothing to tell by: trusted


def test_children_of(spawn_sleeper: Sleeper) -> None:
    sleeper = spawn_sleeper()
    assert sleeper.pid in children_of(os.getpid())
    assert children_of(sleeper.pid) == []
