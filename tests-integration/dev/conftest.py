"""Fixtures for the dev-mode tests: Vite from npm, ``fastware dev`` as a developer runs it.

See :mod:`.project` for how Vite is installed and cached.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from fastware_dev import create_project

from .project import DevProject, install_vite


@pytest.fixture(scope="session")
def vite_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The installed ``node_modules`` (Vite) for the template's package.json."""
    sample = tmp_path_factory.mktemp("template")
    create_project(sample, name="sample")
    package = json.loads((sample / "frontend" / "package.json").read_text())
    return install_vite(
        json.dumps({"private": True, "devDependencies": package["devDependencies"]})
    )


@pytest.fixture
def dev_project(tmp_path: Path, vite_modules: Path) -> Iterator[DevProject]:
    """A fresh project; whatever it started is stopped afterwards."""
    project = DevProject(tmp_path / "shop", vite_modules)
    try:
        yield project
    finally:
        project.close()
