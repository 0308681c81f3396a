"""Generator dependencies of a streamed response stay open until the stream ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

import pytest

from fastware_core import (
    AsyncTestClient,
    Request,
    Router,
    StreamResponse,
    TestClient,
    create_app,
)
from fastware_core.app import App
from fastware_di import DependencyResolver, Depends, dependency

EVENTS: list[str] = []


@pytest.fixture(autouse=True)
def _clear_events() -> Iterator[None]:
    EVENTS.clear()
    yield
    EVENTS.clear()


class Session:
    def __init__(self) -> None:
        self.open = True

    def read(self, n: int) -> str:
        if not self.open:
            raise RuntimeError("session is closed")
        return f"row {n}\n"


async def get_session() -> AsyncIterator[Session]:
    session = Session()
    EVENTS.append("open session")
    try:
        yield session
    except Exception as exc:
        EVENTS.append(f"session saw {type(exc).__name__}: {exc}")
        raise
    finally:
        session.open = False
        EVENTS.append("close session")


@dependency(scope="app")
async def get_pool() -> AsyncIterator[str]:
    EVENTS.append("up pool")
    yield "pool"
    EVENTS.append("down pool")


async def get_pooled_session(pool: Annotated[str, Depends(get_pool)]) -> AsyncIterator[str]:
    EVENTS.append("open pooled session")
    try:
        yield f"session on {pool}"
    finally:
        EVENTS.append("close pooled session")


def get_sync_session() -> Iterator[str]:
    EVENTS.append("open sync")
    try:
        yield "sync"
    finally:
        EVENTS.append("close sync")


def make_app(router: Router) -> App:
    return create_app(router, injector=DependencyResolver())


def stream_router() -> Router:
    router = Router()

    @router.get("/rows")
    async def rows(
        request: Request,
        session: Annotated[Session, Depends(get_session)],
        sync: Annotated[str, Depends(get_sync_session)],
    ) -> StreamResponse:
        EVENTS.append("handler")

        async def body() -> AsyncIterator[str]:
            for n in range(3):
                EVENTS.append(f"chunk {n}")
                yield session.read(n)  # raises once the session is closed

        return StreamResponse(body(), "text/plain")

    @router.get("/broken")
    async def broken(
        request: Request, session: Annotated[Session, Depends(get_session)]
    ) -> StreamResponse:
        async def body() -> AsyncIterator[str]:
            yield session.read(0)
            EVENTS.append("failing")
            raise ValueError("stream failed")

        return StreamResponse(body(), "text/plain")

    @router.get("/endless")
    async def endless(
        request: Request, session: Annotated[Session, Depends(get_session)]
    ) -> StreamResponse:
        async def body() -> AsyncIterator[str]:
            n = 0
            while True:
                yield session.read(n)
                n += 1
                await asyncio.sleep(0.01)  # a live feed: give the loop (and client) a turn

        return StreamResponse(body(), "text/plain")

    return router


def test_generator_deps_stay_open_until_the_last_chunk() -> None:
    with TestClient(make_app(stream_router())) as client:
        response = client.get("/rows")
    assert response.status_code == 200
    assert response.text == "row 0\nrow 1\nrow 2\n"  # the session was open while streaming
    assert EVENTS == [
        "open session",
        "open sync",
        "handler",
        "chunk 0",
        "chunk 1",
        "chunk 2",
        "close sync",
        "close session",
    ]


def test_head_never_starts_the_stream_but_cleans_up_the_deps() -> None:
    with TestClient(make_app(stream_router())) as client:
        response = client.head("/rows")
    assert response.status_code == 200
    assert response.content == b""
    assert EVENTS == ["open session", "open sync", "handler", "close sync", "close session"]


def test_error_in_the_stream_is_thrown_into_the_deps() -> None:
    with TestClient(make_app(stream_router())) as client:
        response = client.get("/broken")
    assert response.status_code == 200  # already started
    assert response.text == "row 0\n"
    assert EVENTS == [
        "open session",
        "failing",
        "session saw ValueError: stream failed",
        "close session",
    ]


def test_client_leaving_mid_stream_closes_the_deps_as_a_normal_end() -> None:
    with TestClient(make_app(stream_router())) as client:
        with client.stream("GET", "/endless") as r:
            chunks = r.iter_bytes()
            assert next(chunks) == b"row 0\n"
            assert next(chunks) == b"row 1\n"
            assert EVENTS == ["open session"]  # still open while the stream runs
        # No error was thrown in: the session's except did not run, its finally did.
        assert EVENTS == ["open session", "close session"]


@pytest.mark.anyio
async def test_shutdown_closes_open_streams_before_app_scoped_teardown() -> None:
    router = Router()

    @router.get("/pooled")
    async def pooled(
        request: Request, session: Annotated[str, Depends(get_pooled_session)]
    ) -> StreamResponse:
        async def body() -> AsyncIterator[str]:
            while True:
                yield session
                await asyncio.sleep(0.01)

        return StreamResponse(body(), "text/plain")

    app = create_app(router, injector=DependencyResolver(), stream_shutdown_grace=0.5)
    client = AsyncTestClient(app)
    await client.__aenter__()
    stream = client.stream("GET", "/pooled")
    try:
        response = await stream.__aenter__()
        async for chunk in response.aiter_bytes():
            assert chunk == b"session on pool"
            break
        await client.__aexit__(None, None, None)  # lifespan shutdown, stream still open
    finally:
        await stream.__aexit__(None, None, None)
    assert EVENTS[:2] == ["up pool", "open pooled session"]
    assert EVENTS.index("close pooled session") < EVENTS.index("down pool")
