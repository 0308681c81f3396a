"""Granian serving ``apps/fw_forms_app.py`` through each door, and a Redis for sessions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import pytest
from support.granian import GranianProcess, ServerPool
from support.granian import servers as servers  # the tests' Granian servers, stopped after each
from support.redis import RedisServer as RedisServer  # re-exported for the tests
from support.redis import redis_server as redis_server  # the session's Redis fixture

INTERFACES = ("rsgi", "asgi")
TARGET = "fw_forms_app:app"


class StartGranian(Protocol):
    def __call__(
        self, interface: str, *, workers: int = 1, env: Mapping[str, str] | None = None
    ) -> GranianProcess: ...


@pytest.fixture
def start_granian(servers: ServerPool) -> StartGranian:
    """Start Granian on the forms app; every process is stopped after the test."""

    def start(
        interface: str, *, workers: int = 1, env: Mapping[str, str] | None = None
    ) -> GranianProcess:
        return servers.start(TARGET, interface, workers=workers, env=env)

    return start
