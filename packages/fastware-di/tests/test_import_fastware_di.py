from __future__ import annotations

import importlib


def test_module_imports_and_documents_itself() -> None:
    module = importlib.import_module("fastware_di")
    assert module.__doc__
    assert list(module.__all__) == sorted(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None
