"""Common security response headers (nosniff, frame options, referrer policy, HSTS, CSP...)."""

from __future__ import annotations

import re

from fastware_core.types import ASGIApp

from .base import Connection, HookMiddleware

__all__ = ("SecurityHeadersMiddleware",)

_BAD_VALUE = re.compile(r"[\r\n\x00]")


class SecurityHeadersMiddleware(HookMiddleware):
    """Add security headers to every HTTP response that does not set them itself.

    A header the handler already set (any value) is never overridden, so one route can
    relax a policy. Each option is the header value; ``None`` leaves that header out.

    ``Strict-Transport-Security`` is sent only when ``hsts_max_age`` is given and only on
    ``https`` requests (browsers ignore it over plain HTTP).

    Args:
        app: The ASGI app to wrap (``None`` when the app drives the hooks itself).
        content_type_options: ``X-Content-Type-Options``.
        frame_options: ``X-Frame-Options`` (``DENY`` or ``SAMEORIGIN``).
        referrer_policy: ``Referrer-Policy``.
        hsts_max_age: ``Strict-Transport-Security`` max-age in seconds; ``None`` for none.
        hsts_include_subdomains: Add ``includeSubDomains`` to HSTS.
        hsts_preload: Add ``preload`` to HSTS (requires ``hsts_include_subdomains``).
        content_security_policy: ``Content-Security-Policy``.
        permissions_policy: ``Permissions-Policy``.
        cross_origin_opener_policy: ``Cross-Origin-Opener-Policy``.

    Raises:
        ValueError: for a value holding CR, LF or NUL, a negative ``hsts_max_age``, or
            ``hsts_preload`` without ``hsts_include_subdomains``.
    """

    def __init__(
        self,
        app: ASGIApp | None = None,
        *,
        content_type_options: str | None = "nosniff",
        frame_options: str | None = "DENY",
        referrer_policy: str | None = "strict-origin-when-cross-origin",
        hsts_max_age: int | None = None,
        hsts_include_subdomains: bool = False,
        hsts_preload: bool = False,
        content_security_policy: str | None = None,
        permissions_policy: str | None = None,
        cross_origin_opener_policy: str | None = None,
    ) -> None:
        super().__init__(app)
        candidates = (
            ("x-content-type-options", content_type_options),
            ("x-frame-options", frame_options),
            ("referrer-policy", referrer_policy),
            ("content-security-policy", content_security_policy),
            ("permissions-policy", permissions_policy),
            ("cross-origin-opener-policy", cross_origin_opener_policy),
        )
        pairs: list[tuple[str, str]] = []
        for name, value in candidates:
            if value is None:
                continue
            if _BAD_VALUE.search(value):
                raise ValueError(f"The {name} value holds CR, LF or NUL")
            pairs.append((name, value))
        self.headers = tuple(pairs)
        """The ``(name, value)`` pairs added to every response."""
        self.hsts: tuple[str, str] | None = None
        """The HSTS pair added to https responses, if any."""
        if hsts_max_age is not None:
            if hsts_max_age < 0:
                raise ValueError(f"hsts_max_age must not be negative, got {hsts_max_age}")
            if hsts_preload and not hsts_include_subdomains:
                raise ValueError("hsts_preload requires hsts_include_subdomains=True")
            value = f"max-age={hsts_max_age}"
            if hsts_include_subdomains:
                value += "; includeSubDomains"
            if hsts_preload:
                value += "; preload"
            self.hsts = ("strict-transport-security", value)

    def after(self, conn: Connection, status: int, headers: list[tuple[str, str]]) -> None:
        """Add the configured headers the response does not already have."""
        present = {name.lower() for name, _ in headers}
        for pair in self.headers:
            if pair[0] not in present:
                headers.append(pair)
        hsts = self.hsts
        if hsts is not None and conn.scheme == "https" and hsts[0] not in present:
            headers.append(hsts)
