"""Serving a plain ASGI application (a mount, user middleware) through the RSGI door."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from .types import ASGIApp, Scope

__all__ = (
    "PATH_SAFE",
    "asgi_scope_from_rsgi",
    "call_asgi_over_rsgi",
    "call_asgi_websocket_over_rsgi",
    "parse_address",
)

_logger = logging.getLogger("fastware")
PATH_SAFE = "/:@!$&'()*+,;=-._~"
"""Characters left unescaped when a decoded path is quoted back into a URL."""


def parse_address(text: str) -> tuple[str, int] | None:
    """``"host:port"`` (``"[::1]:port"`` for IPv6) as ``(host, port)``; ``None`` without a port."""
    host, sep, port = text.rpartition(":")
    if not sep:
        return None
    return host.strip("[]"), int(port) if port.isdigit() else 0


def asgi_scope_from_rsgi(rsgi: Any, state: dict[str, Any], headers: Any = None) -> Scope:
    """An ASGI HTTP (or WebSocket) scope equivalent to an RSGI one.

    ``headers`` is ``rsgi.headers`` when the caller read it already: Granian copies every
    header on each read of that attribute.
    """
    path: str = rsgi.path
    if headers is None:
        headers = rsgi.headers
    if rsgi.proto == "ws":
        scope = asgi_scope_from_rsgi_http(rsgi, state, path, headers)
        del scope["method"]
        scope["type"] = "websocket"
        scope["scheme"] = "wss" if rsgi.scheme == "https" else "ws"
        protocols = headers.get("sec-websocket-protocol")
        scope["subprotocols"] = (
            [p.strip() for p in protocols.split(",") if p.strip()] if protocols else []
        )
        return scope
    return asgi_scope_from_rsgi_http(rsgi, state, path, headers)


def asgi_scope_from_rsgi_http(
    rsgi: Any, state: dict[str, Any], path: str, headers: Any = None
) -> Scope:
    """The ASGI HTTP scope of an RSGI one (see :func:`asgi_scope_from_rsgi`)."""
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
            (k.encode("latin-1"), v.encode("latin-1", "replace"))
            for k, v in (rsgi.headers if headers is None else headers).items()
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


async def call_asgi_websocket_over_rsgi(app: ASGIApp, scope: Scope, protocol: Any) -> None:
    """Run ASGI ``app`` for one WebSocket arriving through RSGI ``protocol``.

    Granian's RSGI WebSocket cannot send a subprotocol, accept headers, a denial body or a
    close code after the handshake: an ASGI close before accept (or a denial response) becomes
    a 403 (or the denial's status) answer to the handshake, and a close after it a close frame.
    """
    transport: Any = None
    connected = False
    closed = False

    async def receive() -> dict[str, Any]:
        nonlocal connected, closed
        if not connected:
            connected = True
            return {"type": "websocket.connect"}
        if transport is None or closed:
            return {"type": "websocket.disconnect", "code": 1006, "reason": ""}
        message = await transport.receive()
        kind = int(message.kind)
        if kind == 0:
            closed = True
            return {"type": "websocket.disconnect", "code": 1000, "reason": ""}
        if kind == 2:
            return {"type": "websocket.receive", "text": message.data}
        return {"type": "websocket.receive", "bytes": bytes(message.data)}

    async def send(message: dict[str, Any]) -> None:
        nonlocal transport, closed
        kind = message["type"]
        if kind == "websocket.accept":
            transport = await protocol.accept()
        elif kind == "websocket.send":
            if transport is None or closed:
                raise RuntimeError("websocket.send before websocket.accept or after close")
            text = message.get("text")
            if text is not None:
                await transport.send_str(text)
            else:
                await transport.send_bytes(bytes(message.get("bytes") or b""))
        elif kind == "websocket.close":
            if not closed:
                closed = True
                protocol.close(int(message.get("code", 1000)) if transport is not None else 403)
        elif kind == "websocket.http.response.start":
            closed = True
            status = int(message.get("status", 403))
            protocol.close(status if 400 <= status < 600 else 403)
        elif kind == "websocket.http.response.body":
            pass  # the body cannot be sent over RSGI; the status went with the start message

    try:
        await app(scope, receive, send)
    finally:
        if not closed:
            protocol.close(1000 if transport is not None else 403)
