"""Typed handlers and the docs page served by a real Granian (see ``typed/``).

Built with ``fastware.create_app`` (dependency injection and the Swagger UI assets of
``fastware-core[docs]`` included).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from fastware import Depends, Header, Query, Request, Router, WebSocket, create_app


class NewItem(msgspec.Struct):
    """An item to add to a shop."""

    name: str
    price: Annotated[float, msgspec.Meta(gt=0)]
    tags: list[str] = []


class Item(msgspec.Struct):
    """An item in a shop."""

    shop_id: int
    name: str
    price: float
    tags: list[str]
    limit: int
    sort: str


def currency() -> str:
    return "EUR"


router = Router()


@router.get("/", include_in_schema=False)
async def index(request: Request) -> dict[str, str]:
    """Readiness: the test harness waits for ``GET /``."""
    return {"docs": "/docs"}


@router.post("/shops/{shop_id:int}/items", status_code=201, tags=["items"])
async def add_item(
    shop_id: int,
    item: NewItem,
    cur: Annotated[str, Depends(currency)],
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    sort: str = "name",
) -> Item:
    """Add an item to a shop.

    The price must be positive.
    """
    return Item(shop_id, item.name, item.price, item.tags, limit, f"{sort}/{cur}")


@router.get("/shops/{shop_id:int}", tags=["shops"])
async def get_shop(
    request: Request, shop_id: int, x_client: Annotated[str | None, Header()] = None
) -> dict[str, object]:
    """Describe one shop."""
    return {"shop": shop_id, "client": x_client, "path": request.path}


@router.delete("/shops/{shop_id:int}", status_code=204, tags=["shops"], deprecated=True)
async def close_shop(shop_id: int) -> None:
    """Close a shop."""


@router.ws("/ws/shops/{shop_id:int}")
async def watch(websocket: WebSocket, shop_id: int, since: int = 0) -> None:
    await websocket.accept()
    await websocket.send_json({"shop": shop_id, "since": since})
    await websocket.close()


app = create_app(router, title="Shop API", version="1.2.3")
