"""Two servers (standing for two hosts) sharing flags and a once-per-cluster task through a
real Redis."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import httpx
import pytest

from fastware_flags import FeatureFlags

from .conftest import Journal, RedisServer, StartGranian, pids_answering, wait_until

REFRESH = 1.0
PROPAGATION = REFRESH + 4.0
"""How long a flag change may take to reach every worker of both servers."""


def host_env(
    tmp_path: Path, host: str, redis_server: RedisServer, key: str, journal: Journal
) -> dict[str, str]:
    return {
        "FLAGS_STORE": f"{redis_server.url}?key={key}:flags",
        "REDIS_URL": redis_server.url,
        "LEASE_KEY": f"{key}:lease",
        "LEASE_TTL": "2",
        "TASK_JOURNAL": str(journal.path),
        "LOCK_DIR": str(tmp_path / host / "locks"),  # each "host" has its own
    }


@pytest.fixture
def key() -> str:
    return f"test:{uuid.uuid4().hex}"


def test_two_servers_share_flags_through_redis(
    start_granian: StartGranian,
    redis_server: RedisServer,
    tmp_path: Path,
    key: str,
    journal: Journal,
) -> None:
    one = start_granian(2, host_env(tmp_path, "one", redis_server, key, journal))
    two = start_granian(2, host_env(tmp_path, "two", redis_server, key, journal))
    assert set(pids_answering(two.url + "/beta").values()) == {404}
    assert httpx.post(one.url + "/flags/beta/on", timeout=5).status_code == 200

    def everywhere(status: int) -> bool:
        a, b = pids_answering(one.url + "/beta", 20), pids_answering(two.url + "/beta", 20)
        return len(a) == len(b) == 2 and set(a.values()) == set(b.values()) == {status}

    # A few refresh intervals: each poll asks every worker of both servers (four processes on
    # two cores here), and one slow round under load must not fail the test.
    wait_until(lambda: everywhere(200), PROPAGATION, "the flag reaching both servers")
    # A write from outside the servers (a script, an admin on a third host).
    admin = FeatureFlags(store=f"{redis_server.url}?key={key}:flags")
    try:
        admin.set_override("beta", False)
    finally:
        admin.close()
    wait_until(lambda: everywhere(404), PROPAGATION, "the admin's change reaching both")
    body = httpx.get(two.url + "/flags", timeout=5).json()
    assert body["status"]["ok"] is True
    assert body["status"]["store"].startswith("redis ")


def test_once_per_cluster_runs_in_one_server_and_moves_when_it_is_killed(
    start_granian: StartGranian,
    redis_server: RedisServer,
    tmp_path: Path,
    key: str,
    journal: Journal,
) -> None:
    one = start_granian(2, host_env(tmp_path, "one", redis_server, key, journal))
    two = start_granian(2, host_env(tmp_path, "two", redis_server, key, journal))
    pids_of = {
        name: set(pids_answering(server.url + "/", 30))
        for name, server in (("one", one), ("two", two))
    }
    assert all(len(pids) == 2 for pids in pids_of.values())
    wait_until(lambda: journal.pids("start", "per-cluster"), 5, "the cluster task starting")
    time.sleep(1.5)  # three other workers had several chances to take the lease
    (holder,) = journal.pids("start", "per-cluster")
    assert journal.beating("per-cluster") == {holder}
    # once per host: each "host" runs its own per-host task, in one of its two workers
    per_host = journal.beating("per-host")
    assert len(per_host) == 2
    assert all(len(per_host & pids) == 1 for pids in pids_of.values())
    host = "one" if holder in pids_of["one"] else "two"
    killed, other = (one, two) if host == "one" else (two, one)
    assert killed.proc is not None
    os.killpg(killed.proc.pid, signal.SIGKILL)  # the whole "host" goes, without cleanup
    killed.proc.wait(10)
    other_pids = pids_of["two" if host == "one" else "one"]
    wait_until(
        lambda: journal.pids("start", "per-cluster") & other_pids,
        2 + 3,  # the lease's ttl, then the next attempt
        "the other server taking the cluster task over",
    )
    time.sleep(1.0)
    beating = journal.beating("per-cluster")
    assert len(beating) == 1
    assert beating <= other_pids
    assert other.returncode is None


def test_redis_down_keeps_the_last_good_flags(
    start_granian: StartGranian, tmp_path: Path, key: str, journal: Journal
) -> None:
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    try:
        server = start_granian(2, host_env(tmp_path, "one", redis_server, key, journal))
        assert httpx.post(server.url + "/flags/beta/on", timeout=5).status_code == 200
        wait_until(
            lambda: set(pids_answering(server.url + "/beta", 20).values()) == {200},
            REFRESH + 2.0,
            "the flag reaching both workers",
        )
        redis_server.stop()
        time.sleep(REFRESH + 1.0)
        assert set(pids_answering(server.url + "/beta").values()) == {200}
        failed = httpx.post(server.url + "/flags/beta/off", timeout=15)
        assert failed.status_code == 503
        assert "cannot write" in failed.json()["detail"]
        statuses = [httpx.get(server.url + "/flags", timeout=5).json()["status"] for _ in range(20)]
        assert any(s["ok"] is False and "unreachable" in s["error"] for s in statuses)
        assert server.returncode is None
        # The cluster task stops when its lease cannot be renewed (no double run later).
        wait_until(lambda: not journal.beating("per-cluster", 0.4), 6, "the cluster task stopping")
        redis_server.start()
        wait_until(
            lambda: all(
                httpx.get(server.url + "/flags", timeout=5).json()["status"]["ok"]
                for _ in range(10)
            ),
            10,
            "the workers reconnecting",
        )
    finally:
        redis_server.stop()


def test_a_malformed_redis_value_keeps_the_last_good_flags(
    redis_server: RedisServer, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    import redis

    client = redis.Redis.from_url(redis_server.url)
    flags = FeatureFlags({"beta": False}, store=f"{redis_server.url}?key={key}", refresh_interval=0)
    try:
        flags.set_override("beta", True)
        assert flags.enabled("beta") is True
        client.hset(key, "gamma", "maybe")
        client.publish(f"{key}:changed", "gamma")
        wait_until(lambda: flags.status()["ok"] is False, 5, "the bad value being noticed")
        assert flags.enabled("beta") is True
        assert "flag 'gamma' has 'maybe'" in str(flags.status()["error"])
        assert "keeping the last good overrides (beta=True)" in caplog.text
        client.hset(key, "gamma", "0")
        client.publish(f"{key}:changed", "gamma")
        wait_until(lambda: flags.status()["ok"] is True, 5, "the fix being noticed")
        assert flags.all_flags(include_overrides=True) == {"beta": True, "gamma": False}
        flags.remove_override("beta")
        assert client.hgetall(key) == {b"gamma": b"0"}
    finally:
        flags.close()
        client.close()
