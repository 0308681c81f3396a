"""The app tests-integration/flags serves with Granian (``fw_flags_app:app``).

- ``FLAGS_STORE``: the overrides store (a JSON path or a ``redis://`` URL), refreshed every
  ``FLAGS_REFRESH`` seconds (default 1).
- ``TASK_JOURNAL``: a file every task appends ``<event> <task> <pid>`` lines to
  (``start``/``stop``, and ``beat`` every 0.1 s while it runs).
- ``LOCK_DIR``: where the once-per-host task's lock lives; ``REDIS_URL`` (with
  ``LEASE_KEY``, ``LEASE_TTL``) enables the once-per-cluster task; ``STATUS_DIR``: where
  workers publish their tasks' states.

Routes: ``GET /`` (the worker's PID), ``GET /beta`` (gated on ``beta``), ``POST
/flags/{name}/{value}``, ``GET /flags``, ``GET /tasks``, and the WebSocket ``/beta-ws``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from fastware_core import HTTPError, JSONResponse, Request, Router, WebSocket, create_app
from fastware_core.tasks import RedisLease, TaskRegistry
from fastware_flags import FeatureFlags, FlagStoreError

JOURNAL = os.environ.get("TASK_JOURNAL")

flags = FeatureFlags(
    {"beta": False, "reports": True, "admin": True},
    store=os.environ.get("FLAGS_STORE") or None,
    refresh_interval=float(os.environ.get("FLAGS_REFRESH", "1")),
)


def note(event: str, task: str) -> None:
    if JOURNAL:
        with open(JOURNAL, "a", encoding="utf-8") as out:
            out.write(f"{event} {task} {os.getpid()}\n")


def journaled(task: str) -> Any:
    async def run() -> None:
        note("start", task)
        try:
            while True:
                note("beat", task)
                await asyncio.sleep(0.1)
        finally:
            note("stop", task)

    return run


registry = TaskRegistry(
    name="flags-app",
    lock_dir=os.environ.get("LOCK_DIR") or None,
    poll_interval=0.2,
    status_dir=os.environ.get("STATUS_DIR") or None,
)
registry.register("per-worker", lambda: journaled("per-worker"))
registry.register("per-host", lambda: journaled("per-host"), once="host")
registry.register("reports", lambda: journaled("reports"), feature="reports")
if os.environ.get("REDIS_URL"):
    import redis.asyncio

    url = os.environ["REDIS_URL"]
    lease = RedisLease(
        lambda: redis.asyncio.Redis.from_url(url),
        os.environ.get("LEASE_KEY", "flags-app:cluster"),
        ttl=float(os.environ.get("LEASE_TTL", "3")),
    )
    registry.register("per-cluster", lambda: journaled("per-cluster"), once=lease)

router = Router()


@router.get("/")
async def index(request: Request) -> dict[str, Any]:
    return {"pid": os.getpid()}


@router.get("/beta", feature="beta")
async def beta(request: Request) -> dict[str, Any]:
    return {"pid": os.getpid(), "beta": True}


@router.ws("/beta-ws", feature="beta")
async def beta_ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(str(os.getpid()))


admin = Router()


@admin.get("/beta", feature="beta")
async def admin_beta(request: Request) -> dict[str, Any]:
    """Gated on "beta" and, through include_router, on "admin"."""
    return {"pid": os.getpid(), "admin": True}


router.include_router(admin, prefix="/admin", feature="admin")


@router.post("/flags/{name}/{value}")
async def set_flag(request: Request) -> dict[str, Any]:
    name, value = request.path_params["name"], request.path_params["value"]
    await asyncio.to_thread(flags.set_override, name, value)
    return {"pid": os.getpid(), "flags": flags.all_flags(include_overrides=True)}


@router.get("/flags")
async def list_flags(request: Request) -> dict[str, Any]:
    return {"pid": os.getpid(), "status": flags.status(), "flags": flags.describe()}


@router.get("/tasks")
async def tasks(request: Request) -> dict[str, Any]:
    return {"pid": os.getpid(), "tasks": registry.list_tasks()}


def _bad_value(request: Request, exc: TypeError) -> Any:
    return JSONResponse({"detail": str(exc), "pid": os.getpid()}, status=400)


def _store_error(request: Request, exc: FlagStoreError) -> Any:
    return JSONResponse({"detail": str(exc), "pid": os.getpid()}, status=503)


def _http_error(request: Request, exc: HTTPError) -> Any:
    # Every error names the worker, so the tests know which one answered a 404.
    return JSONResponse({"detail": exc.detail, "pid": os.getpid()}, status=exc.status_code)


app = create_app(
    router,
    tasks=registry,
    features=flags,
    exception_handlers={
        TypeError: _bad_value,
        FlagStoreError: _store_error,
        HTTPError: _http_error,
    },
)
