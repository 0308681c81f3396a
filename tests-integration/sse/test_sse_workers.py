"""Granian with two workers sharing events through a real Redis.

Each test runs under ``python -m granian`` (every worker imports the app) and under
``fastware serve`` (the app is imported once and the workers are forked from it, so the
module-level broadcaster and its broker exist before the fork).
"""

from __future__ import annotations

import time
import types

import httpx
import pytest
from support.granian import GranianProcess

from fastware_server.targets import process_local_backends
from fastware_sse import Broadcaster

from .conftest import RedisServer, SSEReader, StartGranian


def open_on_both_workers(
    server: GranianProcess, readers: list[SSEReader], at_least: int = 4
) -> dict[int, list[SSEReader]]:
    """Open at least ``at_least`` streams, until each worker serves at least two; readers
    by worker PID."""
    by_pid: dict[int, list[SSEReader]] = {}
    for _ in range(60):
        reader = SSEReader(server.url + "/events")
        readers.append(reader)
        hello = reader.next()
        assert hello["event"] == "hello"
        by_pid.setdefault(int(hello["data"][7:-1]), []).append(reader)
        spread = len(by_pid) == 2 and all(len(group) >= 2 for group in by_pid.values())
        if spread and len(readers) >= at_least:
            return by_pid
    pytest.fail(f"the streams did not spread over two workers: {sorted(by_pid)}\n{server.logs()}")


def publish_from_both(server: GranianProcess, count: int, start: int = 0) -> set[int]:
    """POST /publish ``count`` times (alternating async and sync handlers), on new
    connections so that both workers publish; the PIDs that did."""
    pids = set()
    for n in range(start, start + count):
        path = "/publish" if n % 2 else "/publish-sync"
        response = httpx.post(server.url + path, json={"event": "tick", "data": n}, timeout=10)
        assert response.status_code == 200
        pids.add(response.json()["pid"])
    return pids


def test_every_client_on_both_workers_gets_every_event(
    start_workers: StartGranian,
    redis_server: RedisServer,
    channel: str,
    readers: list[SSEReader],
) -> None:
    env = {"SSE_BROKER": redis_server.url, "SSE_CHANNEL": channel}
    server = start_workers("sse_app:app", 2, env)
    by_pid = open_on_both_workers(server, readers, at_least=8)
    assert readers[0].status == 200
    assert readers[0].response_headers["content-type"] == "text/event-stream"
    assert readers[0].response_headers["x-accel-buffering"] == "no"
    publishers = publish_from_both(server, 50)
    sent = 50
    while len(publishers) < 2 and sent < 200:  # until both workers have published
        publishers |= publish_from_both(server, 10, sent)
        sent += 10
    assert publishers == set(by_pid), server.logs()
    first = None
    for reader in readers:
        events = reader.take_up_to(sent, timeout=5)
        received = sorted(int(e["data"]) for e in events)
        missing = sorted(set(range(sent)) - set(received))
        assert not missing, f"{len(received)} of {sent} events; missing {missing}"
        assert received == list(range(sent))  # all, once
        if first is None:
            first = events
        assert events == first  # the same order for every client of every worker
        ids = [tuple(map(int, e["id"].split("-"))) for e in events]
        assert ids == sorted(ids)


def test_reconnecting_with_last_event_id_gets_exactly_the_missed_events(
    start_workers: StartGranian,
    redis_server: RedisServer,
    channel: str,
    readers: list[SSEReader],
) -> None:
    env = {"SSE_BROKER": redis_server.url, "SSE_CHANNEL": channel}
    server = start_workers("sse_app:app", 2, env)
    by_pid = open_on_both_workers(server, readers)
    publish_from_both(server, 10)
    leaving = readers[0]
    seen = leaving.take(10)
    leaving.close()
    watcher = readers[1]
    watcher.take(10)
    publish_from_both(server, 10, 10)
    assert [int(e["data"]) for e in watcher.take(10)] == list(range(10, 20))
    # Reconnect several times, so that both workers serve a resume.
    resumed_on: set[int] = set()
    for attempt in range(40):
        reader = SSEReader(server.url + "/events", last_event_id=seen[4]["id"])
        readers.append(reader)
        hello = reader.next()
        resumed_on.add(int(hello["data"][7:-1]))
        expected = [*range(5, 20), *range(100, 100 + attempt)]  # with earlier attempts'
        missed = reader.take(len(expected))
        assert [int(e["data"]) for e in missed] == expected
        publish_from_both(server, 1, 100 + attempt)
        assert int(reader.next()["data"]) == 100 + attempt  # then live, nothing repeated
        reader.close()
        if resumed_on == set(by_pid):
            break
    assert resumed_on == set(by_pid)


def test_streams_end_on_shutdown_and_the_server_exits_in_time(
    start_workers: StartGranian,
    redis_server: RedisServer,
    channel: str,
    readers: list[SSEReader],
) -> None:
    env = {"SSE_BROKER": redis_server.url, "SSE_CHANNEL": channel}
    server = start_workers("sse_app:app", 2, env)
    open_on_both_workers(server, readers)
    began = time.monotonic()
    code = server.stop(timeout=15)
    elapsed = time.monotonic() - began
    for reader in readers:
        assert reader.next()["event"] == "bye"
        assert reader.ended(5)
    assert elapsed < 10, server.logs()
    assert code == 0, server.logs()


def test_fastware_server_finds_the_in_memory_broker_but_not_redis() -> None:
    module = types.ModuleType("fake_app")
    module.events = Broadcaster()  # type: ignore[attr-defined]
    module.shared = Broadcaster(broker="redis://127.0.0.1:1/0")  # type: ignore[attr-defined]
    assert process_local_backends(object(), module) == [
        "the in-memory SSE broker (fastware_sse.MemoryBroker)"
    ]
