"""Real parts for the SSE tests: a redis-server, Granian with several workers, SSE readers.

``redis-server`` must be installed (Debian package ``redis-server``; ``.ci/run`` installs
it): a Redis that cannot be started fails the tests, it never skips them.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Protocol

import httpx
import pytest
from support.granian import FastwareServeProcess, GranianProcess, ServerPool
from support.granian import servers as servers  # the tests' Granian servers, stopped after each
from support.redis import RedisServer as RedisServer  # re-exported for the tests
from support.redis import redis_server as redis_server  # the session's Redis fixture

STARTUP_TIMEOUT = 20.0  # redis-server


@pytest.fixture
def channel() -> str:
    """A channel name of its own for each test, so that tests do not see each other."""
    return f"test:{uuid.uuid4().hex}"


class StartGranian(Protocol):
    def __call__(
        self, target: str, workers: int, env: Mapping[str, str], port: int | None = None
    ) -> GranianProcess: ...


@pytest.fixture
def start_granian(servers: ServerPool) -> StartGranian:
    """``start(target, workers, env)``: a started Granian, stopped after the test."""

    def start(
        target: str, workers: int, env: Mapping[str, str], port: int | None = None
    ) -> GranianProcess:
        return servers.start(target, workers=workers, env=env, port=port)

    return start


LAUNCHERS: dict[str, type[GranianProcess]] = {
    "granian": GranianProcess,  # ``python -m granian``: each worker imports the app
    "fastware-serve": FastwareServeProcess,  # imported once, then the workers are forked
}


@pytest.fixture(params=sorted(LAUNCHERS))
def start_workers(request: pytest.FixtureRequest, servers: ServerPool) -> StartGranian:
    """``start(target, workers, env)`` through each launcher in turn: ``python -m granian``
    (every worker imports the app) and ``fastware serve`` (the app, its broadcaster and
    broker are created before Granian forks the workers)."""
    launcher = LAUNCHERS[request.param]

    def start(
        target: str, workers: int, env: Mapping[str, str], port: int | None = None
    ) -> GranianProcess:
        return servers.start(target, workers=workers, env=env, port=port, launcher=launcher)

    return start


class SSEReader:
    """Reads one event stream over a raw HTTP/1.1 connection in a thread; events (dicts of
    fields) land in a queue. ``close()`` shuts the socket down, so the server sees the
    client leave at once."""

    def __init__(self, url: str, last_event_id: str | None = None) -> None:
        parsed = httpx.URL(url)
        self.url = url
        self.events: queue.Queue[dict[str, str] | None] = queue.Queue()
        self.status: int | None = None
        self.response_headers: dict[str, str] = {}
        extra = "" if last_event_id is None else f"Last-Event-ID: {last_event_id}\r\n"
        request = (
            f"GET {parsed.raw_path.decode()} HTTP/1.1\r\nHost: {parsed.host}:{parsed.port}\r\n"
            f"Accept: text/event-stream\r\n{extra}\r\n"
        )
        self._sock = socket.create_connection((parsed.host, parsed.port or 80), timeout=10)
        self._sock.settimeout(None)
        self._sock.sendall(request.encode("latin-1"))
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with self._sock.makefile("rb") as stream:
                self.status = int(stream.readline().split()[1])
                while (line := stream.readline().rstrip(b"\r\n")) != b"":
                    name, _, value = line.decode("latin-1").partition(":")
                    self.response_headers[name.strip().lower()] = value.strip()
                chunked = self.response_headers.get("transfer-encoding") == "chunked"
                buffer = b""
                fields: dict[str, str] = {}
                while True:
                    if chunked:
                        size = int(stream.readline().split(b";")[0], 16)
                        if size == 0:
                            return
                        data = stream.read(size)
                        stream.readline()
                    else:
                        data = stream.read1(65536)
                    if not data:
                        return
                    buffer += data
                    *lines, buffer = buffer.split(b"\n")
                    for raw in lines:
                        text = raw.decode("utf-8")
                        if not text:
                            if "data" in fields:  # as browsers: no data, no event
                                self.events.put(fields)
                            fields = {}
                        elif not text.startswith(":"):
                            name, _, value = text.partition(":")
                            value = value.removeprefix(" ")
                            fields[name] = fields[name] + "\n" + value if name in fields else value
        except (OSError, ValueError, IndexError):
            pass
        finally:
            self.events.put(None)  # the stream ended

    def next(self, timeout: float = 10.0) -> dict[str, str]:
        """The next event; fails the test on a timeout or the end of the stream."""
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no event from {self.url} within {timeout} s")
        if event is None:
            self.events.put(None)
            pytest.fail(f"the stream from {self.url} ended")
        return event

    def take(self, count: int, timeout: float = 10.0) -> list[dict[str, str]]:
        """The next ``count`` events."""
        return [self.next(timeout) for _ in range(count)]

    def take_up_to(self, count: int, timeout: float = 10.0) -> list[dict[str, str]]:
        """Up to ``count`` events: stops early when none comes for ``timeout`` seconds or
        the stream ends (so that a test can say which events were missing)."""
        taken: list[dict[str, str]] = []
        while len(taken) < count:
            try:
                event = self.events.get(timeout=timeout)
            except queue.Empty:
                break
            if event is None:
                self.events.put(None)
                break
            taken.append(event)
        return taken

    def ended(self, timeout: float = 10.0) -> bool:
        """Whether the stream ends (after any events still queued) within ``timeout``."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                if self.events.get(timeout=left) is None:
                    self.events.put(None)
                    return True
            except queue.Empty:
                return False
        return False

    def close(self) -> None:
        """Leave: shut the connection down and wait for the reading thread."""
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._thread.join(5)


@pytest.fixture
def readers() -> Iterator[list[SSEReader]]:
    """A list to put SSEReaders in; all are closed after the test."""
    opened: list[SSEReader] = []
    yield opened
    for reader in opened:
        reader.close()
