"""scripts/check_versions: lockstep versions, exact pins, and a version above 0.6.3."""

from __future__ import annotations

import subprocess
import sys
import types
from importlib.machinery import SourceFileLoader
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "check_versions"

ROOT_PYPROJECT = """
[tool.uv.workspace]
members = ["packages/*"]

[tool.uv.sources]
fastware-core = { workspace = true }
fastware = { workspace = true }
"""

CORE = """
[project]
name = "fastware-core"
version = "VERSION"
dependencies = ["msgspec>=0.19"]
"""

META = """
[project]
name = "fastware"
version = "VERSION"
dependencies = ["fastware-core==VERSION"]

[tool.uv.sources]
fastware-core = { workspace = true }
"""


def load_script() -> types.ModuleType:
    module = types.ModuleType("check_versions")
    module.__file__ = str(SCRIPT)
    SourceFileLoader("check_versions", str(SCRIPT)).exec_module(module)
    return module


def make_tree(root: Path, version: str) -> Path:
    (root / "pyproject.toml").write_text(ROOT_PYPROJECT)
    for name, text in (("fastware-core", CORE), ("fastware", META)):
        (root / "packages" / name).mkdir(parents=True)
        (root / "packages" / name / "pyproject.toml").write_text(text.replace("VERSION", version))
    return root


def run(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_repository_passes() -> None:
    result = run(ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("versions: ")


@pytest.mark.parametrize("version", ["0.7.0.dev0", "0.6.4.dev0", "0.6.3.post1", "1.0"])
def test_versions_above_the_published_release_pass(tmp_path: Path, version: str) -> None:
    result = run(make_tree(tmp_path, version))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"versions: 2 packages at {version}"


@pytest.mark.parametrize("version", ["0.1.0.dev0", "0.6.3", "0.6.3rc1", "0.6.3.dev0", "0.6"])
def test_versions_that_do_not_sort_above_0_6_3_fail(tmp_path: Path, version: str) -> None:
    result = run(make_tree(tmp_path, version))
    assert result.returncode == 1
    assert f"the family's version {version} does not sort above 0.6.3" in result.stderr
    assert "pip would install 0.6.3 instead" in result.stderr


def test_a_version_that_is_not_pep_440_fails(tmp_path: Path) -> None:
    result = run(make_tree(tmp_path, "seven"))
    assert result.returncode == 1
    assert "'seven' is not a PEP 440 version" in result.stderr


def test_version_order_follows_pep_440() -> None:
    key = load_script().version_key
    ordered = [
        "0.6",
        "0.6.3.dev0",
        "0.6.3a1",
        "0.6.3rc1",
        "0.6.3",
        "0.6.3.post1",
        "0.6.4.dev0",
        "0.7.0.dev0",
        "0.7.0.dev1",
        "0.7.0a1.dev1",
        "0.7.0a1",
        "0.7.0b2",
        "0.7.0rc1",
        "0.7.0",
        "0.7.0.post1.dev0",
        "0.7.0.post1",
        "0.10",
    ]
    keys = [key(version) for version in ordered]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    assert key("1.0") == key("1.0.0")
