from __future__ import annotations

import importlib
import subprocess
import sys


def test_module_imports_and_documents_itself() -> None:
    module = importlib.import_module("fastware_sse")
    assert module.__doc__
    assert isinstance(module.__all__, tuple)
    for name in module.__all__:
        assert getattr(module, name) is not None


def test_importing_the_package_does_not_import_redis() -> None:
    code = "import sys, fastware_sse; print('redis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_redis_broker_is_imported_on_first_use() -> None:
    import fastware_sse

    assert fastware_sse.RedisBroker.__name__ == "RedisBroker"
