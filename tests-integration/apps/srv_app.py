"""The app tests-integration/server serves through fastware-server (``srv_app:app``).

It reports which worker and which door (RSGI or ASGI) served a request, answers slowly on
request, streams until the server shuts down (politely or not at all), and records its
lifespan in the file named by ``SRV_LIFESPAN_LOG``. Two module globals pose as in-memory
backends, so that a server with several workers has something to warn about.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastware_core import App, Request, Router, StreamResponse, create_app

router = Router()
LIFESPAN_EVENTS: list[str] = []


class MemoryBroker:
    """Stands in for fastware-sse's in-memory broker."""

    fastware_process_local = "the in-memory SSE broker (srv_app.broker)"


class MemoryRateLimiter:
    """Stands in for fastware-auth's in-memory rate limiter."""

    @property
    def fastware_process_local(self) -> str:
        return "the in-memory rate limiter (srv_app.limiter)"


broker = MemoryBroker()
limiter = MemoryRateLimiter()


def _record(event: str) -> None:
    LIFESPAN_EVENTS.append(event)
    log = os.environ.get("SRV_LIFESPAN_LOG")
    if log:
        with Path(log).open("a", encoding="utf-8") as file:
            file.write(f"{event} {os.getpid()}\n")


@asynccontextmanager
async def lifespan(app: App) -> AsyncIterator[dict[str, Any]]:
    _record("startup")
    yield {"started": True}
    _record("shutdown")


@router.get("/")
async def index(request: Request) -> dict[str, Any]:
    return {"pid": os.getpid(), "door": request.connection.door, "started": request.state.started}


@router.get("/slow")
async def slow(request: Request) -> dict[str, str]:
    await asyncio.sleep(request.query("s", 1.0, type_=float))
    return {"slow": "done"}


async def _until_shutdown(app: App) -> AsyncIterator[str]:
    yield "data: ready\n\n"
    while not app.shutting_down.is_set():
        try:
            await asyncio.wait_for(app.shutting_down.wait(), 0.2)
        except TimeoutError:
            yield ": heartbeat\n\n"
    yield "data: bye\n\n"


async def _forever() -> AsyncIterator[str]:
    yield "data: ready\n\n"
    while True:
        await asyncio.sleep(0.2)
        yield ": heartbeat\n\n"


@router.get("/events")
async def events(request: Request) -> StreamResponse:
    return StreamResponse(_until_shutdown(request.app), content_type="text/event-stream")


@router.get("/stubborn")
async def stubborn(request: Request) -> StreamResponse:
    return StreamResponse(_forever(), content_type="text/event-stream")


app = create_app(router, lifespan=lifespan)
