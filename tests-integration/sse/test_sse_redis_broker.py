"""RedisBroker against a real redis-server: two broadcasters stand for two workers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from fastware_core import StreamResponse
from fastware_sse import Broadcaster, RedisBroker

from .conftest import RedisServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Client:
    """A started stream of a broadcaster, read directly (no HTTP)."""

    def __init__(self, generator: AsyncIterator[bytes]) -> None:
        self.generator = generator
        self.buffer = ""

    @classmethod
    async def open(cls, broadcaster: Broadcaster, last_event_id: str | None = None) -> Client:
        class FakeRequest:
            app = None
            http_version = "1.1"

            def header(self, name: str) -> str | None:
                return last_event_id if name == "last-event-id" else None

        response = await broadcaster.stream(FakeRequest(), initial=[("hello", 1)])  # type: ignore[arg-type]
        assert isinstance(response, StreamResponse)
        client = cls(aiter(response.generator))  # type: ignore[arg-type]
        await client.events(1)  # hello: joined, and the broker is subscribed
        return client

    async def events(self, count: int, wait: float = 10.0) -> list[dict[str, str]]:
        found: list[dict[str, str]] = []
        async with asyncio.timeout(wait):
            while True:
                while "\n\n" in self.buffer and len(found) < count:
                    block, self.buffer = self.buffer.split("\n\n", 1)
                    fields = dict(line.split(": ", 1) for line in block.split("\n"))
                    if "comment" not in fields and not block.startswith(":"):
                        found.append(fields)
                if len(found) == count:
                    return found
                self.buffer += (await anext(self.generator)).decode()

    async def close(self) -> None:
        await self.generator.aclose()  # type: ignore[attr-defined]


def pair(url: str, channel: str, **options: Any) -> tuple[Broadcaster, Broadcaster]:
    return (
        Broadcaster(strict=False, broker=RedisBroker(url, channel=channel, **options)),
        Broadcaster(strict=False, broker=RedisBroker(url, channel=channel, **options)),
    )


@pytest.mark.anyio
async def test_every_client_of_every_worker_gets_every_event_once_in_order(
    redis_server: RedisServer, channel: str
) -> None:
    first, second = pair(redis_server.url, channel)
    clients = [await Client.open(first) for _ in range(2)]
    clients += [await Client.open(second) for _ in range(2)]
    for n in range(20):
        (first if n % 2 else second).broadcast("tick", {"n": n})
    received = [await client.events(20) for client in clients]
    for events in received:
        assert events == received[0]  # the same events, in the same order, everywhere
        by_publisher = [[e for e in events if int(e["data"][5:-1]) % 2 == k] for k in (0, 1)]
        for published in by_publisher:
            numbers = [int(e["data"][5:-1]) for e in published]
            assert numbers == sorted(numbers)  # in order per publisher
        assert sorted(int(e["data"][5:-1]) for e in events) == list(range(20))  # once each
        ids = [tuple(map(int, e["id"].split("-"))) for e in events]
        assert ids == sorted(ids)
    for client in clients:
        await client.close()
    await first.aclose()
    await second.aclose()


@pytest.mark.anyio
async def test_resume_on_another_worker_gets_exactly_the_missed_events(
    redis_server: RedisServer, channel: str
) -> None:
    first, second = pair(redis_server.url, channel)
    client = await Client.open(first)
    for n in range(3):
        first.broadcast("tick", n)
    seen = await client.events(3)
    await client.close()
    for n in range(3, 6):
        second.broadcast("tick", n)
    watcher = await Client.open(first)
    await watcher.events(3)  # they have gone through Redis
    resumed = await Client.open(second, last_event_id=seen[1]["id"])
    # hello first, then the replay: 2, 3, 4, 5
    assert [e["data"] for e in await resumed.events(4)] == ["2", "3", "4", "5"]
    first.broadcast("tick", 6)
    assert [e["data"] for e in await resumed.events(1)] == ["6"]
    for c in (watcher, resumed):
        await c.close()
    unknown = await Client.open(second, last_event_id="1-0")
    [resync] = await unknown.events(1)
    assert resync["event"] == "resync"
    assert resync["id"] == await second.broker.latest_id()
    await unknown.close()
    garbage = await Client.open(second, last_event_id="not-an-id")
    assert (await garbage.events(1))[0]["event"] == "resync"
    await garbage.close()
    await first.aclose()
    await second.aclose()


@pytest.mark.anyio
async def test_the_backlog_is_bounded(redis_server: RedisServer, channel: str) -> None:
    broadcaster = Broadcaster(
        strict=False, broker=RedisBroker(redis_server.url, channel=channel, backlog_size=10)
    )
    client = await Client.open(broadcaster)
    for n in range(500):
        broadcaster.broadcast("tick", n)
    events = await client.events(500)
    broker = broadcaster.broker
    assert isinstance(broker, RedisBroker)
    length = await broker._client.xlen(broker.stream_key)
    assert length < 250  # trimmed (approximately, by whole stream nodes)
    assert await broker.replay(events[0]["id"]) is None  # gone: the client would resync
    replayed = await broker.replay(events[-5]["id"])
    assert [e.data for e in replayed or []] == ["496", "497", "498", "499"]
    await client.close()
    await broadcaster.aclose()


@pytest.mark.anyio
async def test_broadcast_from_threads_goes_through_redis(
    redis_server: RedisServer, channel: str
) -> None:
    first, second = pair(redis_server.url, channel)
    listener = await Client.open(second)
    await Client.open(first)  # binds the first broadcaster to this loop

    def publish() -> None:
        for n in range(50):
            first.broadcast("tick", n)

    thread = threading.Thread(target=publish)
    thread.start()
    await asyncio.to_thread(thread.join)
    assert [int(e["data"]) for e in await listener.events(50)] == list(range(50))
    await listener.close()
    await first.aclose()
    await second.aclose()


@pytest.mark.anyio
async def test_a_redis_outage_is_survived(tmp_path: Path, channel: str) -> None:
    server = RedisServer(tmp_path)
    server.start()
    try:
        first, second = pair(server.url, channel, max_backoff=0.2)
        client = await Client.open(second)
        first_client = await Client.open(first)
        first.broadcast("tick", "before")
        assert (await client.events(1))[0]["data"] == "before"
        server.stop()
        await asyncio.sleep(0.3)
        first.broadcast("tick", "during")  # no crash; buffered until Redis is back
        await asyncio.sleep(0.3)
        server.start()
        [event] = await client.events(1, wait=15)
        assert event["data"] == "during"
        first.broadcast("tick", "after")
        assert (await client.events(1, wait=15))[0]["data"] == "after"
        assert [e["data"] for e in await first_client.events(3, wait=15)] == [
            "before",
            "during",
            "after",
        ]
        await client.close()
        await first_client.close()
        await first.aclose()
        await second.aclose()
    finally:
        server.stop()


@pytest.mark.anyio
async def test_the_outage_buffer_is_bounded(tmp_path: Path, channel: str) -> None:
    broker = RedisBroker(f"redis://127.0.0.1:{1}/0", channel=channel, max_pending=3)
    broadcaster = Broadcaster(strict=False, broker=broker, ready_timeout=0.1)
    for n in range(5):
        broadcaster.broadcast("tick", n)  # nothing listens on port 1: nothing crashes
    await asyncio.sleep(0.1)
    assert broker.dropped == 2
    await broadcaster.aclose()


@pytest.mark.anyio
async def test_a_publish_batch_retried_after_a_dropped_connection_is_stored_once(
    redis_server: RedisServer, channel: str
) -> None:
    import redis.asyncio as redis_asyncio

    from fastware_sse.redis_broker import _PUBLISH_SCRIPT

    broker = RedisBroker(redis_server.url, channel=channel)
    broadcaster = Broadcaster(strict=False, broker=broker)
    client = await Client.open(broadcaster)
    broadcaster.broadcast("tick", 1)
    assert [e["data"] for e in await client.events(1)] == ["1"]
    # What the publisher sends again when the connection drops before Redis's replies
    # arrive: the same publisher and sequence number. Redis must not store it twice.
    direct = redis_asyncio.from_url(redis_server.url)
    try:
        again = await direct.eval(
            _PUBLISH_SCRIPT,
            3,
            broker.stream_key,
            broker.channel,
            broker._published_key,
            broker.backlog_size,
            "tick",
            "1",
            broker._publisher_id,
            1,
        )
        assert again is None
        assert await direct.xlen(broker.stream_key) == 1
    finally:
        await direct.aclose()
    broadcaster.broadcast("tick", 2)
    assert [e["data"] for e in await client.events(1)] == ["2"]  # the next one still goes
    await client.close()
    await broadcaster.aclose()
