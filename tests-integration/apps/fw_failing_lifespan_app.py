"""A fastware app whose lifespan startup raises: Granian must refuse to serve it.

Loaded as ``fw_failing_lifespan_app:app`` with ``--working-dir`` pointing at this directory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastware_core import App, Request, Router, create_app

router = Router()


@router.get("/")
async def index(request: Request) -> dict[str, Any]:
    return {"served": True}


async def connect_database() -> object:
    raise RuntimeError("the database is unreachable")


@asynccontextmanager
async def lifespan(app: App) -> AsyncIterator[dict[str, Any]]:
    yield {"db": await connect_database()}


app = create_app(router, lifespan=lifespan)
