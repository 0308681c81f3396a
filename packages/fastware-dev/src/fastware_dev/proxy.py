"""``ViteDevProxy``: serve the backend and a Vite dev server from one origin.

::

    from fastware_dev import ViteDevProxy

    app = ViteDevProxy(create_app(router), vite_port=5173)

Routing (the rules of fastware 0.6.3, with ``/`` boundaries on the prefixes):

- ``/__fastware/...``, the ``api_prefix`` (``/api``) and the ``backend_prefixes``
  (``/events`` and ``/ws`` by default) always go to the app;
- every other HTTP request goes to the app first; when the app answers **404**, its answer
  is dropped and the request is sent to Vite instead (page, modules, assets);
- WebSockets on backend paths, or on a WebSocket route the app defines, go to the app; the
  others (Vite's HMR socket) are tunnelled to Vite.

Requests to Vite are streamed both ways (see :mod:`fastware_dev.upstream`). When Vite is
not running the browser gets a 502 page saying how to start it.

The proxy is an ASGI app: it needs the ASGI door because Granian's RSGI WebSocket protocol
can neither send the subprotocol Vite's HMR client asks for (``vite-hmr``; browsers refuse
the handshake without it) nor a close code. fastware-server serves it over ASGI by itself.
Attribute lookups it cannot answer go to the wrapped app (``proxy.router``,
``proxy.fastware_sw_mode``...).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from fastware_core.types import ASGIApp, Receive, Scope, Send

from .exceptions import DevConfigError
from .upstream import Upstream

__all__ = ("DEFAULT_BACKEND_PREFIXES", "ViteDevProxy")

DEFAULT_BACKEND_PREFIXES = ("/events", "/ws")
"""Paths that go to the backend besides ``/__fastware/`` and the API prefix (0.6.3's default)."""
_RESERVED = "/__fastware"


def _normalise(prefix: str) -> str:
    return "/" + prefix.strip("/")


def _under(path: str, prefix: str) -> bool:
    if prefix == "/":
        return True
    return path == prefix or path.startswith(prefix + "/")


class ViteDevProxy:
    """Send backend paths to ``app``, everything else (and the app's 404s) to Vite.

    Args:
        app: The backend ASGI app (a fastware app, or any ASGI app).
        vite_port: The port of the Vite dev server.
        api_prefix: Paths under it always go to the backend (``/api``).
        backend_prefixes: More paths that always go to the backend; ``None`` means
            ``["/events", "/ws"]``. Matched on ``/`` boundaries: ``/api`` is not ``/apiary``.
        vite_host: The host Vite listens on (``localhost`` tries IPv4 and IPv6).
        vite_hint: How to start Vite, shown on the 502 page when it is not running.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        vite_port: int,
        api_prefix: str | None = "/api",
        backend_prefixes: Sequence[str] | None = None,
        vite_host: str = "localhost",
        vite_hint: str = "npm run dev",
    ) -> None:
        if (
            isinstance(vite_port, bool)
            or not isinstance(vite_port, int)
            or not 0 < vite_port < 65536
        ):
            raise DevConfigError(f"vite_port must be a port number, got {vite_port!r}")
        self.app = app
        self.vite_port = vite_port
        self.vite_host = vite_host
        self.vite_hint = vite_hint
        self.api_prefix = _normalise(api_prefix) if api_prefix else None
        prefixes = DEFAULT_BACKEND_PREFIXES if backend_prefixes is None else backend_prefixes
        self.backend_prefixes = tuple(_normalise(p) for p in prefixes)
        self._prefixes = (
            (_RESERVED,) + ((self.api_prefix,) if self.api_prefix else ()) + self.backend_prefixes
        )
        self.vite = Upstream(vite_host, vite_port, name="Vite")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        app = self.__dict__.get("app")
        if app is None:
            raise AttributeError(name)
        return getattr(app, name)

    def is_backend_path(self, path: str) -> bool:
        """Whether ``path`` always goes to the backend (never to Vite)."""
        return any(_under(path, prefix) for prefix in self._prefixes)

    def _app_has_websocket(self, path: str) -> bool:
        router = getattr(self.app, "router", None)
        compile_router = getattr(router, "compile", None)
        if compile_router is None:
            return False
        try:
            compiled = compile_router()
            ws = compiled.ws
            return ws is not None and ws.lookup("GET", path) is not None
        except Exception:
            return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        kind = scope["type"]
        if kind == "http":
            if self.is_backend_path(scope["path"]):
                await self.app(scope, receive, send)
            else:
                await self._app_then_vite(scope, receive, send)
        elif kind == "websocket":
            path = scope["path"]
            if self.is_backend_path(path) or self._app_has_websocket(path):
                await self.app(scope, receive, send)
            else:
                await self.vite.forward_websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def closing_send(message: Any) -> None:
            if message.get("type") in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self.close()
            await send(message)

        await self.app(scope, receive, closing_send)

    async def _app_then_vite(self, scope: Scope, receive: Receive, send: Send) -> None:
        consumed: list[bytes] = []
        body_done = False
        client_gone = False
        replay = False

        async def tee_receive() -> Any:
            nonlocal body_done, client_gone
            message = await receive()
            kind = message["type"]
            if kind == "http.request":
                chunk = message.get("body", b"")
                if chunk:
                    consumed.append(bytes(chunk))
                if not message.get("more_body", False):
                    body_done = True
            elif kind == "http.disconnect":
                client_gone = True
            return message

        async def intercept(message: Any) -> None:
            nonlocal replay
            if message["type"] == "http.response.start" and message.get("status") == 404:
                replay = True
            if replay:
                return  # the 404 is dropped; Vite answers instead
            await send(message)

        await self.app(scope, tee_receive, intercept)
        if replay and not client_gone:
            await self.vite.forward_http(
                scope,
                receive,
                send,
                replayed=consumed,
                body_done=body_done,
                on_unreachable=self._vite_down,
            )

    async def _vite_down(self, scope: Scope, send: Send, error: BaseException) -> None:
        url = self.vite.url
        message = (
            f"The Vite dev server is not running at {url}. Start it with '{self.vite_hint}' "
            "in your frontend directory, or run 'fastware dev' to start Vite and the backend "
            "together."
        )
        await send_error_page(scope, send, 502, "Vite is not running", message)

    async def close(self) -> None:
        """Close the connections to Vite (done at lifespan shutdown)."""
        await self.vite.aclose()


async def send_error_page(
    scope: Scope, send: Send, status: int, title: str, message: str, details: Sequence[str] = ()
) -> None:
    """Answer with a small HTML page for browsers, ``{"detail": ...}`` JSON for others."""
    import json

    accept = next(
        (
            bytes(v).decode("latin-1")
            for k, v in scope.get("headers") or ()
            if k.lower() == b"accept"
        ),
        "",
    )
    if "text/html" in accept:
        pre = "<pre>" + html.escape("\n".join(details)) + "</pre>" if details else ""
        body = (
            "<!doctype html><html><head><meta charset=utf-8>"
            f"<title>{html.escape(title)}</title>"
            "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:50rem;margin:3rem auto;"
            "padding:0 1rem;color:#222}h1{font-size:1.4rem}pre{background:#f4f4f4;padding:1rem;"
            "overflow:auto;font-size:13px}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>{pre}"
            "<p><small>fastware dev</small></p></body></html>"
        ).encode()
        content_type = b"text/html; charset=utf-8"
    else:
        payload: dict[str, Any] = {"detail": message}
        if details:
            payload["output"] = list(details)
        body = json.dumps(payload).encode()
        content_type = b"application/json"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"retry-after", b"1"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
