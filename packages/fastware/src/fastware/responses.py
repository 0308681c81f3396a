"""Compatibility path ``fastware.responses`` (fastware 0.6.3): responses and cookies."""

from __future__ import annotations

from fastware_core.exceptions import HTTPError
from fastware_core.responses import (
    BytesResponse,
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    StreamResponse,
    TextResponse,
    delete_cookie,
    send_error,
    set_cookie,
)

__all__ = (
    "BytesResponse",
    "FileResponse",
    "HTMLResponse",
    "HTTPError",
    "JSONResponse",
    "RedirectResponse",
    "StreamResponse",
    "TextResponse",
    "delete_cookie",
    "send_error",
    "set_cookie",
)
