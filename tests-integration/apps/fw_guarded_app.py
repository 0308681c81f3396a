"""An app with TrustedHost, CORS and SecurityHeaders hooks, for both Granian doors."""

from __future__ import annotations

from typing import Any

from fastware_core import Request, Router, WebSocket, create_app
from fastware_core.middleware import GZipMiddleware, SecurityHeadersMiddleware

router = Router()


@router.get("/")
async def index(request: Request) -> dict[str, bool]:
    return {"ready": True}


@router.get("/hello")
async def hello(request: Request) -> dict[str, Any]:
    return {"hello": "world", "request_id": request.state.request_id}


@router.get("/big")
async def big(request: Request) -> list[dict[str, Any]]:
    return [{"id": i, "name": f"item-{i}"} for i in range(200)]


@router.ws("/ws")
async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hi")


app = create_app(
    router,
    trusted_hosts=["127.0.0.1", "*.example.test"],
    cors_origins=["*"],
    middleware=[
        SecurityHeadersMiddleware(hsts_max_age=3600),
        lambda app: GZipMiddleware(app, minimum_size=500),
    ],
)
