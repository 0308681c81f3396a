"""Redirect plain-HTTP requests to HTTPS."""

from __future__ import annotations

from fastware_core.types import ASGIApp

from .base import Answer, Connection, HookMiddleware, error_answer, redirect_url
from .trusted_host import split_host

__all__ = ("HTTPSRedirectMiddleware",)

_INVALID = error_answer(400, "Invalid host header")
_REDIRECT_STATUSES = (301, 302, 303, 307, 308)


class HTTPSRedirectMiddleware(HookMiddleware):
    """Answer every ``http://`` request with a redirect to the same URL on ``https://``.

    The path and query are kept; the port is dropped when it is 80 (kept otherwise). A
    request without a usable Host header gets 400 ``{"detail":"Invalid host header"}``.
    Browsers do not follow redirects on a WebSocket handshake, so a ``ws://`` handshake is
    refused instead (close 1008) and ``wss://`` passes.

    The Location is built from the Host header: put :class:`TrustedHostMiddleware` in
    front of this one (``trusted_hosts=``) so that only your own host names are echoed.

    Args:
        app: The ASGI app to wrap (``None`` when the app drives the hooks itself).
        status: The redirect status: 307 (default, keeps the method and body), 308, 301,
            302 or 303.
    """

    applies_to_websocket = True

    def __init__(self, app: ASGIApp | None = None, *, status: int = 307) -> None:
        super().__init__(app)
        if status not in _REDIRECT_STATUSES:
            raise ValueError(f"status must be one of {_REDIRECT_STATUSES}, got {status}")
        self.status = status

    def before(self, conn: Connection) -> Answer | None:
        """Redirect ``http`` (refuse ``ws``); let ``https``/``wss`` through."""
        scheme = conn.scheme
        if scheme == "https" or scheme == "wss":
            return None
        if conn.type != "http":
            return _INVALID  # any answer refuses the handshake (close 1008)
        value = conn.header("host")
        parts = split_host(value) if value is not None else None
        if parts is None:
            return _INVALID
        host, port = parts
        location = redirect_url(
            "https", host, "" if port == "80" else port, conn.path, conn.query_string
        )
        return self.status, "", b"", [("location", location)]
