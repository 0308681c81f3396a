"""``app.dependency_overrides``: by reference, by assignment and as temporary layers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import pytest

from fastware_core import AsyncTestClient, HTTPError, Request, Router, TestClient, create_app
from fastware_core.app import App
from fastware_di import (
    DependencyError,
    DependencyOverrides,
    DependencyResolver,
    Depends,
    dependency,
)

EVENTS: list[str] = []


@pytest.fixture(autouse=True)
def _clear_events() -> Iterator[None]:
    EVENTS.clear()
    yield
    EVENTS.clear()


# -- factories -----------------------------------------------------------------------------


def get_name() -> str:
    return "real"


def fake_name() -> str:
    return "fake"


def other_fake_name() -> str:
    return "other fake"


def get_settings() -> dict[str, str]:
    return {"env": "prod"}


def get_service(settings: Annotated[dict[str, str], Depends(get_settings)]) -> str:
    return f"service({settings['env']})"


def get_db() -> Iterator[str]:
    EVENTS.append("open real db")
    yield "real db"
    EVENTS.append("close real db")


def require_admin(request: Request) -> str:
    raise HTTPError(403, "Role 'admin' required")


@dependency(scope="app")
def app_client() -> Iterator[str]:
    EVENTS.append("up real client")
    yield "real client"
    EVENTS.append("down real client")


def needs_unknown(*, unknown_name: str) -> str:  # pragma: no cover - refused
    return unknown_name


def counted_request_value() -> str:
    EVENTS.append("counted")
    return "counted"


# -- helpers -------------------------------------------------------------------------------


def name_router() -> Router:
    router = Router()

    @router.get("/name")
    async def name(request: Request, value: Annotated[str, Depends(get_name)]) -> dict[str, str]:
        return {"name": value}

    @router.get("/by-name", deps={"value": get_name})
    async def by_name(request: Request, value: str) -> dict[str, str]:
        return {"name": value}

    return router


def make_app(router: Router, overrides: dict[Any, Any] | None = None) -> App:
    if overrides is None:
        return create_app(router, injector=DependencyResolver())
    return create_app(
        router, dependency_overrides=overrides, injector=DependencyResolver(overrides)
    )


# -- tests ---------------------------------------------------------------------------------


def test_dependency_overrides_is_a_mapping() -> None:
    app = make_app(name_router())
    overrides = app.dependency_overrides
    assert isinstance(overrides, DependencyOverrides)
    assert len(overrides) == 0
    overrides[get_name] = fake_name
    assert get_name in overrides
    assert overrides[get_name] is fake_name
    assert list(overrides) == [get_name]
    del overrides[get_name]
    assert get_name not in overrides
    with pytest.raises(KeyError):
        overrides[get_name]


def test_assignment_takes_effect_on_the_next_request() -> None:
    app = make_app(name_router())
    with TestClient(app) as client:
        assert client.get("/name").json() == {"name": "real"}
        app.dependency_overrides[get_name] = fake_name
        assert client.get("/name").json() == {"name": "fake"}
        assert client.get("/by-name").json() == {"name": "fake"}
        app.dependency_overrides[get_name] = other_fake_name
        assert client.get("/name").json() == {"name": "other fake"}
        del app.dependency_overrides[get_name]
        assert client.get("/name").json() == {"name": "real"}


def test_overrides_dict_given_to_create_app_is_kept_by_reference() -> None:
    overrides: dict[Any, Any] = {}
    app = make_app(name_router(), overrides)
    assert app.dependency_overrides.base is overrides
    with TestClient(app) as client:
        assert client.get("/name").json() == {"name": "real"}
        overrides[get_name] = fake_name
        assert client.get("/name").json() == {"name": "fake"}
        app.dependency_overrides[get_name] = other_fake_name  # writes through to the dict
        assert overrides[get_name] is other_fake_name
        overrides.clear()
        assert client.get("/name").json() == {"name": "real"}


def test_overrides_present_at_create_app_apply_from_the_first_request() -> None:
    app = make_app(name_router(), {get_name: fake_name})
    with TestClient(app) as client:
        assert client.get("/by-name").json() == {"name": "fake"}


def test_with_block_applies_only_inside() -> None:
    app = make_app(name_router())
    with TestClient(app) as client:
        with app.dependency_overrides({get_name: fake_name}):
            assert client.get("/name").json() == {"name": "fake"}
            assert get_name in app.dependency_overrides
        assert client.get("/name").json() == {"name": "real"}
        assert get_name not in app.dependency_overrides


def test_with_blocks_nest_and_the_inner_wins() -> None:
    app = make_app(name_router())
    with TestClient(app) as client, app.dependency_overrides({get_name: fake_name}):
        with app.dependency_overrides({get_name: other_fake_name}):
            assert client.get("/name").json() == {"name": "other fake"}
        assert client.get("/name").json() == {"name": "fake"}


def test_with_block_wins_over_the_base_dict() -> None:
    app = make_app(name_router(), {get_name: fake_name})
    with TestClient(app) as client:
        with app.dependency_overrides({get_name: other_fake_name}):
            assert client.get("/name").json() == {"name": "other fake"}
        assert client.get("/name").json() == {"name": "fake"}


def test_with_block_returns_the_overrides() -> None:
    app = make_app(name_router())
    with app.dependency_overrides({get_name: fake_name}) as overrides:
        assert overrides is app.dependency_overrides
        assert dict(overrides) == {get_name: fake_name}


@pytest.mark.anyio
async def test_async_with_block() -> None:
    app = make_app(name_router())
    async with AsyncTestClient(app) as client:
        async with app.dependency_overrides({get_name: fake_name}):
            assert (await client.get("/name")).json() == {"name": "fake"}
        assert (await client.get("/name")).json() == {"name": "real"}


def test_with_block_exits_on_error_too() -> None:
    app = make_app(name_router())
    with pytest.raises(LookupError), app.dependency_overrides({get_name: fake_name}):
        raise LookupError("test failed")
    assert get_name not in app.dependency_overrides


def test_override_that_breaks_a_route_raises_when_the_block_is_entered() -> None:
    app = make_app(name_router())
    with TestClient(app) as client:
        with (
            pytest.raises(DependencyError, match="unknown_name"),
            app.dependency_overrides({get_name: needs_unknown}),
        ):
            pass  # pragma: no cover - never entered
        assert get_name not in app.dependency_overrides
        assert client.get("/name").json() == {"name": "real"}


def test_override_assignment_that_breaks_a_route_fails_its_requests() -> None:
    app = make_app(name_router())
    with TestClient(app, raise_server_exceptions=False) as client:
        app.dependency_overrides[get_name] = needs_unknown  # not checked on assignment
        assert client.get("/name").status_code == 500
        del app.dependency_overrides[get_name]
        assert client.get("/name").json() == {"name": "real"}


def test_override_values_must_be_callable() -> None:
    app = make_app(name_router())
    with pytest.raises(TypeError):
        app.dependency_overrides[get_name] = "not callable"
    with pytest.raises(TypeError):
        app.dependency_overrides({get_name: 42})


def test_overriding_a_nested_sub_dependency() -> None:
    router = Router()

    @router.get("/service")
    async def service(request: Request, s: Annotated[str, Depends(get_service)]) -> dict[str, str]:
        return {"service": s}

    app = make_app(router)
    with TestClient(app) as client:
        assert client.get("/service").json() == {"service": "service(prod)"}
        with app.dependency_overrides({get_settings: lambda: {"env": "test"}}):
            assert client.get("/service").json() == {"service": "service(test)"}
        assert client.get("/service").json() == {"service": "service(prod)"}


def test_overriding_a_generator_dependency_never_opens_the_original() -> None:
    router = Router()

    @router.get("/db", deps={"db": get_db})
    async def db(request: Request, db: str) -> dict[str, str]:
        return {"db": db}

    app = make_app(router, {get_db: lambda: "fake db"})
    with TestClient(app) as client:
        assert client.get("/db").json() == {"db": "fake db"}
    assert EVENTS == []


def test_overriding_a_guard_lets_the_request_through() -> None:
    router = Router()

    @router.get("/admin", deps={"admin": require_admin})
    async def admin(request: Request) -> dict[str, str]:
        return {"admin": "page"}

    app = make_app(router)
    with TestClient(app) as client:
        assert client.get("/admin").status_code == 403
        with app.dependency_overrides({require_admin: lambda: "root"}):
            assert client.get("/admin").json() == {"admin": "page"}


def test_override_can_take_the_request_and_other_deps_by_name() -> None:
    router = Router()

    @router.get("/n", deps={"prefix": lambda: "pre", "value": get_name})
    async def handler(request: Request, value: str) -> dict[str, str]:
        return {"value": value}

    def replacement(request: Request, prefix: str) -> str:
        return f"{prefix}:{request.path}"

    app = make_app(router, {get_name: replacement})
    with TestClient(app) as client:
        assert client.get("/n").json() == {"value": "pre:/n"}


def test_overriding_an_app_scoped_factory_with_a_lambda_keeps_app_scope() -> None:
    router = Router()

    @router.get("/client")
    async def client_route(
        request: Request, c: Annotated[Any, Depends(app_client)]
    ) -> dict[str, int]:
        return {"id": id(c)}

    def fake_client() -> dict[str, str]:
        EVENTS.append("create fake client")
        return {"fake": "client"}

    app = make_app(router, {app_client: lambda: fake_client()})
    with TestClient(app) as client:
        assert EVENTS == ["create fake client"]  # at startup, before any request
        first = client.get("/client").json()
        second = client.get("/client").json()
    assert first == second
    assert EVENTS == ["create fake client"]  # the real one was never created


def test_app_scoped_override_inside_a_block_after_startup() -> None:
    router = Router()

    @router.get("/client")
    async def client_route(request: Request, c: Annotated[str, Depends(app_client)]) -> Any:
        return {"client": c}

    app = make_app(router)
    with TestClient(app) as client:
        assert client.get("/client").json() == {"client": "real client"}
        with app.dependency_overrides({app_client: lambda: "fake client"}):
            assert client.get("/client").json() == {"client": "fake client"}
        assert client.get("/client").json() == {"client": "real client"}
    assert EVENTS == ["up real client", "down real client"]


def test_marked_override_keeps_its_own_scope() -> None:
    router = Router()

    @router.get("/client")
    async def client_route(request: Request, c: Annotated[str, Depends(app_client)]) -> Any:
        return {"client": c}

    @dependency  # explicitly request-scoped: a fresh value per request
    def per_request() -> str:
        EVENTS.append("per request")
        return "per request"

    app = make_app(router, {app_client: per_request})
    with TestClient(app) as client:
        client.get("/client")
        client.get("/client")
    assert EVENTS == ["per request", "per request"]


def test_app_scoped_replacement_for_a_request_scoped_factory() -> None:
    router = Router()

    @router.get("/counted", deps={"c": counted_request_value})
    async def counted(request: Request, c: str) -> dict[str, str]:
        return {"c": c}

    @dependency(scope="app")
    def once() -> str:
        EVENTS.append("once")
        return "once"

    app = make_app(router, {counted_request_value: once})
    with TestClient(app) as client:
        assert client.get("/counted").json() == {"c": "once"}
        assert client.get("/counted").json() == {"c": "once"}
    assert EVENTS == ["once"]


def test_two_apps_on_one_router_do_not_share_overrides() -> None:
    router = name_router()
    first = make_app(router)
    second = make_app(router, {get_name: other_fake_name})
    first.dependency_overrides[get_name] = fake_name
    with TestClient(first) as a, TestClient(second) as b:
        assert a.get("/name").json() == {"name": "fake"}
        assert b.get("/name").json() == {"name": "other fake"}
        with first.dependency_overrides({get_name: get_name}):
            assert a.get("/name").json() == {"name": "real"}
            assert b.get("/name").json() == {"name": "other fake"}


def test_reentering_the_same_layer_keeps_the_outer_block_applied() -> None:
    app = make_app(name_router())
    layer = app.dependency_overrides({get_name: fake_name})
    with TestClient(app) as client, layer:
        with layer:
            assert client.get("/name").json() == {"name": "fake"}
        assert client.get("/name").json() == {"name": "fake"}


def test_clear_inside_a_with_block_removes_the_assigned_overrides() -> None:
    app = make_app(name_router())
    with TestClient(app) as client, app.dependency_overrides({get_settings: dict}):
        app.dependency_overrides[get_name] = fake_name
        assert client.get("/name").json() == {"name": "fake"}
        app.dependency_overrides.clear()
        assert client.get("/name").json() == {"name": "real"}


def test_clear_outside_any_block_removes_every_override() -> None:
    overrides: dict[Any, Any] = {get_name: fake_name}
    app = make_app(name_router(), overrides)
    with TestClient(app) as client:
        assert client.get("/name").json() == {"name": "fake"}
        app.dependency_overrides.clear()
        assert overrides == {}
        assert client.get("/name").json() == {"name": "real"}
