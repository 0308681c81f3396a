"""The application: configuration, errors, exception handlers, lifespan, HEAD, middleware."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest

from fastware_core import (
    AppConfig,
    FastwareError,
    HTTPError,
    JSONResponse,
    Request,
    Router,
    StreamResponse,
    TestClient,
    TextResponse,
    create_app,
)
from fastware_core.exceptions import LifespanError
from fastware_core.middleware import Answer, Connection, HookMiddleware, error_answer
from fastware_core.types import ASGIApp, Receive, Scope, Send

RawExchange = Callable[..., Awaitable[tuple[list[dict[str, Any]], int]]]


class ItemOut(msgspec.Struct):
    id: int
    name: str


class DuckOut:
    """A pydantic-like response model: drops unknown fields, requires ``id``."""

    def __init__(self, id: int) -> None:
        self.id = id

    @classmethod
    def model_validate(cls, data: Any) -> DuckOut:
        if not isinstance(data.get("id"), int):
            raise ValueError("1 validation error for DuckOut: id must be an int")
        return cls(data["id"])

    def model_dump(self, mode: str = "python") -> dict[str, Any]:
        return {"id": self.id}


class AppError(Exception):
    pass


class MissingError(AppError):
    pass


class OtherAppError(AppError):
    pass


def raise_runtime_error(message: str) -> None:
    raise RuntimeError(message)


async def run_lifespan(app: ASGIApp) -> list[dict[str, Any]]:
    """Drive the ASGI lifespan protocol by hand: startup then shutdown."""
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.4"}, "state": {}}
    await app(scope, receive, send)
    return sent


def raising_router() -> Router:
    router = Router()

    @router.get("/missing")
    async def missing(request: Request) -> None:
        raise MissingError("no such thing")

    @router.get("/other")
    async def other(request: Request) -> None:
        raise OtherAppError("other")

    @router.get("/base")
    async def base(request: Request) -> None:
        raise AppError("base")

    @router.get("/lookup")
    async def lookup(request: Request) -> None:
        raise KeyError("k")

    @router.get("/http")
    async def http(request: Request) -> None:
        raise HTTPError(418, "teapot")

    @router.post("/only-post")
    async def only_post(request: Request) -> str:
        return "posted"

    return router


async def on_missing(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"handled_by": "missing", "error": str(exc)}, status=404)


async def on_app_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"handled_by": "app", "error": str(exc)}, status=400)


def on_any(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"handled_by": "any", "type": type(exc).__name__}, status=503)


# -- create_app ----------------------------------------------------------------------------------


def test_unknown_keyword_is_a_type_error_naming_them_sorted(router: Router) -> None:
    with pytest.raises(TypeError, match="lifespam, zeta"):
        create_app(router, zeta=1, lifespam=None)


def test_config_and_keywords_are_layered(router: Router) -> None:
    @router.post("/size")
    async def size(request: Request) -> int:
        return request.body_size

    config = AppConfig(max_body_size=5, name="shop")
    app = create_app(router, config, max_body_size=100)

    assert app.config.max_body_size == 100
    assert app.config.name == "shop"
    assert config.max_body_size == 5
    with TestClient(app) as client:
        assert client.post("/size", content=b"x" * 50).json() == 50
    with TestClient(create_app(router, config)) as client:
        assert client.post("/size", content=b"x" * 50).status_code == 413


@pytest.mark.parametrize(
    "setting",
    [
        {"vite_dev_port": 5173},
    ],
)
def test_settings_this_release_cannot_honour_raise(router: Router, setting: dict[str, Any]) -> None:
    with pytest.raises(FastwareError, match=next(iter(setting))):
        create_app(router, **setting)


# -- automatic answers ---------------------------------------------------------------------------


def test_unknown_path_is_a_404(router: Router) -> None:
    with TestClient(create_app(router)) as client:
        response = client.get("/nothing/here")
    assert response.status_code == 404
    assert response.content == b'{"detail":"Not found"}'
    assert response.headers["content-type"] == "application/json"


def test_wrong_method_is_a_405_with_a_sorted_allow_header(router: Router) -> None:
    @router.get("/items")
    async def items(request: Request) -> list[int]:
        return []

    @router.post("/items")
    async def create(request: Request) -> int:
        return 1

    with TestClient(create_app(router)) as client:
        response = client.delete("/items")
    assert response.status_code == 405
    assert response.content == b'{"detail":"Method not allowed"}'
    assert response.headers["allow"] == "GET, HEAD, POST"


def test_405_allow_header_for_a_get_route(router: Router) -> None:
    @router.get("/items/{item_id:int}")
    async def item(request: Request) -> int:
        return 1

    with TestClient(create_app(router)) as client:
        response = client.put("/items/3")
        not_found = client.put("/items/abc")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert not_found.status_code == 404


def test_unhandled_error_is_a_500(router: Router) -> None:
    @router.get("/boom")
    async def boom(request: Request) -> None:
        raise RuntimeError("secret internals")

    with TestClient(create_app(router), raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.content == b'{"detail":"Internal server error"}'


@pytest.mark.asgi_only  # over RSGI an unhandled error is a 500, as under Granian
def test_raise_server_exceptions_reraises_the_handler_error(router: Router) -> None:
    @router.get("/boom")
    async def boom(request: Request) -> None:
        raise RuntimeError("secret internals")

    with TestClient(create_app(router)) as client, pytest.raises(RuntimeError, match="secret"):
        client.get("/boom")


@pytest.mark.parametrize("method", ["get", "FOO", "Post", "BREW"])
def test_unknown_methods_are_a_501(router: Router, method: str) -> None:
    @router.get("/items")
    async def items(request: Request) -> list[int]:
        return []

    with TestClient(create_app(router)) as client:
        on_route = client.request(method, "/items")
        elsewhere = client.request(method, "/nothing")
    for response in (on_route, elsewhere):
        assert response.status_code == 501
        assert response.json() == {"detail": "Method not implemented"}


@pytest.mark.parametrize("path", ["/a%00b", "/%00", "/items/%00"])
def test_nul_byte_in_the_path_is_a_400(router: Router, path: str) -> None:
    @router.get("/{anything:path}")
    async def anything(request: Request) -> str:
        return request.path

    with TestClient(create_app(router)) as client:
        response = client.get(path)
    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid characters in path"}


@pytest.mark.parametrize("path", ["/%FF", "/items/%C3%28", "/%80abc"])
def test_invalid_utf8_in_the_path_is_a_400(router: Router, path: str) -> None:
    @router.get("/{anything:path}")
    async def anything(request: Request) -> str:
        return request.path

    with TestClient(create_app(router)) as client:
        response = client.get(path)
    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid characters in path"}


def test_valid_utf8_in_the_path_is_served(router: Router) -> None:
    @router.get("/cafes/{name}")
    async def cafe(request: Request) -> str:
        return str(request.path_params["name"])

    with TestClient(create_app(router)) as client:
        assert client.get("/cafes/caf%C3%A9").json() == "café"


# -- HEAD ----------------------------------------------------------------------------------------


def test_head_is_answered_from_get_without_a_body(router: Router) -> None:
    calls: list[str] = []

    @router.get("/doc")
    async def doc(request: Request) -> TextResponse:
        calls.append(request.method)
        return TextResponse("hello world", headers={"X-Doc": "1"})

    with TestClient(create_app(router)) as client:
        get = client.get("/doc")
        head = client.head("/doc")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"] == "11"
    assert head.headers["content-type"] == "text/plain; charset=utf-8"
    assert head.headers["x-doc"] == "1"
    assert calls == ["GET", "HEAD"]


def test_head_to_an_unknown_path_is_a_404_without_a_body(router: Router) -> None:
    with TestClient(create_app(router)) as client:
        response = client.head("/nothing")
    assert response.status_code == 404
    assert response.content == b""
    assert response.headers["content-length"] == str(len(b'{"detail":"Not found"}'))


# -- exception handlers --------------------------------------------------------------------------


@pytest.mark.parametrize("base_first", [True, False])
def test_exception_handler_is_chosen_by_mro(base_first: bool) -> None:
    handlers: dict[type[BaseException], Any] = (
        {AppError: on_app_error, MissingError: on_missing}
        if base_first
        else {MissingError: on_missing, AppError: on_app_error}
    )
    handlers[Exception] = on_any
    app = create_app(raising_router(), exception_handlers=handlers)

    with TestClient(app) as client:
        missing = client.get("/missing")
        other = client.get("/other")
        base = client.get("/base")
        lookup = client.get("/lookup")
    assert (missing.status_code, missing.json()) == (
        404,
        {"handled_by": "missing", "error": "no such thing"},
    )
    assert other.json() == {"handled_by": "app", "error": "other"}
    assert base.json() == {"handled_by": "app", "error": "base"}
    assert (lookup.status_code, lookup.json()) == (503, {"handled_by": "any", "type": "KeyError"})


def test_exception_handler_may_return_any_handler_result() -> None:
    async def as_dict(request: Request, exc: Exception) -> dict[str, str]:
        return {"path": request.path, "error": str(exc)}

    app = create_app(raising_router(), exception_handlers={AppError: as_dict})

    with TestClient(app) as client:
        response = client.get("/base")
    assert response.status_code == 200
    assert response.json() == {"path": "/base", "error": "base"}


def test_http_error_handler_is_called_for_http_errors() -> None:
    async def on_http(request: Request, exc: HTTPError) -> JSONResponse:
        return JSONResponse({"error": exc.detail, "code": exc.status_code}, status=exc.status_code)

    app = create_app(raising_router(), exception_handlers={HTTPError: on_http})

    with TestClient(app) as client:
        teapot = client.get("/http")
        not_found = client.get("/nowhere")
        not_allowed = client.get("/only-post")
    assert (teapot.status_code, teapot.json()) == (418, {"error": "teapot", "code": 418})
    assert (not_found.status_code, not_found.json()) == (
        404,
        {"error": "Not found", "code": 404},
    )
    assert (not_allowed.status_code, not_allowed.json()) == (
        405,
        {"error": "Method not allowed", "code": 405},
    )


def test_catch_all_exception_handler_does_not_receive_http_errors() -> None:
    app = create_app(raising_router(), exception_handlers={Exception: on_any})

    with TestClient(app) as client:
        teapot = client.get("/http")
        not_found = client.get("/nowhere")
        lookup = client.get("/lookup")
    assert (teapot.status_code, teapot.json()) == (418, {"detail": "teapot"})
    assert (not_found.status_code, not_found.content) == (404, b'{"detail":"Not found"}')
    assert lookup.status_code == 503


def test_exception_handler_that_raises_gives_a_500() -> None:
    async def broken(request: Request, exc: Exception) -> None:
        raise RuntimeError("handler broke too")

    app = create_app(raising_router(), exception_handlers={AppError: broken})

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/base")
    assert response.status_code == 500
    assert response.content == b'{"detail":"Internal server error"}'


def test_exception_handler_may_raise_an_http_error() -> None:
    async def to_conflict(request: Request, exc: Exception) -> None:
        raise HTTPError(409, "conflict", headers={"X-Why": str(exc)})

    app = create_app(raising_router(), exception_handlers={AppError: to_conflict})

    with TestClient(app) as client:
        response = client.get("/base")
    assert response.status_code == 409
    assert response.json() == {"detail": "conflict"}
    assert response.headers["x-why"] == "base"


# -- response_model ------------------------------------------------------------------------------


def test_response_model_struct_filters_a_dict_result(router: Router) -> None:
    @router.get("/item", response_model=ItemOut)
    async def item(request: Request) -> dict[str, Any]:
        return {"id": 1, "name": "pen", "secret": "cost price"}

    with TestClient(create_app(router)) as client:
        assert client.get("/item").json() == {"id": 1, "name": "pen"}


def test_response_model_mismatch_is_a_500(router: Router) -> None:
    @router.get("/item", response_model=ItemOut)
    async def item(request: Request) -> dict[str, Any]:
        return {"id": "one", "name": "pen"}

    with TestClient(create_app(router), raise_server_exceptions=False) as client:
        response = client.get("/item")
    assert response.status_code == 500
    assert "id" in response.json()["detail"]


def test_response_model_skips_responses_and_lists(router: Router) -> None:
    @router.get("/list", response_model=ItemOut)
    async def items(request: Request) -> list[int]:
        return [1, 2]

    @router.get("/response", response_model=ItemOut)
    async def response(request: Request) -> JSONResponse:
        return JSONResponse({"anything": True})

    with TestClient(create_app(router)) as client:
        assert client.get("/list").json() == [1, 2]
        assert client.get("/response").json() == {"anything": True}


def test_response_model_with_a_pydantic_like_model(router: Router) -> None:
    @router.get("/good", response_model=DuckOut)
    async def good(request: Request) -> dict[str, Any]:
        return {"id": 3, "internal": "hidden"}

    @router.get("/bad", response_model=DuckOut)
    async def bad(request: Request) -> dict[str, Any]:
        return {"id": "three"}

    with TestClient(create_app(router), raise_server_exceptions=False) as client:
        good_response = client.get("/good")
        bad_response = client.get("/bad")
    assert good_response.json() == {"id": 3}
    assert bad_response.status_code == 500
    assert "id must be an int" in bad_response.json()["detail"]


# -- lifespan ------------------------------------------------------------------------------------


def test_lifespan_state_reaches_requests_and_exit_runs_on_close(router: Router) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
        events.append("startup")
        yield {"greeting": "hello"}
        events.append("shutdown")

    @router.get("/greet")
    async def greet(request: Request) -> str:
        return str(request.state.greeting)

    with TestClient(create_app(router, lifespan=lifespan)) as client:
        assert events == ["startup"]
        assert client.get("/greet").json() == "hello"
    assert events == ["startup", "shutdown"]


def test_lifespan_yielding_nothing_is_fine(router: Router) -> None:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield

    @router.get("/ok")
    async def ok(request: Request) -> str:
        return "ok"

    with TestClient(create_app(router, lifespan=lifespan)) as client:
        assert client.get("/ok").json() == "ok"


@pytest.mark.anyio
async def test_lifespan_protocol_reports_startup_and_shutdown(router: Router) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        events.append("enter")
        yield
        events.append("exit")

    sent = await run_lifespan(create_app(router, lifespan=lifespan))

    assert sent == [
        {"type": "lifespan.startup.complete"},
        {"type": "lifespan.shutdown.complete"},
    ]
    assert events == ["enter", "exit"]


@pytest.mark.anyio
async def test_lifespan_failure_is_sent_as_startup_failed(router: Router) -> None:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        raise_runtime_error("database unreachable")
        yield

    sent = await run_lifespan(create_app(router, lifespan=lifespan))

    assert sent == [{"type": "lifespan.startup.failed", "message": "database unreachable"}]


@pytest.mark.anyio
async def test_lifespan_shutdown_failure_is_sent_as_shutdown_failed(router: Router) -> None:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        raise_runtime_error("could not flush")

    sent = await run_lifespan(create_app(router, lifespan=lifespan))

    assert sent[0] == {"type": "lifespan.startup.complete"}
    assert sent[1]["type"] == "lifespan.shutdown.failed"
    assert "could not flush" in sent[1]["message"]


def test_test_client_enter_raises_when_the_lifespan_fails(router: Router) -> None:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        raise_runtime_error("database unreachable")
        yield

    client = TestClient(create_app(router, lifespan=lifespan))
    with pytest.raises(RuntimeError, match="database unreachable"), client:
        pass


def test_mounted_app_lifespan_runs_with_the_app(router: Router) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def sub_lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
        events.append("sub startup")
        yield {"sub_value": 42}
        events.append("sub shutdown")

    sub = Router()

    @sub.get("/value")
    async def value(request: Request) -> Any:
        return request.state.sub_value

    router.mount("/sub", create_app(sub, lifespan=sub_lifespan))

    with TestClient(create_app(router)) as client:
        assert events == ["sub startup"]
        assert client.get("/sub/value").json() == 42
    assert events == ["sub startup", "sub shutdown"]


# -- middleware ----------------------------------------------------------------------------------


def header_middleware(name: bytes, order: list[str]) -> Callable[[ASGIApp], ASGIApp]:
    """A pure-ASGI middleware factory adding header ``name`` and recording its calls."""

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            order.append(name.decode())

            async def add_header(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message["headers"], (name, b"1")]}
                await send(message)

            await app(scope, receive, add_header)

        return middleware

    return factory


def test_middleware_wraps_the_app_first_entry_outermost(router: Router) -> None:
    order: list[str] = []

    @router.get("/hello")
    async def hello(request: Request) -> str:
        order.append("handler")
        return "hello"

    middleware = [header_middleware(b"x-outer", order), header_middleware(b"x-inner", order)]
    app = create_app(router, middleware=middleware)

    with TestClient(app) as client:
        response = client.get("/hello")
        missing = client.get("/missing")
    assert response.json() == "hello"
    assert response.headers["x-outer"] == "1"
    assert response.headers["x-inner"] == "1"
    assert missing.headers["x-outer"] == "1"
    assert order == ["x-outer", "x-inner", "handler", "x-outer", "x-inner"]


def test_middleware_sees_the_lifespan(router: Router) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        events.append("startup")
        yield

    app = create_app(router, lifespan=lifespan, middleware=[header_middleware(b"x-mw", [])])
    with TestClient(app):
        assert events == ["startup"]


# -- the framework's own middleware, switched on by create_app ---------------------------------


def _hello(router: Router) -> Router:
    @router.get("/")
    async def hello(request: Request) -> dict[str, str]:
        return {"hello": "world"}

    return router


class _ErrorSpy:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def append(self, **row: Any) -> None:
        self.rows.append(row)


def test_default_app_sends_request_ids_and_counts_requests(router: Router) -> None:
    app = create_app(_hello(router))
    with TestClient(app) as client:
        first = client.get("/")
        second = client.get("/")
    assert len(first.headers["x-request-id"]) == 32
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert app.request_timing is not None
    assert app.request_timing.request_count == 2


class _SeesTheId(HookMiddleware):
    """A user hook: refuses ``/refuse`` early, and reports the id it saw in a header."""

    def before(self, conn: Connection) -> Answer | None:
        if conn.path == "/refuse":
            return error_answer(403, f"refused {conn.state['request_id']}")
        return None

    def after(self, conn: Connection, status: int, headers: list[tuple[str, str]]) -> None:
        headers.append(("x-seen-id", conn.state["request_id"]))


@pytest.mark.parametrize("user_asgi_middleware", [False, True])
def test_the_request_id_runs_outermost_on_every_kind_of_answer(
    router: Router, user_asgi_middleware: bool
) -> None:
    # The doors run create_app's request-id middleware themselves; what hooks and clients
    # see must be what the outermost hook would give: the id set before any other hook runs,
    # its header after every other hook's, on routed, early, 404 and streamed answers. An
    # app with user ASGI middleware runs it the generic way: the same, checked alongside.
    @router.get("/stream")
    async def stream(request: Request) -> StreamResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield request.state.request_id.encode()

        return StreamResponse(chunks(), "text/plain")

    def passthrough(app: ASGIApp) -> ASGIApp:
        return app

    middleware: list[Any] = [_SeesTheId()]
    if user_asgi_middleware:
        middleware.append(passthrough)
    app = create_app(_hello(router), middleware=middleware)
    with TestClient(app) as client:
        answers = [client.get(path) for path in ("/", "/refuse", "/missing", "/stream")]
        kept = client.get("/", headers={"X-Request-ID": "from-the-proxy"})
    for response in answers:
        rid = response.headers["x-request-id"]
        assert len(rid) == 32
        assert response.headers["x-seen-id"] == rid
        names = [name.lower() for name in response.headers]
        assert names.index("x-request-id") > names.index("x-seen-id")
    assert answers[1].json() == {"detail": f"refused {answers[1].headers['x-request-id']}"}
    assert answers[3].text == answers[3].headers["x-request-id"]
    assert len({response.headers["x-request-id"] for response in answers}) == 4
    assert kept.headers["x-request-id"] == kept.headers["x-seen-id"] == "from-the-proxy"


def test_request_id_and_timing_switch_off(router: Router) -> None:
    app = create_app(_hello(router), request_id=False, request_timing=False)
    with TestClient(app) as client:
        assert "x-request-id" not in client.get("/").headers
    assert app.request_timing is None


def test_cors_wildcard_works_without_credentials(router: Router) -> None:
    with TestClient(create_app(_hello(router), cors_origins=["*"])) as client:
        response = client.get("/", headers={"Origin": "https://any.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers


def test_trusted_hosts_ignore_the_port_and_reject_others(router: Router) -> None:
    app = create_app(_hello(router), trusted_hosts=["example.com", "*.example.org"])
    with TestClient(app, base_url="http://example.com:8000") as client:
        assert client.get("/").status_code == 200
        assert client.get("/", headers={"Host": "api.example.org"}).status_code == 200
        rejected = client.get("/", headers={"Host": "evil.example"})
    assert rejected.status_code == 400
    assert rejected.json() == {"detail": "Invalid host header"}


def test_server_errors_are_reported_to_the_error_log() -> None:
    router = Router()

    @router.get("/fail")
    async def fail(request: Request) -> None:
        raise RuntimeError("down")

    spy = _ErrorSpy()
    app = create_app(router, error_log=spy)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/fail")
    assert response.status_code == 500
    assert spy.rows == [
        {
            "method": "GET",
            "path": "/fail",
            "status_code": 500,
            "detail": "GET /fail returned 500",
            "request_id": response.headers["x-request-id"],
        }
    ]


def test_the_default_timing_records_what_the_doors_serve(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The doors record create_app's timing themselves in the common case (status below 500,
    # DEBUG off); 5xx answers and DEBUG logging take RequestTimingMiddleware.finished. Both
    # must give the same counts, records and wall-clock times.
    router = Router()

    @router.get("/plain")
    async def plain(request: Request) -> dict[str, str]:
        return {"ok": "yes"}

    @router.get("/users/{id:int}")
    async def user(request: Request) -> dict[str, int]:
        await asyncio.sleep(0.02)
        return {"id": request.path_params["id"]}

    @router.post("/echo")
    async def echo(request: Request) -> Any:
        return request.json

    @router.get("/fail")
    async def fail(request: Request) -> None:
        raise RuntimeError("down")

    spy = _ErrorSpy()
    app = create_app(router, error_log=spy)
    timing = app.request_timing
    assert timing is not None
    before = time.time()
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/plain").status_code == 200
        assert client.get("/users/7").status_code == 200
        assert client.post("/echo", json={"a": 1}).json() == {"a": 1}
        assert client.get("/nowhere").status_code == 404
        assert client.get("/fail").status_code == 500
        with caplog.at_level(logging.DEBUG, logger="fastware.timing"):
            assert client.get("/plain/").status_code == 200
        assert client.head("/plain").status_code == 200
    after = time.time()
    history = list(timing.request_history)
    assert timing.request_count == 7
    assert [(m, p, s) for _, m, p, s, _ in history] == [
        ("GET", "/plain", 200),
        ("GET", "/users/7", 200),
        ("POST", "/echo", 200),
        ("GET", "/nowhere", 404),
        ("GET", "/fail", 500),
        ("GET", "/plain/", 200),
        ("HEAD", "/plain", 200),
    ]
    walls = [record[0] for record in history]
    assert walls == sorted(walls)
    assert before - 0.01 <= walls[0]
    assert walls[-1] <= after + 0.01
    durations = [record[4] for record in history]
    assert all(0 <= d <= (after - before) * 1000 + 1 for d in durations)
    assert durations[1] >= 19  # the handler slept 20 ms
    assert "GET /plain/ 200" in caplog.text
    assert [row["path"] for row in spy.rows] == ["/fail"]


@pytest.mark.asgi_only  # drives the RSGI hooks itself, once
def test_a_failing_lifespan_shutdown_fails_the_rsgi_worker() -> None:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        raise RuntimeError("pool would not close")

    app = create_app(Router(), lifespan=lifespan)
    loop = asyncio.new_event_loop()
    try:
        app.__rsgi_init__(loop)
        # Granian turns an exception from __rsgi_del__ into a failed worker (exit status 1)
        with pytest.raises(LifespanError, match="pool would not close"):
            app.__rsgi_del__(loop)
    finally:
        loop.close()
