"""Feature flags under real Granian with two workers: live flips, concurrent writers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import websockets.sync.client
from websockets.exceptions import InvalidStatus

from .conftest import StartGranian, pids_answering, wait_until

REFRESH = 1.0  # the app's refresh_interval, the documented bound


@pytest.mark.parametrize("interface", ["rsgi", "asgi"])
def test_a_flag_set_through_one_worker_flips_the_route_on_every_worker(
    start_granian: StartGranian, tmp_path: Path, interface: str
) -> None:
    store = tmp_path / "flags.json"
    server = start_granian(2, {"FLAGS_STORE": str(store)}, interface)
    before = pids_answering(server.url + "/beta")
    assert len(before) == 2, f"both workers should answer: {before}"
    assert set(before.values()) == {404}
    setter = httpx.post(server.url + "/flags/beta/on", timeout=5)
    assert setter.status_code == 200
    set_at = time.monotonic()

    def every_worker_on() -> bool:
        seen = pids_answering(server.url + "/beta", tries=20)
        return len(seen) == 2 and set(seen.values()) == {200}

    wait_until(every_worker_on, REFRESH + 2.0, "the flag reaching both workers")
    assert time.monotonic() - set_at < REFRESH + 2.0
    assert json.loads(store.read_text()) == {"beta": True}
    # /admin/beta needs "beta" and its include's "admin" (on by default)
    assert set(pids_answering(server.url + "/admin/beta", 20).values()) == {200}
    assert httpx.post(server.url + "/flags/admin/off", timeout=5).status_code == 200
    wait_until(
        lambda: set(pids_answering(server.url + "/admin/beta", 20).values()) == {404},
        REFRESH + 2.0,
        "the include's flag reaching both workers",
    )
    assert set(pids_answering(server.url + "/beta", 20).values()) == {200}


def test_a_cli_change_and_a_hand_edit_reach_every_worker(
    start_granian: StartGranian, tmp_path: Path
) -> None:
    store = tmp_path / "flags.json"
    server = start_granian(2, {"FLAGS_STORE": str(store)})
    cli = subprocess.run(
        [sys.executable, "-m", "fastware", "flags", "set", "beta", "yes", "--store", str(store)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert cli.returncode == 0, cli.stderr
    wait_until(
        lambda: set(pids_answering(server.url + "/beta", 20).values()) == {200},
        REFRESH + 2.0,
        "the CLI's change reaching the workers",
    )
    with websockets.sync.client.connect(server.url.replace("http", "ws") + "/beta-ws") as ws:
        assert int(ws.recv(timeout=5)) > 0
    store.write_text('{"beta": false}\n')
    wait_until(
        lambda: set(pids_answering(server.url + "/beta", 20).values()) == {404},
        REFRESH + 2.0,
        "the hand edit reaching the workers",
    )
    with (
        pytest.raises(InvalidStatus) as refused,
        websockets.sync.client.connect(server.url.replace("http", "ws") + "/beta-ws"),
    ):
        pass
    assert refused.value.response.status_code == 404


def test_a_malformed_file_keeps_the_last_good_values_in_every_worker(
    start_granian: StartGranian, tmp_path: Path
) -> None:
    store = tmp_path / "flags.json"
    store.write_text('{"beta": true}')
    server = start_granian(2, {"FLAGS_STORE": str(store)})
    assert set(pids_answering(server.url + "/beta").values()) == {200}
    store.write_text('{"beta": fal')  # a truncated write by some other tool
    time.sleep(REFRESH + 0.5)
    assert set(pids_answering(server.url + "/beta").values()) == {200}
    statuses = {}
    for _ in range(40):
        body = httpx.get(server.url + "/flags", timeout=5).json()
        statuses[body["pid"]] = body["status"]
    assert len(statuses) == 2
    for status in statuses.values():
        assert status["ok"] is False
        assert "not valid JSON" in status["error"]
    assert f"{store} is not valid JSON" in server.logs()
    bad = httpx.post(server.url + "/flags/beta/off", timeout=5)
    assert bad.status_code == 503
    assert "not valid JSON" in bad.json()["detail"]
    assert store.read_text() == '{"beta": fal'  # never overwritten
    assert server.returncode is None


def test_a_bad_value_through_the_route_is_a_400(
    start_granian: StartGranian, tmp_path: Path
) -> None:
    server = start_granian(1, {"FLAGS_STORE": str(tmp_path / "flags.json")})
    response = httpx.post(server.url + "/flags/beta/perhaps", timeout=5)
    assert response.status_code == 400
    assert "must be a bool" in response.json()["detail"]


WRITER = """
import sys
from fastware_flags import FeatureFlags
flags = FeatureFlags(overrides_path=sys.argv[1])
for i in range(100):
    flags.set_override(f"{sys.argv[2]}-{i}", i % 3 != 0)
"""


def test_two_processes_setting_100_flags_each_lose_none(tmp_path: Path) -> None:
    store = tmp_path / "flags.json"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(store), name]) for name in ("x", "y")
    ]
    assert [writer.wait(120) for writer in writers] == [0, 0]
    stored = json.loads(store.read_text())
    assert len(stored) == 200
    assert all(stored[f"{n}-{i}"] is (i % 3 != 0) for n in "xy" for i in range(100))


def test_two_workers_setting_flags_through_routes_lose_none(
    start_granian: StartGranian, tmp_path: Path
) -> None:
    import concurrent.futures

    store = tmp_path / "flags.json"
    server = start_granian(2, {"FLAGS_STORE": str(store)})

    def set_flag(i: int) -> int:
        response = httpx.post(server.url + f"/flags/f{i}/{'on' if i % 2 else 'off'}", timeout=30)
        assert response.status_code == 200, response.text
        return int(response.json()["pid"])

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        pids = set(pool.map(set_flag, range(200)))
    assert len(pids) == 2
    stored = json.loads(store.read_text())
    assert stored == {f"f{i}": bool(i % 2) for i in range(200)}
