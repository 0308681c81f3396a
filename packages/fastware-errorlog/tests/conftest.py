"""Shared fixtures for the fastware-errorlog tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fastware_errorlog import ErrorLog


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only."""
    return "asyncio"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A path for a database file that does not exist yet."""
    return tmp_path / "errors.db"


@pytest.fixture
def log(db: Path) -> Iterator[ErrorLog]:
    """An error log on a fresh file, closed after the test."""
    error_log = ErrorLog(db, busy_timeout=1.0)
    error_log.retry_delays = (0.05, 0.1)
    yield error_log
    error_log.close()
