"""A broker shared by every worker and host: Redis pub/sub for fan-out, a Redis Stream for
the replay backlog (redis-py's asyncio client, imported only when this module is)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections import deque
from typing import Any

from ._fork import renew_after_fork
from .brokers import Deliver, Event

__all__ = ("RedisBroker",)

logger = logging.getLogger("fastware.sse")

# XADD and PUBLISH in one script: Redis runs it atomically, so the order of the messages on
# the channel is the order of the ids in the stream, whichever worker published. Each
# publisher (one per broker per process: see RedisBroker.after_fork) numbers its events; the
# script skips a number it has already applied (KEYS[3] holds the last one per publisher),
# so a batch retried after a connection dropped in the middle of it is not stored twice.
_PUBLISH_SCRIPT = """
local last = tonumber(redis.call('HGET', KEYS[3], ARGV[4]) or '0')
if tonumber(ARGV[5]) <= last then return false end
redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
redis.call('EXPIRE', KEYS[3], 86400)
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[2], 'd', ARGV[3])
redis.call('PUBLISH', KEYS[2], id .. '\\n' .. ARGV[2] .. '\\n' .. ARGV[3])
return id
"""
_STREAM_ID = re.compile(r"(\d{1,20})-(\d{1,20})")
_BATCH = 256


def _id_key(event_id: str) -> tuple[int, int] | None:
    match = _STREAM_ID.fullmatch(event_id)
    return None if match is None else (int(match[1]), int(match[2]))


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class RedisBroker:
    """Share events between the workers of one host or many hosts through Redis.

    A broadcast in any worker is added to a Redis Stream (which keeps the last
    ``backlog_size`` events, the stream id becoming the event id) and published on a
    channel; every worker's subscriber delivers it to its own clients, once, in the order of
    the stream. Resume works across workers and restarts of the app: the backlog lives in
    Redis.

    Outages: a lost connection is logged as a warning and retried with backoff while the app
    keeps serving. Events broadcast meanwhile wait in a bounded buffer (``max_pending``)
    and are sent when Redis is back; beyond that, new events are dropped and counted in a
    warning. After reconnecting, each worker reads from the stream whatever was published
    while its subscriber was away, so its clients miss nothing the backlog still holds.

    Args:
        url: The Redis URL (``redis://host:6379/0``, ``rediss://...``, ``unix://...``).
        channel: The name of the pub/sub channel; the stream is ``<channel>:backlog``.
            Broadcasters that must see each other's events use the same channel.
        backlog_size: Events kept in the stream for replay (trimmed approximately, so a
            little more may be kept).
        max_pending: Events buffered while Redis cannot be reached.
        connect_timeout: Seconds allowed to connect to Redis.
        max_backoff: Longest wait, in seconds, between reconnection attempts.
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        channel: str = "fastware:sse",
        backlog_size: int = 1024,
        max_pending: int = 10_000,
        connect_timeout: float = 5.0,
        max_backoff: float = 5.0,
    ) -> None:
        if backlog_size < 1:
            raise ValueError(f"backlog_size must be 1 or more, got {backlog_size}")
        import redis.asyncio  # noqa: F401  (fail here, not in a task, if it is missing)

        self.url = url
        """The Redis URL."""
        self.channel = channel
        """The pub/sub channel."""
        self.stream_key = f"{channel}:backlog"
        """The Redis Stream holding the backlog."""
        self._published_key = f"{channel}:published"
        # Who numbers this process's events for the retry check of _PUBLISH_SCRIPT: unique
        # per broker and per process (renewed after a fork), with its own sequence.
        self._publisher_id = secrets.token_hex(8)
        self._sequence = 0
        self.backlog_size = backlog_size
        """Events kept for replay."""
        self.max_pending = max_pending
        """Events buffered during an outage."""
        self.connect_timeout = connect_timeout
        self.max_backoff = max_backoff
        self.dropped = 0
        """Events dropped because the outage buffer was full."""
        # (event, data, publisher id, sequence): the publisher that numbered each event.
        self._pending: deque[tuple[str, str, str, int]] = deque()
        self._deliver: Deliver | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._wakeup: asyncio.Event | None = None
        self._ready: asyncio.Event | None = None
        self._flushed: asyncio.Event | None = None
        self._last: tuple[int, int] | None = None
        self._closing = False
        renew_after_fork(self)

    def after_fork(self) -> None:
        """In a forked child: become a publisher of its own, and drop the parent's
        connection and tasks (they belong to the parent's event loop; a socket used by two
        processes mixes their replies). Events the parent buffered keep the parent's
        publisher id and numbers, so the children that inherited them store them once."""
        self._publisher_id = secrets.token_hex(8)
        self._sequence = 0
        self._client = None
        self._tasks = []
        self._loop = None
        self._deliver = None
        self._wakeup = self._ready = self._flushed = None
        self._last = None
        self._closing = False

    def __repr__(self) -> str:
        return f"RedisBroker({self.url!r}, channel={self.channel!r})"

    def start(self, deliver: Deliver) -> None:
        """Connect (in the background) and deliver events from every publisher."""
        from redis.asyncio import Redis

        loop = asyncio.get_running_loop()
        self._deliver = deliver
        if self._loop is loop and self._tasks:
            return
        self._loop = loop
        self._client = Redis.from_url(self.url, socket_connect_timeout=self.connect_timeout)
        self._wakeup = asyncio.Event()
        self._ready = asyncio.Event()
        self._flushed = asyncio.Event()
        self._last = None
        self._closing = False
        self._tasks = [
            loop.create_task(self._publisher(), name="fastware-sse redis publisher"),
            loop.create_task(self._subscriber(), name="fastware-sse redis subscriber"),
        ]
        if self._pending:
            self._wakeup.set()

    def publish(self, event: str, data: str) -> None:
        """Queue the event for the publisher task (it never waits for Redis)."""
        if len(self._pending) >= self.max_pending:
            self.dropped += 1
            if self.dropped & (self.dropped - 1) == 0:  # 1, 2, 4, 8, ... : not every time
                logger.warning(
                    "Redis is unreachable and %d events wait to be sent: %d event(s) dropped",
                    len(self._pending),
                    self.dropped,
                )
            return
        self._sequence += 1
        self._pending.append((event, data, self._publisher_id, self._sequence))
        wakeup = self._wakeup
        if wakeup is not None and self._running_here():
            wakeup.set()

    def _running_here(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    async def wait_ready(self) -> None:
        """Return once this process is subscribed to the channel."""
        if self._ready is not None:
            await self._ready.wait()

    async def _backoff(self, attempt: int) -> None:
        await asyncio.sleep(min(self.max_backoff, 0.05 * 2**attempt))

    async def _publisher(self) -> None:
        from redis.exceptions import ConnectionError, RedisError, TimeoutError

        assert self._wakeup is not None
        assert self._flushed is not None
        failures = 0
        while not self._closing:
            if not self._pending:
                self._flushed.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            self._flushed.clear()
            batch = [self._pending[i] for i in range(min(_BATCH, len(self._pending)))]
            try:
                pipe = self._client.pipeline(transaction=False)
                for event, data, publisher, sequence in batch:
                    pipe.eval(
                        _PUBLISH_SCRIPT,
                        3,
                        self.stream_key,
                        self.channel,
                        self._published_key,
                        self.backlog_size,
                        event,
                        data,
                        publisher,
                        sequence,
                    )
                await pipe.execute()
            except (ConnectionError, TimeoutError, OSError) as exc:
                failures += 1
                if failures == 1:
                    logger.warning("Cannot publish SSE events to Redis (%s); retrying", exc)
                await self._backoff(failures)
                continue
            except RedisError:
                logger.exception("Redis refused %d SSE event(s); they are dropped", len(batch))
            if failures:
                logger.warning("Publishing SSE events to Redis again")
                failures = 0
            for _ in batch:
                self._pending.popleft()

    async def _subscriber(self) -> None:
        from redis.exceptions import ConnectionError, TimeoutError

        assert self._ready is not None
        failures = 0
        while not self._closing:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                while True:  # the confirmation: from here on, no message is missed
                    message = await pubsub.get_message(timeout=self.connect_timeout)
                    if message is None:
                        raise TimeoutError("no confirmation of SUBSCRIBE from Redis")
                    if message.get("type") == "subscribe":
                        break
                if self._last is None:
                    newest = await self._client.xrevrange(self.stream_key, count=1)
                    self._last = _id_key(_text(newest[0][0])) if newest else (0, 0)
                else:  # back after an outage: what was published meanwhile
                    start = "({}-{}".format(*self._last)
                    for entry_id, fields in await self._client.xrange(self.stream_key, start):
                        self._receive(_text(entry_id), fields[b"e"], fields[b"d"])
                if failures:
                    logger.warning("Receiving SSE events from Redis again")
                    failures = 0
                self._ready.set()
                while not self._closing:
                    # A timeout, so that a cancellation redis-py swallowed cannot keep this
                    # task alive: it also checks the closing flag once a second.
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    entry_id, event, data = bytes(message["data"]).split(b"\n", 2)
                    self._receive(entry_id.decode("ascii"), event, data)
            except (ConnectionError, TimeoutError, OSError) as exc:
                self._ready.clear()
                failures += 1
                if failures == 1:
                    logger.warning("Lost the Redis subscription for SSE events (%s); retrying", exc)
                await self._backoff(failures)
            except Exception:  # a bug or a refused command: report it, keep the worker alive
                self._ready.clear()
                failures += 1
                logger.exception("The Redis subscriber for SSE events failed; restarting it")
                await self._backoff(failures)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(pubsub.aclose())

    def _receive(self, entry_id: str, event: bytes, data: bytes) -> None:
        key = _id_key(entry_id)
        if key is None or (self._last is not None and key <= self._last):
            return  # already delivered (read from the stream after a reconnect)
        self._last = key
        deliver = self._deliver
        if deliver is not None:
            deliver(Event(entry_id, event.decode("utf-8"), data.decode("utf-8")))

    async def replay(self, last_event_id: str) -> list[Event] | None:
        """The events after ``last_event_id`` from the stream; ``None`` when that id is not
        in it any more (or Redis cannot be reached)."""
        from redis.exceptions import RedisError

        if _id_key(last_event_id) is None:
            return None
        try:
            entries = await self._client.xrange(self.stream_key, last_event_id, "+")
        except (RedisError, OSError) as exc:
            logger.warning("Cannot read the SSE backlog from Redis (%s)", exc)
            return None
        if not entries or _text(entries[0][0]) != last_event_id:
            return None
        return [
            Event(_text(entry_id), _text(fields[b"e"]), _text(fields[b"d"]))
            for entry_id, fields in entries[1:]
        ]

    async def latest_id(self) -> str | None:
        """The id of the newest event in the stream."""
        from redis.exceptions import RedisError

        try:
            newest = await self._client.xrevrange(self.stream_key, count=1)
        except (RedisError, OSError) as exc:
            logger.warning("Cannot read the SSE backlog from Redis (%s)", exc)
            return None
        return _text(newest[0][0]) if newest else None

    async def close(self, flush_timeout: float = 1.0) -> None:
        """Send what is still buffered (for up to ``flush_timeout`` s), then disconnect."""
        tasks, self._tasks = self._tasks, []
        if not tasks:
            return
        if self._pending and self._flushed is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flushed.wait(), flush_timeout)
        self._closing = True
        if self._wakeup is not None:
            self._wakeup.set()
        pending = set(tasks)
        for _ in range(5):  # redis-py may swallow a cancellation: insist
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=1.0)
            if not pending:
                break
        else:
            logger.warning("The Redis broker's tasks did not stop")
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                logger.warning("The Redis broker's task failed: %r", task.exception())
        client, self._client = self._client, None
        self._deliver = None
        self._loop = None
        if client is not None:
            await client.aclose()
