"""The app ``scripts/bench sse`` serves (``sse_bench_app:app``).

``GET /events`` streams (a ``hello`` event first), ``POST /broadcast`` sends one ``tick``
stamped with the wall clock in nanoseconds, ``POST /ticker?rate=R&count=N`` starts sending
N ticks at R per second from the server itself, and ``GET /`` reports the client count and
how many ticks the ticker has sent.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from fastware_core import Request, Router, StreamResponse, create_app
from fastware_sse import Broadcaster

broadcaster = Broadcaster(buffer_size=1024, strict=False)
router = Router()
_ticker: dict[str, Any] = {"sent": 0, "done": True, "task": None}
_count = 0


@router.get("/")
async def index(request: Request) -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "clients": broadcaster.client_count,
        "ticker_sent": _ticker["sent"],
        "ticker_done": _ticker["done"],
    }


@router.get("/events")
async def events(request: Request) -> StreamResponse:
    return await broadcaster.stream(request, initial=[("hello", 0)])


@router.post("/broadcast")
async def broadcast(request: Request) -> dict[str, int]:
    global _count
    broadcaster.broadcast("tick", {"n": _count, "t": time.time_ns()})
    _count += 1
    return {"clients": broadcaster.client_count}


async def _tick(rate: float, count: int) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    for n in range(count):
        delay = start + n / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        broadcaster.broadcast("tick", {"n": n, "t": time.time_ns()})
        _ticker["sent"] = n + 1
    _ticker["done"] = True


@router.post("/ticker")
async def ticker(request: Request) -> dict[str, bool]:
    rate = request.query("rate", 10.0, type_=float)
    count = request.query("count", 600, type_=int)
    _ticker.update(sent=0, done=False)
    _ticker["task"] = asyncio.get_running_loop().create_task(_tick(rate, count))
    return {"started": True}


app = create_app(router)
