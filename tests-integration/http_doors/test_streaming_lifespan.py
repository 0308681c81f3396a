"""Streaming responses and the lifespan over a real Granian, through both doors.

The app counts, per stream key, how often a stream's generator started and how often its
``finally`` ran; ``/stream-stats`` reports those counters from inside the worker.
"""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from http_doors.conftest import Server, StartGranian

INTERFACES = ("rsgi", "asgi")  # conftest.INTERFACES
MAIN_APP = "fw_http_app:app"
FAILING_LIFESPAN_APP = "fw_failing_lifespan_app:app"
REFUSAL_TIMEOUT = 15.0


def stream_stats(server: Server, key: str) -> dict[str, Any]:
    with server.client() as http:
        stats: dict[str, Any] = http.get("/stream-stats", params={"key": key}).json()
    return stats


def wait_for_stats(server: Server, key: str, expected: dict[str, int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    stats = stream_stats(server, key)
    while stats != expected and time.monotonic() < deadline:
        time.sleep(0.05)
        stats = stream_stats(server, key)
    assert stats == expected, f"after {timeout} s through {server.interface}"


# -- streaming ------------------------------------------------------------------------------------


def test_stream_sends_chunks_without_content_length(server: Server) -> None:
    key = f"headers-{uuid.uuid4().hex}"
    with (
        server.client() as http,
        http.stream("GET", "/stream", params={"key": key}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert "content-length" not in response.headers
        assert response.headers["transfer-encoding"] == "chunked"
        names = [n.decode().lower() for n, _ in response.headers.raw]
        assert names[0] == "content-type"
        received = b""
        for chunk in response.iter_raw():
            received += chunk
            if received.count(b"\n") >= 2:
                break
    assert received.startswith(b"chunk 0\nchunk 1\n")
    wait_for_stats(server, key, {"starts": 1, "finally": 1}, timeout=3.0)


def test_finite_stream_body_and_header_order(server: Server) -> None:
    response = server.raw(
        f"GET /stream-finite HTTP/1.1\r\nHost: {server.authority}\r\n"
        "Connection: close\r\n\r\n".encode(),
        timeout=5.0,  # the body must end (a 0-size chunk) as soon as the generator does
    )
    assert response.status == 200
    assert response.body == "one\ntwo\nthr\u00e9e\n".encode()
    names = [name for name, _ in response.headers if name not in ("date", "server", "connection")]
    assert names == [
        "content-type",
        "x-stream",
        "x-stream",
        "set-cookie",
        "x-content-type-options",  # nosniff, on by default
        "x-request-id",  # the default RequestID middleware appends it, as in 0.6.3
        "transfer-encoding",
    ]
    assert response.header("content-type") == "text/plain; charset=utf-8"
    assert response.header_list("x-stream") == ["a", "b"]
    assert response.header("set-cookie") == "streamed=1; Path=/; SameSite=lax"


def test_stream_error_ends_the_response_and_closes_the_generator(server: Server) -> None:
    key = f"error-{uuid.uuid4().hex}"
    response = server.raw(
        f"GET /stream-error?key={key} HTTP/1.1\r\nHost: {server.authority}\r\n"
        "Connection: close\r\n\r\n".encode(),
        timeout=5.0,
    )
    assert response.status == 200
    assert response.body == b"before\n"
    wait_for_stats(server, key, {"starts": 1, "finally": 1}, timeout=3.0)
    with server.client() as http:
        assert http.get("/").status_code == 200


def test_client_disconnect_closes_the_generator_exactly_once(server: Server) -> None:
    key = f"disconnect-{uuid.uuid4().hex}"
    chunks: list[bytes] = []
    with (
        server.client() as http,
        http.stream("GET", "/stream", params={"key": key}) as response,
    ):
        assert response.status_code == 200
        buffer = b""
        for piece in response.iter_raw():
            buffer += piece
            if buffer.count(b"\n") >= 3:
                break
        chunks = buffer.split(b"\n")[:3]
        # Leaving both blocks mid-body closes the connection (it cannot go back to the pool).
    assert chunks == [b"chunk 0", b"chunk 1", b"chunk 2"]
    wait_for_stats(server, key, {"starts": 1, "finally": 1}, timeout=3.0)
    time.sleep(0.3)  # and it stays at one: no second close, no restart
    assert stream_stats(server, key) == {"starts": 1, "finally": 1}


def test_client_disconnect_on_raw_socket_closes_the_generator(server: Server) -> None:
    key = f"raw-{uuid.uuid4().hex}"
    with server.connect() as conn:
        conn.send(f"GET /stream?key={key} HTTP/1.1\r\nHost: {server.authority}\r\n\r\n".encode())
        received = b""
        while received.count(b"chunk") < 3:
            data = conn.recv()
            assert data, "the stream ended by itself"
            received += data
    assert received.startswith(b"HTTP/1.1 200 ")
    wait_for_stats(server, key, {"starts": 1, "finally": 1}, timeout=3.0)


def test_head_on_stream_is_prompt_and_never_starts_the_generator(
    server: Server, client: httpx.Client
) -> None:
    key = f"head-{uuid.uuid4().hex}"
    started = time.monotonic()
    response = client.head("/stream", params={"key": key}, timeout=5.0)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"].startswith("text/plain")
    assert elapsed < 2.0
    time.sleep(0.2)
    assert stream_stats(server, key) == {"starts": 0, "finally": 0}


def test_head_on_stream_keeps_the_connection_usable(server: Server) -> None:
    key = f"head-raw-{uuid.uuid4().hex}"
    with server.connect(timeout=5.0) as conn:
        conn.send(
            f"HEAD /stream?key={key} HTTP/1.1\r\nHost: {server.authority}\r\n\r\n"
            f"GET /stream-stats?key={key} HTTP/1.1\r\nHost: {server.authority}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        head = conn.read_response(head=True)
        stats = conn.read_response()
    assert head.status == 200
    assert stats.status == 200
    assert stats.json() == {"starts": 0, "finally": 0}


# -- lifespan -------------------------------------------------------------------------------------


def test_lifespan_state_reaches_requests_from_the_worker(client: httpx.Client) -> None:
    state = client.get("/state").json()
    assert state["started_by"] == "lifespan"
    # The lifespan ran in the worker process that serves the request (for RSGI that is
    # __rsgi_init__), not in Granian's main process.
    assert state["lifespan_pid"] == state["worker_pid"]


@pytest.mark.parametrize("interface", INTERFACES)
def test_lifespan_shutdown_runs_on_sigterm(
    start_granian: StartGranian, tmp_path: Path, interface: str
) -> None:
    events = tmp_path / "lifespan-events.txt"
    process = start_granian(MAIN_APP, interface, {"FW_LIFESPAN_LOG": str(events)})
    process.wait_ready()
    with httpx.Client(base_url=process.url, timeout=5.0) as http:
        worker_pid = http.get("/state").json()["worker_pid"]
    code = process.stop()
    assert code == 0, process.logs()
    assert events.read_text().splitlines() == [
        f"startup {worker_pid}",
        f"shutdown {worker_pid}",
    ], process.logs()


@pytest.mark.parametrize("interface", INTERFACES)
def test_sigterm_tells_open_streams_to_finish_and_the_server_exits(
    start_granian: StartGranian, interface: str
) -> None:
    process = start_granian(MAIN_APP, interface)
    process.wait_ready()
    with (
        httpx.Client(base_url=process.url, timeout=15.0) as http,
        http.stream("GET", "/stream-until-shutdown") as polite,
        http.stream("GET", "/stream?key=stubborn") as stubborn,
    ):
        lines = polite.iter_lines()
        assert next(lines) == "ready"
        stubborn_lines = stubborn.iter_lines()
        next(stubborn_lines)  # a stream that never looks at the shutdown signal
        started = time.monotonic()
        assert process.proc is not None
        process.proc.send_signal(signal.SIGTERM)
        if interface == "rsgi":
            assert list(lines) == ["bye"]  # its last event, then the end of the body
            for _ in stubborn_lines:  # cancelled after stream_shutdown_grace (5 s)
                pass
        else:
            # Granian's ASGI worker may cut open connections itself when it stops, racing the
            # last event; what matters is that nothing hangs.
            try:
                assert list(lines) == ["bye"]
            except httpx.RemoteProtocolError:
                pass
        assert process.proc.wait(15) == 0, process.logs()
    assert time.monotonic() - started < 12, process.logs()


@pytest.mark.parametrize("interface", INTERFACES)
def test_failing_lifespan_makes_granian_refuse_to_serve(
    start_granian: StartGranian, interface: str
) -> None:
    process = start_granian(FAILING_LIFESPAN_APP, interface)
    deadline = time.monotonic() + REFUSAL_TIMEOUT
    answers: list[int] = []
    while process.returncode is None and time.monotonic() < deadline:
        try:
            answers.append(httpx.get(process.url + "/", timeout=0.5).status_code)
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    code = process.returncode
    assert code is not None, (
        f"Granian ({interface}) still runs {REFUSAL_TIMEOUT} s after a failed lifespan startup "
        f"(answers: {answers})\n{process.logs()}"
    )
    assert code != 0, process.logs()
    assert 200 not in answers, process.logs()
    assert "the database is unreachable" in process.logs()
    with pytest.raises(httpx.ConnectError):
        httpx.get(process.url + "/", timeout=1.0)
