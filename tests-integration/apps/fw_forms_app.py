"""Forms, uploads and sessions served by a real Granian (tests-integration/forms_sessions).

``SESSION_REDIS_URL`` switches the sessions to fastware-auth's Redis backend (server-side,
shared by every worker); without it they live in a signed cookie.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from typing import Any

from fastware_auth import RedisSessionBackend
from fastware_core import HTTPError, Request, Router, WebSocket, create_app
from fastware_core.forms import FormLimits, UploadFile
from fastware_core.middleware import SessionMiddleware

router = Router()


@router.get("/")
async def index(request: Request) -> dict[str, Any]:
    return {"ok": True}


def _memory() -> dict[str, Any]:
    fields: dict[str, Any] = {"pid": os.getpid()}
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0])
    return fields


@router.get("/memory")
async def memory(request: Request) -> dict[str, Any]:
    """This worker's pid, resident memory and its peak (kB, from /proc)."""
    return await asyncio.to_thread(_memory)


outcomes: list[str] = []  # what each /upload's form() did, for the disconnect test


@router.get("/outcomes")
async def show_outcomes(request: Request) -> list[str]:
    return outcomes


@router.post("/upload")
async def upload(request: Request) -> dict[str, Any]:
    try:
        form = await request.form()
    except HTTPError as exc:
        outcomes.append(f"{exc.status_code} {exc.detail}")
        raise
    except BaseException as exc:
        outcomes.append(f"unexpected {exc!r}")
        raise
    outcomes.append("200")
    files = []
    for upload in form.files():
        digest = hashlib.sha256()
        async for chunk in upload.chunks(1024 * 1024):
            digest.update(chunk)
        files.append(
            {
                "name": upload.name,
                "filename": upload.filename,
                "size": upload.size,
                "sha256": digest.hexdigest(),
                "in_memory": upload.in_memory,
            }
        )
    fields = {name: value for name, value in form.multi_items() if isinstance(value, str)}
    return {"files": files, "fields": fields, "pid": os.getpid()}


@router.post("/upload/small")
async def upload_small(request: Request) -> dict[str, Any]:
    form = await request.form(limits=FormLimits(max_file_size=1024))
    return {"names": list(form)}


@router.get("/session")
async def show_session(request: Request) -> dict[str, Any]:
    return {"session": dict(request.session), "pid": os.getpid()}


@router.post("/session")
async def add_to_session(request: Request) -> dict[str, Any]:
    form = await request.form()
    for name, value in form.multi_items():
        if not isinstance(value, UploadFile):
            request.session[name] = value
    count = int(request.session.get("count", 0)) + 1
    request.session["count"] = count
    return {"session": dict(request.session), "pid": os.getpid()}


@router.delete("/session")
async def end_session(request: Request) -> dict[str, Any]:
    request.session.clear()
    return {"pid": os.getpid()}


@router.ws("/session/ws")
async def watch_session(websocket: WebSocket) -> None:
    """Send the session the handshake's cookie names (read-only in a WebSocket)."""
    await websocket.accept()
    await websocket.send_json({"session": dict(websocket.session), "pid": os.getpid()})
    await websocket.close()


_redis_url = os.environ.get("SESSION_REDIS_URL")
sessions = SessionMiddleware(
    secret_key="integration-secret-key-0123456789",
    backend=RedisSessionBackend(_redis_url) if _redis_url else None,
)
app = create_app(
    router,
    middleware=[sessions],
    form_limits=FormLimits(max_size=512 * 1024 * 1024),
    body_timeout=120,
)
