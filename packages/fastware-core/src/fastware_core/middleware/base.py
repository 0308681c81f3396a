"""The hook protocol shared by fastware's own middleware, and its pure-ASGI fallback.

A :class:`HookMiddleware` does its work in three synchronous hooks instead of wrapping
ASGI messages:

- :meth:`~HookMiddleware.before` sees the request and may answer it directly;
- :meth:`~HookMiddleware.after` edits the response header list before it is sent;
- :meth:`~HookMiddleware.finished` learns the status and duration once the body is sent.

The app can call the hooks natively on both doors (ASGI and RSGI), which costs a few method
calls per request instead of a chain of wrapped ``send`` coroutines. The same object is
also a plain ASGI middleware (``Class(app, **options)``), so it works anywhere an ASGI
middleware does, including ``create_app(router, middleware=[...])``.

Contract for a native driver, matching what nesting the ASGI middleware would do (the first
middleware in the list is the outermost):

1. call ``before()`` outermost first; the first one that returns an :data:`Answer` stops the
   walk and that answer is sent instead of calling the app;
2. call ``after()`` innermost first, on every middleware whose ``before()`` ran (including
   the one that answered), with the final header list;
3. call ``finished()`` on the same middleware once the body is fully sent or the exchange
   ended, outermost first (nested ASGI middleware see the last body message in that order).
   Do not depend on the order: each ``finished()`` must stand alone.

WebSockets: only middleware with ``applies_to_websocket = True`` run, ``before()`` only; an
answer means "refuse the handshake" (close 1008).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

from fastware_core._json import encode_json
from fastware_core.connection import ASGIConnection, Connection
from fastware_core.types import ASGIApp, Receive, Rendered, Scope, Send

__all__ = (
    "ASGIConnection",
    "Answer",
    "Connection",
    "HookMiddleware",
    "PathPrefixes",
    "add_vary",
    "answer_headers",
    "error_answer",
    "send_answer",
)

Answer = Rendered
"""``(status, content_type, body, extra headers)``: the same :data:`~fastware_core.types.Rendered`
tuple the app renders. An empty ``content_type`` sends no Content-Type header (see
:func:`answer_headers`).
"""


def error_answer(status: int, detail: str) -> Answer:
    """A JSON ``{"detail": ...}`` answer, as the app renders its own errors."""
    return status, "application/json", encode_json({"detail": detail}), None


def answer_headers(answer: Answer) -> list[tuple[str, str]]:
    """The header list for an answer: content-type, content-length, then the extras.

    Content-Type is left out when the answer's content type is ``""``; Content-Length is
    left out for 1xx, 204 and 304, which have no body by definition.
    """
    status, content_type, body, extra = answer
    headers: list[tuple[str, str]] = []
    if content_type:
        headers.append(("content-type", content_type))
    if status >= 200 and status not in (204, 304):
        headers.append(("content-length", str(len(body))))
    if extra:
        headers.extend(extra)
    return headers


async def send_answer(
    send: Send, answer: Answer, head: bool = False, headers: list[tuple[str, str]] | None = None
) -> None:
    """Send an answer through ASGI ``send`` (``headers`` overrides :func:`answer_headers`)."""
    if headers is None:
        headers = answer_headers(answer)
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": answer[0], "headers": raw})
    body = b"" if head or answer[0] in (204, 304) else answer[2]
    await send({"type": "http.response.body", "body": body, "more_body": False})


def add_vary(headers: list[tuple[str, str]], token: str) -> None:
    """Merge ``token`` into the Vary header of ``headers``, in place.

    Nothing changes when the token is already listed (case-insensitively) or Vary is ``*``;
    otherwise it is appended to the first Vary header, or a new one is added.
    """
    wanted = token.lower()
    first = -1
    for index, (name, value) in enumerate(headers):
        if name != "vary" and name.lower() != "vary":
            continue
        for item in value.split(","):
            item = item.strip().lower()
            if item == wanted or item == "*":
                return
        if first < 0:
            first = index
    if first < 0:
        headers.append(("vary", token))
    else:
        name, value = headers[first]
        value = value.strip()
        headers[first] = (name, f"{value}, {token}" if value else token)


_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_QUERY_SAFE = "/?:@!$&'()*+,;=-._~%"


def redirect_url(scheme: str, host: str, port: str, path: str, query: str) -> str:
    """An absolute URL for a redirect: host as split by ``split_host``, path re-quoted."""
    netloc = f"[{host}]" if ":" in host else host
    if port:
        netloc = f"{netloc}:{port}"
    url = f"{scheme}://{netloc}{quote(path, safe=_PATH_SAFE)}"
    if query:
        url += "?" + quote(query, safe=_QUERY_SAFE)
    return url


class PathPrefixes:
    """Paths and everything below them, matched at a ``/`` boundary: ``/health`` covers
    ``/health`` and ``/health/db``, not ``/healthz`` (``path in prefixes``)."""

    __slots__ = ("_exact", "_under")

    def __init__(self, paths: Sequence[str] | None) -> None:
        if isinstance(paths, str):
            raise TypeError("exclude_paths must be a list of paths, not a string")
        prefixes = [p.rstrip("/") for p in paths or ()]
        self._exact = frozenset(prefixes)
        self._under = tuple(p + "/" for p in prefixes)

    def __bool__(self) -> bool:
        return bool(self._exact)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and (path in self._exact or path.startswith(self._under))


def _overrides(cls: type, name: str) -> bool:
    return getattr(cls, name) is not getattr(HookMiddleware, name)


class HookMiddleware:
    """Base of fastware's own middleware: hooks, plus a pure-ASGI ``__call__``.

    Subclasses override the hooks they need; the class flags :attr:`uses_before`,
    :attr:`uses_after` and :attr:`uses_finished` tell a native driver which hooks to call.

    Args:
        app: The ASGI app to wrap, or ``None`` when the hooks are driven natively.
    """

    applies_to_websocket: ClassVar[bool] = False
    """Whether ``before()`` also runs for WebSocket handshakes (an answer closes with 1008)."""
    uses_before: ClassVar[bool] = False
    """Whether the class overrides :meth:`before` (computed per subclass)."""
    uses_after: ClassVar[bool] = False
    """Whether the class overrides :meth:`after` (computed per subclass)."""
    uses_finished: ClassVar[bool] = False
    """Whether the class overrides :meth:`finished` (computed per subclass)."""
    uses_wrap_route: ClassVar[bool] = False
    """Whether the class overrides :meth:`wrap_route` (computed per subclass)."""
    after_appends_only: ClassVar[bool] = False
    """Set it when :meth:`after` only appends headers and never reads or changes the ones
    already there: a door may then hand it a list of just the new headers and encode only
    those (the ASGI door keeps the response's own headers in bytes)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.uses_before = _overrides(cls, "before")
        cls.uses_after = _overrides(cls, "after")
        cls.uses_finished = _overrides(cls, "finished")
        cls.uses_wrap_route = _overrides(cls, "wrap_route")

    def __init__(self, app: ASGIApp | None = None) -> None:
        self.app = app

    def before(self, conn: Connection) -> Answer | None:
        """Inspect the request; return an :data:`Answer` to reply without calling the app."""
        return None

    def after(self, conn: Connection, status: int, headers: list[tuple[str, str]]) -> None:
        """Edit the response headers (lower-case names) in place before they are sent."""
        return

    def finished(self, conn: Connection, status: int, seconds: float) -> None:
        """Called once the response is fully sent or the exchange ended.

        ``status`` is 0 when no response was started.
        """
        return

    def wrap_route(self, call: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """Wrap an HTTP route's handler call, once, when the app compiles its routes: for
        work that must be awaited around the handler (loading and saving server-side
        sessions). Returns ``call`` itself when there is nothing to wrap. Only a fastware
        app driving the hooks natively calls it.
        """
        return call

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run as a pure-ASGI middleware around ``self.app``."""
        app = self.app
        if app is None:
            raise TypeError(
                f"{type(self).__name__} was created without an app; pass one to use it as "
                "ASGI middleware, e.g. create_app(router, middleware=[lambda app: "
                f"{type(self).__name__}(app, ...)])"
            )
        kind = scope["type"]
        if kind == "websocket" and self.applies_to_websocket:
            if self.before(ASGIConnection.of(scope)) is not None:
                await receive()  # the websocket.connect event
                await send({"type": "websocket.close", "code": 1008})
                return
            await app(scope, receive, send)
            return
        if kind != "http":
            await app(scope, receive, send)
            return
        await self._http(app, scope, receive, send)

    async def _http(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        conn = ASGIConnection.of(scope)
        started = time.perf_counter()
        answer = self.before(conn)
        if answer is not None:
            headers = answer_headers(answer)
            self.after(conn, answer[0], headers)
            try:
                await send_answer(send, answer, conn.method == "HEAD", headers)
            finally:
                self.finished(conn, answer[0], time.perf_counter() - started)
            return

        status = 0
        done = False
        uses_after = self.uses_after

        async def send_wrapper(message: Any) -> None:
            nonlocal status, done
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
                if uses_after:
                    headers = [
                        (bytes(k).decode("latin-1").lower(), bytes(v).decode("latin-1"))
                        for k, v in message.get("headers") or ()
                    ]
                    self.after(conn, status, headers)
                    message = dict(message)
                    message["headers"] = [
                        (k.encode("latin-1"), v.encode("latin-1")) for k, v in headers
                    ]
            elif kind == "http.response.body" and not message.get("more_body", False):
                await send(message)
                if not done:
                    done = True
                    self.finished(conn, status, time.perf_counter() - started)
                return
            await send(message)

        try:
            await app(scope, receive, send_wrapper)
        finally:
            if not done:
                done = True
                self.finished(conn, status, time.perf_counter() - started)
