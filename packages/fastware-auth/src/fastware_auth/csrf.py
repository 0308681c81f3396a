"""``CSRFMiddleware``: double-submit tokens plus an Origin check, on both doors.

For every unsafe request (anything but ``GET``, ``HEAD``, ``OPTIONS`` and ``TRACE``):

1. paths under ``exempt_paths`` pass (matched on a ``/`` boundary: ``/login`` exempts
   ``/login`` and ``/login/...``, not ``/login-admin``);
2. a request with an ``Authorization: Bearer`` token that *verifies* with the configured
   keys passes: browsers never attach such a header by themselves, so it cannot be forged
   cross-site. A token that does not verify gets no exemption;
3. when the browser says where the request comes from (``Origin``, else ``Referer``), it
   must be this app's own origin or one of ``trusted_origins``: ``403 Origin not allowed``;
4. the ``csrf_token`` cookie must equal the ``X-CSRF-Token`` header (compared in constant
   time, as bytes): ``403 Missing CSRF token`` / ``403 CSRF token mismatch``.

It is a :class:`~fastware_core.middleware.HookMiddleware`: pass an instance in
``create_app(middleware=[...])`` and it runs natively on both doors; ``CSRFMiddleware(app,
...)`` is still a plain ASGI middleware (fastware 0.6.3's form).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fastware_core.middleware import Answer, Connection, HookMiddleware, error_answer
from fastware_core.request import parse_cookie_header
from fastware_core.types import ASGIApp

from .tokens import KeySet, SigningKey, TokenVerifier

if TYPE_CHECKING:
    from .auth import Auth

__all__ = ("SAFE_METHODS", "CSRFMiddleware")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
"""Methods that must not change state, and so are never checked."""

_MISSING = error_answer(403, "Missing CSRF token")
_MISMATCH = error_answer(403, "CSRF token mismatch")
_ORIGIN = error_answer(403, "Origin not allowed")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def _bytes(value: str) -> bytes:
    # Header values arrive as str decoded from latin-1 (ASGI) or UTF-8 (RSGI); any str,
    # even one with lone surrogates, encodes this way, so comparing never raises.
    return value.encode("utf-8", "surrogatepass")


def _normalise_origin(origin: str) -> str | None:
    """``scheme://host[:port]`` in lower case with the default port dropped, or ``None``."""
    try:
        parts = urlsplit(origin.strip())
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return None
    if scheme not in ("http", "https") or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is not None and str(port) != _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


class CSRFMiddleware(HookMiddleware):
    """Refuse cross-site state-changing requests (see the module docs for the rules).

    Args:
        app: The ASGI app to wrap; ``None`` when the app drives the hooks natively.
        exempt_paths: Path prefixes never checked, matched on a ``/`` boundary.
        disabled: Let everything through (tests, or an API served to non-browsers only).
        auth: An :class:`~fastware_auth.Auth`: valid bearer tokens of its keys are exempt,
            and its cookie names are used.
        secret: Instead of ``auth``: the keys that bearer tokens must verify with.
        trusted_origins: Other origins allowed to send unsafe requests
            (``"https://admin.example.com"``); the request's own origin always is.
        check_origin: Check ``Origin``/``Referer`` (step 3).
        cookie_name: The CSRF cookie (default: ``auth``'s, else ``csrf_token``).
        header_name: The request header carrying the token.
    """

    def __init__(
        self,
        app: ASGIApp | None = None,
        *,
        exempt_paths: Iterable[str] | None = None,
        disabled: bool = False,
        auth: Auth | None = None,
        secret: str | bytes | SigningKey | KeySet | Sequence[SigningKey] | None = None,
        trusted_origins: Iterable[str] | None = None,
        check_origin: bool = True,
        cookie_name: str | None = None,
        header_name: str = "x-csrf-token",
    ) -> None:
        super().__init__(app)
        self.disabled = disabled
        self.exempt_paths = tuple(
            "/" + path.strip("/") if path.strip("/") else "/" for path in exempt_paths or ()
        )
        self._verifier: TokenVerifier | None = None
        if auth is not None:
            self._verifier = auth.verifier
        elif secret is not None:
            self._verifier = TokenVerifier(secret)
        self.trusted_origins: frozenset[str] = frozenset(
            origin
            for origin in (_normalise_origin(text) for text in trusted_origins or ())
            if origin is not None
        )
        for text in trusted_origins or ():
            if _normalise_origin(text) is None:
                raise ValueError(f"trusted origin {text!r} is not of the form https://host[:port]")
        self.check_origin = check_origin
        if cookie_name is None:
            cookie_name = auth.cookies.csrf_cookie if auth is not None else "csrf_token"
        self.cookie_name = cookie_name
        self.header_name = header_name.lower()

    def _exempt(self, path: str) -> bool:
        for prefix in self.exempt_paths:
            if prefix == "/" or path == prefix or path.startswith(prefix + "/"):
                return True
        return False

    def _bearer_verifies(self, conn: Connection) -> bool:
        verifier = self._verifier
        if verifier is None:
            return False
        header = conn.header("authorization")
        if header is None:
            return False
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and verifier.verify(token.strip()) is not None

    def _origin_allowed(self, conn: Connection) -> bool:
        source = conn.header("origin")
        if source is None:
            referer = conn.header("referer")
            if referer is None:
                return True  # not a browser telling: the token check decides
            source = referer
        origin = _normalise_origin(source)  # "null" (sandboxed, file:) never matches
        if origin is None:
            return False
        if origin in self.trusted_origins:
            return True
        host = conn.header("host") or conn.header(":authority")
        if not host:
            return False
        own = _normalise_origin(f"{conn.scheme}://{host}")
        return own is not None and origin == own

    def before(self, conn: Connection) -> Answer | None:
        """Check an unsafe request; answer 403 when it fails."""
        if self.disabled or conn.method.upper() in SAFE_METHODS:
            return None
        if self.exempt_paths and self._exempt(conn.path):
            return None
        if self._bearer_verifies(conn):
            return None
        if self.check_origin and not self._origin_allowed(conn):
            return _ORIGIN
        cookies = conn.header_list("cookie")
        cookie = parse_cookie_header("; ".join(cookies)).get(self.cookie_name) if cookies else None
        header = conn.header(self.header_name)
        if not cookie or not header:
            return _MISSING
        if not hmac.compare_digest(_bytes(cookie), _bytes(header.strip())):
            return _MISMATCH
        return None

    def __repr__(self) -> str:
        return f"CSRFMiddleware(exempt_paths={list(self.exempt_paths)!r}, disabled={self.disabled})"
