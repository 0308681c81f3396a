from __future__ import annotations

import socket
import threading
from pathlib import Path

from fastware_server.ports import free_port
from fastware_server.probe import PROBE_REQUEST, Endpoint, answers, wait_until_answering


def test_urls() -> None:
    assert Endpoint("127.0.0.1", 8000).url == "http://127.0.0.1:8000"
    assert Endpoint("::1", 8000, tls=True).url == "https://[::1]:8000"
    assert Endpoint(uds="/run/app.sock").url == "unix:/run/app.sock"
    assert Endpoint("0.0.0.0", 1).probe_host == "127.0.0.1"
    assert Endpoint("::", 1).probe_host == "::1"


def test_an_http_answer_counts_and_the_probe_is_no_request() -> None:
    received: list[bytes] = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()

        def answer() -> None:  # as Granian's parser does with a line that is not HTTP
            conn, _ = server.accept()
            with conn:
                received.append(conn.recv(1024))
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")

        thread = threading.Thread(target=answer)
        thread.start()
        assert answers(Endpoint("0.0.0.0", server.getsockname()[1]))
        thread.join()
    assert received == [PROBE_REQUEST]


def test_a_server_answering_without_a_status_line_counts() -> None:
    import http.server

    class Quiet(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:  # it answers the probe line with an error page and no status line
        assert answers(Endpoint("127.0.0.1", server.server_address[1]))
    finally:
        server.shutdown()
        server.server_close()


def test_the_probe_is_not_an_http_request_line() -> None:
    line = PROBE_REQUEST.split(b"\r\n", 1)[0]
    assert b" " not in line  # no method, target and version: every HTTP parser refuses it
    assert PROBE_REQUEST.endswith(b"\r\n\r\n")


def test_nothing_listening_or_a_silent_listener_does_not() -> None:
    assert not answers(Endpoint("127.0.0.1", free_port()))
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        endpoint = Endpoint("127.0.0.1", silent.getsockname()[1])
        assert not answers(endpoint, timeout=0.2)  # accepted by the kernel, never answered
        assert not wait_until_answering(endpoint, 0.3)


def test_waiting_stops_when_the_server_died() -> None:
    calls = []

    def starting() -> bool:
        calls.append(1)
        return False

    assert not wait_until_answering(Endpoint("127.0.0.1", free_port()), 30, starting)
    assert calls == [1]


def test_unix_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sock")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(path)
        server.listen()

        def answer() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(1024)
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")

        thread = threading.Thread(target=answer)
        thread.start()
        assert answers(Endpoint(uds=path))
        thread.join()
