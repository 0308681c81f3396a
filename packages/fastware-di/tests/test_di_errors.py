"""Broken dependency graphs are refused when the app compiles its routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import anyio
import pytest

from fastware_core import (
    AsyncTestClient,
    FastwareError,
    Request,
    Router,
    TestClient,
    WebSocket,
    create_app,
)
from fastware_core.app import App
from fastware_di import DependencyError, DependencyResolver, Depends, dependency


class Session:
    """A type the app cannot read from a request: only a dependency can provide it."""


def make_app(router: Router) -> App:
    return create_app(router, injector=DependencyResolver())


# -- module-level factories ----------------------------------------------------------------


def cycle_a(b: Annotated[str, Depends(cycle_b)]) -> str:  # pragma: no cover - never runs
    return b


def cycle_b(a: Annotated[str, Depends(cycle_a)]) -> str:  # pragma: no cover - never runs
    return a


def self_cycle(me: Annotated[str, Depends(self_cycle)]) -> str:  # pragma: no cover
    return me


def needs_missing(*, missing_thing: str) -> str:  # pragma: no cover - never runs
    return missing_thing


def uses_needs_missing(x: Annotated[str, Depends(needs_missing)]) -> str:  # pragma: no cover
    return x


def positional_only_second(request: Request, extra: str, /) -> str:  # pragma: no cover
    return extra


def plain_value() -> str:
    return "plain"


def marker_positional_only(
    value: Annotated[str, Depends(plain_value)], /
) -> str:  # pragma: no cover - refused
    return value


def request_scoped(request: Request) -> str:  # pragma: no cover - never runs
    return request.path


@dependency(scope="app")
def app_takes_request(request: Request) -> str:  # pragma: no cover - refused
    return request.path


@dependency(scope="app")
def app_needs_request_scoped(
    value: Annotated[str, Depends(request_scoped)],
) -> str:  # pragma: no cover - refused
    return value


@dependency(scope="app")
def app_needs_name(*, db: str) -> str:  # pragma: no cover - refused
    return db


@dependency(scope="app")
def app_cycle_a(b: Annotated[str, Depends(app_cycle_b)]) -> str:  # pragma: no cover
    return b


@dependency(scope="app")
def app_cycle_b(a: Annotated[str, Depends(app_cycle_a)]) -> str:  # pragma: no cover
    return a


def name_cycle_a(*, b: str) -> str:  # pragma: no cover - never runs
    return b


def name_cycle_b(*, a: str) -> str:  # pragma: no cover - never runs
    return a


def name_self(*, me: str) -> str:  # pragma: no cover - never runs
    return me


# -- tests ----------------------------------------------------------------------------------


def test_dependency_error_is_a_fastware_error_and_a_type_error() -> None:
    assert issubclass(DependencyError, FastwareError)
    assert issubclass(DependencyError, TypeError)


def test_handler_parameter_no_dependency_provides() -> None:
    router = Router()

    @router.get("/x", deps={"db": plain_value})
    async def handler(request: Request, db: str, user: Session) -> None:  # pragma: no cover
        pass

    # ``user: str`` would be a query parameter (fastware_core.params); a type no request
    # value can fill is refused when the app compiles, naming the route and the deps.
    with pytest.raises(FastwareError) as raised:
        make_app(router)
    message = str(raised.value)
    assert "GET /x" in message
    assert "'user'" in message
    assert "'db'" in message  # the deps that exist are listed


def test_factory_parameter_no_dependency_provides() -> None:
    router = Router()

    @router.post("/y", deps={"svc": needs_missing})
    async def handler(request: Request, svc: str) -> None:  # pragma: no cover
        pass

    with pytest.raises(DependencyError) as raised:
        make_app(router)
    message = str(raised.value)
    assert "POST /y" in message
    assert "needs_missing" in message
    assert "'missing_thing'" in message


def test_nested_factory_parameter_no_dependency_provides() -> None:
    router = Router()

    @router.get("/nested")
    async def handler(
        request: Request, x: Annotated[str, Depends(uses_needs_missing)]
    ) -> None:  # pragma: no cover
        pass

    with pytest.raises(DependencyError, match="missing_thing") as raised:
        make_app(router)
    assert "GET /nested" in str(raised.value)


def test_marker_cycle_names_the_route_and_the_factories() -> None:
    router = Router()

    @router.get("/cycle")
    async def handler(request: Request, a: Annotated[str, Depends(cycle_a)]) -> None:
        pass  # pragma: no cover

    with pytest.raises(DependencyError, match="cycle") as raised:
        make_app(router)
    message = str(raised.value)
    assert "GET /cycle" in message
    assert "cycle_a" in message
    assert "cycle_b" in message


def test_self_cycle_by_marker() -> None:
    router = Router()

    @router.get("/self")
    async def handler(request: Request, me: Annotated[str, Depends(self_cycle)]) -> None:
        pass  # pragma: no cover

    with pytest.raises(DependencyError, match="cycle") as raised:
        make_app(router)
    assert "self_cycle" in str(raised.value)


def test_cycle_by_name() -> None:
    router = Router()

    @router.delete("/names", deps={"a": name_cycle_a, "b": name_cycle_b})
    async def handler(request: Request) -> None:  # pragma: no cover
        pass

    with pytest.raises(DependencyError, match="cycle") as raised:
        make_app(router)
    message = str(raised.value)
    assert "DELETE /names" in message
    assert "name_cycle_a" in message
    assert "name_cycle_b" in message


def test_self_cycle_by_name() -> None:
    router = Router()

    @router.get("/me", deps={"me": name_self})
    async def handler(request: Request) -> None:  # pragma: no cover
        pass

    with pytest.raises(DependencyError, match="cycle"):
        make_app(router)


def test_required_positional_only_second_parameter_is_unsupported() -> None:
    router = Router()

    @router.get("/posonly", deps={"p": positional_only_second})
    async def handler(request: Request) -> None:  # pragma: no cover
        pass

    with pytest.raises(DependencyError, match="unsupported signature") as raised:
        make_app(router)
    message = str(raised.value)
    assert "GET /posonly" in message
    assert "'extra'" in message


def test_depends_on_a_positional_only_parameter_is_unsupported() -> None:
    router = Router()

    @router.get("/marker-posonly", deps={"m": marker_positional_only})
    async def handler(request: Request) -> None:  # pragma: no cover
        pass

    with pytest.raises(DependencyError, match="unsupported signature"):
        make_app(router)


def test_app_scoped_factory_that_takes_the_request_is_refused() -> None:
    router = Router()

    @router.get("/app-req")
    async def handler(
        request: Request, v: Annotated[str, Depends(app_takes_request)]
    ) -> None:  # pragma: no cover
        pass

    with pytest.raises(DependencyError, match="takes the request") as raised:
        make_app(router)
    assert "GET /app-req" in str(raised.value)


def test_app_scoped_factory_that_needs_a_name_is_refused() -> None:
    router = Router()

    @router.get("/app-name", deps={"db": plain_value, "v": app_needs_name})
    async def handler(request: Request) -> None:  # pragma: no cover
        pass

    with pytest.raises(DependencyError, match="app_needs_name"):
        make_app(router)


def test_app_scoped_factory_depending_on_a_request_scoped_one_is_refused() -> None:
    router = Router()

    @router.get("/app-dep")
    async def handler(
        request: Request, v: Annotated[str, Depends(app_needs_request_scoped)]
    ) -> None:  # pragma: no cover
        pass

    with pytest.raises(DependencyError, match="request-scoped"):
        make_app(router)


def test_cycle_between_app_scoped_factories_is_refused() -> None:
    router = Router()

    @router.get("/app-cycle")
    async def handler(
        request: Request, v: Annotated[str, Depends(app_cycle_a)]
    ) -> None:  # pragma: no cover
        pass

    with pytest.raises(DependencyError, match="cycle"):
        make_app(router)


@pytest.mark.anyio
async def test_cycle_between_app_scoped_factories_does_not_hang() -> None:
    resolver = DependencyResolver()
    with anyio.fail_after(1), pytest.raises(DependencyError, match="cycle"):
        await resolver.resolve({"v": app_cycle_a}, object())


def test_websocket_route_errors_are_labelled_websocket() -> None:
    router = Router()

    @router.ws("/socket", deps={"svc": needs_missing})
    async def handler(websocket: WebSocket, svc: str) -> None:  # pragma: no cover
        pass

    with pytest.raises(DependencyError) as raised:
        make_app(router)
    assert "WebSocket /socket" in str(raised.value)


def test_included_route_errors_name_the_full_path() -> None:
    inner = Router()

    @inner.get("/leaf")
    async def handler(request: Request, nobody: Session) -> None:  # pragma: no cover
        pass

    outer = Router()
    outer.include_router(inner, prefix="/api", deps={"somebody": plain_value})
    with pytest.raises(FastwareError, match="GET /api/leaf"):
        make_app(outer)


def test_depends_annotation_that_cannot_be_evaluated_is_explained() -> None:
    class LocalType:  # not importable from the module: the string annotation cannot resolve
        pass

    router = Router()

    @router.get("/local")
    async def handler(
        request: Request, v: Annotated[LocalType, Depends(plain_value)]
    ) -> None:  # pragma: no cover
        pass

    with pytest.raises(FastwareError, match="cannot evaluate"):
        make_app(router)


def test_routes_without_deps_are_not_checked() -> None:
    router = Router()

    @router.get("/loose")
    async def handler(request: Request, whatever: str = "x") -> dict[str, str]:
        return {"whatever": whatever}

    with TestClient(make_app(router)) as client:
        assert client.get("/loose").json() == {"whatever": "x"}


def test_route_added_after_create_app_is_checked_when_the_app_next_compiles() -> None:
    router = Router()

    @router.get("/ok")
    async def ok(request: Request) -> dict[str, str]:
        return {"ok": "yes"}

    app = make_app(router)
    with TestClient(app) as client:
        assert client.get("/ok").json() == {"ok": "yes"}

        async def late(request: Request, missing: Session) -> None:  # pragma: no cover
            pass

        router.add_route("GET", "/late", late, deps={"other": plain_value})
        # The broken route is found on the next request: it answers 500 itself (the test
        # client re-raises the error) while the other routes keep working.
        with pytest.raises(FastwareError, match="GET /late"):
            client.get("/late")
        assert client.get("/ok").json() == {"ok": "yes"}
    with TestClient(app, raise_server_exceptions=False) as quiet:
        broken = quiet.get("/late")
        assert broken.status_code == 500
        assert broken.json() == {"detail": "Internal server error"}


def test_valid_route_added_after_create_app_gets_its_deps() -> None:
    router = Router()
    app = make_app(router)
    with TestClient(app) as client:

        async def late(request: Request, v: str) -> dict[str, str]:
            return {"v": v}

        router.add_route("GET", "/late", late, deps={"v": plain_value})
        assert client.get("/late").json() == {"v": "plain"}


def test_generator_dependency_that_does_not_yield_is_a_500() -> None:
    def empty() -> Iterator[str]:
        return
        yield  # pragma: no cover

    router = Router()

    @router.get("/empty", deps={"e": empty})
    async def handler(request: Request, e: str) -> None:  # pragma: no cover
        pass

    with TestClient(make_app(router), raise_server_exceptions=False) as client:
        assert client.get("/empty").status_code == 500


@pytest.mark.anyio
async def test_broken_late_route_fails_the_first_request_without_lifespan() -> None:
    router = Router()
    app = make_app(router)

    async def late(request: Request, nobody: Session) -> None:  # pragma: no cover
        pass

    router.add_route("GET", "/late", late, deps={"v": plain_value})
    client = AsyncTestClient(app)
    with pytest.raises(FastwareError, match="GET /late"):
        await client.get("/late")
