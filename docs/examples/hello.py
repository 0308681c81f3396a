"""The getting-started example: a small JSON API on fastware.

Run it with ``scripts/demo`` (Granian over RSGI on http://127.0.0.1:8000), then try:

    curl http://127.0.0.1:8000/
    curl http://127.0.0.1:8000/items/1
    curl -X POST http://127.0.0.1:8000/items -H 'content-type: application/json' \
         -d '{"name": "lamp", "price": 19.5}'

and, in another terminal before the POST, watch new items arrive as server-sent events:

    curl -N http://127.0.0.1:8000/events

The interactive API docs are at http://127.0.0.1:8000/docs (the OpenAPI document at
/openapi.json), served by the app itself: no CDN.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import msgspec

from fastware import (
    Broadcaster,
    Depends,
    HTTPError,
    Query,
    Request,
    Router,
    create_app,
    sse_route,
)


class Item(msgspec.Struct):
    name: str
    price: float


router = Router()

# Live updates: every new item is broadcast to the clients of GET /events.
updates = Broadcaster(heartbeat_interval=15)
updates.register_event("item")
router.add_route("GET", "/events", sse_route(updates))


def get_items(request: Request) -> dict[int, Item]:
    """A dependency: the item store the lifespan put in the app's state."""
    items: dict[int, Item] = request.state.items
    return items


Items = Annotated[dict[int, Item], Depends(get_items)]


@router.get("/", include_in_schema=False)
async def index(request: Request) -> dict[str, str]:
    return {"hello": "fastware", "items": "/items", "docs": "/docs"}


# Typed handlers: parameters are read from the request by name and type (path, query, a
# JSON body as a Struct) and bad input is a 422 listing each problem.
@router.get("/items", tags=["items"])
async def list_items(items: Items, limit: Annotated[int, Query(ge=1, le=100)] = 10) -> list[Item]:
    """List the items, oldest first."""
    return list(items.values())[:limit]


@router.get(
    "/items/{item_id:int}", tags=["items"], responses={404: {"description": "No such item"}}
)
async def get_item(item_id: int, items: Items) -> Item:
    """One item by its id."""
    item = items.get(item_id)
    if item is None:
        raise HTTPError(404, "No such item")
    return item


@router.post("/items", tags=["items"])
async def create_item(item: Item, items: Items) -> dict[str, Any]:
    """Add an item; clients of GET /events hear about it."""
    item_id = max(items, default=0) + 1
    items[item_id] = item
    updates.broadcast("item", {"id": item_id, "name": item.name, "price": item.price})
    return {"id": item_id, "item": item}


@asynccontextmanager
async def lifespan(app: object) -> AsyncIterator[dict[str, Any]]:
    yield {"items": {1: Item("teapot", 12.0)}}


app = create_app(router, lifespan=lifespan)
