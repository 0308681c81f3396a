"""Routes gated on a feature flag (``feature=``): 404 while off, through both doors."""

from __future__ import annotations

import pytest

from fastware_core import (
    App,
    FastwareError,
    RouteDefinitionError,
    Router,
    TestClient,
    WebSocket,
    create_app,
)
from fastware_core.gating import FlagSource
from fastware_core.testing import WebSocketDenied


class Flags:
    """A flag source whose values the test flips."""

    def __init__(self, **values: bool) -> None:
        self.values = dict(values)
        self.calls = 0

    def enabled(self, name: str) -> bool:
        self.calls += 1
        return self.values.get(name, False)


def gated_app(flags: Flags) -> tuple[Router, App]:
    router = Router()

    @router.get("/beta", feature="beta")
    async def beta(request: object) -> dict[str, str]:
        return {"beta": "on"}

    @router.post("/beta/{item:int}", feature="beta")
    def beta_sync(request: object) -> dict[str, bool]:
        return {"posted": True}

    @router.get("/open")
    async def open_route(request: object) -> dict[str, str]:
        return {"open": "yes"}

    @router.ws("/live", feature="beta")
    async def live(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")

    return router, create_app(router, features=flags)


def test_flag_source_protocol_accepts_any_object_with_enabled() -> None:
    assert isinstance(Flags(), FlagSource)


def test_gated_route_answers_404_with_a_json_body_while_its_flag_is_off() -> None:
    flags = Flags(beta=False)
    _, app = gated_app(flags)
    with TestClient(app) as client:
        off = client.get("/beta")
        assert (off.status_code, off.json()) == (404, {"detail": "Not found"})
        assert client.post("/beta/3", json={}).status_code == 404
        assert client.head("/beta").status_code == 404
        flags.values["beta"] = True
        assert client.get("/beta").json() == {"beta": "on"}
        assert client.post("/beta/3", json={}).json() == {"posted": True}
        flags.values["beta"] = False
        assert client.get("/beta").status_code == 404


def test_ungated_routes_never_ask_the_flag_source() -> None:
    flags = Flags()
    _, app = gated_app(flags)
    with TestClient(app) as client:
        assert client.get("/open").json() == {"open": "yes"}
    assert flags.calls == 0


def test_gate_is_checked_per_request_not_cached() -> None:
    flags = Flags(beta=True)
    _, app = gated_app(flags)
    with TestClient(app) as client:
        for _ in range(3):
            client.get("/beta")
    assert flags.calls == 3


def test_an_http_error_handler_sees_the_gated_404() -> None:
    from fastware_core import HTTPError

    router = Router()

    @router.get("/x", feature="x")
    async def x(request: object) -> dict[str, str]:
        return {}

    def handler(request: object, exc: HTTPError) -> dict[str, int]:
        return {"handled": exc.status_code}

    app = create_app(router, features=Flags(), exception_handlers={HTTPError: handler})
    with TestClient(app) as client:
        assert client.get("/x").json() == {"handled": 404}


def test_websocket_route_is_refused_while_off_and_served_while_on() -> None:
    flags = Flags(beta=True)
    _, app = gated_app(flags)
    with TestClient(app) as client:
        with client.websocket_connect("/live") as ws:
            assert ws.receive_text() == "hello"
        flags.values["beta"] = False
        with pytest.raises(WebSocketDenied) as denied, client.websocket_connect("/live"):
            pass
    assert denied.value.status_code in (404, 403)  # 403 where the server cannot send a body


@pytest.mark.asgi_only  # Granian's RSGI WebSocket sends no denial body
def test_websocket_refusal_is_a_404_with_a_json_body() -> None:
    _, app = gated_app(Flags())
    with (
        TestClient(app) as client,
        pytest.raises(WebSocketDenied) as denied,
        client.websocket_connect("/live"),
    ):
        pass
    assert denied.value.status_code == 404
    assert denied.value.json() == {"detail": "Not found"}


def test_gated_route_without_a_flag_source_fails_at_create_app() -> None:
    router = Router()

    @router.get("/beta", feature="beta")
    async def beta(request: object) -> dict[str, str]:
        return {}

    with pytest.raises(FastwareError, match=r"gated on feature .beta.*features="):
        create_app(router)


def test_gated_route_added_later_without_a_flag_source_stays_off_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = Router()

    @router.get("/open")
    async def open_route(request: object) -> dict[str, str]:
        return {}

    app = create_app(router)
    with TestClient(app) as client:

        @router.get("/late", feature="late")
        async def late(request: object) -> dict[str, str]:
            return {}

        assert client.get("/late").status_code == 404
        assert client.get("/open").status_code == 200
    assert "gated on feature 'late'" in caplog.text


@pytest.mark.parametrize("bad", ["", "  ", 3])
def test_feature_must_be_a_flag_name(bad: object) -> None:
    router = Router()
    with pytest.raises(RouteDefinitionError, match="feature="):
        router.add_route("GET", "/x", lambda request: {}, feature=bad)  # type: ignore[arg-type]


def test_gated_routes_of_an_included_router_keep_their_gate() -> None:
    inner = Router()

    @inner.get("/thing", feature="inner")
    async def thing(request: object) -> dict[str, bool]:
        return {"ok": True}

    outer = Router()
    outer.include_router(inner, prefix="/v1")
    flags = Flags()
    app = create_app(outer, features=flags)
    with TestClient(app) as client:
        assert client.get("/v1/thing").status_code == 404
        flags.values["inner"] = True
        assert client.get("/v1/thing").json() == {"ok": True}
    assert [r.feature for r in outer.routes] == ["inner"]


def test_include_router_gates_every_included_route_on_its_flag_too() -> None:
    admin = Router()

    @admin.get("/users")
    async def users(request: object) -> dict[str, bool]:
        return {"users": True}

    @admin.get("/audit", feature="audit")
    async def audit(request: object) -> dict[str, bool]:
        return {"audit": True}

    @admin.ws("/live")
    async def live(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")

    nested = Router()
    nested.include_router(admin, prefix="/admin", feature="admin")
    outer = Router()
    outer.include_router(nested, prefix="/v2", feature="v2")

    @outer.get("/open")
    async def open_route(request: object) -> dict[str, bool]:
        return {"open": True}

    flags = Flags(admin=True, audit=True)
    with TestClient(create_app(outer, features=flags)) as client:
        assert client.get("/v2/admin/users").status_code == 404  # "v2" is off
        assert client.get("/open").status_code == 200
        flags.values["v2"] = True
        assert client.get("/v2/admin/users").json() == {"users": True}
        assert client.get("/v2/admin/audit").json() == {"audit": True}
        with client.websocket_connect("/v2/admin/live") as ws:
            assert ws.receive_text() == "hello"
        flags.values["audit"] = False  # the route's own flag still counts
        assert client.get("/v2/admin/audit").status_code == 404
        assert client.get("/v2/admin/users").status_code == 200
        flags.values["admin"] = False
        assert client.get("/v2/admin/users").json() == {"detail": "Not found"}
        with pytest.raises(WebSocketDenied), client.websocket_connect("/v2/admin/live"):
            pass
    features = {(r.method, r.path): r.features for r in outer.compile().entries}
    assert features == {
        ("GET", "/v2/admin/users"): ("v2", "admin"),
        ("GET", "/v2/admin/audit"): ("v2", "admin", "audit"),
        ("GET", "/open"): (),
    }


def test_an_included_gate_without_a_flag_source_names_every_flag() -> None:
    inner = Router()

    @inner.get("/x", feature="own")
    async def x(request: object) -> dict[str, str]:
        return {}

    outer = Router()
    outer.include_router(inner, prefix="/in", feature="outer")
    with pytest.raises(FastwareError, match=r"GET /in/x is gated on feature 'outer', 'own'"):
        create_app(outer)


def test_include_router_refuses_a_flag_for_mounted_apps() -> None:
    async def asgi_app(scope: object, receive: object, send: object) -> None:
        return None

    inner = Router()
    inner.mount("/files", asgi_app)
    outer = Router()
    with pytest.raises(RouteDefinitionError, match=r"cannot be included with feature="):
        outer.include_router(inner, prefix="/in", feature="beta")
    assert outer.compile().mounts_with_root() == []  # the include was not kept
    with pytest.raises(RouteDefinitionError, match="feature="):
        outer.include_router(Router(), feature="")
