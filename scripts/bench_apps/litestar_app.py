"""Idiomatic Litestar: msgspec Structs, typed parameters, the default responses.

Only the endpoints compared with fastware's typed routes (and ``/plaintext``, which the driver
waits for). The OpenAPI schema is off: it costs nothing per request either way.

Run: ``granian --interface asgi --working-dir scripts/bench_apps litestar_app:app``.
"""

from __future__ import annotations

import msgspec
from litestar import Litestar, MediaType, get, post


class Item(msgspec.Struct):
    """The request body."""

    name: str
    price: float
    tags: list[str]


class Placed(msgspec.Struct):
    """The answer of ``POST /shops/{id}/items``."""

    shop_id: int
    limit: int
    sort: str
    name: str
    price: float
    tags: list[str]


@get("/plaintext", media_type=MediaType.TEXT)
async def plaintext() -> str:
    """``GET /plaintext``."""
    return "Hello, World!"


@post("/shops/{shop_id:int}/items", status_code=200)
async def place(shop_id: int, data: Item, limit: int = 10, sort: str = "name") -> Placed:
    """``POST /shops/{id}/items``: a path int, two query values and a body."""
    return Placed(shop_id, limit, sort, data.name, data.price, data.tags)


app = Litestar([plaintext, place], openapi_config=None, debug=False)
