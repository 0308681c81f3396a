"""fastware's middleware suite.

Every class except :class:`GZipMiddleware` is a :class:`HookMiddleware`: the app can run
its hooks natively on both doors, and the same object works as a plain ASGI middleware
(``Class(app, **options)``)::

    from fastware_core.middleware import CORSMiddleware

    app = create_app(
        router,
        middleware=[lambda app: CORSMiddleware(app, allow_origins=["https://example.com"])],
    )
"""

from __future__ import annotations

from .access_log import AccessLogMiddleware
from .base import (
    Answer,
    ASGIConnection,
    Connection,
    HookMiddleware,
    PathPrefixes,
    add_vary,
    answer_headers,
    error_answer,
    send_answer,
)
from .cors import CORSMiddleware
from .gzip import GZipMiddleware
from .https_redirect import HTTPSRedirectMiddleware
from .request_id import RequestIDMiddleware, bind_request_ids, request_id_var
from .security_headers import SecurityHeadersMiddleware
from .sessions import SessionMiddleware
from .timing import ErrorSink, RequestTimingMiddleware, TimingRecord
from .trusted_host import TrustedHostMiddleware

__all__ = (
    "ASGIConnection",
    "AccessLogMiddleware",
    "Answer",
    "CORSMiddleware",
    "Connection",
    "ErrorSink",
    "GZipMiddleware",
    "HTTPSRedirectMiddleware",
    "HookMiddleware",
    "PathPrefixes",
    "RequestIDMiddleware",
    "RequestTimingMiddleware",
    "SecurityHeadersMiddleware",
    "SessionMiddleware",
    "TimingRecord",
    "TrustedHostMiddleware",
    "add_vary",
    "answer_headers",
    "bind_request_ids",
    "error_answer",
    "request_id_var",
    "send_answer",
)
