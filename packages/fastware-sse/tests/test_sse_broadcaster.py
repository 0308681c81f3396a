from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from fastware_core import StreamResponse
from fastware_sse import (
    Broadcaster,
    BrokerError,
    Event,
    EventValidationError,
    MemoryBroker,
    UnknownEventError,
    sse_route,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Order(msgspec.Struct):
    id: int
    item: str


def parse(chunk: bytes) -> list[dict[str, str]]:
    """The events (and comments, as ``{"comment": ...}``) in a chunk of whole frames."""
    events = []
    for block in chunk.decode().split("\n\n"):
        if not block:
            continue
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(": ")
            key = name or "comment"
            fields[key] = fields[key] + "\n" + value if key in fields else value
        events.append(fields)
    return events


async def open_stream(
    broadcaster: Broadcaster, initial: list[tuple[str, Any]] | None = None
) -> tuple[AsyncIterator[bytes], bytes]:
    """A started stream (the client has joined) and its first chunk."""
    response = await broadcaster.stream(None, initial=initial or [("hello", "x")])
    assert isinstance(response, StreamResponse)
    generator = aiter(response.generator)
    first = await anext(generator)
    return generator, first  # type: ignore[return-value]


def test_register_event_is_idempotent_and_event_types_is_a_copy() -> None:
    broadcaster = Broadcaster()
    broadcaster.register_event("a")
    broadcaster.register_event("a")
    broadcaster.register_event("b")
    types = broadcaster.event_types
    assert types == frozenset({"a", "b"})
    assert isinstance(types, frozenset)


def test_strict_mode_names_the_event_and_lists_registered_ones_sorted() -> None:
    broadcaster = Broadcaster()
    broadcaster.register_event("zeta")
    broadcaster.register_event("alpha")
    with pytest.raises(UnknownEventError, match=r"'nope'.*alpha, zeta") as info:
        broadcaster.broadcast("nope", {})
    assert isinstance(info.value, ValueError)


def test_non_strict_mode_accepts_any_event() -> None:
    broadcaster = Broadcaster(strict=False)
    broadcaster.broadcast("anything", [1, 2, 3])


def test_a_bound_schema_validates_payloads() -> None:
    broadcaster = Broadcaster()
    broadcaster.register_event("order", Order)
    broadcaster.broadcast("order", Order(1, "tea"))
    broadcaster.broadcast("order", {"id": 2, "item": "cake"})
    with pytest.raises(EventValidationError, match="order") as info:
        broadcaster.broadcast("order", {"id": "three"})
    assert isinstance(info.value, ValueError)
    broadcaster.register_event("order")  # again without a schema: the schema stays
    with pytest.raises(EventValidationError):
        broadcaster.broadcast("order", {"id": "three"})


def test_constructor_checks() -> None:
    with pytest.raises(ValueError, match="buffer_size"):
        Broadcaster(0)
    with pytest.raises(ValueError, match="heartbeat_interval"):
        Broadcaster(heartbeat_interval=0)
    with pytest.raises(BrokerError, match="kafka"):
        Broadcaster(broker="kafka://x")
    with pytest.raises(BrokerError, match="not a Broker"):
        Broadcaster(broker=object())  # type: ignore[arg-type]


def test_the_memory_broker_is_flagged_as_process_local() -> None:
    assert Broadcaster().fastware_process_local == (
        "the in-memory SSE broker (fastware_sse.MemoryBroker)"
    )
    assert MemoryBroker().fastware_process_local
    assert Broadcaster(broker="redis://localhost:1/0").fastware_process_local is None


@pytest.mark.anyio
async def test_a_client_joins_only_when_its_stream_starts() -> None:
    broadcaster = Broadcaster()
    response = await broadcaster.stream(None)
    assert broadcaster.client_count == 0
    await response.generator.aclose()  # type: ignore[attr-defined]
    assert broadcaster.client_count == 0
    generator, _ = await open_stream(broadcaster)
    assert broadcaster.client_count == 1
    await generator.aclose()  # type: ignore[attr-defined]
    assert broadcaster.client_count == 0


@pytest.mark.anyio
async def test_broadcast_reaches_every_client_with_increasing_ids() -> None:
    broadcaster = Broadcaster()
    broadcaster.register_event("tick")
    streams = [await open_stream(broadcaster) for _ in range(3)]
    assert parse(streams[0][1]) == [{"event": "hello", "data": "x"}]
    for n in range(3):
        broadcaster.broadcast("tick", {"n": n})
    for generator, _ in streams:
        events = parse(await anext(generator))
        assert [e["data"] for e in events] == ['{"n":0}', '{"n":1}', '{"n":2}']
        numbers = [int(e["id"].rpartition("-")[2]) for e in events]
        assert numbers == sorted(numbers)
        assert len(set(numbers)) == 3
        await generator.aclose()  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_a_slow_client_is_disconnected_not_stranded() -> None:
    broadcaster = Broadcaster(buffer_size=4)
    broadcaster.register_event("tick")
    slow, _ = await open_stream(broadcaster)
    fast, _ = await open_stream(broadcaster)
    broadcaster.broadcast("tick", 0)
    assert parse(await anext(fast))[0]["data"] == "0"
    for n in range(1, 6):  # the slow client holds 0..3, and 4 overflows its buffer
        broadcaster.broadcast("tick", n)
        assert parse(await anext(fast))[0]["data"] == str(n)
    assert broadcaster.client_count == 1  # pruned at once
    with pytest.raises(StopAsyncIteration):
        await anext(slow)  # and its stream ends, so the browser reconnects
    await fast.aclose()  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_heartbeat_comment_after_silence() -> None:
    broadcaster = Broadcaster(heartbeat_interval=0.05)
    generator, _ = await open_stream(broadcaster)
    assert await anext(generator) == b": heartbeat\n\n"
    await generator.aclose()  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_initial_events_bypass_strict_mode_and_carry_no_id() -> None:
    broadcaster = Broadcaster(retry_interval=1.5)
    _, first = await open_stream(broadcaster, [("welcome", {"a": 1}), ("x", "multi\nline")])
    assert first == (
        b'retry: 1500\n\nevent: welcome\ndata: {"a":1}\n\nevent: x\ndata: multi\ndata: line\n\n'
    )


@pytest.mark.anyio
async def test_broadcast_from_threads_is_safe_and_keeps_each_threads_order() -> None:
    broadcaster = Broadcaster(buffer_size=10_000, strict=False)
    generator, _ = await open_stream(broadcaster)
    per_thread = 200

    def publish(name: str) -> None:
        for n in range(per_thread):
            broadcaster.broadcast(name, n)

    threads = [threading.Thread(target=publish, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()

    def join_all() -> None:
        for thread in threads:
            thread.join()

    await asyncio.to_thread(join_all)
    received: list[dict[str, str]] = []
    while len(received) < 4 * per_thread:
        received += parse(await anext(generator))
    for i in range(4):
        assert [int(e["data"]) for e in received if e["event"] == f"t{i}"] == list(
            range(per_thread)
        )
    assert len({e["id"] for e in received}) == 4 * per_thread
    await generator.aclose()  # type: ignore[attr-defined]


def test_broadcast_without_any_loop_keeps_the_event_for_replay() -> None:
    broadcaster = Broadcaster(strict=False)
    broadcaster.broadcast("early", 1)
    broker = broadcaster.broker
    assert isinstance(broker, MemoryBroker)
    assert asyncio.run(broker.latest_id()) is not None


@pytest.mark.anyio
async def test_resume_replays_exactly_the_missed_events() -> None:
    broadcaster = Broadcaster(strict=False)
    generator, _ = await open_stream(broadcaster)
    for n in range(5):
        broadcaster.broadcast("tick", n)
    events = parse(await anext(generator))
    await generator.aclose()  # type: ignore[attr-defined]
    last_seen = events[1]["id"]

    class FakeRequest:
        app = None
        http_version = "1.1"

        def header(self, name: str) -> str | None:
            return last_seen if name == "last-event-id" else None

    response = await broadcaster.stream(FakeRequest(), initial=[("hello", "again")])  # type: ignore[arg-type]
    resumed = aiter(response.generator)
    replayed = parse(await anext(resumed))  # type: ignore[arg-type]
    assert [e.get("data") for e in replayed] == ["again", "2", "3", "4"]
    assert [e.get("id") for e in replayed[1:]] == [e["id"] for e in events[2:]]
    broadcaster.broadcast("tick", 5)
    assert parse(await anext(resumed))[0]["data"] == "5"  # type: ignore[arg-type]
    await resumed.aclose()  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_memory_broker_replay_rules() -> None:
    broker = MemoryBroker(backlog_size=3)
    delivered: list[Event] = []
    broker.start(delivered.append)
    for n in range(5):
        broker.publish("e", str(n))
    ids = [event.id for event in delivered]
    assert await broker.latest_id() == ids[-1]
    assert await broker.replay(ids[-1]) == []
    assert [e.data for e in await broker.replay(ids[1]) or []] == ["2", "3", "4"]
    assert await broker.replay(ids[0]) is None  # 1 is no longer kept: resync
    assert await broker.replay("someone-else-1") is None
    prefix = ids[0].rpartition("-")[0]
    assert await broker.replay(f"{prefix}-99") is None  # from the future
    assert await broker.replay(f"{prefix}-x") is None
    other = MemoryBroker()
    assert await other.replay(ids[-1]) is None  # another process's id


@pytest.mark.anyio
async def test_sse_route_returns_the_stream() -> None:
    handler = sse_route(Broadcaster())

    class FakeRequest:
        app = None
        http_version = "2"

        def header(self, name: str) -> str | None:
            return None

    response = await handler(FakeRequest())  # type: ignore[arg-type]
    assert response.content_type == "text/event-stream"
    assert response.headers == {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    await response.generator.aclose()  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_aclose_ends_every_stream_after_the_shutdown_event() -> None:
    broadcaster = Broadcaster(shutdown_event=("bye", "see you"))
    generator, _ = await open_stream(broadcaster)
    await broadcaster.aclose()
    assert await anext(generator) == b"event: bye\ndata: see you\n\n"
    with pytest.raises(StopAsyncIteration):
        await anext(generator)
    assert broadcaster.client_count == 0
    broadcaster.register_event("tick")
    again, _ = await open_stream(broadcaster)  # usable again: the broker reopens
    broadcaster.broadcast("tick", 1)
    assert parse(await anext(again))[0]["data"] == "1"
    await again.aclose()  # type: ignore[attr-defined]
