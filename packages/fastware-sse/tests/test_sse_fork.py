"""A broadcaster and broker made before ``os.fork()`` (``fastware serve`` imports the app
once and forks its workers) give each child an identity of its own."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import pytest

from fastware_sse import Broadcaster, MemoryBroker, RedisBroker

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def in_child(report: Any) -> Any:
    """Run ``report()`` in a forked child; its JSON-encodable result."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running pytest's cleanup
        code = 0
        try:
            os.close(read)
            with os.fdopen(write, "w") as out:
                json.dump(report(), out)
        except BaseException as exc:
            print(f"child failed: {exc!r}", file=sys.stderr)
            code = 1
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as source:
        text = source.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, text
    return json.loads(text)


def test_forked_redis_brokers_are_distinct_publishers() -> None:
    broker = RedisBroker("redis://127.0.0.1:1/0", channel="fork-test")
    broker.publish("before", "0")  # buffered: nothing listens on port 1

    def report() -> dict[str, Any]:
        broker.publish("after", "1")
        return {"id": broker._publisher_id, "pending": [list(p) for p in broker._pending]}

    first, second = in_child(report), in_child(report)
    parent = broker._publisher_id
    assert len({parent, first["id"], second["id"]}) == 3
    for child in (first, second):
        before, after = child["pending"]
        # The parent's buffered event keeps the parent's number, so that the children
        # that inherited it store it once; the child numbers its own from 1.
        assert before == ["before", "0", parent, 1]
        assert after == ["after", "1", child["id"], 1]


def test_forked_memory_brokers_do_not_accept_each_others_ids() -> None:
    broker = MemoryBroker()
    broker.publish("tick", "0")
    parent_id = asyncio.run(broker.latest_id())

    def report() -> dict[str, Any]:
        broker.publish("tick", "1")
        own = asyncio.run(broker.latest_id())
        return {
            "own": own,
            "replay_own": asyncio.run(broker.replay(own or "")),
            "replay_parent": asyncio.run(broker.replay(parent_id or "")),
        }

    first, second = in_child(report), in_child(report)
    assert first["own"] != second["own"]  # the same number, not the same id
    assert first["own"].rpartition("-")[2] == second["own"].rpartition("-")[2] == "2"
    assert first["replay_own"] == []
    assert first["replay_parent"] is None  # unknown here: the client gets a resync
    assert asyncio.run(broker.replay(first["own"])) is None  # and in the parent too


def test_a_forked_broadcaster_serves_none_of_its_parents_clients() -> None:
    broadcaster = Broadcaster(strict=False, retry_interval=1.0)  # the stream opens at once

    async def parent_client() -> int:
        response = await broadcaster.stream(None)
        generator = aiter(response.generator)
        assert await anext(generator) == b"retry: 1000\n\n"
        return broadcaster.client_count

    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(parent_client()) == 1

        def report() -> dict[str, Any]:
            count = broadcaster.client_count
            broadcaster.broadcast("tick", 1)  # no loop of the parent's is used
            return {"count": count, "latest": asyncio.run(broadcaster.broker.latest_id())}

        child = in_child(report)
    finally:
        loop.close()
    assert child["count"] == 0
    assert child["latest"] is not None
