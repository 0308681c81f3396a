"""Compatibility path ``fastware.middleware`` (fastware 0.6.3): the middleware suite.

``ViteDevProxy`` (fastware-dev) is imported on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastware_core.middleware import (
    AccessLogMiddleware,
    CORSMiddleware,
    GZipMiddleware,
    HookMiddleware,
    HTTPSRedirectMiddleware,
    RequestIDMiddleware,
    RequestTimingMiddleware,
    SecurityHeadersMiddleware,
    SessionMiddleware,
    TrustedHostMiddleware,
    bind_request_ids,
    request_id_var,
)

if TYPE_CHECKING:
    from fastware_dev.proxy import ViteDevProxy

__all__ = (
    "AccessLogMiddleware",
    "CORSMiddleware",
    "GZipMiddleware",
    "HTTPSRedirectMiddleware",
    "HookMiddleware",
    "RequestIDMiddleware",
    "RequestTimingMiddleware",
    "SecurityHeadersMiddleware",
    "SessionMiddleware",
    "TrustedHostMiddleware",
    "ViteDevProxy",
    "bind_request_ids",
    "request_id_var",
)


def __getattr__(name: str) -> Any:
    if name == "ViteDevProxy":
        from fastware_dev.proxy import ViteDevProxy

        return ViteDevProxy
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
