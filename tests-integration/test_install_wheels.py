"""README's "From built wheels": every wheel builds, `fastware==<version>` installs from them
into a fresh environment, and its `fastware` command serves an app, finds it and stops it."""

from __future__ import annotations

import os
import subprocess
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest
from support.granian import free_port
from support.wheels import build_wheels, fresh_venv

ROOT = Path(__file__).resolve().parents[1]
VERSION = tomllib.loads((ROOT / "packages" / "fastware" / "pyproject.toml").read_text())["project"][
    "version"
]

APP = """
from fastware import Request, Router, create_app

router = Router()


@router.get("/")
async def index(request: Request) -> dict[str, str]:
    return {"hello": "wheels"}


app = create_app(router)
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with fastware installed from the wheels; its bin directory."""
    work = tmp_path_factory.mktemp("wheels")
    dist = work / "dist"
    wheels = build_wheels(dist)
    names = sorted(path.name.split("-")[0] for path in wheels)
    packages = sorted(
        p.parent.name.replace("-", "_") for p in ROOT.glob("packages/*/pyproject.toml")
    )
    assert names == packages
    assert all(f"-{VERSION}-" in path.name for path in wheels)
    return fresh_venv(work / "venv", [f"fastware=={VERSION}"], find_links=dist)


def test_the_installed_command_reports_the_version(installed: Path) -> None:
    result = subprocess.run(
        [str(installed / "fastware"), "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == f"fastware {VERSION}"
    listing = subprocess.run(
        [str(installed / "python"), "-m", "pip", "list", "--format", "freeze"],
        capture_output=True,
        text=True,
        check=False,
    )
    if listing.returncode == 0:  # uv's venvs have no pip; the version check above suffices
        assert f"fastware=={VERSION}" in listing.stdout


def test_the_installed_command_serves_finds_and_stops_an_app(
    installed: Path, tmp_path: Path
) -> None:
    (tmp_path / "app.py").write_text(APP)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "FASTWARE"))},
        "FASTWARE_STATE_DIR": str(tmp_path / "state"),
        "PATH": f"{installed}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    port = free_port()

    def fastware(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["fastware", *args], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=60, check=False,
        )  # fmt: skip

    started = fastware("serve", "app:app", "--daemon", "--port", str(port))
    try:
        assert started.returncode == 0, started.stderr
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
            assert answer.read() == b'{"hello":"wheels"}'
        shown = fastware("status")
        assert shown.returncode == 0, shown.stderr
        assert "app:app" in shown.stdout
    finally:
        stopped = fastware("stop")
    assert stopped.returncode == 0, stopped.stderr
    time.sleep(0.1)
    assert not (tmp_path / ".fastware.pid").exists()
