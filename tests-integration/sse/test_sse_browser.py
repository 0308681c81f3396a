"""A real browser: headless Chromium's EventSource receives events, survives a restart of
the server and resumes from its Last-Event-ID without losing or repeating an event.

Chromium is driven over the DevTools protocol. Chromium (Debian ``chromium``) and
``redis-server`` are installed by ``.ci/run``; a missing one fails the test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browser.cdp import Chromium, Page

from fastware_sse import Broadcaster, RedisBroker

from .conftest import RedisServer, StartGranian


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    with Chromium(tmp_path / "chromium") as browser:
        yield browser.new_page()


def _wait_for_clients(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while httpx.get(url + "/", timeout=5).json()["clients"] < 1:
        if time.monotonic() > deadline:
            pytest.fail("the browser's EventSource never connected")
        time.sleep(0.1)


def _publish(url: str, first: int, count: int) -> None:
    for n in range(first, first + count):
        response = httpx.post(url + "/publish", json={"event": "tick", "data": n}, timeout=10)
        assert response.status_code == 200


async def _publish_elsewhere(redis_url: str, channel: str, first: int, count: int) -> None:
    """Broadcast as another host would, while our server is down."""
    broadcaster = Broadcaster(strict=False, broker=RedisBroker(redis_url, channel=channel))
    for n in range(first, first + count):
        broadcaster.broadcast("tick", n)
    await broadcaster.aclose()  # sends what is buffered first


def test_eventsource_resumes_across_a_server_restart_without_loss_or_repeat(
    page: Page, start_granian: StartGranian, redis_server: RedisServer, channel: str
) -> None:
    env = {"SSE_BROKER": redis_server.url, "SSE_CHANNEL": channel, "SSE_RETRY": "0.3"}
    server = start_granian("sse_app:app", 1, env)
    page.navigate(server.url + "/page")
    page.wait_for("window.opens >= 1 && window.received !== undefined")
    _wait_for_clients(server.url)
    _publish(server.url, 0, 5)
    page.wait_for("window.received.length >= 5")

    assert server.stop() == 0  # the stream ends (bye); the browser retries meanwhile
    asyncio.run(_publish_elsewhere(redis_server.url, channel, 5, 5))  # missed while down
    restarted = start_granian("sse_app:app", 1, env, port=server.port)
    page.wait_for("window.received.length >= 10", timeout=30)
    _publish(restarted.url, 10, 5)
    page.wait_for("window.received.length >= 15")
    time.sleep(0.5)  # anything repeated would arrive now

    received = page.evaluate("window.received")
    assert [int(item["data"]) for item in received] == list(range(15))
    ids = [tuple(map(int, item["id"].split("-"))) for item in received]
    assert ids == sorted(set(ids))
    assert page.evaluate("window.opens") >= 2  # it really reconnected
    assert not page.evaluate("window.resyncs")
