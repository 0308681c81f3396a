"""The :class:`Broadcaster`: one ``text/event-stream`` per client, fed by a broker.

Events are validated and encoded once, handed to the broker (which numbers them and keeps
the replay backlog) and framed once per event; each client has a bounded list of frames
waiting to be sent. A client that falls ``buffer_size`` events behind is disconnected, so
its browser reconnects with ``Last-Event-ID`` and resumes from the backlog.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import msgspec

from fastware_core import Request, StreamResponse

from ._fork import renew_after_fork
from .brokers import Broker, Event, MemoryBroker
from .exceptions import BrokerError, EventValidationError, UnknownEventError
from .framing import (
    HEARTBEAT,
    encode_payload,
    format_event,
    format_retry,
    validate_event_name,
)

__all__ = ("RESYNC_EVENT", "Broadcaster", "sse_route")

RESYNC_EVENT = "resync"
"""The event a reconnecting client gets instead of the events it missed when the backlog no
longer reaches back to its ``Last-Event-ID``: it should reload its state."""

logger = logging.getLogger("fastware.sse")

_MAX_EVENT_ID = 256
_OVERFLOW = 1
_SHUTDOWN = 2
_encoder = msgspec.json.Encoder()
_MISSING: Any = object()


class _Client:
    """One connected stream: frames waiting to be sent and how it ends."""

    __slots__ = ("app", "ended", "pending", "waiter")

    def __init__(self, app: Any) -> None:
        self.app = app
        self.pending: list[tuple[str, bytes]] = []  # a list: 10x smaller than a deque
        self.waiter: asyncio.Future[None] | None = None
        self.ended = 0

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def end(self, reason: int) -> None:
        if not self.ended:
            self.ended = reason
        self.wake()


class Broadcaster:
    """Send server-sent events to every connected client (fastware 0.6.3 compatible).

    ``broadcast(event, data)`` sends to every client; ``stream(request)`` (or
    :func:`sse_route`) answers one client's ``GET`` with an endless ``text/event-stream``.

    Every event gets an ``id:``. A client reconnecting with ``Last-Event-ID`` (browsers do
    this by themselves) first receives the events it missed, or a single ``resync`` event
    when the backlog no longer reaches back that far. A client more than ``buffer_size``
    events behind is disconnected, so that it reconnects and resumes. When the app shuts
    down, streams end (after ``shutdown_event`` when one is set).

    Args:
        buffer_size: Events a client may fall behind before it is disconnected.
        strict: Refuse events that were not registered with :meth:`register_event`.
        heartbeat_interval: Seconds of silence after which a client gets a
            ``: heartbeat`` comment (keeps proxies from closing the connection).
        broker: Where events are numbered, kept and fanned out: ``None`` for in-process
            memory, a :class:`~fastware_sse.Broker`, or a ``redis://`` / ``rediss://`` /
            ``unix://`` URL for a :class:`~fastware_sse.RedisBroker`.
        backlog_size: Events kept for replay, when the broker is made from ``None`` or a URL.
        retry_interval: Seconds a browser waits before reconnecting, sent as ``retry:``
            when a stream starts; ``None`` keeps the browser's default (about 3 s).
        shutdown_event: ``(event, data)`` sent to each client as its stream ends because
            the app is shutting down; ``None`` sends nothing.
        ready_timeout: Seconds a new stream waits for the broker to be connected before it
            starts anyway (a Redis outage must not hang clients).

    Raises:
        ValueError: for a ``buffer_size`` below 1 or a negative interval.
        BrokerError: for a ``broker`` URL of an unknown scheme.
    """

    __slots__ = (
        "__weakref__",
        "_app_clients",
        "_broker",
        "_clients",
        "_farewell",
        "_idle",
        "_lock",
        "_loop",
        "_retry",
        "_schemas",
        "_watchers",
        "buffer_size",
        "heartbeat_interval",
        "ready_timeout",
        "strict",
    )

    def __init__(
        self,
        buffer_size: int = 256,
        *,
        strict: bool = True,
        heartbeat_interval: float | None = None,
        broker: Broker | str | None = None,
        backlog_size: int = 1024,
        retry_interval: float | None = None,
        shutdown_event: tuple[str, Any] | None = None,
        ready_timeout: float = 5.0,
    ) -> None:
        if buffer_size < 1:
            raise ValueError(f"buffer_size must be 1 or more, got {buffer_size}")
        if heartbeat_interval is not None and heartbeat_interval <= 0:
            raise ValueError(f"heartbeat_interval must be positive, got {heartbeat_interval}")
        if retry_interval is not None and retry_interval < 0:
            raise ValueError(f"retry_interval cannot be negative, got {retry_interval}")
        self.buffer_size = buffer_size
        """Events a client may fall behind before it is disconnected."""
        self.strict = strict
        """Whether unregistered events are refused."""
        self.heartbeat_interval = heartbeat_interval
        """Seconds of silence before a ``: heartbeat`` comment, or ``None``."""
        self.ready_timeout = ready_timeout
        """Seconds a new stream waits for the broker before it starts anyway."""
        self._broker = _make_broker(broker, backlog_size)
        self._retry = None if retry_interval is None else format_retry(retry_interval)
        self._farewell: bytes | None = None
        if shutdown_event is not None:
            name, data = shutdown_event
            self._farewell = format_event(validate_event_name(name), encode_payload(data))
        self._schemas: dict[str, Any] = {}
        self._clients: set[_Client] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._watchers: dict[int, asyncio.Task[None]] = {}
        self._app_clients: dict[int, int] = {}
        self._idle: asyncio.Event | None = None
        renew_after_fork(self)

    def after_fork(self) -> None:
        """In a forked child: start with no clients, loops or locks of the parent's
        (registered at construction; the fork hook calls it)."""
        # A forked worker serves none of its parent's clients and runs none of its loops.
        self._lock = threading.Lock()
        self._unbind_locked()

    # -- registration ------------------------------------------------------------------------

    def register_event(self, name: str, schema: Any = None) -> None:
        """Allow event type ``name`` (registering again is harmless).

        Args:
            name: The event type.
            schema: A type msgspec can validate against (usually a ``msgspec.Struct``);
                every payload broadcast as ``name`` must then match it. Registering again
                without a schema keeps the one already bound.

        Raises:
            ValueError: the name is empty or holds a line break.
        """
        validate_event_name(name)
        if schema is not None or name not in self._schemas:
            self._schemas[name] = schema

    @property
    def event_types(self) -> frozenset[str]:
        """The registered event types (a copy)."""
        return frozenset(self._schemas)

    @property
    def client_count(self) -> int:
        """How many clients are connected to this process right now."""
        return len(self._clients)

    @property
    def broker(self) -> Broker:
        """The broker this broadcaster publishes through."""
        return self._broker

    @property
    def fastware_process_local(self) -> str | None:
        """The broker's process-local marker (fastware-server warns about it with
        ``workers > 1``); ``None`` for a shared broker."""
        marker = getattr(self._broker, "fastware_process_local", None)
        return marker if isinstance(marker, str) else None

    # -- publishing --------------------------------------------------------------------------

    def _encode(self, event: str, data: Any) -> str:
        validate_event_name(event)
        schema = self._schemas.get(event, _MISSING)
        if schema is _MISSING:
            if self.strict:
                known = ", ".join(sorted(self._schemas)) or "(none)"
                raise UnknownEventError(
                    f"Unknown event type {event!r}: register it with register_event() or use "
                    f"strict=False. Registered event types: {known}"
                )
            return encode_payload(data)
        if schema is None:
            return encode_payload(data)
        try:
            wire = _encoder.encode(data)
            msgspec.json.decode(wire, type=schema)
        except (msgspec.ValidationError, TypeError, ValueError, OverflowError) as exc:
            raise EventValidationError(f"Invalid data for event {event!r}: {exc}") from None
        return data if type(data) is str else wire.decode("utf-8")

    def broadcast(self, event: str, data: Any) -> None:
        """Send an event to every client (of every worker, with a shared broker).

        Synchronous and safe to call from the event loop, from a worker thread or from a
        sync handler; it never blocks. ``data`` may be a ``str`` (sent verbatim) or anything
        msgspec encodes as JSON (dict, list, number, Struct, dataclass, ...).

        Raises:
            UnknownEventError: strict mode and ``event`` is not registered (a ValueError).
            EventValidationError: ``data`` does not match the event's schema, or cannot be
                encoded (a ValueError).
            ValueError: ``event`` is empty or holds a line break.
        """
        self._dispatch(event, self._encode(event, data))

    def _dispatch(self, event: str, payload: str) -> None:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        loop = self._loop
        if running is not None and (loop is running or loop is None or not loop.is_running()):
            self._bind(running)
            self._broker.publish(event, payload)
            return
        with self._lock:
            loop = self._loop
            if loop is not None and loop.is_running():
                try:
                    loop.call_soon_threadsafe(self._dispatch, event, payload)
                    return
                except RuntimeError:  # closed in the meantime
                    pass
            # No loop serves clients: nobody to deliver to, but the backlog keeps the event.
            self._unbind_locked()
            self._broker.publish(event, payload)

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is loop:
            return
        with self._lock:
            if self._loop is loop:
                return
            self._unbind_locked()
            self._loop = loop
            self._broker.start(self._deliver)

    def _unbind_locked(self) -> None:
        self._loop = None
        self._clients.clear()
        self._app_clients.clear()
        self._watchers.clear()
        self._idle = None

    def _deliver(self, event: Event) -> None:
        clients = self._clients
        if not clients:
            return
        frame = (event.id, format_event(event.event, event.data, event.id))
        limit = self.buffer_size
        overflowed: list[_Client] = []
        for client in clients:
            if client.ended:
                continue
            pending = client.pending
            if len(pending) >= limit:
                pending.clear()
                client.end(_OVERFLOW)
                overflowed.append(client)
                continue
            pending.append(frame)
            waiter = client.waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        for client in overflowed:
            logger.info("An SSE client fell %d events behind; disconnecting it", limit)
            self._leave(client)

    # -- streaming ---------------------------------------------------------------------------

    async def stream(
        self, request: Request | None, initial: Iterable[tuple[str, Any]] | None = None
    ) -> StreamResponse:
        """Answer one client with an endless ``text/event-stream``.

        The client joins when the stream starts being sent (a HEAD request, or a response
        that is never sent, joins nothing), and leaves when it disconnects. A
        ``Last-Event-ID`` request header resumes after that event.

        Args:
            request: The request (its ``Last-Event-ID`` header, HTTP version and app are
                used); ``None`` is accepted.
            initial: ``(event, data)`` pairs sent first to this client only; strict mode
                does not apply to them, and they carry no id.

        Raises:
            EventValidationError: an ``initial`` payload cannot be encoded.
        """
        app: Any = None
        last_event_id: str | None = None
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        if request is not None:
            app = getattr(request, "app", None)
            last_event_id = request.header("last-event-id")
            if str(getattr(request, "http_version", "1.1")).startswith("1"):
                headers["Connection"] = "keep-alive"  # a connection-specific header: not in h2
        else:
            headers["Connection"] = "keep-alive"
        prelude = [
            format_event(validate_event_name(name), encode_payload(data))
            for name, data in initial or ()
        ]
        return StreamResponse(
            self._run(app, (last_event_id or "").strip(), prelude),
            content_type="text/event-stream",
            headers=headers,
        )

    async def _run(
        self, app: Any, last_event_id: str, prelude: list[bytes]
    ) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        self._bind(loop)
        client = _Client(app)
        self._join(client)
        try:
            try:
                async with asyncio.timeout(self.ready_timeout):
                    await self._broker.wait_ready()
            except TimeoutError:
                logger.warning(
                    "The SSE broker is not connected after %s s; streaming anyway",
                    self.ready_timeout,
                )
            head = [] if self._retry is None else [self._retry]
            head += prelude
            if last_event_id:
                head += await self._catch_up(client, last_event_id)
            if head:
                yield b"".join(head)
            while True:
                chunk = await self._next(client)
                if chunk is None:
                    break
                yield chunk
            if client.ended == _SHUTDOWN and self._farewell is not None:
                yield self._farewell
        finally:
            self._leave(client)

    async def _catch_up(self, client: _Client, last_event_id: str) -> list[bytes]:
        events = None
        if len(last_event_id) <= _MAX_EVENT_ID and last_event_id.isprintable():
            events = await self._broker.replay(last_event_id)
        if events is None:
            latest = await self._broker.latest_id()
            data = _encoder.encode({"last_event_id": last_event_id[:_MAX_EVENT_ID]})
            return [format_event(RESYNC_EVENT, data.decode("utf-8"), latest)]
        if events and client.pending:
            replayed = {event.id for event in events}
            client.pending = [f for f in client.pending if f[0] not in replayed]
        return [format_event(event.event, event.data, event.id) for event in events]

    async def _next(self, client: _Client) -> bytes | None:
        """The next chunk for ``client`` (its waiting frames, or a heartbeat); ``None`` once
        the stream should end."""
        while True:
            pending = client.pending
            if pending:
                if len(pending) == 1:
                    chunk = pending[0][1]
                else:
                    chunk = b"".join(frame for _, frame in pending)
                pending.clear()
                return chunk
            if client.ended:
                return None
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            client.waiter = waiter
            try:
                if self.heartbeat_interval is None:
                    await waiter
                else:
                    try:
                        async with asyncio.timeout(self.heartbeat_interval):
                            await waiter
                    except TimeoutError:
                        return HEARTBEAT
            finally:
                client.waiter = None

    def _join(self, client: _Client) -> None:
        self._clients.add(client)
        signal = _shutdown_signal(client.app)
        if signal is None:
            return
        if signal.is_set():
            client.end(_SHUTDOWN)
            return
        key = id(client.app)
        self._app_clients[key] = self._app_clients.get(key, 0) + 1
        if key not in self._watchers:
            self._watchers[key] = asyncio.get_running_loop().create_task(
                self._end_at_shutdown(client.app, signal)
            )

    def _leave(self, client: _Client) -> None:
        if client not in self._clients:
            return
        self._clients.discard(client)
        client.pending.clear()
        key = id(client.app)
        count = self._app_clients.get(key)
        if count is not None:
            if count > 1:
                self._app_clients[key] = count - 1
            else:
                del self._app_clients[key]
                watcher = self._watchers.pop(key, None)
                signal = _shutdown_signal(client.app)
                if watcher is not None and signal is not None and not signal.is_set():
                    watcher.cancel()
        if not self._clients and self._idle is not None:
            self._idle.set()

    async def _end_at_shutdown(self, app: Any, signal: asyncio.Event) -> None:
        await signal.wait()
        for client in list(self._clients):
            if client.app is app:
                client.end(_SHUTDOWN)
        # Once the last stream has gone, close the broker (a later use opens it again).
        if self._clients:
            idle = self._idle = asyncio.Event()
            await idle.wait()
        await self.aclose()

    async def aclose(self) -> None:
        """End every stream (after ``shutdown_event``) and close the broker.

        Call it in the app's lifespan shutdown to release the broker's connections; the
        broadcaster opens the broker again if it is used afterwards.
        """
        current = asyncio.current_task()
        with self._lock:
            clients = list(self._clients)
            watchers = [task for task in self._watchers.values() if task is not current]
            self._unbind_locked()
        for client in clients:
            client.end(_SHUTDOWN)
        for task in watchers:
            task.cancel()
        await self._broker.close()


def _shutdown_signal(app: Any) -> asyncio.Event | None:
    signal = getattr(app, "shutting_down", None) if app is not None else None
    return signal if isinstance(signal, asyncio.Event) else None


def _make_broker(broker: Broker | str | None, backlog_size: int) -> Broker:
    if broker is None:
        return MemoryBroker(backlog_size)
    if isinstance(broker, str):
        scheme = broker.partition("://")[0].lower()
        if scheme not in ("redis", "rediss", "unix"):
            raise BrokerError(
                f"unsupported broker URL {broker!r}: use redis://, rediss:// or unix://, or "
                "pass a Broker object"
            )
        from .redis_broker import RedisBroker

        return RedisBroker(broker, backlog_size=backlog_size)
    for name in ("start", "publish", "wait_ready", "replay", "latest_id", "close"):
        if not callable(getattr(broker, name, None)):
            raise BrokerError(f"{type(broker).__name__} is not a Broker: it has no {name}()")
    return broker


def sse_route(broadcaster: Broadcaster) -> Callable[[Request], Awaitable[StreamResponse]]:
    """A route handler streaming ``broadcaster`` to each client.

    ``router.add_route("GET", "/events", sse_route(broadcaster))``.
    """

    async def handler(request: Request) -> StreamResponse:
        return await broadcaster.stream(request)

    return handler
