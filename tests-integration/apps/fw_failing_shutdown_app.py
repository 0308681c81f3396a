"""A fastware app whose lifespan shutdown raises: the server must exit non-zero.

Loaded as ``fw_failing_shutdown_app:app`` with ``--app-dir`` pointing at this directory.
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


async def close_database() -> None:
    raise RuntimeError("the database connection could not be closed")


@asynccontextmanager
async def lifespan(app: App) -> AsyncIterator[None]:
    yield
    await close_database()


app = create_app(router, lifespan=lifespan)
