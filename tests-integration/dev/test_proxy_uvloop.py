"""``ViteDevProxy`` under uvloop (what uvicorn and Granian's ``--loop uvloop`` run it on):
its HTTP client must use only what uvloop's loop offers."""

from __future__ import annotations

import asyncio
from typing import Any

import uvloop

from fastware_core import JSONResponse, Request, Router, create_app
from fastware_dev import ViteDevProxy


async def _exchange() -> list[dict[str, Any]]:
    async def vite(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nvite")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(vite, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    router = Router()

    @router.get("/api/x")
    async def api(request: Request) -> JSONResponse:
        return JSONResponse({})

    proxy = ViteDevProxy(create_app(router), vite_port=port, vite_host="127.0.0.1")
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/main.js",
        "raw_path": b"/main.js",
        "query_string": b"",
        "headers": [(b"host", b"a")],
        "scheme": "http",
        "http_version": "1.1",
    }
    gone = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if not sent:
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    try:
        await asyncio.wait_for(proxy(scope, receive, send), 10)
    finally:
        await proxy.close()
        server.close()
    return sent


def test_the_proxy_runs_on_uvloop() -> None:
    sent = uvloop.run(_exchange())
    assert sent[0]["status"] == 200
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"vite"
