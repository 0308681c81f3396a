"""Dependency injection served by a real Granian (see ``http_doors/test_di_doors.py``).

Built with ``fastware.create_app``, which wires fastware-di in. ``DI_EVENTS_FILE`` names a file
that receives one line per lifecycle event of the app-scoped pool, so a test can see the
teardown after the server stopped. Request-level events are kept in memory and served by
``GET /events`` (one worker).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated

from fastware import (
    Depends,
    HTTPError,
    Request,
    Router,
    StreamResponse,
    WebSocket,
    create_app,
    dependency,
)

EVENTS: list[str] = []
EVENTS_FILE = Path(os.environ.get("DI_EVENTS_FILE", os.devnull))


def _record_pool(event: str) -> None:
    with EVENTS_FILE.open("a") as out:
        out.write(event + "\n")


class Pool:
    """Stands in for a connection pool: one per app."""

    def __init__(self) -> None:
        self.opened = 0


@dependency(scope="app")
async def get_pool() -> AsyncIterator[Pool]:
    """App-scoped: created at startup, closed at shutdown."""
    pool = Pool()
    _record_pool("pool open")
    yield pool
    _record_pool("pool close")


async def get_db(pool: Annotated[Pool, Depends(get_pool)]) -> AsyncIterator[str]:
    """A transaction on the pool: committed, or rolled back when the handler fails."""
    pool.opened += 1
    name = f"tx{pool.opened}"
    EVENTS.append(f"{name} begin")
    try:
        yield name
    except Exception as exc:
        EVENTS.append(f"{name} rollback {type(exc).__name__}")
        raise
    else:
        EVENTS.append(f"{name} commit")


def get_user(request: Request) -> str:
    """0.6.3 style: gets the request (or the WebSocket) positionally."""
    user = request.headers.get("x-user") or request.query_params.get("user")
    if not user:
        raise HTTPError(401, "Not authenticated", headers={"WWW-Authenticate": "Bearer"})
    return user


@dependency(blocking=True)
def read_motd() -> Iterator[str]:
    """A blocking sync generator: runs in a worker thread."""
    yield "hello from a thread"


router = Router()


@router.get("/")
async def index(request: Request) -> dict[str, bool]:
    """Readiness probe."""
    return {"ok": True}


@router.get("/events")
async def events(request: Request) -> list[str]:
    """The request-level events so far."""
    return EVENTS


@router.get("/items/{item_id:int}", deps={"user": get_user})
async def item(
    request: Request,
    user: str,
    db: Annotated[str, Depends(get_db)],
    pool: Annotated[Pool, Depends(get_pool)],
    motd: Annotated[str, Depends(read_motd)],
) -> dict[str, object]:
    """Route deps by name, nested and app-scoped deps by marker, a threaded one."""
    return {
        "item": request.path_params["item_id"],
        "user": user,
        "db": db,
        "pool": id(pool),
        "motd": motd,
    }


@router.post("/conflict")
async def conflict(request: Request, db: Annotated[str, Depends(get_db)]) -> None:
    """Fails after the transaction began: it rolls back, the client gets 409."""
    raise HTTPError(409, "Conflict")


@router.get("/stream")
async def stream(request: Request, db: Annotated[str, Depends(get_db)]) -> StreamResponse:
    """The transaction stays open until the last chunk went out."""

    async def body() -> AsyncIterator[str]:
        for index in range(3):
            EVENTS.append(f"{db} chunk {index}")
            yield f"{db}:{index}\n"

    return StreamResponse(body(), "text/plain")


@router.ws("/ws", deps={"user": get_user})
async def ws(websocket: WebSocket, user: str, db: Annotated[str, Depends(get_db)]) -> None:
    """WebSocket routes get the same dependencies; the factory receives the WebSocket."""
    await websocket.accept()
    await websocket.send_json({"user": user, "db": db})
    async for text in websocket.iter_text():
        await websocket.send_text(f"{db}:{text}")


app = create_app(router, request_id=False, request_timing=False)
