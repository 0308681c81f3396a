"""Fixtures shared by the fastware-dev tests: an ASGI harness and real upstream servers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only."""
    return "asyncio"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- calling an ASGI app by hand ------------------------------------------------------------


@dataclass
class Exchange:
    """What an ASGI app sent for one HTTP request."""

    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> int:
        return int(next(m for m in self.messages if m["type"] == "http.response.start")["status"])

    @property
    def headers(self) -> dict[str, str]:
        start = next(m for m in self.messages if m["type"] == "http.response.start")
        return {
            bytes(k).decode("latin-1").lower(): bytes(v).decode("latin-1")
            for k, v in start["headers"]
        }

    @property
    def body(self) -> bytes:
        return b"".join(
            m.get("body", b"") for m in self.messages if m["type"] == "http.response.body"
        )

    @property
    def finished(self) -> bool:
        return any(
            m["type"] == "http.response.body" and not m.get("more_body", False)
            for m in self.messages
        )


def http_scope(
    path: str,
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    query: bytes = b"",
) -> dict[str, Any]:
    """An ASGI HTTP scope as a server gives it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": headers if headers is not None else [(b"host", b"example.test:8000")],
        "client": ("10.1.2.3", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def call_http(
    app: Callable[..., Awaitable[None]],
    scope: dict[str, Any],
    body: list[bytes] | None = None,
    *,
    on_message: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    disconnect: asyncio.Event | None = None,
) -> Exchange:
    """Run ``app`` for one request; ``disconnect`` set makes ``receive`` report the client gone."""
    chunks = list(body or [b""])
    exchange = Exchange()
    gone = disconnect or asyncio.Event()

    async def receive() -> dict[str, Any]:
        if chunks:
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        exchange.messages.append(message)
        if on_message is not None:
            await on_message(message)

    await app(scope, receive, send)
    return exchange


# -- a real HTTP upstream that can misbehave -------------------------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "RawRequest"], Awaitable[None]]


@dataclass
class RawRequest:
    """One request the raw upstream read: request line, headers and body."""

    method: str
    target: str
    headers: dict[str, str]
    header_list: list[tuple[str, str]]
    body: bytes


async def read_request(reader: asyncio.StreamReader) -> RawRequest | None:
    """Read one HTTP/1.1 request (Content-Length or chunked body)."""
    line = await reader.readline()
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    header_list = []
    while True:
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        header_list.append((name.strip().lower(), value.strip()))
    headers = dict(header_list)
    body = b""
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readline()).strip(), 16)
            if size == 0:
                await reader.readline()
                break
            body += await reader.readexactly(size)
            await reader.readline()
    return RawRequest(method, target, headers, header_list, body)


class RawUpstream:
    """An asyncio TCP server on 127.0.0.1 that answers each request with ``handler``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[RawRequest] = []
        self.closed = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await read_request(reader)
                if request is None:
                    break
                self.requests.append(request)
                await self.handler(reader, writer, request)
                if writer.is_closing():
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.closed.set()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def __aenter__(self) -> RawUpstream:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)


def response_bytes(
    status: int, body: bytes, headers: list[tuple[str, str]] | None = None
) -> bytes:
    """An HTTP/1.1 response with a Content-Length."""
    lines = [f"HTTP/1.1 {status} X"]
    for name, value in headers or [("content-type", "text/plain")]:
        lines.append(f"{name}: {value}")
    lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@contextlib.asynccontextmanager
async def raw_upstream(handler: Handler) -> AsyncIterator[RawUpstream]:
    """A :class:`RawUpstream` for the block."""
    async with RawUpstream(handler) as upstream:
        yield upstream
