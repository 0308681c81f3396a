"""README's "From built wheels": every wheel builds, `fastware==<version>` installs from them
into a fresh environment, and its `fastware` command serves an app, finds it and stops it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

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


def _uv() -> str:
    uv = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    if not Path(uv).exists():
        pytest.fail("uv is required to build the wheels (scripts/test installs it)")
    return uv


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with fastware installed from the wheels; its bin directory."""
    uv = _uv()
    work = tmp_path_factory.mktemp("wheels")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_"))}
    dist = work / "dist"
    subprocess.run(
        [uv, "build", "--all-packages", "--wheel", "-o", str(dist)],
        cwd=ROOT, check=True, capture_output=True, env=env,
    )  # fmt: skip
    names = sorted(path.name.split("-")[0] for path in dist.glob("*.whl"))
    packages = sorted(
        p.parent.name.replace("-", "_") for p in ROOT.glob("packages/*/pyproject.toml")
    )
    assert names == packages
    assert all(f"-{VERSION}-" in path.name for path in dist.glob("*.whl"))
    venv = work / "venv"
    subprocess.run(
        [uv, "venv", "--python", sys.executable, str(venv)],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    result = subprocess.run(
        [uv, "pip", "install", "--python", str(venv / "bin" / "python"), "--find-links",
         str(dist), f"fastware=={VERSION}"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return venv / "bin"


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
    port = _free_port()

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
