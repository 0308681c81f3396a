"""Compatibility path ``fastware.tasks`` (fastware 0.6.3): background tasks from fastware-core."""

from __future__ import annotations

from fastware_core.gating import FlagSource
from fastware_core.recording import ErrorContext, ErrorRecorder
from fastware_core.tasks import (
    AsyncBackgroundTask,
    BackgroundTask,
    HostLock,
    RedisLease,
    TaskLock,
    TaskRegistry,
    read_status_dir,
)

__all__ = (
    "AsyncBackgroundTask",
    "BackgroundTask",
    "ErrorContext",
    "ErrorRecorder",
    "FlagSource",
    "HostLock",
    "RedisLease",
    "TaskLock",
    "TaskRegistry",
    "read_status_dir",
)
