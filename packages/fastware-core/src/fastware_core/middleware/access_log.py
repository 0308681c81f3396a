"""An access log from the app: one line per finished request, with its request id."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastware_core.types import ASGIApp

from .base import Connection, HookMiddleware, PathPrefixes

__all__ = ("AccessLogMiddleware",)


def _printable(target: str) -> str:
    """``target`` safe inside the line's quotes: control characters (a decoded ``%0A``
    would start a forged line), quotes and backslashes escaped as Python escapes them."""
    if target.isprintable() and '"' not in target and "\\" not in target:
        return target
    return target.encode("unicode_escape").decode("ascii").replace('"', '\\"')


class AccessLogMiddleware(HookMiddleware):
    """Log every finished HTTP request on the ``fastware.access`` logger, request id included.

    A line reads like Granian's access log, plus the id that ``RequestIDMiddleware`` (on by
    default) gave the request and sent back in ``X-Request-ID``::

        127.0.0.1 - "GET /items/1?full=1 HTTP/1.1" 200 0.412 ms 3f9c...e1

    Granian's own access log (``fastware serve --access-log``) runs in the server, which
    never sees that id. The record also carries ``method``, ``path``, ``query``,
    ``status``, ``duration_ms``, ``client`` and ``request_id`` as attributes (``None``
    when unknown; ``fastware.logging``'s JSON lines show them). ``status`` is 0 when the
    client left before an answer started; in the line, ``-`` stands for an unknown client
    or id.

    Args:
        app: The ASGI app to wrap (``None`` when the app drives the hooks itself).
        logger: The logger's name, or a logger.
        level: The level of the records.
        exclude_paths: Paths left out (health checks, say), matched at a ``/`` boundary:
            ``/health`` covers ``/health`` and ``/health/db``, not ``/healthz``.
    """

    def __init__(
        self,
        app: ASGIApp | None = None,
        *,
        logger: str | logging.Logger = "fastware.access",
        level: int = logging.INFO,
        exclude_paths: Sequence[str] | None = None,
    ) -> None:
        super().__init__(app)
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self.level = level
        self._excluded = PathPrefixes(exclude_paths)

    def finished(self, conn: Connection, status: int, seconds: float) -> None:
        """Log one line for the finished request (unless its level is off or its path is
        excluded)."""
        logger = self.logger
        if not logger.isEnabledFor(self.level):
            return
        path = conn.path
        if self._excluded and path in self._excluded:
            return
        method = conn.method
        query = conn.query_string
        client = getattr(conn, "client", None)
        address = client.host if client is not None else None
        request_id = conn.state.get("request_id") or None
        duration_ms = round(seconds * 1000.0, 3)
        logger.log(
            self.level,
            '%s - "%s %s HTTP/%s" %d %.3f ms %s',
            address or "-",
            method,
            _printable(f"{path}?{query}" if query else path),
            getattr(conn, "http_version", "1.1"),
            status,
            duration_ms,
            request_id or "-",
            extra={
                "method": method,
                "path": path,
                "query": query,
                "status": status,
                "duration_ms": duration_ms,
                "client": address,
                "request_id": request_id,
            },
        )
