"""Compatibility path ``fastware.error_log`` (fastware 0.6.3): the SQLite error log.

Everything comes from fastware-errorlog.
"""

from __future__ import annotations

from fastware_errorlog import (
    DEFAULT_PATH,
    MAX_DETAIL,
    MAX_HEADERS,
    MAX_PATH,
    MAX_TRACEBACK,
    REDACTED_HEADERS,
    ErrorFilter,
    ErrorGroup,
    ErrorLog,
    ErrorLogError,
    ErrorLogStatus,
    ErrorRecord,
    ErrorStats,
    error_log_router,
)

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
