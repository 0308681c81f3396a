"""The ``/__fastware/`` runtime behind a real Granian, for the service-worker browser tests.

Granian loads it as ``fw_runtime_app:app``; the built site (``dist/index.html``,
``dist/assets/...``) is read from ``$FW_RUNTIME_ROOT``, the service-worker mode from
``$FW_SW_MODE`` (``cache``, ``reset`` or ``off``) and the scripts of other service workers
to leave alone from ``$FW_FOREIGN_SW`` (comma-separated); ``$FW_HEARTBEAT`` sets the
seconds between heartbeats of ``/__fastware/events``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastware_core import Request, Response, Router, TextResponse, create_app

DIST = Path(os.environ.get("FW_RUNTIME_ROOT", ".")) / "dist"
FOREIGN = [p for p in os.environ.get("FW_FOREIGN_SW", "").split(",") if p]

router = Router()


@router.get("/api/ping")
async def ping(request: Request) -> dict[str, Any]:
    return {"pong": True}


@router.get("/report")
async def report(request: Request) -> Response:
    """A page that answers as a proxy would while ``dist/down`` exists (502)."""
    if (DIST / "down").exists():
        return TextResponse("Bad Gateway", status=502)
    return TextResponse("report")


app = create_app(
    router,
    static_dir=DIST / "assets",
    spa_fallback=DIST / "index.html",
    api_prefix="/api",
    sw_mode=os.environ.get("FW_SW_MODE", "cache"),
    foreign_sw_paths=FOREIGN or None,
    name="runtime-test",
)

if os.environ.get("FW_HEARTBEAT") and app.runtime is not None:
    app.runtime.heartbeat_interval = float(os.environ["FW_HEARTBEAT"])
