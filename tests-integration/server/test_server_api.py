"""fastware-server's Python API against real Granian servers.

Background servers (a thread of this process), detached servers (``serve_background``),
several workers, graceful stops with requests and streams in flight, PID files that name
someone else, the spawn start method and IPv6.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import srv_app

from fastware_server import (
    StartupError,
    check_already_running,
    serve,
    serve_background,
    status,
    stop,
    stop_background,
)
from fastware_server.process import is_alive
from server.conftest import APPS_DIR, free_port, refuses, wait_answering

if TYPE_CHECKING:
    from server.conftest import Servers

GRACE = 2.0


def read_events(lines: Iterator[str], until: str) -> list[str]:
    """The SSE data lines read from ``lines`` up to and including ``data: <until>``."""
    seen = []
    for line in lines:
        if line.startswith("data: "):
            seen.append(line[6:])
            if seen[-1] == until:
                break
    return seen


# -- background servers: a thread of this process ---------------------------------------------


@pytest.mark.parametrize("interface", ["rsgi", "asgi"])
def test_background_serve_answers_at_once_and_stops_for_good(
    interface: str, tmp_path: Path
) -> None:
    srv_app.LIFESPAN_EVENTS.clear()
    pid_file = tmp_path / "thread.pid"
    url = serve(
        srv_app.app, foreground=False, port=0, pid_path=pid_file, interface=interface, grace=GRACE
    )
    try:
        first = httpx.get(url + "/", timeout=5)  # no retry: serve returned once it answered
        assert first.json() == {"pid": os.getpid(), "door": interface, "started": True}
        found = status(pid_file)  # the PID file names this process, which serves
        assert (found.running, found.pid, found.url) == (True, os.getpid(), url)
    finally:
        stop_background(url)
    assert refuses(url + "/")
    assert not pid_file.exists()
    assert srv_app.LIFESPAN_EVENTS == ["startup", "shutdown"]
    assert not [t for t in threading.enumerate() if t.name.startswith(f"fastware-server {url}")]
    with pytest.raises(KeyError):
        stop_background(url)


def test_background_stop_lets_the_request_in_flight_finish() -> None:
    url = serve(srv_app.app, foreground=False, port=0, grace=5.0)
    result: dict[str, Any] = {}

    def slow_request() -> None:
        result["answer"] = httpx.get(url + "/slow", params={"s": "1.0"}, timeout=10).json()

    worker = threading.Thread(target=slow_request)
    worker.start()
    time.sleep(0.3)
    stop_background(url)
    worker.join(10)
    assert result["answer"] == {"slow": "done"}
    assert refuses(url + "/")


def test_background_lifespan_failure_is_raised() -> None:
    import fw_failing_lifespan_app

    with pytest.raises(StartupError, match="the database is unreachable"):
        serve(fw_failing_lifespan_app.app, foreground=False, port=0)


# -- detached servers ---------------------------------------------------------------------------


def test_serve_background_answers_at_once_and_stop_is_prompt(
    servers: Servers, tmp_path: Path
) -> None:
    pid_file = servers.track(tmp_path / "bg.pid")
    url = serve_background("srv_app:app", port=0, pid_path=pid_file, app_dir=APPS_DIR, grace=GRACE)
    answer = httpx.get(url + "/", timeout=5).json()  # no retry
    assert answer["door"] == "rsgi"
    found = status(pid_file)
    assert found.running
    assert found.pid == int(pid_file.read_text())
    assert found.url == url
    started = time.monotonic()
    assert stop(pid_file) is True
    assert time.monotonic() - started < 2.0  # no waiting on a zombie, no kill escalation
    assert status(pid_file).running is False  # right away: nothing mistakes a zombie for it
    assert not pid_file.exists()
    assert refuses(url + "/")


def test_serve_background_takes_a_module_level_app_object(servers: Servers, tmp_path: Path) -> None:
    pid_file = servers.track(tmp_path / "object.pid")
    url = serve_background(srv_app.app, port=0, pid_path=pid_file, grace=GRACE)
    assert httpx.get(url + "/", timeout=5).json()["pid"] != os.getpid()
    stop_background(url)  # also stops detached servers, through the URL
    assert refuses(url + "/")
    assert check_already_running(pid_file) is None


def test_serve_background_reports_why_it_did_not_start(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="the database is unreachable") as caught:
        serve_background(
            "fw_failing_lifespan_app:app", port=0, pid_path=tmp_path / "f.pid", app_dir=APPS_DIR
        )
    assert "lifespan startup failed" in str(caught.value)
    assert not (tmp_path / "f.pid").exists()


def test_two_workers_serve_and_the_in_memory_backends_are_named(
    servers: Servers, tmp_path: Path
) -> None:
    pid_file = servers.track(tmp_path / "two.pid")
    url = serve_background(
        "srv_app:app", port=0, pid_path=pid_file, app_dir=APPS_DIR, workers=2, grace=GRACE
    )
    pids: set[int] = set()
    deadline = time.monotonic() + 20
    while len(pids) < 2 and time.monotonic() < deadline:
        with httpx.Client(timeout=5) as client:  # a new connection each time
            pids.add(client.get(url + "/", headers={"connection": "close"}).json()["pid"])
    assert len(pids) == 2
    log = pid_file.with_suffix(".log").read_text()
    assert "runs 2 workers" in log
    assert "the in-memory SSE broker (srv_app.broker)" in log
    assert "the in-memory rate limiter (srv_app.limiter)" in log
    assert stop(pid_file)
    assert not any(is_alive(pid) for pid in pids)


def test_stop_finishes_the_request_in_flight(servers: Servers, tmp_path: Path) -> None:
    events = tmp_path / "lifespan.log"
    os.environ["SRV_LIFESPAN_LOG"] = str(events)
    pid_file = servers.track(tmp_path / "slow.pid")
    try:
        url = serve_background("srv_app:app", port=0, pid_path=pid_file, app_dir=APPS_DIR)
    finally:
        del os.environ["SRV_LIFESPAN_LOG"]
    result: dict[str, Any] = {}

    def slow_request() -> None:
        result["answer"] = httpx.get(url + "/slow", params={"s": "1.5"}, timeout=10).json()

    worker = threading.Thread(target=slow_request)
    worker.start()
    time.sleep(0.3)
    assert stop(pid_file)
    worker.join(10)
    assert result["answer"] == {"slow": "done"}
    lines = events.read_text().split("\n")
    assert [line.split()[0] for line in lines if line] == ["startup", "shutdown"]


def test_stop_with_open_streams_ends_them_within_the_grace(
    servers: Servers, tmp_path: Path
) -> None:
    pid_file = servers.track(tmp_path / "stream.pid")
    url = serve_background("srv_app:app", port=0, pid_path=pid_file, app_dir=APPS_DIR, grace=GRACE)
    with (
        httpx.Client(base_url=url, timeout=15) as client,
        client.stream("GET", "/events") as polite,
        client.stream("GET", "/stubborn") as stubborn,
    ):
        polite_lines, stubborn_lines = polite.iter_lines(), stubborn.iter_lines()
        assert read_events(polite_lines, "ready") == ["ready"]
        assert read_events(stubborn_lines, "ready") == ["ready"]
        started = time.monotonic()
        assert stop(pid_file) is True
        elapsed = time.monotonic() - started
        assert read_events(polite_lines, "bye") == ["bye"]  # told to end, it sent its last event
        assert "data: bye" not in list(stubborn_lines)  # it never looked: cancelled
    # The stubborn stream is cancelled after grace/2; the server exits well within the grace.
    assert elapsed < GRACE + 1.0, elapsed
    assert refuses(url + "/")


# -- PID files ------------------------------------------------------------------------------------


def test_stale_pid_file_of_an_unrelated_process_is_left_alone(
    servers: Servers, tmp_path: Path
) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        pid_file = servers.track(tmp_path / "stale.pid")
        pid_file.write_text(str(bystander.pid))
        old = time.time() - 3600  # written an hour before the bystander started: not it
        os.utime(pid_file, (old, old))
        assert status(pid_file).running is False
        assert not pid_file.exists()  # stale: removed

        pid_file.write_text(str(bystander.pid))
        os.utime(pid_file, (old, old))
        assert stop(pid_file) is False  # nothing stopped
        assert bystander.poll() is None  # and the bystander was not signalled

        pid_file.write_text(str(bystander.pid))
        os.utime(pid_file, (old, old))
        port = free_port()
        started = servers.cli(
            "serve", "srv_app:app", "--app-dir", str(APPS_DIR), "--port", str(port),
            "--pid-file", str(pid_file), "--daemon", "--log-level", "warning",
        )  # fmt: skip
        assert started.returncode == 0, started.stderr
        assert int(pid_file.read_text()) != bystander.pid
        assert servers.cli("stop", "--pid-file", str(pid_file)).returncode == 0
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


# -- start methods and addresses --------------------------------------------------------------


SPAWN_SCRIPT = """
import multiprocessing
import sys

