from __future__ import annotations

import importlib

import pytest

MODULES = ("fastware_errorlog", "fastware_errorlog.cli", "fastware_errorlog.page")


@pytest.mark.parametrize("name", MODULES)
def test_public_modules_document_every_exported_name(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__
    assert isinstance(module.__all__, tuple)
    for exported in module.__all__:
        value = getattr(module, exported)
        if callable(value) and not isinstance(value, type(module)):
            assert getattr(value, "__doc__", None), exported
