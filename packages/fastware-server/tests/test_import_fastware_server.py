from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys

import pytest

import fastware_server


def _modules_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    return set(out.split())


def test_package_documents_itself_with_a_sorted_all() -> None:
    assert fastware_server.__doc__
    assert isinstance(fastware_server.__all__, tuple)  # ruff (RUF022) keeps it sorted
    for name in fastware_server.__all__:
        assert getattr(fastware_server, name) is not None


def test_importing_it_does_not_import_granian() -> None:
    loaded = _modules_after("import fastware_server\nimport fastware_server.commands.serve")
    assert not {m for m in loaded if m.split(".")[0] == "granian"}


def test_0_6_3_errors_keep_their_builtin_categories() -> None:
    from fastware_core import FastwareError

    assert issubclass(fastware_server.PortInUseError, RuntimeError)
    assert issubclass(fastware_server.AlreadyRunningError, RuntimeError)
    assert issubclass(fastware_server.NotRunningError, FileNotFoundError)
    assert issubclass(fastware_server.TargetError, ValueError)
    for name in ("PortInUseError", "AlreadyRunningError", "StartupError", "NotRunningError"):
        assert issubclass(getattr(fastware_server, name), FastwareError)


MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(fastware_server.__path__, "fastware_server.")
    if info.name != "fastware_server._child"
)


@pytest.mark.parametrize("name", MODULES)
def test_public_names_are_documented(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__
    exported = module.__all__
    assert isinstance(exported, tuple)
    for public in exported:
        value = getattr(module, public)
        if inspect.isfunction(value) or inspect.isclass(value):
            assert value.__doc__, f"{name}.{public} has no docstring"
