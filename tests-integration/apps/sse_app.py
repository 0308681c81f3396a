"""The app tests-integration/sse serves with Granian (``sse_app:app``).

Its broadcaster uses the broker named by ``SSE_BROKER`` (a Redis URL; in-process memory
when unset) on the channel ``SSE_CHANNEL``. ``GET /events`` streams, starting with a
``hello`` event naming the worker's PID; ``POST /publish`` broadcasts
``{"event": ..., "data": ...}`` from whichever worker serves it; ``GET /page`` is a page
whose EventSource records what it receives (for the browser test).
"""

from __future__ import annotations

import os
from typing import Any

from fastware_core import HTMLResponse, Request, Router, StreamResponse, create_app
from fastware_sse import Broadcaster, Broker, RedisBroker

_url = os.environ.get("SSE_BROKER")
_broker: Broker | None = None
if _url:
    _broker = RedisBroker(_url, channel=os.environ.get("SSE_CHANNEL", "fastware:sse"))

broadcaster = Broadcaster(
    strict=False,
    broker=_broker,
    heartbeat_interval=1.0,
    retry_interval=float(os.environ.get("SSE_RETRY", "0.5")),
    shutdown_event=("bye", {"pid": os.getpid()}),
)
router = Router()


@router.get("/")
async def index(request: Request) -> dict[str, Any]:
    return {"pid": os.getpid(), "clients": broadcaster.client_count}


@router.get("/events")
async def events(request: Request) -> StreamResponse:
    return await broadcaster.stream(request, initial=[("hello", {"pid": os.getpid()})])


@router.post("/publish")
async def publish(request: Request) -> dict[str, Any]:
    body = request.json
    broadcaster.broadcast(body["event"], body["data"])
    return {"pid": os.getpid()}


@router.post("/publish-sync")
def publish_sync(request: Request) -> dict[str, Any]:
    body = request.json  # a sync handler: broadcast from a worker thread
    broadcaster.broadcast(body["event"], body["data"])
    return {"pid": os.getpid()}


PAGE = """<!doctype html>
<html><body><pre id="log"></pre><script>
window.received = [];
window.opens = 0;
window.errors = 0;
const source = new EventSource("/events");
source.onopen = () => { window.opens += 1; };
source.onerror = () => { window.errors += 1; };
source.addEventListener("tick", (e) => {
  window.received.push({id: e.lastEventId, data: e.data});
  document.title = "received " + window.received.length;
});
source.addEventListener("resync", () => { window.resyncs = (window.resyncs || 0) + 1; });
</script></body></html>
"""


@router.get("/page")
async def page(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


app = create_app(router)
