from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from fastware_core import Router, create_app
from fastware_server import TargetError
from fastware_server.targets import (
    TargetRef,
    choose_interface,
    import_target,
    parse_target,
    process_local_backends,
    reference_for,
)

APP_SOURCE = """
from fastware_core import Router, create_app

router = Router()
app = create_app(router)

async def asgi_app(scope, receive, send):
    pass

class Broker:
    fastware_process_local = "the in-memory broker"

broker = Broker()
settings = {"debug": True}
"""


@pytest.fixture
def make_module(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Write a module with a unique name in ``tmp_path``; return its name."""
    names: list[str] = []

    def make(source: str) -> str:
        name = f"fw_target_{uuid.uuid4().hex[:12]}"
        (tmp_path / f"{name}.py").write_text(source)
        names.append(name)
        return name

    yield make
    for name in names:
        sys.modules.pop(name, None)
    while str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


def test_parse_target() -> None:
    assert parse_target("hello:app") == TargetRef("hello", "app")
    assert parse_target("pkg.mod:factory.app") == TargetRef("pkg.mod", "factory.app")
    assert parse_target("hello") == TargetRef("hello", "app")
    assert str(TargetRef("a.b", "c")) == "a.b:c"
    with pytest.raises(TargetError, match="nothing after ':'; name the app, for example hello:app"):
        parse_target("hello:")
    for bad in ("", ":app", "he llo:app", "hello:1app", "dir/hello:app"):
        with pytest.raises(TargetError, match="expected MODULE:ATTRIBUTE"):
            parse_target(bad)


def test_import_target(tmp_path: Path, make_module: Callable[[str], str]) -> None:
    name = make_module(APP_SOURCE)
    app = import_target(TargetRef(name, "app"), tmp_path)
    assert hasattr(app, "__rsgi__")
    assert choose_interface(app) == "rsgi"
    assert choose_interface(app, "asgi") == "asgi"
    asgi = import_target(TargetRef(name, "asgi_app"), tmp_path)
    assert choose_interface(asgi) == "asgi"


def test_import_errors_are_one_line(tmp_path: Path, make_module: Callable[[str], str]) -> None:
    name = make_module(APP_SOURCE)
    with pytest.raises(TargetError, match=f"no module named 'nope_{name}'"):
        import_target(TargetRef(f"nope_{name}", "app"), tmp_path)
    with pytest.raises(TargetError, match="'missing' not found"):
        import_target(TargetRef(name, "missing"), tmp_path)
    with pytest.raises(TargetError, match="it is a dict, not an app; serve the app object"):
        import_target(TargetRef(name, "settings"), tmp_path)
    broken = make_module("import nope_not_installed_anywhere\n")
    with pytest.raises(TargetError) as caught:
        import_target(TargetRef(broken, "app"), tmp_path)
    assert "ModuleNotFoundError: No module named 'nope_not_installed_anywhere'" in str(caught.value)
    assert f"{broken}.py, line 1" in str(caught.value)
    syntax = make_module("def broken(:\n")
    with pytest.raises(TargetError, match=r"SyntaxError: .*line 1\)"):
        import_target(TargetRef(syntax, "app"), tmp_path)
    for error in (caught.value,):
        assert "\n" not in str(error)


def test_references_for_importable_objects(
    tmp_path: Path, make_module: Callable[[str], str]
) -> None:
    name = make_module(APP_SOURCE)
    module: ModuleType = import_target(TargetRef(name, "app"), tmp_path) and sys.modules[name]
    app_ref = reference_for(module.app)
    assert app_ref == TargetRef(name, "app", str(tmp_path.resolve()))
    assert reference_for(module.asgi_app) == TargetRef(name, "asgi_app", str(tmp_path.resolve()))


def test_no_reference_for_lambdas_and_local_objects() -> None:
    def local_app(scope: Any, receive: Any, send: Any) -> None:
        pass

    assert reference_for(lambda scope, receive, send: None) is None
    assert reference_for(local_app) is None
    assert reference_for(create_app(Router())) is None


def test_process_local_backends_are_found(
    tmp_path: Path, make_module: Callable[[str], str]
) -> None:
    name = make_module(APP_SOURCE)
    module: ModuleType = import_target(TargetRef(name, "app"), tmp_path) and sys.modules[name]
    assert process_local_backends(module.app, module) == ["the in-memory broker"]
    assert process_local_backends(module.app) == []


NOT_APPS = """
import msgspec

class Item(msgspec.Struct):
    name: str

def handler(request):
    return {}

async def two(scope, receive):
    pass

class Callable3:
    def __call__(self, scope, receive, send):
        pass

count = 3
items = [1]
import json as module
callable3 = Callable3()
"""


@pytest.mark.parametrize(
    ("attribute", "message"),
    [
        ("Item", "it is the class Item, not an app; serve the app object"),
        ("count", "it is an int, not an app"),
        ("items", "it is a list, not an app"),
        ("module", "it is the module json, not an app; name the app inside it, e.g. json:app"),
        (
            "handler",
            "it is a function taking (request), but an ASGI app takes (scope, receive, send)",
        ),
        ("two", "it is a function taking (scope, receive), but an ASGI app takes"),
    ],
)
def test_what_is_not_an_app_is_refused_in_one_line(
    tmp_path: Path, make_module: Callable[[str], str], attribute: str, message: str
) -> None:
    name = make_module(NOT_APPS)
    with pytest.raises(TargetError) as caught:
        import_target(TargetRef(name, attribute), tmp_path)
    assert str(caught.value).startswith(f"cannot serve {name}:{attribute}: ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_callable_objects_and_rsgi_apps_are_apps(
    tmp_path: Path, make_module: Callable[[str], str]
) -> None:
    name = make_module(NOT_APPS + APP_SOURCE)
    assert import_target(TargetRef(name, "callable3"), tmp_path) is not None
    assert hasattr(import_target(TargetRef(name, "app"), tmp_path), "__rsgi__")
    assert import_target(TargetRef(name, "Item"), tmp_path, require_app=False) is not None
