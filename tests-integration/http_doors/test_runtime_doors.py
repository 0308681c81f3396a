"""The ``/__fastware/`` runtime behind a real Granian, through both doors: the build id
every worker reports, the event stream's build event and heartbeats, and a SIGTERM that
ends open event streams so the server exits at once (the browser then reconnects)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest

from fastware_core.runtime import compute_build_id

from .conftest import INTERFACES, GranianProcess

APP = "fw_runtime_app:app"


def make_site(root: Path) -> Path:
    assets = root / "dist" / "assets"
    assets.mkdir(parents=True)
    (assets / "app-1a2b3c4d.js").write_text("console.log('built')")
    (root / "dist" / "index.html").write_text("<!doctype html><title>runtime</title>")
    return assets


@pytest.mark.parametrize("interface", INTERFACES)
def test_every_worker_reports_the_same_build_id(interface: str, tmp_path: Path) -> None:
    assets = make_site(tmp_path)
    process = GranianProcess(
        APP, interface, tmp_path, {"FW_RUNTIME_ROOT": str(tmp_path)}, workers=2
    )
    process.start()
    try:
        process.wait_ready()
        seen = set()
        for _ in range(20):  # new connections, spread over both workers
            with httpx.Client(base_url=process.url, timeout=10) as http:
                answer = http.get("/__fastware/version")
            assert answer.status_code == 200
            seen.add(answer.json()["build_id"])
        assert seen == {compute_build_id(assets)}
    finally:
        process.stop()


@pytest.mark.parametrize("interface", INTERFACES)
def test_events_send_the_build_then_heartbeats_and_end_on_sigterm(
    interface: str, tmp_path: Path
) -> None:
    assets = make_site(tmp_path)
    env = {"FW_RUNTIME_ROOT": str(tmp_path), "FW_HEARTBEAT": "0.2"}
    process = GranianProcess(APP, interface, tmp_path, env)
    process.start()
    try:
        process.wait_ready()
        with (
            httpx.Client(base_url=process.url, timeout=15.0) as http,
            http.stream("GET", "/__fastware/events") as stream,
        ):
            assert stream.status_code == 200
            assert stream.headers["content-type"] == "text/event-stream"
            assert stream.headers["cache-control"] == "no-cache"
            lines = stream.iter_lines()
            head = [next(lines) for _ in range(5)]
            assert head == [
                "retry: 1000",
                "",
                "event: build",
                f'data: {{"build_id":"{compute_build_id(assets)}"}}',
                "",
            ]
            assert [next(lines) for _ in range(4)] == [": heartbeat", "", ": heartbeat", ""]
            started = time.monotonic()
            assert process.proc is not None
            process.proc.send_signal(signal.SIGTERM)
            try:
                rest = list(lines)  # the stream ends: no hang until the grace runs out
            except httpx.RemoteProtocolError:
                rest = []  # Granian's ASGI worker may cut the connection itself
            assert all(line in (": heartbeat", "") for line in rest)
            assert process.proc.wait(15) == 0, process.logs()
        assert time.monotonic() - started < 4, process.logs()
    finally:
        process.stop()
