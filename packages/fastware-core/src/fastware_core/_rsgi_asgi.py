"""Serving a plain ASGI application (a mount, user middleware) through the RSGI door."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from .types import ASGIApp, Scope

__all__ = ("PATH_SAFE", "asgi_scope_from_rsgi", "call_asgi_over_rsgi", "parse_address")

_logger = logging.getLogger("fastware")
PATH_SAFE = "/:@!$&'()*+,;=-._~"
"""Characters left unescaped when a decoded path is quoted back into a URL."""


def parse_address(text: str) -> tuple[str, int] | None:
    """``"host:port"`` (``"[::1]:port"`` for IPv6) as ``(host, port)``; ``None`` without a port."""
    host, sep, port = text.rpartition(":")
    if not sep:
        return None
    return host.strip("[]"), int(port) if port.isdigit() else 0


def asgi_scope_from_rsgi(rsgi: Any, state: dict[str, Any]) -> Scope:
    """An ASGI HTTP scope equivalent to an RSGI one."""
    path: str = rsgi.path
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": rsgi.http_version,
        "method": rsgi.method,
        "scheme": rsgi.scheme,
        "path": path,
        "raw_path": quote(path, safe=PATH_SAFE).encode("ascii"),
        "query_string": rsgi.query_string.encode("latin-1", "replace"),
        "root_path": "",
        "headers": [
            (k.encode("latin-1"), v.encode("latin-1", "replace")) for k, v in rsgi.headers.items()
        ],
        "client": parse_address(rsgi.client),
        "server": parse_address(rsgi.server),
        "state": state,
    }


async def call_asgi_over_rsgi(app: ASGIApp, scope: Scope, protocol: Any) -> None:
    """Run ASGI ``app`` for one HTTP request arriving through RSGI ``protocol``."""
    chunks: AsyncIterator[bytes] | None = None
    body_done = False
    status = 200
    headers: list[tuple[str, str]] = []
    started = False
    finished = False
    transport: Any = None

    async def receive() -> dict[str, Any]:
        nonlocal chunks, body_done
        if not body_done:
            if chunks is None:
                chunks = protocol.__aiter__()
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": bytes(chunk), "more_body": True}
        await protocol.client_disconnect()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, headers, started, finished, transport
        kind = message["type"]
        if kind == "http.response.start":
            if started:
                raise RuntimeError("http.response.start sent twice")
            started = True
            status = message["status"]
            headers = [
                (bytes(k).decode("latin-1"), bytes(v).decode("latin-1"))
                for k, v in message.get("headers", ())
            ]
        elif kind == "http.response.body":
            if not started or finished:
                raise RuntimeError("http.response.body sent outside a response")
            body = message.get("body", b"")
            more = message.get("more_body", False)
            if transport is None:
                if not more:
                    finished = True
                    protocol.response_bytes(status, headers, bytes(body))
                    return
                transport = protocol.response_stream(status, headers)
            if body:
                await transport.send_bytes(bytes(body))
            if not more:
                finished = True

    await app(scope, receive, send)
    if not started:
        _logger.error("ASGI application returned without sending a response")
        protocol.response_bytes(
            500, [("content-type", "application/json")], b'{"detail":"Internal server error"}'
        )
