"""Apps for ``scripts/bench dev``: the dev proxy's cost against the direct route.

- ``backend``: a fastware app with ``GET /api/hello`` (JSON) and ``GET /plaintext``;
- ``upstream``: a raw ASGI app standing in for Vite: ``GET /assets/big.bin`` is 1 MiB from
  memory (so the upstream's own speed cancels out of the ratio), ``GET /plaintext``;
- ``in_process``: ``ViteDevProxy(backend)`` as ``dev()`` serves it, Vite at ``BENCH_VITE_PORT``;
- ``front``: the ``fastware dev`` front, ``ViteDevProxy(BackendForwarder)`` in front of the
  backend at ``BENCH_BACKEND_PORT``, Vite at ``BENCH_VITE_PORT``.
"""

from __future__ import annotations

import os
from typing import Any

from fastware_core import JSONResponse, Request, Router, TextResponse, create_app
from fastware_core.types import Receive, Scope, Send
from fastware_dev import ViteDevProxy
from fastware_dev.forward import front_app

ASSET = bytes(range(256)) * 4096  # 1 MiB

router = Router()


@router.get("/api/hello")
async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"message": "Hello, World!"})


@router.get("/plaintext")
async def plaintext(request: Request) -> TextResponse:
    return TextResponse("Hello, World!")


backend = create_app(router, request_id=False, request_timing=False)


async def upstream(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/assets/big.bin":
        body, kind = ASSET, b"application/octet-stream"
    elif scope["path"] == "/plaintext":
        body, kind = b"Hello, World!", b"text/plain"
    else:
        body, kind = b"not found", b"text/plain"
    await send(
        {
            "type": "http.response.start",
            "status": 200 if body != b"not found" else 404,
            "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _port(name: str) -> int:
    return int(os.environ.get(name, "0") or 0)


def _in_process() -> Any:
    return ViteDevProxy(backend, vite_port=_port("BENCH_VITE_PORT") or 1, vite_host="127.0.0.1")


def _front() -> Any:
    return front_app(
        {
            "backend": {"host": "127.0.0.1", "port": _port("BENCH_BACKEND_PORT") or 1},
            "vite_port": _port("BENCH_VITE_PORT") or 1,
            "vite_host": "127.0.0.1",
        }
    )


in_process = _in_process()
front = _front()
