"""Granian serving ``apps/fw_forms_app.py`` through each door, and a Redis for sessions."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Protocol

import pytest
from support.granian import GranianProcess
from support.redis import RedisServer as RedisServer  # re-exported for the tests
from support.redis import redis_server as redis_server  # the session's Redis fixture

INTERFACES = ("rsgi", "asgi")
TARGET = "fw_forms_app:app"


class StartGranian(Protocol):
    def __call__(
        self, interface: str, *, workers: int = 1, env: Mapping[str, str] | None = None
    ) -> GranianProcess: ...


@pytest.fixture
def start_granian(tmp_path: Path) -> Iterator[StartGranian]:
    """Start Granian on the forms app; every process is stopped after the test."""
    started: list[GranianProcess] = []

    def start(
        interface: str, *, workers: int = 1, env: Mapping[str, str] | None = None
    ) -> GranianProcess:
        process = GranianProcess(TARGET, interface, tmp_path, env, workers=workers)
        started.append(process)
        process.start()
        process.wait_ready()
        return process

    yield start
    for process in started:
        process.stop()
