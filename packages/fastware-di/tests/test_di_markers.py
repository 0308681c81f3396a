"""The public declarations: ``Depends``, ``Dependency``, ``dependency`` and exports."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Annotated

import pytest

import fastware_di
from fastware_core import Request, Router, TestClient, create_app
from fastware_di import Dependency, DependencyResolver, Depends, dependency


def get_value() -> str:
    return "value"


def test_depends_returns_a_dependency_marker() -> None:
    marker = Depends(get_value)
    assert isinstance(marker, Dependency)
    assert marker.factory is get_value
    assert "get_value" in repr(marker)


def test_depends_refuses_a_non_callable() -> None:
    with pytest.raises(TypeError, match="callable"):
        Depends("get_value")  # type: ignore[arg-type]


def test_dependency_used_bare_or_with_options_returns_the_function() -> None:
    def bare() -> int:
        return 1

    def app_scoped() -> Iterator[int]:
        yield 1

    assert dependency(bare) is bare
    assert dependency(scope="app", blocking=True)(app_scoped) is app_scoped


def test_dependency_refuses_objects_that_cannot_be_marked() -> None:
    with pytest.raises(TypeError, match="cannot mark"):
        dependency(len)


def test_partial_factories_work_and_can_be_marked() -> None:
    def greet(greeting: str, *, name: str) -> str:
        return f"{greeting} {name}"

    hello = dependency(functools.partial(greet, "hello", name="ann"))
    router = Router()

    @router.get("/greet", deps={"text": hello})
    async def handler(request: Request, text: str) -> dict[str, str]:
        return {"text": text}

    with TestClient(create_app(router, injector=DependencyResolver())) as client:
        assert client.get("/greet").json() == {"text": "hello ann"}


def test_callable_object_with_async_call_is_awaited() -> None:
    class Loader:
        async def __call__(self, request: Request) -> str:
            return f"loaded {request.path}"

    router = Router()

    @router.get("/load", deps={"data": Loader()})
    async def handler(request: Request, data: str) -> dict[str, str]:
        return {"data": data}

    with TestClient(create_app(router, injector=DependencyResolver())) as client:
        assert client.get("/load").json() == {"data": "loaded /load"}


def test_blocking_refuses_a_callable_object_with_async_call() -> None:
    class AsyncLoader:
        async def __call__(self) -> str:  # pragma: no cover - refused
            return "x"

    with pytest.raises(ValueError, match="blocking"):
        dependency(blocking=True)(AsyncLoader())


def test_handler_marker_default_reads_like_a_parameter_default() -> None:
    router = Router()

    @router.get("/d")
    async def handler(request: Request, v: str = Depends(get_value)) -> dict[str, str]:
        return {"v": v}

    with TestClient(create_app(router, injector=DependencyResolver())) as client:
        assert client.get("/d").json() == {"v": "value"}


def test_annotated_keyword_only_marker_on_a_handler() -> None:
    router = Router()

    @router.get("/kw")
    async def handler(request: Request, *, v: Annotated[str, Depends(get_value)]) -> dict[str, str]:
        return {"v": v}

    with TestClient(create_app(router, injector=DependencyResolver())) as client:
        assert client.get("/kw").json() == {"v": "value"}


def test_exports() -> None:
    assert set(fastware_di.__all__) >= {
        "Dependency",
        "DependencyError",
        "DependencyOptions",
        "DependencyOverrides",
        "DependencyResolver",
        "Depends",
        "Scope",
        "dependency",
    }
