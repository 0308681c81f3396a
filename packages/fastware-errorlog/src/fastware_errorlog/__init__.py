"""fastware-errorlog: an SQLite error log that loses nothing.

    from fastware_errorlog import ErrorLog

    log = ErrorLog("errors.db")
    log.append(method="GET", path="/x", status_code=500, detail="boom")
    log.flush()
    log.groups()  # which errors, how often, first and last seen

``ErrorLog`` is fastware-core's ``ErrorRecorder`` (every unhandled exception, with its
traceback) and 0.6.3's ``ErrorSink``; ``fastware.create_app`` wires one in by default. The
``fastware errors`` command reads it, and :func:`error_log_router` serves a read-only page.
"""

from __future__ import annotations

from .log import (
    DEFAULT_PATH,
    MAX_DETAIL,
    MAX_HEADERS,
    MAX_PATH,
    MAX_TRACEBACK,
    REDACTED_HEADERS,
    ErrorLog,
    ErrorLogError,
    ErrorLogStatus,
)
from .page import error_log_router
from .records import ErrorFilter, ErrorGroup, ErrorRecord, ErrorStats

__all__ = (
    "DEFAULT_PATH",
    "MAX_DETAIL",
    "MAX_HEADERS",
    "MAX_PATH",
    "MAX_TRACEBACK",
    "REDACTED_HEADERS",
    "ErrorFilter",
    "ErrorGroup",
    "ErrorLog",
    "ErrorLogError",
    "ErrorLogStatus",
    "ErrorRecord",
    "ErrorStats",
    "error_log_router",
)
