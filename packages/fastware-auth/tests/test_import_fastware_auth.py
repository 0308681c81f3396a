from __future__ import annotations

import importlib
import subprocess
import sys


def test_module_imports_and_documents_itself() -> None:
    module = importlib.import_module("fastware_auth")
    assert module.__doc__
    assert isinstance(module.__all__, tuple)
    for name in module.__all__:
        value = getattr(module, name)
        assert value is not None
        if callable(value) and not name.isupper():
            assert value.__doc__, f"{name} has no docstring"


def test_importing_the_package_loads_neither_pyjwt_bcrypt_nor_redis() -> None:
    code = (
        "import sys, fastware_auth, fastware_auth.cli; "
        "print(sorted(m for m in ('jwt', 'bcrypt', 'redis') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
