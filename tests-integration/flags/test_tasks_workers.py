"""Background tasks under real Granian with two workers: once per host, SIGTERM, gates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .conftest import Journal, StartGranian, wait_until


def task_env(tmp_path: Path, journal: Journal, **extra: str) -> dict[str, str]:
    return {
        "FLAGS_STORE": str(tmp_path / "flags.json"),
        "TASK_JOURNAL": str(journal.path),
        "LOCK_DIR": str(tmp_path / "locks"),
        **extra,
    }


def worker_pids(url: str) -> set[int]:
    return {int(httpx.get(url + "/", timeout=5).json()["pid"]) for _ in range(40)}


def test_once_per_host_runs_in_one_worker_and_moves_when_it_is_killed(
    start_granian: StartGranian, tmp_path: Path, journal: Journal
) -> None:
    server = start_granian(2, task_env(tmp_path, journal))
    workers = worker_pids(server.url)
    assert len(workers) == 2
    wait_until(lambda: journal.pids("start", "per-host"), 5, "the once-per-host task starting")
    time.sleep(1.0)  # the other worker had several chances to take the lock
    assert len(journal.pids("start", "per-host")) == 1
    (holder,) = journal.beating("per-host")
    assert holder in workers
    assert journal.pids("start", "per-worker") == workers  # per-worker tasks run in both
    states = {}
    for _ in range(40):
        body = httpx.get(server.url + "/tasks", timeout=5).json()
        states[body["pid"]] = {t["name"]: t["state"] for t in body["tasks"]}
    assert sorted(s["per-host"] for s in states.values()) == ["running", "standby"]
    os.kill(holder, signal.SIGKILL)
    # The lock is free once the holder is gone: the surviving worker (retrying every 0.2 s)
    # usually takes it, but on a loaded machine the worker Granian respawns in the killed
    # one's place can get there first. Either way the task must move to one live worker.
    wait_until(
        lambda: journal.pids("start", "per-host") - {holder},
        5,
        "another worker taking the once-per-host task over",
    )
    time.sleep(1.0)
    (new_holder,) = journal.beating("per-host")  # exactly one worker runs it
    assert new_holder != holder
    assert new_holder in worker_pids(server.url)  # a live worker of this server


def test_sigterm_stops_every_task_before_the_process_exits(
    start_granian: StartGranian, tmp_path: Path, journal: Journal
) -> None:
    server = start_granian(2, task_env(tmp_path, journal))
    wait_until(lambda: len(journal.pids("start", "per-worker")) == 2, 5, "both workers' tasks")
    wait_until(lambda: journal.pids("start", "per-host"), 5, "the once-per-host task")
    started = {(task, pid) for event, task, pid in journal.lines() if event == "start"}
    code = server.stop()
    assert code == 0, server.logs()
    lines = journal.lines()
    stopped = {(task, pid) for event, task, pid in lines if event == "stop"}
    assert started <= stopped, f"tasks not stopped: {started - stopped}"
    for task, pid in started:  # nothing beat after its stop
        stop_at = lines.index(("stop", task, pid))
        assert ("beat", task, pid) not in lines[stop_at + 1 :]


def test_a_gated_task_stops_and_starts_with_its_flag_in_every_worker(
    start_granian: StartGranian, tmp_path: Path, journal: Journal
) -> None:
    server = start_granian(2, task_env(tmp_path, journal))
    workers = worker_pids(server.url)
    wait_until(lambda: journal.pids("start", "reports") == workers, 5, "the gated task")
    assert httpx.post(server.url + "/flags/reports/off", timeout=5).status_code == 200
    wait_until(lambda: journal.pids("stop", "reports") == workers, 4, "the gate closing")
    assert journal.beating("reports") == set()
    mark = len(journal.lines())
    cli = subprocess.run(
        [sys.executable, "-m", "fastware", "flags", "set", "reports", "on", "--store",
         str(tmp_path / "flags.json")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    wait_until(lambda: journal.pids("start", "reports", mark) == workers, 4, "the gate opening")


def test_fastware_tasks_shows_every_worker_s_tasks(
    start_granian: StartGranian, tmp_path: Path, journal: Journal
) -> None:
    status_dir = tmp_path / "status"
    server = start_granian(2, task_env(tmp_path, journal, STATUS_DIR=str(status_dir)))
    workers = worker_pids(server.url)
    wait_until(lambda: len(list(status_dir.glob("*.json"))) == 2, 5, "two status files")
    import json

    def per_host_states() -> list[str]:
        out = subprocess.run(
            [sys.executable, "-m", "fastware", "tasks", "--status-dir", str(status_dir), "--json"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout  # fmt: skip
        rows = json.loads(out)["tasks"]
        assert {row["pid"] for row in rows} == workers
        return sorted(row["state"] for row in rows if row["name"] == "per-host")

    wait_until(lambda: per_host_states() == ["running", "standby"], 5, "the states published")
    server.stop()
    assert list(status_dir.glob("*.json")) == []


@pytest.mark.parametrize("interface", ["asgi"])
def test_tasks_run_and_stop_over_the_asgi_door_too(
    start_granian: StartGranian, tmp_path: Path, journal: Journal, interface: str
) -> None:
    server = start_granian(1, task_env(tmp_path, journal), interface)
    wait_until(lambda: journal.pids("start", "per-worker"), 5, "the task starting over ASGI")
    started = {(task, pid) for event, task, pid in journal.lines() if event == "start"}
    assert server.stop() == 0
    assert started <= {(task, pid) for event, task, pid in journal.lines() if event == "stop"}


def test_fastware_serve_starts_tasks_and_fastware_stop_stops_them(
    tmp_path: Path, journal: Journal
) -> None:
    from support.granian import APPS_DIR, free_port

    port = free_port()
    pid_file = tmp_path / "server.pid"
    env = {**os.environ, **task_env(tmp_path, journal), "PYTHONUNBUFFERED": "1"}
    fastware = [sys.executable, "-m", "fastware"]
    with (tmp_path / "serve.log").open("wb") as log:
        proc = subprocess.Popen(
            [*fastware, "serve", "fw_flags_app:app", "--port", str(port), "--workers", "2",
             "--app-dir", str(APPS_DIR), "--pid-file", str(pid_file)],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    try:
        wait_until(lambda: len(journal.pids("start", "per-worker")) == 2, 20, "both workers' tasks")
        wait_until(lambda: journal.pids("start", "per-host"), 5, "the once-per-host task")
        started = {(task, pid) for event, task, pid in journal.lines() if event == "start"}
        stopped_cli = subprocess.run(
            [*fastware, "stop", "--pid-file", str(pid_file)],
            capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip
        assert stopped_cli.returncode == 0, stopped_cli.stderr
        assert proc.wait(30) == 0, (tmp_path / "serve.log").read_text()
        stopped = {(task, pid) for event, task, pid in journal.lines() if event == "stop"}
        assert started <= stopped, f"not stopped: {started - stopped}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
