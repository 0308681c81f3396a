"""Idiomatic FastAPI: pydantic models, typed parameters, the default responses.

Only the endpoints compared with fastware's typed routes (and ``/plaintext``, which the driver
waits for). The OpenAPI and docs routes are off: they cost nothing per request either way.

Run: ``granian --interface asgi --working-dir scripts/bench_apps fastapi_app:app``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel


class Item(BaseModel):
    """The request body."""

    name: str
    price: float
    tags: list[str]


class Placed(BaseModel):
    """The answer of ``POST /shops/{id}/items``."""

    shop_id: int
    limit: int
    sort: str
    name: str
    price: float
    tags: list[str]


app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext() -> str:
    """``GET /plaintext``."""
    return "Hello, World!"


@app.post("/shops/{shop_id}/items")
async def place(shop_id: int, item: Item, limit: int = 10, sort: str = "name") -> Placed:
    """``POST /shops/{id}/items``: a path int, two query values and a body."""
    return Placed(
        shop_id=shop_id,
        limit=limit,
        sort=sort,
        name=item.name,
        price=item.price,
        tags=item.tags,
    )
