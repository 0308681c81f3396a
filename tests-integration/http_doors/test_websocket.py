"""WebSockets through both doors of a real Granian server (the ``websockets`` client)."""

from __future__ import annotations

import signal
import socket
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from .conftest import INTERFACES, Server, StartGranian

ORIGIN = "http://allowed.example"


def _expected_close(server: Server, code: int) -> int:
    """The close code the client sees: Granian's RSGI close (2.8) sends no code (1005)."""
    return 1005 if server.interface == "rsgi" else code


def _connect(server: Server, path: str, origin: str | None = ORIGIN) -> ClientConnection:
    host, port = server.address
    headers = {"Origin": origin} if origin else None
    return connect(f"ws://{host}:{port}{path}", additional_headers=headers, open_timeout=10)


def test_echo_with_path_params_query_and_lifespan_state(server: Server) -> None:
    with _connect(server, "/ws/echo/lobby?q=hello") as ws:
        first = ws.recv(timeout=10)
        assert isinstance(first, str)  # send_json uses a text frame
        assert first == '{"room":"lobby","q":"hello","started_by":"lifespan"}'
        ws.send("ping")
        assert ws.recv(timeout=10) == "PING"
        ws.send("bye")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == _expected_close(server, 4000)


def test_binary_frames_round_trip(server: Server) -> None:
    with _connect(server, "/ws/bytes") as ws:
        ws.send(b"\x00\x01\x02abc")
        assert ws.recv(timeout=10) == b"cba\x02\x01\x00"


def test_unknown_path_is_refused(server: Server) -> None:
    with pytest.raises((InvalidStatus, ConnectionClosed)), _connect(server, "/ws/nope") as ws:
        ws.recv(timeout=10)


def test_foreign_origin_is_refused(server: Server) -> None:
    with (
        pytest.raises(InvalidStatus) as refused,
        _connect(server, "/ws/bytes", "http://evil.example"),
    ):
        pass
    assert refused.value.response.status_code == 403


def test_no_origin_header_is_allowed(server: Server) -> None:
    with _connect(server, "/ws/bytes", origin=None) as ws:
        ws.send(b"ab")
        assert ws.recv(timeout=10) == b"ba"


def test_http_error_before_accept_refuses_the_handshake(server: Server) -> None:
    with pytest.raises(InvalidStatus) as refused, _connect(server, "/ws/forbidden"):
        pass
    assert refused.value.response.status_code == 403


def test_handler_exception_closes_with_1011(server: Server) -> None:
    with _connect(server, "/ws/fail") as ws:
        ws.send("go")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == _expected_close(server, 1011)


def test_oversized_message_closes_with_1009(server: Server) -> None:
    with _connect(server, "/ws/echo/big") as ws:
        ws.recv(timeout=10)
        ws.send("x" * (64 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == _expected_close(server, 1009)


def test_server_survives_a_client_that_vanishes(server: Server) -> None:
    with _connect(server, "/ws/echo/gone") as ws:
        ws.recv(timeout=10)
        ws.socket.shutdown(socket.SHUT_RDWR)  # gone without a close frame
    with _connect(server, "/ws/echo/after") as again:
        assert "after" in str(again.recv(timeout=10))


@pytest.mark.parametrize("interface", INTERFACES)
def test_sigterm_closes_open_websockets_with_going_away(
    start_granian: StartGranian, interface: str
) -> None:
    process = start_granian("fw_http_app:app", interface)
    process.wait_ready()
    with connect(
        f"ws://{process.host}:{process.port}/ws/bytes", additional_headers={"Origin": ORIGIN}
    ) as ws:
        ws.send(b"ab")
        assert ws.recv(timeout=10) == b"ba"  # the handler is in its receive loop
        assert process.proc is not None
        started = time.monotonic()
        process.proc.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        # A close frame, not a dropped connection: 1001 (going away) on the ASGI door;
        # Granian 2.8's RSGI close sends no code, which the client reads as 1005.
        assert closed.value.rcvd is not None, process.logs()
        assert closed.value.rcvd.code == (1005 if interface == "rsgi" else 1001)
        assert time.monotonic() - started < 5  # told at once, not after the grace
    assert process.proc.wait(15) == 0, process.logs()
