"""Real parts for the auth tests: Granian (both doors, several workers), redis-server."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import pytest
from support.granian import GranianProcess, ServerPool
from support.granian import servers as servers  # the tests' Granian servers, stopped after each
from support.redis import redis_server as redis_server  # the session's Redis fixture

APP = "auth_app:app"


class StartGranian(Protocol):
    def __call__(
        self, interface: str, workers: int = 1, env: Mapping[str, str] | None = None
    ) -> GranianProcess: ...


@pytest.fixture
def start_granian(tmp_path: Path, servers: ServerPool) -> StartGranian:
    """``start(interface, workers, env)``: the auth app under Granian, with its own user
    store; stopped after the test."""

    def start(
        interface: str, workers: int = 1, env: Mapping[str, str] | None = None
    ) -> GranianProcess:
        full_env = {
            "AUTH_USERS": str(tmp_path / "users.db"),
            "AUTH_PREFIX": f"test:{uuid.uuid4().hex}:",
            **(env or {}),
        }
        return servers.start(APP, interface, workers=workers, env=full_env)

    return start
