from __future__ import annotations

import importlib


def test_module_imports_and_documents_itself() -> None:
    module = importlib.import_module("fastware_flags")
    assert module.__doc__
    assert module.__all__ == ()
