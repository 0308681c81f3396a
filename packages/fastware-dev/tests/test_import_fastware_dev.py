from __future__ import annotations

import importlib
import subprocess
import sys

import fastware_dev
from fastware_core import FastwareError


def test_module_imports_and_documents_itself() -> None:
    module = importlib.import_module("fastware_dev")
    assert module.__doc__
    for name in module.__all__:
        assert getattr(module, name).__doc__, name


def test_import_loads_no_network_or_server_library() -> None:
    code = "import sys, fastware_dev; print(' '.join(sorted(sys.modules)))"
    loaded = set(subprocess.check_output([sys.executable, "-c", code], text=True).split())
    heavy = {"granian", "httpx", "websockets", "watchfiles"}
    assert not {name for name in loaded if name.split(".")[0] in heavy}


def test_every_error_is_a_fastware_error() -> None:
    errors = [
        fastware_dev.DevError,
        fastware_dev.DevConfigError,
        fastware_dev.DevRunError,
        fastware_dev.PreSpawnGateError,
        fastware_dev.ReadinessError,
        fastware_dev.PortCollisionError,
        fastware_dev.SWModeConflictError,
        fastware_dev.ComponentDied,
    ]
    for error in errors:
        assert issubclass(error, FastwareError)
    assert issubclass(fastware_dev.DevConfigError, ValueError)
    assert issubclass(fastware_dev.DevRunError, RuntimeError)


def test_component_died_names_the_component_status_and_last_output() -> None:
    died = fastware_dev.ComponentDied("vite", 3, ["starting", "Error: boom", ""])
    assert died.component == "vite"
    assert died.returncode == 3
    assert str(died) == "vite exited with status 3; its last output: Error: boom"
    assert str(fastware_dev.ComponentDied("backend", -9)) == "backend was killed by signal 9"
