"""An app built by ``fastware.create_app`` with its default error log on ``$FASTWARE_ERROR_LOG``,
routes that raise, and the error page under ``/_errors`` (for both Granian doors)."""

from __future__ import annotations

import os

from fastware import HTTPError, Request, Router, WebSocket, create_app
from fastware.error_log import ErrorLog, error_log_router

router = Router()


@router.get("/")
async def index(request: Request) -> dict[str, bool]:
    return {"ready": True}


@router.get("/boom/{n:int}")
async def boom(request: Request) -> None:
    request.state.user = "carol"
    raise ZeroDivisionError(f"boom number {request.path_params['n']} <b>not bold</b>")


@router.get("/burst/{n:int}")
async def burst(request: Request) -> dict[str, int]:
    """Queue ``n`` rows and answer at once (the SIGTERM test stops the server right after)."""
    log = request.app.config.error_recorder
    assert isinstance(log, ErrorLog)
    count = int(request.path_params["n"])
    for i in range(count):
        log.append(method="GET", path="/burst", status_code=500, detail=f"burst {i}")
    return {"queued": count, "pid": os.getpid()}


@router.ws("/ws")
async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.receive_text()
    raise LookupError("the socket handler failed")


def admin_only(request: Request) -> None:
    """The page's guard: a cookie (a browser) or a header (httpx)."""
    if request.cookie("admin") != "yes" and request.headers.get("x-admin") != "yes":
        raise HTTPError(403, "admins only")


app = create_app(router)
_log = app.config.error_recorder
assert isinstance(_log, ErrorLog)
router.include_router(error_log_router(_log, dependency=admin_only), prefix="/_errors")
