"""The fastware error tree: one root, and ``HTTPError`` for responses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ("FastwareError", "HTTPError", "RouteDefinitionError")


class FastwareError(Exception):
    """Root of every error raised by fastware packages."""


class RouteDefinitionError(FastwareError, ValueError):
    """A route or router was declared wrongly (bad pattern, unknown converter, bad method)."""


class HTTPError(FastwareError):
    """An error that becomes an HTTP response with a JSON ``{"detail": ...}`` body.

    Args:
        status_code: The HTTP status to answer with (400-599 usually).
        detail: Anything msgspec can encode; sent as the ``detail`` field.
        headers: Extra response headers, e.g. ``{"WWW-Authenticate": "Bearer"}`` or
            ``{"Retry-After": "30"}``. A mapping or an iterable of ``(name, value)`` pairs.
    """

    status_code: int
    """The HTTP status code of the response."""
    detail: Any
    """The value sent as ``{"detail": ...}``."""
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None
    """Extra response headers, or ``None``."""

    def __init__(
        self,
        status_code: int,
        detail: Any = "",
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(status_code, detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = headers

    def __str__(self) -> str:
        return f"{self.status_code}: {self.detail}"

    def __repr__(self) -> str:
        return f"HTTPError({self.status_code!r}, {self.detail!r})"
