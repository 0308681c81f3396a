"""Real parts for the flags and tasks tests: Granian with several workers, a redis-server."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

import httpx
import pytest
from support.granian import GranianProcess, ServerPool
from support.granian import servers as servers  # the tests' Granian servers, stopped after each
from support.redis import RedisServer
from support.redis import redis_server as redis_server  # the session's Redis fixture

__all__ = ("Journal", "RedisServer", "StartGranian", "wait_until")


class StartGranian(Protocol):
    def __call__(
        self, workers: int, env: Mapping[str, str], interface: str = "rsgi"
    ) -> GranianProcess: ...


class RespawningGranian(GranianProcess):
    """Granian that replaces a worker that died (without the option, one dead worker makes
    Granian shut the whole server down)."""

    @property
    def command(self) -> list[str]:
        return [*super().command[:-1], "--respawn-failed-workers", self.target]


@pytest.fixture
def start_granian(servers: ServerPool) -> StartGranian:
    """``start(workers, env)``: ``fw_flags_app:app`` under Granian, stopped after the test."""

    def start(workers: int, env: Mapping[str, str], interface: str = "rsgi") -> GranianProcess:
        return servers.start(
            "fw_flags_app:app", interface, workers=workers, env=env, launcher=RespawningGranian
        )

    return start


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``condition`` every 50 ms until it is truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)


class Journal:
    """The ``TASK_JOURNAL`` file the app's tasks append ``<event> <task> <pid>`` to."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lines(self) -> list[tuple[str, str, int]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            event, task, pid = line.split()
            out.append((event, task, int(pid)))
        return out

    def pids(self, event: str, task: str, since: int = 0) -> set[int]:
        """PIDs that logged ``event`` for ``task`` in lines ``since``..."""
        return {pid for e, t, pid in self.lines()[since:] if (e, t) == (event, task)}

    def beating(self, task: str, within: float = 0.6) -> set[int]:
        """PIDs whose ``task`` logged a heartbeat in the last ``within`` seconds."""
        before = len(self.lines())
        time.sleep(within)
        return self.pids("beat", task, before)


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    """A fresh task journal."""
    return Journal(tmp_path / "journal.txt")


def pids_answering(url: str, tries: int = 40) -> dict[int, int]:
    """GET ``url`` on new connections; status code by worker PID of the answers
    (``-1`` for answers without a PID)."""
    seen: dict[int, int] = {}
    for _ in range(tries):
        response = httpx.get(url, timeout=5)
        try:
            pid = int(response.json().get("pid", -1))
        except ValueError:
            pid = -1
        seen[pid] = response.status_code
    return seen
