"""Static files and the SPA fallback behind a real Granian, through both doors.

Granian loads it as ``fw_static_app:app`` with ``--working-dir`` pointing at this directory;
the built site (``dist/index.html``, ``dist/assets/...``) is read from ``$FW_STATIC_ROOT``.

The app is wired the way users write it: ``create_app(static_dir=..., spa_fallback=...,
api_prefix=...)``. ``/mounted/...`` is a ``StaticFiles`` mounted with ``router.mount`` (pure
ASGI on both doors). ``/ws/echo`` is a WebSocket the browser test talks to.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastware_core import Request, Router, StaticFiles, WebSocket, create_app

ROOT = Path(os.environ.get("FW_STATIC_ROOT", "."))
DIST = ROOT / "dist"
STATIC_PATH = "/assets"
MOUNT_PATH = "/mounted"

router = Router()


@router.get("/api/ping")
async def ping(request: Request) -> dict[str, Any]:
    return {"pong": True}


router.mount(MOUNT_PATH, StaticFiles(directory=DIST / "assets"))


@router.ws("/ws/echo")
async def ws_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(f"echo:{text}")


app = create_app(
    router,
    static_dir=DIST / "assets",
    static_path=STATIC_PATH,
    spa_fallback=DIST / "index.html",
    api_prefix="/api",
)
