"""Cross-Origin Resource Sharing: preflight answers and CORS response headers."""

from __future__ import annotations

import re
from collections.abc import Sequence

from fastware_core.types import ASGIApp

from .base import Answer, Connection, HookMiddleware, add_vary, error_answer

__all__ = ("CORSMiddleware",)

DEFAULT_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")
DEFAULT_HEADERS = ("accept", "authorization", "content-type", "x-request-id")
# Always allowed, whatever allow_headers says (the Fetch spec's CORS-safelisted names).
SAFELISTED_HEADERS = ("accept", "accept-language", "content-language", "content-type")

_REJECTED = error_answer(400, "CORS preflight rejected")


class CORSMiddleware(HookMiddleware):
    """Answer CORS preflights and add CORS headers for allowed origins.

    - A request without ``Origin``, or from an origin that is not allowed, passes through
      untouched.
    - A preflight (``OPTIONS`` with ``Access-Control-Request-Method``) from an allowed
      origin is answered 204 with the allow-* headers and ``Access-Control-Max-Age``. The
      requested method must be in ``allow_methods`` and every requested header in
      ``allow_headers`` (case-insensitive), or the answer is 400
      ``{"detail":"CORS preflight rejected"}``.
    - Other responses to an allowed origin get ``Access-Control-Allow-Origin``, the
      credentials header when credentials are on, ``Access-Control-Expose-Headers`` when
      set, and ``Origin`` merged into ``Vary``. A response that already carries
      ``Access-Control-Allow-Origin`` (set by the handler) is left alone.
    - ``"*"`` in ``allow_origins`` allows every origin and turns credentials **off**: the
      header sent is ``Access-Control-Allow-Origin: *``, which browsers refuse together with
      credentials. Since the value does not depend on the origin, no ``Vary`` is added.
    - WebSockets are not affected; use ``AppConfig.websocket_origins`` for them.

    Args:
        app: The ASGI app to wrap (``None`` when the app drives the hooks itself).
        allow_origins: Exact origins (``"https://example.com"``) or ``["*"]``.
        allow_methods: Methods a preflight may ask for (default: GET, POST, PUT, PATCH,
            DELETE, OPTIONS, HEAD); ``["*"]`` allows any.
        allow_headers: Request headers a preflight may ask for (default: accept,
            authorization, content-type, x-request-id); ``["*"]`` allows any. The
            CORS-safelisted names are always allowed.
        allow_credentials: Send ``Access-Control-Allow-Credentials: true`` (ignored with
            ``"*"`` origins).
        expose_headers: Response headers scripts may read.
        max_age: Seconds a browser may cache a preflight answer.
        allow_origin_regex: A regular expression an origin must match in full, in addition
            to ``allow_origins``.
    """

    def __init__(
        self,
        app: ASGIApp | None = None,
        *,
        allow_origins: Sequence[str],
        allow_methods: Sequence[str] | None = None,
        allow_headers: Sequence[str] | None = None,
        allow_credentials: bool = True,
        expose_headers: Sequence[str] | None = None,
        max_age: int = 3600,
        allow_origin_regex: str | None = None,
    ) -> None:
        super().__init__(app)
        if isinstance(allow_origins, str):
            raise TypeError("allow_origins must be a list of origins, not a string")
        origins = [o.rstrip("/") for o in allow_origins]
        self.allow_all_origins = "*" in origins
        self.allow_origins = frozenset(o for o in origins if o != "*")
        self.allow_origin_regex = re.compile(allow_origin_regex) if allow_origin_regex else None
        self.allow_credentials = allow_credentials and not self.allow_all_origins

        methods = [m.upper() for m in (DEFAULT_METHODS if allow_methods is None else allow_methods)]
        self.allow_all_methods = "*" in methods
        self.allow_methods = frozenset(methods)
        self._methods_value = ", ".join(dict.fromkeys(m for m in methods if m != "*"))

        names = [h.lower() for h in (DEFAULT_HEADERS if allow_headers is None else allow_headers)]
        self.allow_all_headers = "*" in names
        allowed = dict.fromkeys([*SAFELISTED_HEADERS, *(n for n in names if n != "*")])
        self.allow_headers = frozenset(allowed)
        self._headers_value = ", ".join(allowed)

        self.expose_headers = tuple(expose_headers or ())
        self._expose_value = ", ".join(self.expose_headers)
        self.max_age = max_age

        # Everything that does not depend on the request, computed once.
        simple: list[tuple[str, str]] = []
        if self.allow_credentials:
            simple.append(("access-control-allow-credentials", "true"))
        if self._expose_value:
            simple.append(("access-control-expose-headers", self._expose_value))
        self._simple_extra = tuple(simple)
        preflight: list[tuple[str, str]] = []
        if self.allow_credentials:
            preflight.append(("access-control-allow-credentials", "true"))
        preflight.append(("access-control-max-age", str(max_age)))
        self._preflight_extra = tuple(preflight)

    def is_allowed_origin(self, origin: str) -> bool:
        """Whether ``origin`` may read responses."""
        if self.allow_all_origins or origin in self.allow_origins:
            return True
        regex = self.allow_origin_regex
        return regex is not None and regex.fullmatch(origin) is not None

    def before(self, conn: Connection) -> Answer | None:
        """Answer preflights from allowed origins (204, or 400 when the ask is refused)."""
        if conn.method != "OPTIONS" or conn.type != "http":
            return None
        requested = conn.header("access-control-request-method")
        if requested is None:
            return None  # a plain OPTIONS request: the app answers it
        origin = conn.header("origin")
        if origin is None or not self.is_allowed_origin(origin):
            return None
        if not self.allow_all_methods and requested.upper() not in self.allow_methods:
            return _REJECTED
        asked = conn.header("access-control-request-headers")
        if asked is not None and not self.allow_all_headers:
            for name in asked.split(","):
                name = name.strip().lower()
                if name and name not in self.allow_headers:
                    return _REJECTED
        headers = [
            ("access-control-allow-origin", "*" if self.allow_all_origins else origin),
            (
                "access-control-allow-methods",
                requested if self.allow_all_methods else self._methods_value,
            ),
        ]
        if self.allow_all_headers:
            if asked:
                headers.append(("access-control-allow-headers", asked))
        else:
            headers.append(("access-control-allow-headers", self._headers_value))
        headers.extend(self._preflight_extra)
        if not self.allow_all_origins:
            headers.append(("vary", "Origin"))
        return 204, "", b"", headers

    def after(self, conn: Connection, status: int, headers: list[tuple[str, str]]) -> None:
        """Add the CORS headers to a response for an allowed origin."""
        if conn.type != "http":
            return
        origin = conn.header("origin")
        if origin is None or not self.is_allowed_origin(origin):
            return
        for name, _ in headers:
            if name.lower() == "access-control-allow-origin":
                return  # the handler (or a preflight answer) already decided
        if self.allow_all_origins:
            headers.append(("access-control-allow-origin", "*"))
        else:
            headers.append(("access-control-allow-origin", origin))
            add_vary(headers, "Origin")
        headers.extend(self._simple_extra)
