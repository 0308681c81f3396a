"""Shared fixtures for the fastware-flags tests."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only."""
    return "asyncio"


@contextmanager
def _read_only(directory: Path) -> Iterator[None]:
    # root ignores permission bits: make the directory immutable instead.
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        if chattr is None:
            pytest.fail(
                "running as root, and chattr (e2fsprogs) is missing to make a read-only dir"
            )
        subprocess.run([chattr, "+i", str(directory)], check=True)
        try:
            yield
        finally:
            subprocess.run([chattr, "-i", str(directory)], check=True)
    else:
        mode = directory.stat().st_mode
        directory.chmod(stat.S_IRUSR | stat.S_IXUSR)
        try:
            yield
        finally:
            directory.chmod(mode)


@pytest.fixture
def read_only() -> Callable[[Path], AbstractContextManager[None]]:
    """``with read_only(directory):`` nothing can be created in ``directory``."""
    return _read_only
