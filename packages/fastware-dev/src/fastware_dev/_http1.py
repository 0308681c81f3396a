"""A small streaming HTTP/1.1 client for the dev proxy: asyncio streams and h11.

One :class:`ConnectionPool` per upstream and event loop keeps idle keep-alive connections
in a list (taking one is O(1), unlike httpcore's pool, which examines every pooled
connection on each request). Request bodies are sent as they are produced, responses are
read chunk by chunk; nothing is buffered whole. Errors say which step failed, so the
proxy can answer 502, 504 or wait for a restarting backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Sequence

import h11

__all__ = (
    "BadResponse",
    "ConnectFailed",
    "ConnectionPool",
    "Response",
    "ResponseTimeout",
    "StaleConnection",
    "UpstreamError",
)

_READ_SIZE = 64 * 1024


class UpstreamError(Exception):
    """The upstream could not be asked, or did not answer properly."""


class ConnectFailed(UpstreamError):
    """No connection could be made (refused, unreachable, timed out)."""


class ResponseTimeout(UpstreamError):
    """The upstream sent nothing for the read timeout."""


class BadResponse(UpstreamError):
    """The upstream closed the connection or sent something that is not HTTP/1.1."""


class StaleConnection(BadResponse):
    """A kept-alive connection turned out to be closed before any answer (safe to retry
    when no request body was consumed)."""


class _Connection:
    __slots__ = ("h11", "reader", "reused", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)
        self.reused = False

    def usable(self) -> bool:
        return (
            self.h11.our_state is h11.IDLE
            and not self.reader.at_eof()
            and not self.writer.is_closing()
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class Response:
    """An answer whose body is still to be read: :meth:`body` streams it."""

    def __init__(
        self,
        pool: ConnectionPool,
        connection: _Connection,
        status: int,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        self._pool = pool
        self._connection: _Connection | None = connection
        self.status = status
        """The status code."""
        self.headers = headers
        """The header fields, names in lower case."""

    async def body(self) -> AsyncIterator[bytes]:
        """The body chunks as they arrive.

        Raises:
            ResponseTimeout: nothing arrived for the read timeout.
            BadResponse: the upstream broke off or the body is malformed.
        """
        connection = self._connection
        if connection is None:
            return
        while True:
            event = await self._pool.next_event(connection)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._connection = None
                self._pool.release(connection)
                return
            else:  # pragma: no cover - h11 gives Data or EndOfMessage here
                raise BadResponse(f"unexpected {type(event).__name__}")

    def close(self) -> None:
        """Give the connection back (when the body was read to its end) or close it."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class ConnectionPool:
    """Keep-alive connections to ``host:port``, for one event loop.

    Args:
        host: The upstream's host (a name is resolved; every address is tried).
        port: Its port.
        connect_timeout: Seconds a connection may take.
        read_timeout: Seconds without a byte before :class:`ResponseTimeout` (``None``:
            wait forever).
        max_idle: Idle connections kept for reuse.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float | None = 300.0,
        max_idle: int = 32,
    ) -> None:
        self.host = host.strip("[]")
        self.port = port
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_idle = max_idle
        self._idle: list[_Connection] = []

    async def _connect(self) -> _Connection:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, limit=_READ_SIZE * 4),
                self.connect_timeout,
            )
        except TimeoutError:
            raise ConnectFailed(f"no connection within {self.connect_timeout:g} s") from None
        except OSError as exc:
            raise ConnectFailed(exc.strerror or str(exc)) from None
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Connection(reader, writer)

    async def _take(self) -> _Connection:
        while self._idle:
            connection = self._idle.pop()
            if connection.usable():
                connection.reused = True
                return connection
            connection.close()
        return await self._connect()

    def release(self, connection: _Connection) -> None:
        """Keep a connection whose exchange finished cleanly for the next request."""
        state = connection.h11
        if state.our_state is h11.DONE and state.their_state is h11.DONE:
            try:
                state.start_next_cycle()
            except h11.LocalProtocolError:
                connection.close()
                return
            if len(self._idle) < self.max_idle:
                self._idle.append(connection)
                return
        connection.close()

    async def next_event(self, connection: _Connection) -> object:
        """The next h11 event, reading from the socket as needed."""
        while True:
            try:
                event = connection.h11.next_event()
            except h11.RemoteProtocolError as exc:
                connection.close()
                raise BadResponse(f"not a valid HTTP/1.1 answer ({exc})") from None
            if event is not h11.NEED_DATA:
                if isinstance(event, h11.ConnectionClosed):
                    connection.close()
                    raise BadResponse("the connection was closed before the answer ended")
                return event
            try:
                data = await asyncio.wait_for(connection.reader.read(_READ_SIZE), self.read_timeout)
            except TimeoutError:
                connection.close()
                raise ResponseTimeout(f"nothing for {self.read_timeout:g} s") from None
            except OSError as exc:
                connection.close()
                raise BadResponse(f"the connection failed ({exc})") from None
            connection.h11.receive_data(data)

    async def request(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[bytes, bytes]],
        body: AsyncIterator[bytes] | None = None,
    ) -> Response:
        """Send a request (``body`` streamed as it comes) and read the answer's head.

        Without a ``content-length`` header a body is sent chunked. The caller reads
        :meth:`Response.body` and calls :meth:`Response.close`.

        Raises:
            ConnectFailed, ResponseTimeout, BadResponse (StaleConnection on a reused
            connection that was closed before answering); whatever ``body`` raises.
        """
        fields = list(headers)
        if body is not None and not any(name == b"content-length" for name, _ in fields):
            fields.append((b"transfer-encoding", b"chunked"))
        connection = await self._take()
        state = connection.h11
        answered = False
        try:
            try:
                connection.writer.write(
                    state.send(h11.Request(method=method, target=target, headers=fields))
                )
                if body is not None:
                    async for chunk in body:
                        connection.writer.write(state.send(h11.Data(data=chunk)))
                        await connection.writer.drain()
                connection.writer.write(state.send(h11.EndOfMessage()))
                await connection.writer.drain()
            except h11.LocalProtocolError as exc:
                raise BadResponse(f"the request cannot be sent ({exc})") from None
            except OSError as exc:
                raise self._broken(connection, f"the connection failed ({exc})") from None
            while True:
                try:
                    event = await self.next_event(connection)
                except BadResponse as exc:
                    raise self._broken(connection, str(exc)) from None
                if isinstance(event, h11.InformationalResponse):
                    continue  # 100 Continue and friends
                if isinstance(event, h11.Response):
                    answered = True
                    return Response(
                        self, connection, event.status_code, [(k, v) for k, v in event.headers]
                    )
                raise BadResponse(f"unexpected {type(event).__name__}")  # pragma: no cover
        finally:
            if not answered:
                connection.close()

    @staticmethod
    def _broken(connection: _Connection, message: str) -> BadResponse:
        return StaleConnection(message) if connection.reused else BadResponse(message)

    def close(self) -> None:
        """Close the idle connections."""
        for connection in self._idle:
            connection.close()
        self._idle.clear()
