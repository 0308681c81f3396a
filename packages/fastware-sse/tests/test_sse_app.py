"""Broadcaster streams served by a real fastware app, through the in-process test client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from fastware_core import App, AsyncTestClient, Request, Router, TestClient, create_app
from fastware_core.middleware import GZipMiddleware
from fastware_core.testing import TestStreamResponse
from fastware_sse import Broadcaster, sse_route


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_app(broadcaster: Broadcaster, **config: Any) -> App:
    router = Router()
    router.add_route("GET", "/events", sse_route(broadcaster))

    @router.get("/hello")
    async def hello(request: Request) -> Any:
        return await broadcaster.stream(request, initial=[("hello", {"ok": True})])

    @router.post("/publish")
    def publish(request: Request) -> dict[str, int]:  # a sync handler: runs in a thread
        broadcaster.broadcast("tick", request.json)
        return {"clients": broadcaster.client_count}

    config.setdefault("shutdown_signals", False)
    return create_app(router, **config)


async def read_events(response: TestStreamResponse, count: int) -> list[dict[str, str]]:
    """Read ``count`` events (comments are skipped) off a streamed response."""
    events: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    lines = response.aiter_lines()
    while len(events) < count:
        line = await asyncio.wait_for(anext(lines), 5)
        if not line:
            if fields:
                events.append(fields)
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = fields[name] + "\n" + value if name in fields else value
    return events


@pytest.mark.anyio
async def test_stream_headers_over_http_1_1() -> None:
    broadcaster = Broadcaster()
    async with (
        AsyncTestClient(make_app(broadcaster)) as client,
        client.stream("GET", "/hello") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        assert response.headers["connection"] == "keep-alive"
        assert await read_events(response, 1) == [{"event": "hello", "data": '{"ok":true}'}]


@pytest.mark.anyio
async def test_stream_headers_over_http_2_have_no_connection_header() -> None:
    broadcaster = Broadcaster()
    async with (
        AsyncTestClient(make_app(broadcaster), http_version="2") as client,
        client.stream("GET", "/hello") as response,
    ):
        assert response.status_code == 200
        assert response.headers["x-accel-buffering"] == "no"
        assert "connection" not in response.headers  # connection-specific: illegal in h2
        assert await read_events(response, 1) == [{"event": "hello", "data": '{"ok":true}'}]


@pytest.mark.anyio
async def test_broadcast_from_a_sync_handler_reaches_the_stream() -> None:
    broadcaster = Broadcaster()
    broadcaster.register_event("tick")
    async with (
        AsyncTestClient(make_app(broadcaster)) as client,
        client.stream("GET", "/hello") as response,
    ):
        await read_events(response, 1)
        answer = await client.post("/publish", json={"n": 1})
        assert answer.json() == {"clients": 1}
        [event] = await read_events(response, 1)
        assert event["event"] == "tick"
        assert event["data"] == '{"n":1}'
        assert event["id"]


@pytest.mark.anyio
async def test_reconnecting_with_last_event_id_resumes_and_unknown_ids_resync() -> None:
    broadcaster = Broadcaster(strict=False)
    async with AsyncTestClient(make_app(broadcaster)) as client:
        async with client.stream("GET", "/hello") as response:
            await read_events(response, 1)
            for n in range(4):
                broadcaster.broadcast("tick", n)
            events = await read_events(response, 4)
        for n in range(4, 6):
            broadcaster.broadcast("tick", n)  # missed while disconnected
        headers = {"Last-Event-ID": events[1]["id"]}
        async with client.stream("GET", "/events", headers=headers) as response:
            replayed = await read_events(response, 4)
            assert [e["data"] for e in replayed] == ["2", "3", "4", "5"]
            broadcaster.broadcast("tick", 6)
            assert (await read_events(response, 1))[0]["data"] == "6"
        headers = {"Last-Event-ID": "from-an-earlier-process-7"}
        async with client.stream("GET", "/events", headers=headers) as response:
            [resync] = await read_events(response, 1)
            assert resync["event"] == "resync"
            assert resync["data"] == '{"last_event_id":"from-an-earlier-process-7"}'
            assert resync["id"] == await broadcaster.broker.latest_id()
            broadcaster.broadcast("tick", 7)
            assert (await read_events(response, 1))[0]["data"] == "7"


@pytest.mark.anyio
async def test_shutdown_ends_streams_after_a_last_event() -> None:
    broadcaster = Broadcaster(shutdown_event=("bye", {"reconnect": True}))
    app = make_app(broadcaster, stream_shutdown_grace=5.0)
    async with AsyncTestClient(app) as client, client.stream("GET", "/hello") as response:
        await read_events(response, 1)
        assert broadcaster.client_count == 1
        app.begin_shutdown()
        events = await read_events(response, 1)
        assert events == [{"event": "bye", "data": '{"reconnect":true}'}]
        rest = [chunk async for chunk in response.aiter_bytes()]
        assert rest == []  # the stream ended by itself, well within the grace period
        assert broadcaster.client_count == 0


@pytest.mark.anyio
async def test_a_stream_opened_during_shutdown_ends_at_once() -> None:
    broadcaster = Broadcaster()
    app = make_app(broadcaster)
    async with AsyncTestClient(app) as client:
        app.begin_shutdown()
        async with client.stream("GET", "/hello") as response:
            assert await read_events(response, 1) == [{"event": "hello", "data": '{"ok":true}'}]
            assert [chunk async for chunk in response.aiter_bytes()] == []


@pytest.mark.anyio
async def test_disconnect_removes_the_client() -> None:
    broadcaster = Broadcaster()
    async with AsyncTestClient(make_app(broadcaster)) as client:
        async with client.stream("GET", "/hello") as response:
            await read_events(response, 1)
            assert broadcaster.client_count == 1
        assert broadcaster.client_count == 0


@pytest.mark.anyio
async def test_head_does_not_join_or_start_the_stream() -> None:
    broadcaster = Broadcaster()
    async with AsyncTestClient(make_app(broadcaster)) as client:
        response = await client.head("/events")
        assert response.status_code == 200
        assert response.content == b""
        assert broadcaster.client_count == 0


@pytest.mark.anyio
async def test_gzip_middleware_passes_the_event_stream_through() -> None:
    broadcaster = Broadcaster(strict=False)
    app = make_app(broadcaster, middleware=[lambda app: GZipMiddleware(app, minimum_size=1)])
    headers = {"Accept-Encoding": "gzip"}
    async with (
        AsyncTestClient(app) as client,
        client.stream("GET", "/hello", headers=headers) as response,
    ):
        assert "content-encoding" not in response.headers
        await read_events(response, 1)
        broadcaster.broadcast("tick", "x" * 2000)
        [event] = await read_events(response, 1)  # arrives at once: not buffered
        assert event["data"] == "x" * 2000


def test_sync_test_client_and_broadcast_from_the_test_thread() -> None:
    broadcaster = Broadcaster(strict=False)
    with TestClient(make_app(broadcaster)) as client, client.stream("GET", "/hello") as response:
        lines = response.iter_lines()
        assert next(lines) == "event: hello"
        broadcaster.broadcast("from-thread", [1, 2])  # no running loop here: threadsafe path
        seen = []
        for line in lines:
            seen.append(line)
            if line.startswith("data: [1,2]"):
                break
        assert "event: from-thread" in seen


@pytest.mark.anyio
async def test_a_broadcaster_moves_to_a_new_event_loop() -> None:
    broadcaster = Broadcaster(strict=False)
    await asyncio.to_thread(asyncio.run, _stream_once(broadcaster))  # another loop, now closed
    async with (
        AsyncTestClient(make_app(broadcaster)) as client,
        client.stream("GET", "/hello") as response,
    ):
        await read_events(response, 1)
        broadcaster.broadcast("tick", 1)
        assert (await read_events(response, 1))[0]["data"] == "1"


async def _stream_once(broadcaster: Broadcaster) -> None:
    response = await broadcaster.stream(None, initial=[("a", 1)])
    generator: AsyncIterator[bytes] = response.generator  # type: ignore[assignment]
    await anext(generator)
    broadcaster.broadcast("tick", 0)
    await anext(generator)
    await generator.aclose()  # type: ignore[attr-defined]
