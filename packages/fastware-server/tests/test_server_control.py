from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fastware_server import (
    NotRunningError,
    ServerStatus,
    check_already_running,
    control,
    status,
    stop,
)
from fastware_server.process import command_line, is_server_command, process_start
from fastware_server.registry import registry_dir

Sleeper = Callable[..., subprocess.Popen[str]]


def record(pid_path: Path, pid: int, *, start: int | None, **extra: object) -> None:
    """A PID file, port file and descriptor as a server writes them."""
    pid_path.write_text(str(pid))
    pid_path.with_suffix(".port").write_text("8123")
    descriptor = registry_dir(pid_path) / f"{pid}.json"
    descriptor.parent.mkdir(exist_ok=True)
    data = {"pid": pid, "port": 8123, "name": "app", "start": start, **extra}
    descriptor.write_text(json.dumps(data))


def files(pid_path: Path) -> list[str]:
    names = [p.name for p in pid_path.parent.iterdir() if p.is_file()]
    return sorted(names + [p.name for p in registry_dir(pid_path).glob("*.json")])


def test_no_pid_file(tmp_path: Path) -> None:
    pid_path = tmp_path / "app.pid"
    assert check_already_running(pid_path) is None
    assert status(pid_path) == ServerStatus(False, None, None)
    with pytest.raises(NotRunningError, match="no server to stop: there is no PID file"):
        stop(pid_path)


def test_corrupt_pid_file_is_removed(tmp_path: Path) -> None:
    pid_path = tmp_path / "app.pid"
    pid_path.write_text("not a pid")
    with pytest.raises(NotRunningError, match="corrupt"):
        stop(pid_path)
    assert not pid_path.exists()
    pid_path.write_text("garbage")
    assert check_already_running(pid_path) is None
    assert not pid_path.exists()


def test_dead_server_files_are_cleaned_up(tmp_path: Path) -> None:
    pid_path = tmp_path / "app.pid"
    record(pid_path, 999_999_999, start=1)
    assert status(pid_path) == ServerStatus(False, 999_999_999, None, 8123, None, "app")
    assert files(pid_path) == []
    record(pid_path, 999_999_999, start=1)
    assert stop(pid_path) is False
    assert files(pid_path) == []


def test_reused_pid_is_never_signalled(tmp_path: Path, spawn_sleeper: Sleeper) -> None:
    bystander = spawn_sleeper()
    pid_path = tmp_path / "app.pid"
    start = process_start(bystander.pid)
    assert start is not None
    record(pid_path, bystander.pid, start=start - 100)  # the recorded process started earlier
    assert check_already_running(pid_path) is None
    record(pid_path, bystander.pid, start=start - 100)
    assert stop(pid_path) is False
    time.sleep(0.1)
    assert bystander.poll() is None
    assert files(pid_path) == []


def test_stop_a_live_server_and_wait_for_it(tmp_path: Path, spawn_sleeper: Sleeper) -> None:
    server = spawn_sleeper()
    pid_path = tmp_path / "app.pid"
    record(pid_path, server.pid, start=process_start(server.pid), url="http://127.0.0.1:8123")
    found = status(pid_path)
    assert found == ServerStatus(True, server.pid, None, 8123, "http://127.0.0.1:8123", "app")
    assert check_already_running(pid_path) == server.pid
    assert stop(pid_path) is True
    assert server.wait(1) == -15  # SIGTERM
    assert files(pid_path) == []


def test_a_server_that_ignores_sigterm_is_killed_after_the_grace(
    tmp_path: Path, spawn_sleeper: Sleeper, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(control, "_KILL_MARGIN", 0.1)
    server = spawn_sleeper(ignore_term=True)
    pid_path = tmp_path / "app.pid"
    record(pid_path, server.pid, start=process_start(server.pid), grace=0.3)
    started = time.monotonic()
    assert stop(pid_path) is True  # the recorded grace applies
    assert 0.3 <= time.monotonic() - started < 3.0
    assert server.wait(1) == -9  # SIGKILL
    assert files(pid_path) == []


def test_status_checks_health(tmp_path: Path) -> None:
    pid_path = tmp_path / "app.pid"
    record(pid_path, os.getpid(), start=process_start(os.getpid()))
    found = status(pid_path, health_url="http://127.0.0.1:9/health")
    assert found.running
    assert found.healthy is False


def test_a_bare_pid_file_naming_another_program_is_never_signalled(
    tmp_path: Path, spawn_sleeper: Sleeper
) -> None:
    # 0.6.3's format, or a file written by hand: no identity record, and the process it
    # names started before the file was written, so only its command line can tell.
    bystander = spawn_sleeper()
    pid_path = tmp_path / "app.pid"
    pid_path.write_text(str(bystander.pid))
    found = status(pid_path)
    assert found.running is False
    assert found.pid == bystander.pid
    assert found.other_process is not None
    assert found.other_process.startswith(("python", "/"))
    assert "-c" in found.other_process
    assert not pid_path.exists()  # stale: removed
    pid_path.write_text(str(bystander.pid))
    assert check_already_running(pid_path) is None
    pid_path.write_text(str(bystander.pid))
    assert stop(pid_path) is False
    assert bystander.poll() is None
    assert not pid_path.exists()


@pytest.mark.parametrize(
    ("argv", "server"),
    [
        (["/venv/bin/python3", "/venv/bin/fastware", "serve", "app:app"], True),
        (["/venv/bin/fastware", "serve", "app:app"], True),
        (["python", "-m", "fastware", "serve", "app:app"], True),
        (["python3.11", "-m", "fastware_server._child", "--detach", "app"], True),
        (["/usr/bin/python3", "-m", "granian", "--interface", "rsgi", "app:app"], True),
        (["granian", "app:app"], True),
        (["sleep", "100"], False),
        (["python", "-c", "import fastware"], False),
        (["python", "app.py"], False),
        (["/usr/bin/vim", "fastware.pid"], False),
        (["python3", "-X", "dev", "-m", "fastware", "serve"], True),
        (["python3", "-X", "fastware", "app.py"], False),
        (["python3", "-mgranian", "app:app"], True),
        ([], False),
    ],
)
def test_server_command_lines(argv: list[str], server: bool) -> None:
    assert is_server_command(argv) is server


def test_a_bare_pid_file_naming_a_server_command_is_trusted(tmp_path: Path) -> None:
    # A program named like Granian, started before the 0.6.3-style file was written.
    script = tmp_path / "granian.py"
    script.write_text("import time\nprint('ready', flush=True)\ntime.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        pid_path = tmp_path / "app.pid"
        pid_path.write_text(str(proc.pid))
        assert command_line(proc.pid) == [sys.executable, str(script)]
        found = status(pid_path)
        assert (found.running, found.pid, found.other_process) == (True, proc.pid, None)
        assert check_already_running(pid_path) == proc.pid
    finally:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
