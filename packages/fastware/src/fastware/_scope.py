"""Compatibility path ``fastware._scope`` (fastware 0.6.3's private helper): reading headers
and cookies straight from an ASGI scope, for ASGI middleware written against 0.6.3.

New code reads ``request.headers`` and ``request.cookies``, or a hook's
:class:`~fastware_core.middleware.Connection`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastware_core.request import parse_cookie_header

__all__ = ("cookie", "cookies", "header_bytes", "header_str")


def header_bytes(scope: Mapping[str, Any], name: bytes) -> bytes:
    """The first value of header ``name`` (compared case-insensitively), ``b""`` when absent."""
    wanted = name.lower()
    for key, value in scope.get("headers") or ():
        if bytes(key).lower() == wanted:
            return bytes(value)
    return b""


def header_str(scope: Mapping[str, Any], name: str, default: str = "") -> str:
    """The first value of header ``name`` decoded as latin-1; ``default`` only when absent
    (a header sent empty gives ``""``)."""
    wanted = name.lower().encode("latin-1")
    for key, value in scope.get("headers") or ():
        if bytes(key).lower() == wanted:
            return bytes(value).decode("latin-1")
    return default


def cookies(scope: Mapping[str, Any]) -> dict[str, str]:
    """Every well-formed cookie of every ``Cookie`` header (a malformed piece is skipped,
    not the rest of the header as ``http.cookies.SimpleCookie`` would)."""
    values = [
        bytes(value).decode("latin-1")
        for key, value in scope.get("headers") or ()
        if bytes(key).lower() == b"cookie"
    ]
    return parse_cookie_header("; ".join(values)) if values else {}


def cookie(scope: Mapping[str, Any], name: str, default: str = "") -> str:
    """The value of cookie ``name``, or ``default``."""
    return cookies(scope).get(name, default)
