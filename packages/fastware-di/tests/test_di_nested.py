"""Nested dependencies: ``Depends`` markers and factories that take other deps by name."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pytest

from fastware_core import Request, Router, TestClient, create_app
from fastware_core.app import App
from fastware_di import DependencyResolver, Depends

EVENTS: list[str] = []


@pytest.fixture(autouse=True)
def _clear_events() -> Iterator[None]:
    EVENTS.clear()
    yield
    EVENTS.clear()


def make_app(router: Router) -> App:
    return create_app(router, injector=DependencyResolver())


# -- module-level factories (their Annotated markers are evaluated at runtime) -------------


def get_settings() -> dict[str, str]:
    EVENTS.append("settings")
    return {"dsn": "db://x"}


async def get_pool(settings: Annotated[dict[str, str], Depends(get_settings)]) -> str:
    EVENTS.append("pool")
    return f"pool({settings['dsn']})"


async def get_db(pool: Annotated[str, Depends(get_pool)]) -> AsyncIterator[str]:
    EVENTS.append("open db")
    try:
        yield f"db<{pool}>"
    finally:
        EVENTS.append("close db")


def get_user(request: Request) -> str:
    EVENTS.append("user")
    return request.header("x-user") or "anonymous"


def get_repo(
    request: Request,
    db: Annotated[str, Depends(get_db)],
    user: Annotated[str, Depends(get_user)],
) -> Iterator[str]:
    EVENTS.append("open repo")
    yield f"repo[{db}, {user}, {request.path}]"
    EVENTS.append("close repo")


def left(settings: Annotated[dict[str, str], Depends(get_settings)]) -> str:
    return f"left:{settings['dsn']}"


def right(settings: Annotated[dict[str, str], Depends(get_settings)]) -> str:
    return f"right:{settings['dsn']}"


def top(a: Annotated[str, Depends(left)], b: Annotated[str, Depends(right)]) -> tuple[str, str]:
    return a, b


def default_style(settings: dict[str, str] = Depends(get_settings)) -> str:  # noqa: B008
    return settings["dsn"]


def identity_probe() -> object:
    return object()


def holds_probe(probe: Annotated[object, Depends(identity_probe)]) -> object:
    return probe


# -- by-name factories (the first positional parameter is the request) -------------------


def by_name_db() -> str:
    EVENTS.append("by-name db")
    return "DB"


def by_name_repo(request: Request, db: str) -> str:
    EVENTS.append("by-name repo")
    return f"repo({db}) for {request.path}"


def by_name_service(*, repo: str, db: str) -> str:
    EVENTS.append("by-name service")
    return f"service({repo}, {db})"


def by_name_optional(*, db: str, missing: str = "fallback") -> str:
    return f"{db}/{missing}"


# -- tests ----------------------------------------------------------------------------------


def test_annotated_marker_on_a_handler_parameter() -> None:
    router = Router()

    @router.get("/settings")
    async def handler(
        request: Request, settings: Annotated[dict[str, str], Depends(get_settings)]
    ) -> dict[str, str]:
        return settings

    with TestClient(make_app(router)) as client:
        assert client.get("/settings").json() == {"dsn": "db://x"}


def test_default_marker_on_a_handler_parameter() -> None:
    router = Router()

    @router.get("/default")
    async def handler(request: Request, dsn: str = Depends(default_style)) -> dict[str, str]:
        return {"dsn": dsn}

    with TestClient(make_app(router)) as client:
        assert client.get("/default").json() == {"dsn": "db://x"}


def test_marker_among_other_annotated_metadata() -> None:
    router = Router()

    @router.get("/meta")
    async def handler(
        request: Request, settings: Annotated[dict[str, str], "docs", Depends(get_settings)]
    ) -> dict[str, str]:
        return settings

    with TestClient(make_app(router)) as client:
        assert client.get("/meta").json() == {"dsn": "db://x"}


def test_three_level_chain_runs_in_dependency_order_and_cleans_up() -> None:
    router = Router()

    @router.get("/repo")
    async def handler(request: Request, repo: Annotated[str, Depends(get_repo)]) -> dict[str, str]:
        EVENTS.append("handler")
        return {"repo": repo}

    with TestClient(make_app(router)) as client:
        response = client.get("/repo", headers={"x-user": "ann"})
    assert response.json() == {"repo": "repo[db<pool(db://x)>, ann, /repo]"}
    assert EVENTS.index("settings") < EVENTS.index("pool") < EVENTS.index("open db")
    assert EVENTS.index("open db") < EVENTS.index("open repo")
    assert EVENTS.index("user") < EVENTS.index("open repo")
    # Dependents are closed before what they depend on.
    assert EVENTS[EVENTS.index("handler") :] == ["handler", "close repo", "close db"]


def test_shared_sub_dependency_is_resolved_once_per_request() -> None:
    router = Router()

    @router.get("/diamond")
    async def handler(request: Request, both: Annotated[tuple[str, str], Depends(top)]) -> Any:
        return list(both)

    with TestClient(make_app(router)) as client:
        assert client.get("/diamond").json() == ["left:db://x", "right:db://x"]
        assert EVENTS == ["settings"]
        client.get("/diamond")
        assert EVENTS == ["settings", "settings"]


def test_handler_and_factory_asking_for_the_same_factory_share_the_value() -> None:
    router = Router()

    @router.get("/same")
    async def handler(
        request: Request,
        probe: Annotated[object, Depends(identity_probe)],
        held: Annotated[object, Depends(holds_probe)],
    ) -> dict[str, bool]:
        return {"same": probe is held}

    with TestClient(make_app(router)) as client:
        assert client.get("/same").json() == {"same": True}


def test_marker_and_deps_name_for_one_factory_share_the_value() -> None:
    router = Router()

    @router.get("/mixed", deps={"probe": identity_probe})
    async def handler(
        request: Request, probe: object, held: Annotated[object, Depends(holds_probe)]
    ) -> dict[str, bool]:
        return {"same": probe is held}

    with TestClient(make_app(router)) as client:
        assert client.get("/mixed").json() == {"same": True}


def test_factory_gets_route_deps_by_name() -> None:
    router = Router()
    deps = {"db": by_name_db, "repo": by_name_repo, "service": by_name_service}

    @router.get("/named", deps=deps)
    async def handler(request: Request, service: str) -> dict[str, str]:
        return {"service": service}

    with TestClient(make_app(router)) as client:
        response = client.get("/named")
    assert response.json() == {"service": "service(repo(DB) for /named, DB)"}
    assert EVENTS == ["by-name db", "by-name repo", "by-name service"]


def test_dependency_order_does_not_depend_on_dict_order() -> None:
    router = Router()
    deps = {"service": by_name_service, "repo": by_name_repo, "db": by_name_db}

    @router.get("/reversed", deps=deps)
    async def handler(request: Request, service: str) -> dict[str, str]:
        return {"service": service}

    with TestClient(make_app(router)) as client:
        response = client.get("/reversed")
    assert response.json() == {"service": "service(repo(DB) for /reversed, DB)"}
    assert EVENTS == ["by-name db", "by-name repo", "by-name service"]


def test_by_name_parameter_with_a_default_keeps_it_when_nothing_provides_it() -> None:
    router = Router()

    @router.get("/opt", deps={"db": by_name_db, "opt": by_name_optional})
    async def handler(request: Request, opt: str) -> dict[str, str]:
        return {"opt": opt}

    with TestClient(make_app(router)) as client:
        assert client.get("/opt").json() == {"opt": "DB/fallback"}


def test_router_level_dep_feeds_a_route_factory_by_name() -> None:
    inner = Router()

    @inner.get("/r", deps={"repo": by_name_repo})
    async def handler(request: Request, repo: str) -> dict[str, str]:
        return {"repo": repo}

    outer = Router()
    outer.include_router(inner, prefix="/v1", deps={"db": by_name_db})
    with TestClient(make_app(outer)) as client:
        assert client.get("/v1/r").json() == {"repo": "repo(DB) for /v1/r"}


def test_route_with_only_markers_and_no_deps_dict_is_resolved() -> None:
    router = Router()

    @router.post("/only-markers")
    def sync_handler(
        request: Request, settings: Annotated[dict[str, str], Depends(get_settings)]
    ) -> dict[str, str]:
        return settings

    with TestClient(make_app(router)) as client:
        assert client.post("/only-markers").json() == {"dsn": "db://x"}


def test_nested_generator_cleanup_runs_on_handler_error() -> None:
    router = Router()

    @router.get("/fail")
    async def handler(request: Request, repo: Annotated[str, Depends(get_repo)]) -> None:
        raise RuntimeError("handler failed")

    with TestClient(make_app(router), raise_server_exceptions=False) as client:
        assert client.get("/fail").status_code == 500
    # get_repo has no try/finally: the error thrown in at its yield skips its cleanup;
    # get_db's finally still runs.
    assert "close db" in EVENTS
    assert "close repo" not in EVENTS
