"""``fastware dev new``: a backend + Vite project that ``fastware dev`` runs as is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fastware_dev import DevError, create_project, load_dev_config


def test_the_template_is_a_valid_dev_environment(tmp_path: Path) -> None:
    written = create_project(tmp_path / "Shop", port=8123, vite_port=5199)
    names = sorted(str(path.relative_to(tmp_path / "Shop")) for path in written)
    assert names == [
        ".gitignore",
        "app.py",
        "frontend/index.html",
        "frontend/package.json",
        "frontend/src/greeting.js",
        "frontend/src/main.js",
        "frontend/vite.config.js",
        "pyproject.toml",
    ]
    cfg = load_dev_config(tmp_path / "Shop")
    assert cfg.app_name == "shop"
    assert cfg.backend.app == "app:app"
    assert cfg.backend.port == 8123
    assert cfg.vite.port == 5199
    assert cfg.vite.cmd[-1] == "--strictPort"
    assert cfg.pre_spawn[0].file == "frontend/node_modules/.bin/vite"
    package = json.loads((tmp_path / "Shop" / "frontend" / "package.json").read_text())
    assert "vite" in package["devDependencies"]
    assert package["name"] == "shop-frontend"
    assert "port: 5199" in (tmp_path / "Shop" / "frontend" / "vite.config.js").read_text()
    compile((tmp_path / "Shop" / "app.py").read_text(), "app.py", "exec")


def test_existing_files_are_not_overwritten_without_force(tmp_path: Path) -> None:
    create_project(tmp_path)
    (tmp_path / "app.py").write_text("mine")
    with pytest.raises(DevError, match=r"already has .*app\.py.*pass --force"):
        create_project(tmp_path)
    assert (tmp_path / "app.py").read_text() == "mine"
    create_project(tmp_path, force=True)
    assert "create_app" in (tmp_path / "app.py").read_text()


def test_a_bad_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DevError, match="is not a valid project name"):
        create_project(tmp_path, name="my app")


def test_the_command_says_what_to_do_next(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fastware_dev", "new", str(tmp_path / "web")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0
    assert done.stdout.splitlines() == [
        f"created 8 files in {tmp_path / 'web'}",
        f"next: cd {tmp_path / 'web'}/frontend && npm install && cd .. && fastware dev",
    ]
    again = subprocess.run(
        [sys.executable, "-m", "fastware_dev", "new", str(tmp_path / "web")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert again.returncode == 1
    assert again.stderr.count("\n") == 1
    assert again.stderr.startswith("fastware dev: error: ")
