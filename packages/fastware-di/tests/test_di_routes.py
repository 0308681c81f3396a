"""Dependencies declared with ``deps={...}`` on HTTP routes, served through an app."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from fastware_core import HTTPError, Request, Router, TestClient, create_app
from fastware_core.app import App
from fastware_di import DependencyResolver


def make_app(router: Router, overrides: dict[Any, Any] | None = None) -> App:
    return create_app(router, injector=DependencyResolver(overrides))


def conn_name() -> str:
    return "conn"


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_route_deps_reach_the_handler_for_every_verb(method: str) -> None:
    router = Router()

    async def handler(request: Request, db: str) -> dict[str, Any]:
        return {"db": db, "method": request.method}

    register: Callable[..., Any] = getattr(router, method.lower())
    register("/x", deps={"db": conn_name})(handler)
    with TestClient(make_app(router)) as client:
        response = client.request(method, "/x")
    assert response.status_code == 200
    assert response.json() == {"db": "conn", "method": method}


def test_add_route_and_route_accept_deps() -> None:
    router = Router()

    async def handler(request: Request, db: str) -> dict[str, str]:
        return {"db": db}

    router.add_route("GET", "/added", handler, deps={"db": conn_name})
    router.route("/multi", methods=["GET", "POST"], deps={"db": conn_name})(handler)
    with TestClient(make_app(router)) as client:
        assert client.get("/added").json() == {"db": "conn"}
        assert client.get("/multi").json() == {"db": "conn"}
        assert client.post("/multi").json() == {"db": "conn"}


def test_factory_receives_the_request() -> None:
    router = Router()

    def who(request: Request) -> str:
        return f"{request.method} {request.path} {request.header('x-user')}"

    @router.get("/items/{item_id:int}", deps={"who": who})
    async def item(request: Request, who: str) -> dict[str, Any]:
        return {"who": who, "id": request.path_params["item_id"]}

    with TestClient(make_app(router)) as client:
        response = client.get("/items/3", headers={"x-user": "ann"})
    assert response.json() == {"who": "GET /items/3 ann", "id": 3}


def test_factory_calling_rules_through_the_app() -> None:
    router = Router()

    def positional(anything: Request) -> str:
        return anything.path

    def star(*args: Any) -> str:
        return str(len(args))

    def keyword(*, request: Request) -> str:
        return request.method

    def nothing() -> str:
        return "nothing"

    def typed_later(limit: int = 3, *, req: Request) -> str:
        return f"{req.path}:{limit}"

    deps = {"p": positional, "s": star, "k": keyword, "n": nothing, "t": typed_later}

    @router.get("/rules", deps=deps)
    async def rules(request: Request, **values: Any) -> dict[str, Any]:
        return values

    with TestClient(make_app(router)) as client:
        response = client.get("/rules")
    assert response.json() == {"p": "/rules", "s": "1", "k": "GET", "n": "nothing", "t": "/rules:3"}


def test_include_router_deps_are_merged_under_route_deps() -> None:
    inner = Router()

    @inner.get("/own", deps={"db": lambda: "route db"})
    async def own(request: Request, db: str, user: str) -> dict[str, str]:
        return {"db": db, "user": user}

    @inner.get("/plain")
    async def plain(request: Request, db: str, user: str) -> dict[str, str]:
        return {"db": db, "user": user}

    outer = Router()
    outer.include_router(
        inner, prefix="/api", deps={"db": lambda: "router db", "user": lambda: "u"}
    )
    with TestClient(make_app(outer)) as client:
        assert client.get("/api/own").json() == {"db": "route db", "user": "u"}
        assert client.get("/api/plain").json() == {"db": "router db", "user": "u"}


def test_nested_include_router_deps_accumulate() -> None:
    leaf = Router()

    @leaf.get("/leaf")
    async def handler(request: Request, a: str, b: str) -> dict[str, str]:
        return {"a": a, "b": b}

    middle = Router()
    middle.include_router(leaf, prefix="/m", deps={"b": lambda: "from middle"})
    top = Router()
    top.include_router(middle, prefix="/t", deps={"a": lambda: "from top", "b": lambda: "top b"})
    with TestClient(make_app(top)) as client:
        assert client.get("/t/m/leaf").json() == {"a": "from top", "b": "from middle"}


def test_only_accepted_names_are_passed_but_every_dep_is_resolved() -> None:
    router = Router()
    resolved: list[str] = []

    def used() -> str:
        resolved.append("used")
        return "used"

    def unused() -> str:
        resolved.append("unused")
        return "unused"

    @router.get("/x", deps={"used": used, "unused": unused})
    async def handler(request: Request, used: str) -> dict[str, str]:
        return {"used": used}

    with TestClient(make_app(router)) as client:
        assert client.get("/x").json() == {"used": "used"}
    assert sorted(resolved) == ["unused", "used"]


def test_guard_dependency_blocks_a_handler_that_does_not_take_it() -> None:
    router = Router()
    ran: list[str] = []

    def require_user(request: Request) -> str:
        if request.header("authorization") is None:
            raise HTTPError(401, "Not authenticated", headers={"WWW-Authenticate": "Bearer"})
        return "user"

    @router.get("/secret", deps={"auth": require_user})
    async def secret(request: Request) -> dict[str, str]:
        ran.append("handler")
        return {"secret": "42"}

    with TestClient(make_app(router)) as client:
        denied = client.get("/secret")
        allowed = client.get("/secret", headers={"Authorization": "Bearer t"})
    assert denied.status_code == 401
    assert denied.json() == {"detail": "Not authenticated"}
    assert denied.headers["www-authenticate"] == "Bearer"
    assert allowed.json() == {"secret": "42"}
    assert ran == ["handler"]


def test_router_level_guard_protects_every_included_route() -> None:
    inner = Router()

    @inner.get("/a")
    async def a(request: Request) -> dict[str, str]:
        return {"route": "a"}

    @inner.post("/b")
    async def b(request: Request) -> dict[str, str]:
        return {"route": "b"}

    def deny() -> None:
        raise HTTPError(403, "Forbidden")

    outer = Router()
    outer.include_router(inner, prefix="/admin", deps={"guard": deny})
    with TestClient(make_app(outer)) as client:
        assert client.get("/admin/a").status_code == 403
        assert client.post("/admin/b").json() == {"detail": "Forbidden"}


def test_kwargs_handler_receives_every_dep() -> None:
    router = Router()

    @router.get("/all", deps={"a": lambda: 1, "b": lambda: 2})
    async def everything(request: Request, **deps: Any) -> dict[str, Any]:
        return deps

    with TestClient(make_app(router)) as client:
        assert client.get("/all").json() == {"a": 1, "b": 2}


def test_handler_default_used_when_no_dep_has_the_name() -> None:
    router = Router()

    @router.get("/d", deps={"a": lambda: "A"})
    async def handler(request: Request, a: str, b: str = "default") -> dict[str, str]:
        return {"a": a, "b": b}

    with TestClient(make_app(router)) as client:
        assert client.get("/d").json() == {"a": "A", "b": "default"}


def test_sync_async_and_generator_factories_with_cleanup_in_reverse_order() -> None:
    router = Router()
    log: list[str] = []

    def sync_value() -> str:
        log.append("sync")
        return "s"

    async def async_value() -> str:
        log.append("async")
        return "a"

    def sync_gen() -> Iterator[str]:
        log.append("open sync gen")
        yield "sg"
        log.append("close sync gen")

    async def async_gen() -> AsyncIterator[str]:
        log.append("open async gen")
        yield "ag"
        log.append("close async gen")

    deps = {"s": sync_value, "a": async_value, "sg": sync_gen, "ag": async_gen}

    @router.get("/mix", deps=deps)
    async def mix(request: Request, s: str, a: str, sg: str, ag: str) -> list[str]:
        log.append("handler")
        return [s, a, sg, ag]

    with TestClient(make_app(router)) as client:
        assert client.get("/mix").json() == ["s", "a", "sg", "ag"]
    assert log == [
        "sync",
        "async",
        "open sync gen",
        "open async gen",
        "handler",
        "close async gen",
        "close sync gen",
    ]


def test_one_factory_bound_to_two_names_runs_once_per_request() -> None:
    router = Router()
    calls: list[int] = []

    def make() -> dict[str, int]:
        calls.append(1)
        return {"n": len(calls)}

    @router.get("/twice", deps={"a": make, "b": make})
    async def twice(request: Request, a: dict[str, int], b: dict[str, int]) -> dict[str, Any]:
        return {"same": a is b, "n": a["n"]}

    with TestClient(make_app(router)) as client:
        assert client.get("/twice").json() == {"same": True, "n": 1}
        assert client.get("/twice").json() == {"same": True, "n": 2}
    assert len(calls) == 2


def test_dependency_http_error_becomes_the_response_and_the_handler_never_runs() -> None:
    router = Router()
    log: list[str] = []

    def opened() -> Iterator[str]:
        log.append("open")
        try:
            yield "x"
        finally:
            log.append("closed")

    def teapot() -> str:
        raise HTTPError(418, {"why": "teapot"}, headers={"X-Reason": "brew"})

    @router.get("/tea", deps={"first": opened, "pot": teapot})
    async def tea(request: Request, first: str, pot: str) -> dict[str, str]:
        log.append("handler")
        return {}

    with TestClient(make_app(router)) as client:
        response = client.get("/tea")
    assert response.status_code == 418
    assert response.json() == {"detail": {"why": "teapot"}}
    assert response.headers["x-reason"] == "brew"
    assert log == ["open", "closed"]


def test_unhandled_dependency_error_is_a_500() -> None:
    router = Router()
    ran: list[str] = []

    def broken() -> str:
        raise LookupError("nope")

    @router.get("/broken", deps={"b": broken})
    async def handler(request: Request, b: str) -> dict[str, str]:
        ran.append("handler")
        return {}

    with TestClient(make_app(router), raise_server_exceptions=False) as client:
        response = client.get("/broken")
    assert response.status_code == 500
    assert ran == []


def test_sync_handler_runs_in_a_thread_and_gets_deps() -> None:
    router = Router()
    threads: dict[str, int] = {}

    async def loop_value() -> str:
        threads["factory"] = threading.get_ident()
        return "v"

    @router.get("/sync", deps={"v": loop_value})
    def sync_handler(request: Request, v: str) -> dict[str, str]:
        threads["handler"] = threading.get_ident()
        return {"v": v}

    with TestClient(make_app(router)) as client:
        assert client.get("/sync").json() == {"v": "v"}
    assert threads["factory"] != threads["handler"]


def test_sync_handler_generator_dep_closed_after_the_handler() -> None:
    router = Router()
    log: list[str] = []

    def gen() -> Iterator[str]:
        log.append("open")
        yield "g"
        log.append("close")

    @router.post("/sync", deps={"g": gen})
    def handler(request: Request, g: str) -> dict[str, str]:
        log.append("handler")
        return {"g": g}

    with TestClient(make_app(router)) as client:
        assert client.post("/sync").json() == {"g": "g"}
    assert log == ["open", "handler", "close"]


def test_head_request_resolves_and_cleans_up_deps() -> None:
    router = Router()
    log: list[str] = []

    def gen() -> Iterator[str]:
        log.append("open")
        yield "g"
        log.append("close")

    @router.get("/h", deps={"g": gen})
    async def handler(request: Request, g: str) -> dict[str, str]:
        return {"g": g}

    with TestClient(make_app(router)) as client:
        response = client.head("/h")
    assert response.status_code == 200
    assert response.content == b""
    assert log == ["open", "close"]


def test_generator_deps_are_fresh_per_request() -> None:
    router = Router()
    opened: list[int] = []

    def session() -> Iterator[int]:
        opened.append(len(opened) + 1)
        yield opened[-1]

    @router.get("/s", deps={"s": session})
    async def handler(request: Request, s: int) -> dict[str, int]:
        return {"s": s}

    with TestClient(make_app(router)) as client:
        assert [client.get("/s").json()["s"] for _ in range(3)] == [1, 2, 3]


def test_route_without_dependencies_is_not_wrapped() -> None:
    router = Router()

    async def plain(request: Request) -> dict[str, str]:
        return {"plain": "yes"}

    async def with_deps(request: Request, a: str) -> dict[str, str]:
        return {"a": a}

    router.add_route("GET", "/plain", plain)
    router.add_route("GET", "/deps", with_deps, deps={"a": lambda: "A"})
    app = make_app(router)
    compiled = app._compiled
    assert compiled is not None
    calls = {entry.path: entry.call for entry in compiled.entries}
    assert calls["/plain"] is plain
    assert calls["/deps"] is not with_deps
    with TestClient(app) as client:
        assert client.get("/plain").json() == {"plain": "yes"}
        assert client.get("/deps").json() == {"a": "A"}


def test_app_without_any_dependency_keeps_the_compiled_router_unchanged() -> None:
    router = Router()

    @router.get("/a")
    async def a(request: Request) -> dict[str, str]:
        return {}

    app = make_app(router)
    assert app._compiled is not None
    # The same entry (the docs routes sit beside it): the handler is called directly.
    assert app._compiled.static["a"]["GET"] is router.compile().static["a"]["GET"]
