"""``fastware.create_app`` serves the ``/__fastware/`` runtime of fastware-core, and
0.6.3's private ``fastware._assets`` path still imports."""

from __future__ import annotations

from pathlib import Path

import pytest

from fastware import Router, TestClient, create_app
from fastware_core.runtime import compute_build_id


@pytest.mark.parametrize("door", ["asgi", "rsgi"])
def test_a_0_6_3_frontend_app_gets_its_service_worker(tmp_path: Path, door: str) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "app-1a2b3c4d.js").write_text("1")
    (tmp_path / "index.html").write_text("<!doctype html>")
    app = create_app(
        Router(),
        static_dir=tmp_path / "assets",
        spa_fallback=tmp_path / "index.html",
        sw_mode="cache",
        name="shop",
    )
    assert app.fastware_sw_mode == "cache"
    with TestClient(app, door=door) as client:
        version = client.get("/__fastware/version")
        worker = client.get("/__fastware/sw.js")
        register = client.get("/__fastware/sw-register.js")
        update = client.get("/__fastware/client.js")
    build_id = compute_build_id(tmp_path / "assets")
    assert version.json() == {"build_id": build_id, "name": "shop"}
    assert worker.headers["service-worker-allowed"] == "/"
    assert "fastware-cache-" in worker.text
    assert build_id in worker.text
    assert register.status_code == 200
    assert build_id in update.text


def test_the_private_assets_module_of_0_6_3_imports() -> None:
    from fastware._assets import load_template, render_asset

    assert "{{BUILD_ID}}" in load_template("sw.js")
    assert "{{" not in render_asset("sw-register.js", {"FOREIGN_SW_PATHS": "[]"})
    with pytest.raises(KeyError):
        render_asset("client.js", {})
