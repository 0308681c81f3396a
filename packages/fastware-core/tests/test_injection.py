"""The Injector seam: how an app hands routes to a dependency-injection engine.

fastware-core cannot import fastware-di, so these tests drive the seam with a small injector
written here; fastware-di's own tests cover the real one through the same seam.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from fastware_core import (
    FastwareError,
    Request,
    Router,
    StreamResponse,
    TestClient,
    WebSocket,
    create_app,
)
from fastware_core.injection import RouteCall
from fastware_core.routing import RouteEntry


class RecordingInjector:
    """Adds ``deps`` values as keyword arguments and records what the app asked of it."""

    def __init__(self, events: list[str] | None = None, fail_startup: bool = False) -> None:
        self.overrides: dict[Any, Any] = {}
        self.prepared: list[tuple[str, str, bool]] = []
        self.events = events if events is not None else []
        self.fail_startup = fail_startup

    def prepare(self, entry: RouteEntry, *, websocket: bool) -> RouteCall | None:
        self.prepared.append((entry.method, entry.path, websocket))
        deps = entry.deps
        if not deps:
            return None
        call = entry.call

        async def with_values(conn: Any) -> Any:
            values = {name: factory() for name, factory in deps.items()}
            return await call(conn, **values)

        return with_values

    async def startup(self) -> None:
        self.events.append("injector startup")
        if self.fail_startup:
            raise RuntimeError("pool unavailable")

    async def shutdown(self) -> None:
        self.events.append("injector shutdown")


def test_routes_with_deps_need_an_injector(router: Router) -> None:
    @router.get("/x", deps={"a": lambda: 1})
    async def handler(request: Request, a: int) -> dict[str, int]:
        return {"a": a}

    with pytest.raises(FastwareError, match=r"GET /x declares deps.*fastware-di"):
        create_app(router)


def test_the_injector_call_replaces_only_routes_with_dependencies(router: Router) -> None:
    @router.get("/plain")
    async def plain(request: Request) -> dict[str, str]:
        return {"plain": "yes"}

    @router.get("/deps", deps={"a": lambda: 41})
    async def with_deps(request: Request, a: int) -> dict[str, int]:
        return {"a": a + 1}

    @router.ws("/ws", deps={"greeting": lambda: "hi"})
    async def ws(websocket: WebSocket, greeting: str) -> None:
        await websocket.accept()
        await websocket.send_text(greeting)

    injector = RecordingInjector()
    app = create_app(router, injector=injector)
    assert sorted(injector.prepared) == [
        ("GET", "/deps", False),
        ("GET", "/plain", False),
        ("GET", "/ws", True),
    ]
    compiled = app._compiled
    assert compiled is not None
    assert compiled.static["plain"]["GET"].call is plain  # called directly: DI costs nothing
    with TestClient(app) as client:
        assert client.get("/plain").json() == {"plain": "yes"}
        assert client.get("/deps").json() == {"a": 42}
        assert client.head("/deps").status_code == 200  # HEAD borrows GET's prepared call
        with client.websocket_connect("/ws") as socket:
            assert socket.receive_text() == "hi"


def test_two_apps_on_one_router_keep_their_own_calls(router: Router) -> None:
    @router.get("/deps", deps={"a": lambda: 1})
    async def with_deps(request: Request, a: int) -> dict[str, int]:
        return {"a": a}

    first, second = RecordingInjector(), RecordingInjector()
    app_one = create_app(router, injector=first)
    app_two = create_app(router, injector=second)
    one, two = app_one._compiled, app_two._compiled
    assert one is not None
    assert two is not None
    assert one.static["deps"]["GET"].call is not two.static["deps"]["GET"].call
    assert router.compile().static["deps"]["GET"].call is with_deps  # the router is untouched


def test_routes_added_later_are_prepared_on_the_next_request(router: Router) -> None:
    injector = RecordingInjector()
    app = create_app(router, injector=injector)
    with TestClient(app) as client:

        @router.get("/late", deps={"a": lambda: "late"})
        async def late(request: Request, a: str) -> dict[str, str]:
            return {"a": a}

        assert client.get("/late").json() == {"a": "late"}
    assert ("GET", "/late", False) in injector.prepared


def test_injector_starts_after_the_lifespan_and_stops_before_it(router: Router) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        events.append("lifespan enter")
        yield
        events.append("lifespan exit")

    app = create_app(router, lifespan=lifespan, injector=RecordingInjector(events))
    with TestClient(app):
        events.append("serving")
    assert events == [
        "lifespan enter",
        "injector startup",
        "serving",
        "injector shutdown",
        "lifespan exit",
    ]


def test_injector_startup_failure_fails_the_startup(router: Router) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        events.append("lifespan enter")
        try:
            yield
        finally:
            events.append("lifespan exit")

    app = create_app(
        router, lifespan=lifespan, injector=RecordingInjector(events, fail_startup=True)
    )
    with pytest.raises(RuntimeError, match="pool unavailable"), TestClient(app):
        pass
    assert events == ["lifespan enter", "injector startup", "lifespan exit"]


def test_dependency_overrides_without_an_injector_is_the_config_dict(router: Router) -> None:
    overrides: dict[Any, Any] = {}
    app = create_app(router, dependency_overrides=overrides)
    assert app.dependency_overrides is overrides
    injector = RecordingInjector()
    assert create_app(router, injector=injector).dependency_overrides is injector.overrides


class ClosableBody:
    """An async iterator that records whether the app closed it."""

    def __init__(self) -> None:
        self.closed = False
        self.started = False

    def __aiter__(self) -> ClosableBody:
        return self

    async def __anext__(self) -> bytes:
        if self.started:
            raise StopAsyncIteration
        self.started = True
        return b"body"

    async def aclose(self) -> None:
        self.closed = True


def test_head_closes_a_stream_it_never_started(router: Router) -> None:
    bodies: list[ClosableBody] = []

    @router.get("/stream")
    async def stream(request: Request) -> StreamResponse:
        body = ClosableBody()
        bodies.append(body)
        return StreamResponse(body, "text/plain")

    with TestClient(create_app(router)) as client:
        assert client.get("/stream").content == b"body"
        head = client.head("/stream")
    assert head.status_code == 200
    assert head.content == b""
    assert [(b.started, b.closed) for b in bodies] == [(True, True), (False, True)]
