"""Compatibility path ``fastware.middleware`` (fastware 0.6.3): the middleware suite."""

from __future__ import annotations

from fastware_core.middleware import (
    CORSMiddleware,
    GZipMiddleware,
    HookMiddleware,
    HTTPSRedirectMiddleware,
    RequestIDMiddleware,
    RequestTimingMiddleware,
    SecurityHeadersMiddleware,
    TrustedHostMiddleware,
)

__all__ = (
    "CORSMiddleware",
    "GZipMiddleware",
    "HTTPSRedirectMiddleware",
    "HookMiddleware",
    "RequestIDMiddleware",
    "RequestTimingMiddleware",
    "SecurityHeadersMiddleware",
    "TrustedHostMiddleware",
)
