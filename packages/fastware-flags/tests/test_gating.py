"""FeatureFlags as the app's flag source: gated routes and gated tasks, both doors."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from fastware_core import Router, TestClient, WebSocket, create_app
from fastware_core.tasks import TaskRegistry
from fastware_flags import FeatureFlags


@pytest.fixture(params=["asgi", "rsgi"])
def door(request: pytest.FixtureRequest) -> str:
    """Both of the app's doors."""
    door: str = request.param
    return door


def test_a_flag_set_through_a_route_flips_a_gated_route(tmp_path: Path, door: str) -> None:
    flags = FeatureFlags({"beta": False}, overrides_path=tmp_path / "f.json", refresh_interval=0)
    router = Router()

    @router.get("/beta", feature="beta")
    async def beta(request: Any) -> dict[str, bool]:
        return {"beta": True}

    @router.post("/flags/{name}/{value}")
    async def set_flag(request: Any) -> dict[str, bool]:
        params = request.path_params
        await asyncio.to_thread(flags.set_override, params["name"], params["value"])
        return flags.all_flags(include_overrides=True)

    @router.ws("/beta-ws", feature="beta")
    async def beta_ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("on")

    app = create_app(router, features=flags)
    with TestClient(app, door=door) as client:
        assert client.get("/beta").status_code == 404
        assert client.post("/flags/beta/on").json() == {"beta": True}
        assert client.get("/beta").json() == {"beta": True}
        with client.websocket_connect("/beta-ws") as ws:
            assert ws.receive_text() == "on"
        assert client.post("/flags/beta/off").status_code == 200
        assert client.get("/beta").status_code == 404


def test_a_gated_task_follows_a_file_edit(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    flags = FeatureFlags({"sweeper": False}, overrides_path=path, refresh_interval=0.05)
    runs: list[str] = []

    async def sweeper() -> None:
        runs.append("started")
        await asyncio.sleep(3600)

    registry = TaskRegistry(poll_interval=0.05)
    registry.register("sweeper", lambda: sweeper, feature="sweeper")
    router = Router()

    @router.get("/state")
    async def state(request: Any) -> dict[str, str]:
        return {"state": registry.state("sweeper")}

    other = FeatureFlags(overrides_path=path)  # another process, say
    with TestClient(create_app(router, tasks=registry, features=flags)) as client:
        assert client.get("/state").json() == {"state": "disabled"}
        other.set_override("sweeper", True)
        deadline = time.monotonic() + 5
        while client.get("/state").json() != {"state": "running"}:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        other.set_override("sweeper", False)
        while client.get("/state").json() != {"state": "disabled"}:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    assert runs == ["started"]
