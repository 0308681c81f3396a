"""Fixtures shared by the fastware-server tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

Sleeper = Callable[..., subprocess.Popen[str]]

SLEEPER = "import signal, sys, time\n{setup}\nprint('ready', flush=True)\ntime.sleep(60)\n"


@pytest.fixture
def spawn_sleeper() -> Iterator[Sleeper]:
    """Start Python processes that sleep for a minute (``ignore_term``: deaf to SIGTERM);
    all are killed after the test."""
    started: list[subprocess.Popen[str]] = []

    def spawn(*, ignore_term: bool = False) -> subprocess.Popen[str]:
        setup = "signal.signal(signal.SIGTERM, signal.SIG_IGN)" if ignore_term else ""
        proc = subprocess.Popen(
            [sys.executable, "-c", SLEEPER.format(setup=setup)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        started.append(proc)
        return proc

    yield spawn
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
