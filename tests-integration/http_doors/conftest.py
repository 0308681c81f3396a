"""A real Granian serving ``apps/fw_http_app.py``, once per door (``--interface rsgi|asgi``).

The ``server`` fixture is session-scoped and parametrised over both interfaces, so every test
that uses it runs twice and each Granian starts only once per session. ``start_granian``
starts extra Granians for one test (a failing lifespan, a shutdown to watch). When a test
that used ``server`` fails, the report carries Granian's output.
"""

from __future__ import annotations

import socket
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import msgspec
import pytest
from support.granian import APPS_DIR, GranianProcess, ServerPool, free_port
from support.granian import servers as servers  # the tests' Granian servers, stopped after each

__all__ = ("APPS_DIR", "INTERFACES", "GranianProcess", "Server", "StartGranian", "free_port")

INTERFACES = ("rsgi", "asgi")
MAIN_APP = "fw_http_app:app"


@dataclass
class RawResponse:
    """An HTTP/1.1 response read off a raw socket."""

    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        values = self.header_list(name)
        return values[0] if values else None

    def header_list(self, name: str) -> list[str]:
        key = name.lower()
        return [value for header, value in self.headers if header == key]

    def json(self) -> Any:
        return msgspec.json.decode(self.body)


class RawConnection:
    """One TCP connection to the server for hand-written HTTP/1.1; keeps unread bytes."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv(self) -> bytes:
        """Whatever arrives next (also what was buffered), ``b""`` once the server closed."""
        if self.buffer:
            data = bytes(self.buffer)
            self.buffer.clear()
            return data
        return self.sock.recv(65536)

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError(f"connection closed; unread: {bytes(self.buffer)!r}")
        self.buffer += data

    def _read_until(self, marker: bytes) -> bytes:
        while (index := self.buffer.find(marker)) < 0:
            self._fill()
        out = bytes(self.buffer[:index])
        del self.buffer[: index + len(marker)]
        return out

    def _read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        out = bytes(self.buffer[:size])
        del self.buffer[:size]
        return out

    def read_response(self, *, head: bool = False) -> RawResponse:
        """Read one response: status line, headers, body by length, chunks or close."""
        status_line, *header_lines = self._read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        _, status, reason = [*status_line.split(" ", 2), ""][:3]
        headers = []
        for line in header_lines:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        response = RawResponse(int(status), reason, headers)
        if head or response.status in (204, 304) or 100 <= response.status < 200:
            return response
        length = response.header("content-length")
        if length is not None:
            response.body = self._read_exactly(int(length))
        elif (response.header("transfer-encoding") or "").lower() == "chunked":
            chunks = []
            while size := int(self._read_until(b"\r\n").split(b";")[0], 16):
                chunks.append(self._read_exactly(size))
                self._read_until(b"\r\n")
            while self._read_until(b"\r\n"):  # trailer fields, up to the empty line
                pass
            response.body = b"".join(chunks)
        else:
            while data := self.sock.recv(65536):
                self.buffer += data
            response.body = bytes(self.buffer)
            self.buffer.clear()
        return response


@dataclass
class Server:
    """A running Granian serving the main test app through one door."""

    interface: str
    process: GranianProcess

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def address(self) -> tuple[str, int]:
        return self.process.host, self.process.port

    @property
    def authority(self) -> str:
        return f"{self.process.host}:{self.process.port}"

    def client(self, timeout: float = 10.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout)

    def connect(self, timeout: float = 10.0) -> RawConnection:
        """A new raw connection (use it as a context manager)."""
        return RawConnection(socket.create_connection(self.address, timeout=timeout))

    def raw(self, request: bytes, *, timeout: float = 10.0) -> RawResponse:
        """Send ``request`` verbatim on a new connection and read one response."""
        with self.connect(timeout) as conn:
            conn.send(request)
            return conn.read_response(head=request.startswith(b"HEAD "))

    def logs(self) -> str:
        return self.process.logs()


@pytest.fixture(scope="session", params=INTERFACES)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """Granian serving ``apps/fw_http_app.py`` through the RSGI or the ASGI door."""
    interface: str = request.param
    process = GranianProcess(MAIN_APP, interface, tmp_path_factory.mktemp(f"granian-{interface}"))
    process.start()
    try:
        process.wait_ready()
        yield Server(interface, process)
    finally:
        process.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the Granian output to the report of a failed test that used ``server``."""
    report = yield
    if report.when == "call" and report.failed:
        server = getattr(item, "funcargs", {}).get("server")
        if isinstance(server, Server):
            report.sections.append((f"granian --interface {server.interface}", server.logs()))
    return report


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    """An httpx client for ``server`` (closed after the test)."""
    with server.client() as http:
        yield http


class StartGranian(Protocol):
    def __call__(
        self, target: str, interface: str, env: Mapping[str, str] | None = None
    ) -> GranianProcess: ...


@pytest.fixture
def start_granian(servers: ServerPool) -> StartGranian:
    """Start Granian for ``(target, interface)`` without waiting for it to answer; every
    process is stopped after the test."""

    def start(target: str, interface: str, env: Mapping[str, str] | None = None) -> GranianProcess:
        return servers.start(target, interface, env=env, wait=False)

    return start
