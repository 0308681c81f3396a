"""Sessions for HTTP routes: ``request.session``, kept in a signed cookie or a backend.

Cookie sessions run as hooks on both doors: the first read of ``request.session`` opens a
slot in the request state and decodes the cookie, ``after()`` appends the cookie when the
session changed; a request that never reads its session pays only ``after()``'s look at
the state. Server-side sessions (``backend=``) also wrap
each HTTP route once, at compile time, to load the session before the handler and save it
after, so that the store's I/O is awaited before the answer leaves.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

from fastware_core.exceptions import FastwareError, HTTPError
from fastware_core.request import parse_cookie_header
from fastware_core.sessions import (
    Session,
    SessionBackend,
    SessionCodec,
    SessionTooLargeError,
    WebSocketSession,
    new_session_id,
)
from fastware_core.types import ASGIApp, Receive, Scope, Send

from .base import ASGIConnection, Connection, HookMiddleware

__all__ = ("SessionMiddleware",)

logger = logging.getLogger("fastware.sessions")
_COOKIE_NAME_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_STATE_KEY = "session"


class SessionMiddleware(HookMiddleware):
    """Give every HTTP request a :class:`~fastware_core.sessions.Session` in
    ``request.session``.

    Without ``backend`` the whole session lives in the cookie, signed with HMAC-SHA256 (and
    encrypted with AES-GCM when ``encrypt=True``): keep it small. With a ``backend`` the
    cookie holds only a signed session id. A cookie that was tampered with, signed by an
    unknown key or is older than ``max_age`` gives an empty session, never an error.

    Args:
        app: The ASGI app to wrap (``None`` when a fastware app drives the hooks itself).
        secret_key: The signing secret (at least 16 bytes), or several, newest first: the
            first signs, all verify (key rotation).
        cookie_name: The cookie's name.
        max_age: Seconds a session lives after it was last written (also the cookie's
            ``Max-Age``); ``None`` makes a browser-session cookie that never expires
            server-side.
        path: The cookie's ``Path``.
        domain: The cookie's ``Domain`` (``None``: this host only).
        secure: Send the cookie over HTTPS only (turn it on in production).
        httponly: Hide the cookie from JavaScript.
        samesite: ``"lax"``, ``"strict"`` or ``"none"`` (``"none"`` requires ``secure``).
        encrypt: Encrypt the cookie too (needs ``fastware-core[encryption]``).
        max_cookie_size: The largest cookie (name, value and attributes) written; a change
            that would exceed it raises :class:`~fastware_core.sessions.SessionTooLargeError`.
        backend: A :class:`~fastware_core.sessions.SessionBackend` for server-side sessions.
    """

    after_appends_only = True
    provides_session: ClassVar[bool] = True
    """Marks the middleware ``request.session`` asks for its slot (see :meth:`open`)."""

    def __init__(
        self,
        app: ASGIApp | None = None,
        *,
        secret_key: str | bytes | Sequence[str | bytes],
        cookie_name: str = "session",
        max_age: int | None = 14 * 24 * 3600,
        path: str = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = True,
        samesite: Literal["lax", "strict", "none"] = "lax",
        encrypt: bool = False,
        max_cookie_size: int = 4096,
        backend: SessionBackend | None = None,
    ) -> None:
        super().__init__(app)
        if not cookie_name or not set(cookie_name) <= _COOKIE_NAME_CHARS:
            raise ValueError(f"cookie_name {cookie_name!r} is not a valid cookie name")
        if samesite not in ("lax", "strict", "none"):
            raise ValueError("samesite must be 'lax', 'strict' or 'none'")
        if samesite == "none" and not secure:
            raise ValueError("samesite='none' needs secure=True (browsers refuse it otherwise)")
        if max_age is not None and max_age <= 0:
            raise ValueError("max_age must be a positive number of seconds or None")
        for text in (path, domain or ""):
            if any(c in text for c in ";,\r\n"):
                raise ValueError(f"Invalid cookie attribute value {text!r}")
        if backend is not None and app is not None:
            raise FastwareError(
                "SessionMiddleware with a backend must be driven by a fastware app: pass it "
                "as create_app(router, middleware=[SessionMiddleware(secret_key=..., "
                "backend=...)]) rather than wrapping an ASGI app"
            )
        self.codec = SessionCodec(secret_key, encrypt=encrypt)
        self.cookie_name = cookie_name
        self.max_age = max_age
        self.backend = backend
        self.max_cookie_size = max_cookie_size
        attributes = [f"Path={path}"]
        if domain:
            attributes.append(f"Domain={domain}")
        if max_age is not None:
            attributes.append(f"Max-Age={max_age}")
        if httponly:
            attributes.append("HttpOnly")
        attributes.append(f"SameSite={samesite.capitalize()}")
        if secure:
            attributes.append("Secure")
        self._attributes = "; ".join(attributes)
        deletion = [f"Path={path}"] + ([f"Domain={domain}"] if domain else [])
        deletion += ["Max-Age=0", "Expires=Thu, 01 Jan 1970 00:00:00 GMT"]
        deletion += [a for a in attributes[1:] if a in ("HttpOnly", "Secure")]
        deletion.append(f"SameSite={samesite.capitalize()}")
        self._deletion = f"{cookie_name}=; " + "; ".join(deletion)
        # what a cookie costs beyond its value: "name=" and "; attributes"
        self._overhead = len(cookie_name) + 1 + 2 + len(self._attributes)

    # -- hooks -------------------------------------------------------------------------------

    def open(self, conn: Connection) -> _Slot:
        """The request's session slot, created on first use (``request.session`` calls it):
        a request that never reads its session costs nothing but the ``after`` check."""
        slot = conn.state.get(_STATE_KEY)
        if type(slot) is not _Slot:
            slot = conn.state[_STATE_KEY] = _Slot(self, conn)
        return slot

    def after(self, conn: Connection, status: int, headers: list[tuple[str, str]]) -> None:
        """Append the cookie when the session changed (or is due a refresh).

        ``Cache-Control: private, no-store`` goes with it: a response that sets a session
        must not be stored by a shared cache (added to any directive the response has;
        ``no-store`` wins over all of them).
        """
        slot = conn.state.get(_STATE_KEY)
        if slot is None or type(slot) is not _Slot:
            return
        cookie = slot.cookie_header()
        if cookie is not None:
            headers.append(("set-cookie", cookie))
            headers.append(("cache-control", "private, no-store"))

    async def _http(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        # As plain ASGI middleware: the wrapped app finds the slot in the scope's state.
        self.open(ASGIConnection.of(scope))
        await super()._http(app, scope, receive, send)

    async def open_websocket(self, conn: Connection) -> None:
        """Give a WebSocket connection its session, read-only (``websocket.session``): a
        server-side session is loaded from the store now, a cookie session is decoded on
        first use."""
        slot = conn.state[_STATE_KEY] = _Slot(self, conn, WebSocketSession)
        if self.backend is not None:
            await slot.load_stored()

    def wrap_route(self, call: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """Load the server-side session before ``call`` and save it after (cookie sessions
        need no wrapping)."""
        if self.backend is None:
            return call

        async def with_session(request: Any) -> Any:
            slot = self.open(request.connection)
            await slot.load_stored()
            try:
                result = await call(request)
            except HTTPError:
                await slot.store()
                raise
            await slot.store()
            return result

        return with_session

    # -- cookie values ----------------------------------------------------------------------

    def _check_cookie_size(self, session: Session) -> None:
        size = self.codec.encoded_size(dict(session)) + self._overhead
        if size > self.max_cookie_size:
            raise SessionTooLargeError(
                f"The session would make a {size}-byte cookie; the limit is "
                f"{self.max_cookie_size} (browsers drop cookies over 4096 bytes). Keep less "
                "in it, or use a server-side backend: SessionMiddleware(backend=...)"
            )

    def _set_cookie(self, value: str) -> str:
        return f"{self.cookie_name}={value}; {self._attributes}"

    def _due_refresh(self, issued: int) -> bool:
        max_age = self.max_age
        return max_age is not None and issued > 0 and time.time() - issued > max_age / 2


class _Slot:
    """One request's session: the raw cookie until a handler asks, then the session."""

    __slots__ = (
        "_conn",
        "_kind",
        "_middleware",
        "_old_id",
        "_stored",
        "cookie_value",
        "session",
    )

    def __init__(
        self, middleware: SessionMiddleware, conn: Connection, kind: type[Session] = Session
    ) -> None:
        self._middleware = middleware
        self._conn = conn
        self._kind = kind
        self.session: Session | None = None
        self.cookie_value: str | None = None
        self._old_id: str | None = None
        self._stored = False  # a backend save or delete happened this request

    def _raw_cookie(self) -> str | None:
        values = self._conn.header_list("cookie")
        if not values:
            return None
        return parse_cookie_header("; ".join(values)).get(self._middleware.cookie_name)

    def get(self) -> Session:
        """The session, decoded from the cookie on first use."""
        session = self.session
        if session is not None:
            return session
        middleware = self._middleware
        if middleware.backend is not None:
            raise FastwareError(
                "The server-side session was not loaded: request.session is available in "
                "route handlers (and their dependencies), websocket.session in WebSocket "
                "handlers"
            )
        raw = self._raw_cookie()
        decoded = middleware.codec.decode(raw, middleware.max_age) if raw else None
        data, issued = decoded if decoded is not None else ({}, 0)
        if not isinstance(data, dict):
            data, issued = {}, 0
        session = self._kind(data, issued=issued, check=middleware._check_cookie_size)
        self.cookie_value = raw
        if raw and decoded is None:
            session.modified = True  # an invalid cookie is replaced (deleted)
        self.session = session
        return session

    async def load_stored(self) -> None:
        middleware = self._middleware
        backend = middleware.backend
        assert backend is not None
        raw = self._raw_cookie()
        decoded = middleware.codec.decode(raw, middleware.max_age) if raw else None
        data: dict[str, Any] | None = None
        session_id: str | None = None
        issued = 0
        if decoded is not None and isinstance(decoded[0], str):
            session_id, issued = decoded
            data = await backend.load(session_id)
            if data is None:
                session_id, issued = None, 0
        session = self._kind(data, session_id=session_id, issued=issued)
        if raw and session_id is None:
            session.modified = True  # a stale or invalid cookie is deleted
        self.cookie_value = raw
        self.session = session

    async def store(self) -> None:
        session = self.session
        middleware = self._middleware
        backend = middleware.backend
        if session is None or backend is None:
            return
        refresh = middleware._due_refresh(session.issued)
        if not (session.modified or refresh):
            return
        if not session:
            if session.id is not None:
                await backend.delete(session.id)
            self._old_id, session.id = session.id, None
        else:
            if session.id is None or session.renewed:
                if session.id is not None:
                    await backend.delete(session.id)
                session.id = new_session_id()
            await backend.save(session.id, dict(session), middleware.max_age)
            session.issued = int(time.time())
        self._stored = True

    def cookie_header(self) -> str | None:
        """The Set-Cookie value this request needs, or ``None``."""
        session = self.session
        if session is None:
            return None
        middleware = self._middleware
        if middleware.backend is not None:
            if not self._stored and not (session.modified and self.cookie_value):
                return None
            if session.id is None:
                return middleware._deletion if self.cookie_value else None
            return middleware._set_cookie(middleware.codec.encode(session.id, session.issued))
        if not (session.modified or middleware._due_refresh(session.issued)):
            return None
        if not session:
            return middleware._deletion if self.cookie_value or session.modified else None
        try:
            middleware._check_cookie_size(session)
        except SessionTooLargeError:
            # A nested value grew in place past the limit: keep the old cookie, say why.
            logger.error("Session cookie not updated: %s", "the session grew past max_cookie_size")
            return None
        return middleware._set_cookie(middleware.codec.encode(dict(session)))
