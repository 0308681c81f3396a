"""The fastware-di dependency form of a feature gate, through ``fastware.create_app``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fastware import Depends, Router, TestClient, create_app
from fastware_flags import FeatureFlags


@pytest.mark.parametrize("door", ["asgi", "rsgi"])
def test_require_gates_routes_by_name_and_by_parameter(tmp_path: Path, door: str) -> None:
    flags = FeatureFlags({"beta": False}, overrides_path=tmp_path / "f.json", refresh_interval=0)
    built: list[str] = []

    def expensive() -> str:
        built.append("db")
        return "db"

    router = Router()

    @router.get("/by-name", deps={"_gate": flags.require("beta"), "db": expensive})
    async def by_name(request: Any, db: str) -> dict[str, str]:
        return {"db": db}

    @router.get("/by-parameter")
    async def by_parameter(
        request: Any, gate: bool = Depends(flags.require("beta"))
    ) -> dict[str, bool]:
        return {"gate": gate}

    with TestClient(create_app(router), door=door) as client:
        off = client.get("/by-name")
        assert (off.status_code, off.json()) == (404, {"detail": "Not found"})
        assert client.get("/by-parameter").status_code == 404
        assert built == []  # the gate refused before the other dependency was built
        flags.set_override("beta", True)
        assert client.get("/by-name").json() == {"db": "db"}
        assert client.get("/by-parameter").json() == {"gate": True}
