"""An app that sets up ``fastware.logging`` when imported, as an app module should: its
handlers log through structlog and the standard library around an ``await``, and its
access log writes a line per request."""

from __future__ import annotations

import asyncio
import logging
import os

from fastware import Request, Router, create_app
from fastware.logging import configure_logging, get_logger
from fastware.middleware import AccessLogMiddleware

configure_logging(json_output=True, level="INFO")
log = get_logger("work")
router = Router()


@router.get("/")
async def index(request: Request) -> dict[str, bool]:
    return {"ready": True}


@router.get("/work/{n:int}")
async def work(request: Request) -> dict[str, int]:
    n = int(request.path_params["n"])
    log.info("start", n=n)
    await asyncio.sleep(0.05)  # the other requests' lines come in between
    logging.getLogger("fastware.example").info("end %d", n)
    return {"n": n, "pid": os.getpid()}


app = create_app(router, middleware=[AccessLogMiddleware()])
