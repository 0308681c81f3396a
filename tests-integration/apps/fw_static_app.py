"""Static files and the SPA fallback behind a real Granian, through both doors.

Granian loads it as ``fw_static_app:app`` with ``--working-dir`` pointing at this directory;
the built site (``dist/index.html``, ``dist/assets/...``) is read from ``$FW_STATIC_ROOT``.

``StaticDoors`` stands in for the wiring ``create_app(static_dir=..., spa_fallback=...)``
will do on a miss: ``/assets/...`` is answered by ``StaticFiles.respond()`` (404 when no
file), other paths that no route or mount takes by ``SPAFallback.respond()``; the answer
goes out with ``send_static_rsgi`` (Granian streams the file) or ``send_static_asgi``.
``/mounted/...`` is a ``StaticFiles`` mounted with ``router.mount`` (pure ASGI on both doors).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from fastware_core import App, Request, Response, Router, create_app
from fastware_core._filesend import asgi_headers, send_static_asgi, send_static_rsgi
from fastware_core.staticfiles import HeaderLookup, SPAFallback, StaticFiles
from fastware_core.types import Receive, Scope, Send

ROOT = Path(os.environ.get("FW_STATIC_ROOT", "."))
DIST = ROOT / "dist"
STATIC_PATH = "/assets"
MOUNT_PATH = "/mounted"

router = Router()


@router.get("/api/ping")
async def ping(request: Request) -> dict[str, Any]:
    return {"pong": True}


router.mount(MOUNT_PATH, StaticFiles(directory=DIST / "assets"))

static = StaticFiles(directory=DIST / "assets")
spa = SPAFallback(DIST / "index.html", api_prefix="/api")


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


async def answer(method: str, path: str, headers: HeaderLookup) -> tuple[bool, Response | None]:
    """``(handled, response)``: what the static layer says before the app gets a turn."""
    if _under(path, STATIC_PATH):
        return True, await static.respond(method, path[len(STATIC_PATH) :], headers)
    if not _under(path, MOUNT_PATH) and router.match(method, path) is None:
        response = await spa.respond(method, path, headers)
        if response is not None:
            return True, response
    return False, None


class StaticDoors:
    """The fastware app with static files and the SPA in front, on both doors."""

    def __init__(self, inner: App) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method: str = scope["method"]
            handled, response = await answer(method, scope["path"], asgi_headers(scope))
            if handled:
                await send_static_asgi(send, response, method == "HEAD")
                return
        await self.inner(scope, receive, send)

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.inner.__rsgi_init__(loop)

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.inner.__rsgi_del__(loop)

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto == "http":
            method: str = scope.method
            handled, response = await answer(method, scope.path, scope.headers)
            if handled:
                await send_static_rsgi(protocol, response, method == "HEAD")
                return
        await self.inner.__rsgi__(scope, protocol)


app = StaticDoors(create_app(router))