sys.path.insert(0, {apps!r})

from fastware_server import serve
from srv_app import app

if __name__ == "__main__":
    multiprocessing.set_start_method("spawn")
    serve(app, foreground=True, port={port}, pid_path={pid!r}, grace=2, log_level="warning")
"""


def test_callable_target_with_the_spawn_start_method(servers: Servers, tmp_path: Path) -> None:
    port = free_port()
    pid_file = servers.track(tmp_path / "spawn.pid")
    script = tmp_path / "spawn_serve.py"
    script.write_text(SPAWN_SCRIPT.format(apps=str(APPS_DIR), port=port, pid=str(pid_file)))
    with (tmp_path / "spawn.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, str(script)], stdout=log, stderr=log)
    try:
        answer = wait_answering(f"http://127.0.0.1:{port}/").json()
        assert answer["door"] == "rsgi"
        assert answer["pid"] != proc.pid  # a spawned worker imported the app again
        assert stop(pid_file)
        assert proc.wait(10) == 0, (tmp_path / "spawn.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_ipv6_host(servers: Servers) -> None:
    assert _ipv6_loopback(), "this machine has no IPv6 loopback"
    url = serve(srv_app.app, foreground=False, host="::1", port=0, grace=GRACE)
    try:
        assert url.startswith("http://[::1]:")
        assert httpx.get(url + "/", timeout=5).status_code == 200
        port = int(url.rsplit(":", 1)[1])
        with pytest.raises(Exception, match=f"port {port} on ::1 is already in use"):
            serve(srv_app.app, foreground=False, host="::1", port=port)
    finally:
        stop_background(url)


def test_unix_socket(tmp_path: Path) -> None:
    path = tmp_path / "app.sock"
    url = serve(srv_app.app, foreground=False, uds=path, grace=GRACE)
    try:
        assert url == f"unix:{path}"
        transport = httpx.HTTPTransport(uds=str(path))
        with httpx.Client(transport=transport, base_url="http://app") as client:
            assert client.get("/").json()["door"] == "rsgi"
    finally:
        stop_background(url)
    assert not path.exists()


def test_tls_and_http2_only(servers: Servers, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    url = serve(srv_app.app, foreground=False, port=0, ssl_cert=cert, ssl_key=key, grace=GRACE)
    try:
        assert url.startswith("https://")
        assert httpx.get(url + "/", verify=False, timeout=5).json()["door"] == "rsgi"
    finally:
        stop_background(url)
    pid_file = servers.track(tmp_path / "h2.pid")
    # HTTP/2 only, over TLS: serve_background returns once the server sent its first frame.
    h2 = serve_background(
        "srv_app:app", port=0, pid_path=pid_file, app_dir=APPS_DIR, http="2",
        ssl_cert=cert, ssl_key=key, grace=GRACE,
    )  # fmt: skip
    assert h2.startswith("https://")
    with pytest.raises(httpx.HTTPError):
        httpx.get(h2 + "/", verify=False, timeout=2)  # HTTP/1.1 is refused
    assert stop(pid_file)
