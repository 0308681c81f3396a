"""Session cookies: the JWT in an HttpOnly cookie, and the CSRF token in a readable one.

``set_session_cookies(token, csrf_token)`` gives fastware 0.6.3's two ``Set-Cookie``
values (``Path=/``, ``SameSite=Lax``, the session cookie ``HttpOnly``, no ``Max-Age``, no
``Secure``). Production settings, over HTTPS::

    SessionCookies(secure=True, host_prefix=True, max_age=8 * 3600)

``host_prefix`` names the cookies ``__Host-session`` and ``__Host-csrf_token``: browsers
then accept them only with ``Secure``, ``Path=/`` and no ``Domain``, so a sibling
subdomain cannot plant or overwrite them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Literal

from fastware_core import delete_cookie, set_cookie

from .exceptions import AuthConfigurationError

__all__ = (
    "SessionCookies",
    "clear_session_cookies",
    "generate_csrf_token",
    "set_session_cookies",
)

SameSite = Literal["lax", "strict", "none"]

# set_cookie writes SameSite verbatim; 0.6.3's session cookies said ``Lax``.
_SPELLING: dict[str, Literal["Lax", "Strict", "None"]] = {
    "lax": "Lax",
    "strict": "Strict",
    "none": "None",
}


def generate_csrf_token() -> str:
    """A new random CSRF token: 32 bytes from the OS, base64url (43 characters)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class SessionCookies:
    """How the session and CSRF cookies are named and flagged.

    Args:
        secure: Send the cookies over HTTPS only (``Secure``). Turn it on in production.
        max_age: Cookie lifetime in seconds; ``None`` makes browser-session cookies that
            go away when the browser closes (0.6.3's behaviour).
        samesite: ``"lax"`` (default), ``"strict"`` or ``"none"`` (needs ``secure``).
        domain: The ``Domain`` attribute; ``None`` ties the cookies to this host.
        path: The ``Path`` attribute.
        host_prefix: Prefix the names with ``__Host-`` (needs ``secure``, ``path="/"``
            and no ``domain``).
        session_name: The session cookie's name (before any prefix).
        csrf_name: The CSRF cookie's name (before any prefix).

    Raises:
        AuthConfigurationError: for settings browsers would refuse.
    """

    secure: bool = False
    max_age: int | None = None
    samesite: SameSite = "lax"
    domain: str | None = None
    path: str = "/"
    host_prefix: bool = False
    session_name: str = "session"
    csrf_name: str = "csrf_token"

    def __post_init__(self) -> None:
        if self.samesite not in ("lax", "strict", "none"):
            raise AuthConfigurationError(
                f"samesite must be 'lax', 'strict' or 'none', got {self.samesite!r}"
            )
        if self.samesite == "none" and not self.secure:
            raise AuthConfigurationError("SameSite=None cookies need secure=True")
        if self.host_prefix and (not self.secure or self.path != "/" or self.domain):
            raise AuthConfigurationError(
                "host_prefix (__Host- cookies) needs secure=True, path='/' and no domain"
            )
        if self.max_age is not None and self.max_age <= 0:
            raise AuthConfigurationError(f"max_age must be positive, got {self.max_age}")
        try:  # validates names, path and domain now instead of on the first login
            set_cookie(self.session_cookie, "x", path=self.path, domain=self.domain)
            set_cookie(self.csrf_cookie, "x", path=self.path, domain=self.domain)
        except ValueError as exc:
            raise AuthConfigurationError(f"invalid session cookie settings: {exc}") from None

    @property
    def session_cookie(self) -> str:
        """The session cookie's full name."""
        return f"__Host-{self.session_name}" if self.host_prefix else self.session_name

    @property
    def csrf_cookie(self) -> str:
        """The CSRF cookie's full name."""
        return f"__Host-{self.csrf_name}" if self.host_prefix else self.csrf_name

    def set(self, token: str, csrf_token: str) -> list[str]:
        """The two ``Set-Cookie`` values: the session (HttpOnly) and the CSRF token.

        Raises:
            ValueError: for a token with characters a cookie cannot carry.
        """
        return [
            self._cookie(self.session_cookie, token, httponly=True),
            self._cookie(self.csrf_cookie, csrf_token, httponly=False),
        ]

    def set_csrf(self, csrf_token: str) -> str:
        """The ``Set-Cookie`` value for the CSRF cookie alone (for a login page)."""
        return self._cookie(self.csrf_cookie, csrf_token, httponly=False)

    def clear(self) -> list[str]:
        """The two ``Set-Cookie`` values that delete both cookies (``Max-Age=0``)."""
        return [
            delete_cookie(
                name,
                path=self.path,
                domain=self.domain,
                secure=self.secure,
                httponly=httponly,
                samesite=_SPELLING[self.samesite],
            )
            for name, httponly in ((self.session_cookie, True), (self.csrf_cookie, False))
        ]

    def _cookie(self, name: str, value: str, *, httponly: bool) -> str:
        return set_cookie(
            name,
            value,
            httponly=httponly,
            samesite=_SPELLING[self.samesite],
            max_age=self.max_age,
            path=self.path,
            secure=self.secure,
            domain=self.domain,
        )


_DEFAULT = SessionCookies()


def set_session_cookies(
    token: str,
    csrf_token: str,
    *,
    secure: bool = False,
    max_age: int | None = None,
    samesite: SameSite = "lax",
    domain: str | None = None,
    host_prefix: bool = False,
) -> list[str]:
    """The ``Set-Cookie`` values for a new session (fastware 0.6.3's function).

    Without options the output is 0.6.3's: ``session=<jwt>; Path=/; SameSite=Lax;
    HttpOnly`` and ``csrf_token=<value>; Path=/; SameSite=Lax``. See
    :class:`SessionCookies` for the options.
    """
    settings = (
        _DEFAULT
        if not (secure or max_age or domain or host_prefix or samesite != "lax")
        else SessionCookies(
            secure=secure,
            max_age=max_age,
            samesite=samesite,
            domain=domain,
            host_prefix=host_prefix,
        )
    )
    return settings.set(token, csrf_token)


def clear_session_cookies(
    *,
    secure: bool = False,
    samesite: SameSite = "lax",
    domain: str | None = None,
    host_prefix: bool = False,
) -> list[str]:
    """The two ``Set-Cookie`` values that delete the session cookies (``Max-Age=0``).

    Pass the same ``domain`` and ``host_prefix`` the cookies were set with.
    """
    settings = (
        _DEFAULT
        if not (secure or domain or host_prefix or samesite != "lax")
        else SessionCookies(
            secure=secure, samesite=samesite, domain=domain, host_prefix=host_prefix
        )
    )
    return settings.clear()
