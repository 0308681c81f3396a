"""Building fastware's wheels and installing them into a fresh virtualenv, as a user would
(``test_core_wheel.py``: fastware-core alone; ``test_install_wheels.py``: everything)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def uv() -> str:
    """The ``uv`` executable (``scripts/test`` installs it); fails the test without one."""
    found = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    if not Path(found).exists():
        pytest.fail("uv is required to build the wheels (scripts/test installs it)")
    return found


def clean_env() -> dict[str, str]:
    """This process's environment without the virtualenv and uv settings of the checkout."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_"))}


def build_wheels(dist: Path, package: str | None = None) -> list[Path]:
    """Build one package's wheel (``package``) or every package's into ``dist``."""
    which = ["--package", package] if package else ["--all-packages"]
    subprocess.run(
        [uv(), "build", *which, "--wheel", "-o", str(dist)],
        cwd=ROOT, check=True, capture_output=True, env=clean_env(),
    )  # fmt: skip
    return sorted(dist.glob("*.whl"))


def fresh_venv(venv: Path, requirements: Sequence[str], find_links: Path | None = None) -> Path:
    """A new virtualenv at ``venv`` with ``requirements`` installed (wheel paths or names,
    looked up in ``find_links`` too); returns its ``bin`` directory."""
    env = clean_env()
    subprocess.run(
        [uv(), "venv", "--python", sys.executable, str(venv)],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    links = ["--find-links", str(find_links)] if find_links is not None else []
    result = subprocess.run(
        [uv(), "pip", "install", "--python", str(venv / "bin" / "python"), *links,
         *requirements],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return venv / "bin"
