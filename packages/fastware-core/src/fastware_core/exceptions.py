"""The fastware error tree: one root, ``HTTPError`` for responses, and built-in categories.

Every error a fastware package raises is a :class:`FastwareError`. Where a built-in category
fits, the error also inherits it, so code written against the standard library keeps
working: a bad route declaration is a ``ValueError``, a failed lifespan a ``RuntimeError``, a
missing optional distribution an ``ImportError``. Each package keeps its errors in a module
named ``exceptions``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = (
    "FastwareError",
    "HTTPError",
    "LifespanError",
    "MissingPackageError",
    "RouteDefinitionError",
)


class FastwareError(Exception):
    """Root of every error raised by fastware packages."""


class RouteDefinitionError(FastwareError, ValueError):
    """A route or router was declared wrongly (bad pattern, unknown converter, bad method)."""


class LifespanError(FastwareError, RuntimeError):
    """A lifespan startup or shutdown failed (the app's own, or a mounted app's)."""


class MissingPackageError(FastwareError, ImportError):
    """A feature needs a distribution that is not installed.

    Args:
        distribution: What to install, e.g. ``"fastware-auth"``.
        feature: What needed it, e.g. ``"fastware.create_token"``.
    """

    distribution: str
    """The distribution to install."""

    def __init__(self, distribution: str, feature: str) -> None:
        super().__init__(
            f"{feature} needs the {distribution} package, which is not installed: "
            f"pip install {distribution}",
            name=distribution,
        )
        self.distribution = distribution


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
