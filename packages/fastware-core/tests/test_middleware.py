"""The middleware suite: each class as ASGI middleware in an app, and its hooks called directly."""

from __future__ import annotations

import asyncio
import logging
import os
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest

from fastware_core import (
    AsyncTestClient,
    HTTPError,
    JSONResponse,
    Request,
    Router,
    StreamResponse,
    TestClient,
    TextResponse,
    WebSocket,
    WebSocketDisconnect,
    create_app,
)
from fastware_core.middleware import (
    AccessLogMiddleware,
    Answer,
    ASGIConnection,
    CORSMiddleware,
    GZipMiddleware,
    HookMiddleware,
    HTTPSRedirectMiddleware,
    RequestIDMiddleware,
    RequestTimingMiddleware,
    SecurityHeadersMiddleware,
    TrustedHostMiddleware,
    add_vary,
    answer_headers,
    bind_request_ids,
    error_answer,
    request_id_var,
)
from fastware_core.middleware.gzip import accepts_gzip
from fastware_core.middleware.trusted_host import split_host
from fastware_core.types import ASGIApp, Receive, Scope, Send

Factory = Callable[[ASGIApp], ASGIApp]


@dataclass
class FakeConnection:
    """A hand-made :class:`~fastware_core.middleware.Connection` for calling hooks directly."""

    method: str = "GET"
    path: str = "/"
    query_string: str = ""
    scheme: str = "http"
    type: str = "http"
    headers: list[tuple[str, str]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def header_list(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


def conn(*headers: tuple[str, str], **kwargs: Any) -> FakeConnection:
    return FakeConnection(headers=list(headers), **kwargs)


def value_of(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value
    return None


@pytest.fixture
def app_router() -> Router:
    """A router with the routes the app-level tests use."""
    router = Router()

    @router.get("/items")
    async def items(request: Request) -> Any:
        return {"items": [1, 2, 3], "rid": request.state.get("request_id")}

    @router.get("/vary")
    async def vary(request: Request) -> Any:
        return JSONResponse({"ok": True}, headers={"Vary": "Accept-Encoding"})

    @router.get("/own-cors")
    async def own_cors(request: Request) -> Any:
        return JSONResponse({}, headers={"Access-Control-Allow-Origin": "https://own.example"})

    @router.get("/boom")
    async def boom(request: Request) -> Any:
        raise HTTPError(503, "down")

    @router.get("/crash")
    async def crash(request: Request) -> Any:
        raise RuntimeError("crash")

    @router.get("/health")
    async def health(request: Request) -> Any:
        return {"ok": True}

    @router.get("/health/db")
    async def health_db(request: Request) -> Any:
        return {"ok": True}

    @router.get("/healthz")
    async def healthz(request: Request) -> Any:
        return {"ok": True}

    @router.get("/big")
    async def big(request: Request) -> Any:
        return TextResponse("fastware " * 500)

    @router.get("/small")
    async def small(request: Request) -> Any:
        return TextResponse("tiny")

    @router.get("/encoded")
    async def encoded(request: Request) -> Any:
        return TextResponse("x" * 2000, headers={"Content-Encoding": "br"})

    @router.get("/framed")
    async def framed(request: Request) -> Any:
        return TextResponse("x" * 2000, headers={"X-Frame-Options": "SAMEORIGIN"})

    @router.ws("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    return router


def client_for(router: Router, *factories: Factory, **kwargs: Any) -> TestClient:
    # The app's own request-id and timing hooks are off: these tests compose the classes.
    app = create_app(router, middleware=list(factories), request_id=False, request_timing=False)
    return TestClient(app, **kwargs)


# -- base ----------------------------------------------------------------------------------------


def test_add_vary_appends_merges_and_never_duplicates() -> None:
    headers: list[tuple[str, str]] = []
    add_vary(headers, "Origin")
    assert headers == [("vary", "Origin")]
    add_vary(headers, "origin")
    assert headers == [("vary", "Origin")]
    headers = [("content-type", "text/plain"), ("vary", "Accept-Encoding")]
    add_vary(headers, "Origin")
    assert headers == [("content-type", "text/plain"), ("vary", "Accept-Encoding, Origin")]
    starred = [("vary", "*")]
    add_vary(starred, "Origin")
    assert starred == [("vary", "*")]
    # Names that were not lower-cased (a native door may pass them as the app wrote them).
    mixed = [("Vary", "Cookie")]
    add_vary(mixed, "Origin")
    assert mixed == [("Vary", "Cookie, Origin")]


def test_answer_headers_leave_out_empty_content_type_and_no_body_lengths() -> None:
    assert answer_headers(error_answer(400, "bad")) == [
        ("content-type", "application/json"),
        ("content-length", str(len(b'{"detail":"bad"}'))),
    ]
    assert answer_headers((204, "", b"", [("x-a", "1")])) == [("x-a", "1")]
    assert answer_headers((307, "", b"", None)) == [("content-length", "0")]


def test_hook_flags_tell_which_hooks_a_class_overrides() -> None:
    assert CORSMiddleware.uses_before
    assert CORSMiddleware.uses_after
    assert not CORSMiddleware.uses_finished
    assert RequestTimingMiddleware.uses_finished
    assert not RequestTimingMiddleware.uses_before
    assert SecurityHeadersMiddleware.uses_after
    assert not SecurityHeadersMiddleware.uses_before
    assert TrustedHostMiddleware.uses_before
    assert not TrustedHostMiddleware.uses_after
    assert TrustedHostMiddleware.applies_to_websocket
    assert not CORSMiddleware.applies_to_websocket


def test_asgi_connection_reads_the_scope() -> None:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/a b",
        "query_string": b"x=1",
        "scheme": "https",
        "headers": [(b"host", b"test"), (b"x-a", b"1"), (b"x-a", b"2")],
    }
    connection = ASGIConnection.of(scope)
    assert (connection.method, connection.path, connection.scheme) == ("POST", "/a b", "https")
    assert connection.query_string == "x=1"
    assert connection.header("x-a") == "1"
    assert connection.header("missing") is None
    assert connection.header_list("x-a") == ["1", "2"]
    connection.state["k"] = "v"
    assert scope["state"] == {"k": "v"}
    ws = ASGIConnection.of({"type": "websocket", "path": "/ws", "headers": []})
    assert (ws.type, ws.scheme, ws.method) == ("websocket", "ws", "")


def test_hook_middleware_without_an_app_explains_how_to_wrap(app_router: Router) -> None:
    middleware = CORSMiddleware(allow_origins=["*"])

    async def run() -> None:
        await middleware({"type": "http"}, _no_receive, _no_send)

    with pytest.raises(TypeError, match="without an app"):
        asyncio.run(run())


async def _no_receive() -> Any:
    raise AssertionError("not called")


async def _no_send(message: Any) -> None:
    raise AssertionError("not called")


class Recorder(HookMiddleware):
    """Records its hook calls; answers 418 for ``/teapot``."""

    def __init__(self, app: ASGIApp | None = None, *, name: str, log: list[str]) -> None:
        super().__init__(app)
        self.name = name
        self.log = log
        self.seen: list[tuple[int, float]] = []

    def before(self, conn: Any) -> Answer | None:
        self.log.append(f"before {self.name}")
        if conn.path == "/teapot":
            return error_answer(418, "teapot")
        return None

    def after(self, conn: Any, status: int, headers: list[tuple[str, str]]) -> None:
        self.log.append(f"after {self.name}")
        headers.append((f"x-{self.name}", str(status)))

    def finished(self, conn: Any, status: int, seconds: float) -> None:
        self.log.append(f"finished {self.name}")
        self.seen.append((status, seconds))


def test_asgi_mode_nests_hooks_like_middleware(app_router: Router) -> None:
    log: list[str] = []
    outer = Recorder(name="outer", log=log)
    inner = Recorder(name="inner", log=log)

    def wrap(hooks: Recorder) -> Factory:
        def factory(app: ASGIApp) -> ASGIApp:
            hooks.app = app
            return hooks

        return factory

    with client_for(app_router, wrap(outer), wrap(inner)) as client:
        response = client.get("/items")
        assert response.headers["x-outer"] == "200"
        assert response.headers["x-inner"] == "200"
        assert log == [
            "before outer",
            "before inner",
            "after inner",
            "after outer",
            "finished outer",
            "finished inner",
        ]
        log.clear()
        answered = client.get("/teapot")
    # The answering middleware's own after() runs too; the inner one never sees the request.
    assert answered.status_code == 418
    assert answered.json() == {"detail": "teapot"}
    assert answered.headers["x-outer"] == "418"
    assert "x-inner" not in answered.headers
    assert log == ["before outer", "after outer", "finished outer"]
    assert outer.seen[-1][0] == 418
    assert outer.seen[-1][1] >= 0


def test_asgi_mode_finished_runs_with_status_0_when_the_app_fails() -> None:
    log: list[str] = []

    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("no response")

    hooks = Recorder(failing, name="r", log=log)

    async def run() -> None:
        scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
        await hooks(scope, _no_receive, _no_send)

    with pytest.raises(RuntimeError, match="no response"):
        asyncio.run(run())
    assert hooks.seen[0][0] == 0
    assert log == ["before r", "finished r"]


def test_lifespan_and_other_scopes_pass_through(app_router: Router) -> None:
    started: list[bool] = []
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
        started.append(True)
        yield {"greeting": "hi"}

    app = create_app(
        app_router,
        lifespan=lifespan,
        middleware=[lambda app: SecurityHeadersMiddleware(app), lambda app: GZipMiddleware(app)],
    )
    with TestClient(app) as client:
        assert client.get("/items").status_code == 200
    assert started == [True]


# -- CORS ----------------------------------------------------------------------------------------


def cors(**options: Any) -> Factory:
    return lambda app: CORSMiddleware(app, **options)


def test_cors_wildcard_works_and_turns_credentials_off(app_router: Router) -> None:
    middleware = CORSMiddleware(allow_origins=["*"])
    assert middleware.allow_credentials is False
    with client_for(app_router, cors(allow_origins=["*"])) as client:
        response = client.get("/items", headers={"Origin": "https://any.example"})
        preflight = client.options(
            "/items",
            headers={"Origin": "https://any.example", "Access-Control-Request-Method": "POST"},
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers
    assert "vary" not in response.headers
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in preflight.headers


def test_cors_allowed_origin_is_echoed_with_credentials_and_vary(app_router: Router) -> None:
    origin = "https://app.example"
    factory = cors(allow_origins=[origin], expose_headers=["X-Total", "X-Page"])
    with client_for(app_router, factory) as client:
        response = client.get("/items", headers={"Origin": origin})
        merged = client.get("/vary", headers={"Origin": origin})
        other = client.get("/items", headers={"Origin": "https://evil.example"})
        absent = client.get("/items")
        own = client.get("/own-cors", headers={"Origin": origin})
    assert response.headers["access-control-allow-origin"] == origin
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-expose-headers"] == "X-Total, X-Page"
    assert response.headers.getlist("vary") == ["Origin"]
    # Merged into the app's own Vary, not appended as a second header.
    assert merged.headers.getlist("vary") == ["Accept-Encoding, Origin"]
    for untouched in (other, absent):
        assert untouched.status_code == 200
        assert not [k for k in untouched.headers if k.startswith("access-control-")]
        assert "vary" not in untouched.headers
    assert own.headers.getlist("access-control-allow-origin") == ["https://own.example"]


def test_cors_preflight_answers_204_with_the_allow_headers(app_router: Router) -> None:
    origin = "https://app.example"
    with client_for(app_router, cors(allow_origins=[origin], max_age=600)) as client:
        response = client.options(
            "/items",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "PATCH",
                "Access-Control-Request-Headers": "Content-Type, X-Request-ID",
            },
        )
    assert response.status_code == 204
    assert response.content == b""
    headers = response.headers
    assert headers["access-control-allow-origin"] == origin
    assert headers["access-control-allow-methods"] == "GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD"
    assert "authorization" in headers["access-control-allow-headers"]
    assert headers["access-control-max-age"] == "600"
    assert headers["access-control-allow-credentials"] == "true"
    assert headers.getlist("vary") == ["Origin"]


def test_cors_preflight_rejects_unlisted_methods_and_headers(app_router: Router) -> None:
    origin = "https://app.example"
    factory = cors(allow_origins=[origin], allow_methods=["GET"], allow_headers=["X-Token"])
    with client_for(app_router, factory) as client:
        bad_method = client.options(
            "/items", headers={"Origin": origin, "Access-Control-Request-Method": "DELETE"}
        )
        bad_header = client.options(
            "/items",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "x-token, x-secret",
            },
        )
        good = client.options(
            "/items",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "get",
                "Access-Control-Request-Headers": "X-TOKEN, Content-Type",
            },
        )
    for rejected in (bad_method, bad_header):
        assert rejected.status_code == 400
        assert rejected.content == b'{"detail":"CORS preflight rejected"}'
    assert good.status_code == 204
    assert good.headers["access-control-allow-methods"] == "GET"
    assert good.headers["access-control-allow-headers"] == (
        "accept, accept-language, content-language, content-type, x-token"
    )


def test_cors_star_methods_and_headers_echo_the_request() -> None:
    middleware = CORSMiddleware(
        allow_origins=["https://a.example"], allow_methods=["*"], allow_headers=["*"]
    )
    answer = middleware.before(
        conn(
            ("origin", "https://a.example"),
            ("access-control-request-method", "PURGE"),
            ("access-control-request-headers", "x-anything, x-else"),
            method="OPTIONS",
        )
    )
    assert answer is not None
    status, _, _, headers = answer
    assert status == 204
    assert headers is not None
    assert value_of(headers, "access-control-allow-methods") == "PURGE"
    assert value_of(headers, "access-control-allow-headers") == "x-anything, x-else"


def test_cors_plain_options_and_unknown_origins_reach_the_app(app_router: Router) -> None:
    with client_for(app_router, cors(allow_origins=["https://a.example"])) as client:
        plain = client.options("/items", headers={"Origin": "https://a.example"})
        stranger = client.options(
            "/items",
            headers={"Origin": "https://b.example", "Access-Control-Request-Method": "GET"},
        )
    assert plain.status_code == 405  # the app's own answer, with CORS headers added
    assert plain.headers["access-control-allow-origin"] == "https://a.example"
    assert stranger.status_code == 405
    assert "access-control-allow-origin" not in stranger.headers


def test_cors_hooks_regex_credentials_off_and_websockets() -> None:
    middleware = CORSMiddleware(
        allow_origins=[],
        allow_origin_regex=r"https://[a-z]+\.example\.com",
        allow_credentials=False,
    )
    assert middleware.is_allowed_origin("https://shop.example.com")
    assert not middleware.is_allowed_origin("https://shop.example.com.evil.org")
    headers: list[tuple[str, str]] = [("content-type", "application/json")]
    middleware.after(conn(("origin", "https://shop.example.com")), 200, headers)
    assert value_of(headers, "access-control-allow-origin") == "https://shop.example.com"
    assert value_of(headers, "access-control-allow-credentials") is None
    assert value_of(headers, "vary") == "Origin"
    untouched: list[tuple[str, str]] = []
    middleware.after(
        conn(("origin", "https://shop.example.com"), type="websocket", scheme="ws"), 101, untouched
    )
    assert untouched == []
    assert middleware.before(conn(method="OPTIONS", type="websocket")) is None
    own = [("Access-Control-Allow-Origin", "https://own.example")]
    middleware.after(conn(("origin", "https://shop.example.com")), 200, own)
    assert own == [("Access-Control-Allow-Origin", "https://own.example")]
    with pytest.raises(TypeError, match="list of origins"):
        CORSMiddleware(allow_origins="https://a.example")


def test_cors_does_not_touch_websockets(app_router: Router) -> None:
    with (
        client_for(app_router, cors(allow_origins=["https://a.example"])) as client,
        client.websocket_connect("/ws", headers={"Origin": "https://b.example"}) as ws,
    ):
        assert ws.receive_text() == "hello"


# -- request id ----------------------------------------------------------------------------------


def request_id(**options: Any) -> Factory:
    return lambda app: RequestIDMiddleware(app, **options)


def test_request_id_is_generated_stored_and_echoed(app_router: Router) -> None:
    with client_for(app_router, request_id()) as client:
        first = client.get("/items")
        second = client.get("/items")
    rid = first.headers["x-request-id"]
    assert len(rid) == 32
    assert int(rid, 16) >= 0
    assert first.json()["rid"] == rid
    assert second.headers["x-request-id"] != rid


def test_request_ids_stay_unique_across_blocks_and_forks() -> None:
    from fastware_core.middleware.request_id import new_request_id

    ids = [new_request_id() for _ in range(1000)]  # several blocks of 256
    assert len(set(ids)) == 1000
    assert all(len(rid) == 32 and int(rid, 16) >= 0 and rid == rid.lower() for rid in ids)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 32
    assert child[:16] != ids[-1][:16]  # a forked worker draws its own prefix


def test_request_id_accepts_only_well_formed_incoming_ids(app_router: Router) -> None:
    with client_for(app_router, request_id(max_length=16)) as client:
        kept = client.get("/items", headers={"X-Request-ID": "abc.DEF_1:2-3"})
        exact = client.get("/items", headers={"X-Request-ID": "a" * 16})
        long = client.get("/items", headers={"X-Request-ID": "a" * 17})
        spaced = client.get("/items", headers={"X-Request-ID": "a b"})
        quoted = client.get("/items", headers={"X-Request-ID": '"><script>'})
    assert kept.headers["x-request-id"] == "abc.DEF_1:2-3"
    assert exact.headers["x-request-id"] == "a" * 16
    for replaced in (long, spaced, quoted):
        rid = replaced.headers["x-request-id"]
        assert len(rid) == 32
        assert rid == replaced.json()["rid"]


def test_request_id_options_header_name_and_distrust() -> None:
    middleware = RequestIDMiddleware(header_name="X-Correlation-ID", trust_incoming=False)
    connection = conn(("x-correlation-id", "client-chosen"))
    assert middleware.before(connection) is None
    assert connection.state["request_id"] != "client-chosen"
    headers: list[tuple[str, str]] = []
    middleware.after(connection, 200, headers)
    assert headers == [("x-correlation-id", connection.state["request_id"])]
    trusting = RequestIDMiddleware(header_name="X-Correlation-ID")
    other = conn(("x-correlation-id", "client-chosen"))
    trusting.before(other)
    assert other.state["request_id"] == "client-chosen"
    with pytest.raises(ValueError, match="header name"):
        RequestIDMiddleware(header_name="bad header")
    with pytest.raises(ValueError, match="max_length"):
        RequestIDMiddleware(max_length=0)


@pytest.fixture
def bound_ids() -> Iterator[None]:
    bind_request_ids()
    try:
        yield
    finally:
        bind_request_ids(False)


def _context_id_router() -> Router:
    router = Router()

    @router.get("/rid")
    async def rid(request: Request) -> Any:
        seen = request_id_var.get()
        await asyncio.sleep(0.01)  # another request runs meanwhile
        return {"context": seen, "after_await": request_id_var.get()}

    @router.get("/stream")
    async def stream(request: Request) -> StreamResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield (request_id_var.get() or "-").encode()

        return StreamResponse(chunks(), "text/plain")

    return router


def test_request_id_var_is_unset_while_binding_is_off() -> None:
    with TestClient(create_app(_context_id_router())) as client:
        body = client.get("/rid").json()
    assert body == {"context": None, "after_await": None}
    assert request_id_var.get() is None


@pytest.mark.anyio
@pytest.mark.usefixtures("bound_ids")
async def test_bound_request_ids_follow_each_concurrent_request() -> None:
    async with AsyncTestClient(create_app(_context_id_router())) as client:
        answers = await asyncio.gather(*(client.get("/rid") for _ in range(20)))
        streamed = await client.get("/stream", headers={"x-request-id": "trace-7"})
    for answer in answers:
        rid = answer.headers["x-request-id"]
        assert answer.json() == {"context": rid, "after_await": rid}
    assert len({a.headers["x-request-id"] for a in answers}) == 20
    assert streamed.text == "trace-7"
    assert request_id_var.get() is None  # nothing leaks into the caller's context


@pytest.mark.usefixtures("bound_ids")
def test_binding_covers_middleware_built_before_it_was_turned_on() -> None:
    bind_request_ids(False)
    client = client_for(_context_id_router(), request_id())
    bind_request_ids()
    with client:
        answer = client.get("/rid")
    assert answer.json()["context"] == answer.headers["x-request-id"]
    bind_request_ids(False)
    with client_for(_context_id_router(), request_id()) as client:
        assert client.get("/rid").json()["context"] is None


# -- timing --------------------------------------------------------------------------------------


class ErrorLogSpy:
    def __init__(self, fail: bool = False) -> None:
        self.rows: list[dict[str, Any]] = []
        self.fail = fail

    def append(
        self, *, method: str, path: str, status_code: int, detail: str, request_id: str
    ) -> None:
        if self.fail:
            raise OSError("disk full")
        self.rows.append(
            {
                "method": method,
                "path": path,
                "status_code": status_code,
                "detail": detail,
                "request_id": request_id,
            }
        )


def test_timing_counts_and_records_history(app_router: Router) -> None:
    timing = RequestTimingMiddleware()

    def factory(app: ASGIApp) -> ASGIApp:
        timing.app = app
        return timing

    with client_for(app_router, factory) as client:
        client.get("/items")
        client.get("/missing")
    assert timing.request_count == 2
    (first_at, method, path, status, duration), second = timing.request_history
    assert (method, path, status) == ("GET", "/items", 200)
    assert second[2:4] == ("/missing", 404)
    assert duration >= 0
    assert round(duration, 2) == duration
    assert first_at > 0


def test_timing_exclude_paths_match_at_a_slash_boundary() -> None:
    timing = RequestTimingMiddleware(exclude_paths=["/health", "/metrics/"])
    for path in ("/health", "/health/db", "/healthz", "/metrics", "/metrics/x", "/metricsx"):
        timing.finished(conn(path=path), 200, 0.001)
    assert timing.request_count == 6
    assert [record[2] for record in timing.request_history] == ["/healthz", "/metricsx"]
    assert timing.is_excluded("/health/db")
    assert not timing.is_excluded("/healthz")


def test_timing_reports_5xx_to_the_error_log_with_the_request_id(app_router: Router) -> None:
    spy = ErrorLogSpy()
    with client_for(
        app_router,
        request_id(),
        lambda app: RequestTimingMiddleware(app, error_log=spy),
        raise_server_exceptions=False,
    ) as client:
        down = client.get("/boom")
        client.get("/crash")
        client.get("/items")
    assert [row["status_code"] for row in spy.rows] == [503, 500]
    assert spy.rows[0] == {
        "method": "GET",
        "path": "/boom",
        "status_code": 503,
        "detail": "GET /boom returned 503",
        "request_id": down.headers["x-request-id"],
    }
    bare = RequestTimingMiddleware(error_log=spy)
    bare.finished(conn(path="/x", method="POST"), 502, 0.0)
    assert spy.rows[-1]["request_id"] == ""


def test_timing_error_log_failures_are_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    timing = RequestTimingMiddleware(error_log=ErrorLogSpy(fail=True))
    with caplog.at_level(logging.ERROR, logger="fastware.timing"):
        timing.finished(conn(path="/x"), 500, 0.01)
    assert timing.request_count == 1
    assert "error_log.append failed" in caplog.text
    assert "disk full" in caplog.text


def test_timing_history_is_bounded_and_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    timing = RequestTimingMiddleware(maxlen=3)
    with caplog.at_level(logging.DEBUG, logger="fastware.timing"):
        for index in range(5):
            timing.finished(conn(path=f"/{index}"), 200, index / 1000)
    assert timing.request_count == 5
    assert [record[2] for record in timing.request_history] == ["/2", "/3", "/4"]
    assert [record[4] for record in timing.request_history] == [2.0, 3.0, 4.0]
    assert "GET /4 200 4.00ms" in caplog.text
    stats = timing.stats()
    assert stats == {
        "count": 5,
        "recorded": 3,
        "p50_ms": 3.0,
        "p90_ms": 4.0,
        "p99_ms": 4.0,
        "max_ms": 4.0,
    }
    assert RequestTimingMiddleware().stats()["p50_ms"] is None


@pytest.mark.anyio
async def test_timing_finishes_when_a_stream_ends() -> None:
    router = Router()
    release = asyncio.Event()

    @router.get("/stream")
    async def stream(request: Request) -> Any:
        async def body() -> AsyncIterator[str]:
            yield "one"
            await release.wait()
            yield "two"

        return StreamResponse(body(), "text/plain")

    timing = RequestTimingMiddleware()

    def factory(app: ASGIApp) -> ASGIApp:
        timing.app = app
        return timing

    app = create_app(router, middleware=[factory])
    async with AsyncTestClient(app) as client, client.stream("GET", "/stream") as response:
        chunks = response.aiter_bytes()
        assert await chunks.__anext__() == b"one"
        assert timing.request_count == 0
        release.set()
        assert await response.aread() == b"onetwo"
        await asyncio.sleep(0)
        assert timing.request_count == 1
    assert timing.request_history[0][3] == 200


# -- trusted host --------------------------------------------------------------------------------


def test_split_host_handles_ports_case_ipv6_and_garbage() -> None:
    assert split_host("Example.COM:8443") == ("example.com", "8443")
    assert split_host("example.com.") == ("example.com", "")
    assert split_host("[::1]:8000") == ("::1", "8000")
    assert split_host("[::1]") == ("::1", "")
    for bad in ("", "example.com:", "example.com:http", "[::1", "[::1]x", ":80"):
        assert split_host(bad) is None, bad


def test_trusted_host_ignores_port_and_case(app_router: Router) -> None:
    factory: Factory = lambda app: TrustedHostMiddleware(app, allowed_hosts=["Example.com"])  # noqa: E731
    with client_for(app_router, factory, base_url="http://example.com:8000") as client:
        ok = client.get("/items")
        upper = client.get("/items", headers={"Host": "EXAMPLE.com"})
        evil = client.get("/items", headers={"Host": "evil.com"})
    assert ok.status_code == 200
    assert upper.status_code == 200
    assert evil.status_code == 400
    assert evil.content == b'{"detail":"Invalid host header"}'


def test_trusted_host_hooks_cover_every_rule() -> None:
    middleware = TrustedHostMiddleware(allowed_hosts=["*.example.com", "[::1]", "localhost"])

    def verdict(*hosts: str) -> int:
        answer = middleware.before(conn(*(("host", h) for h in hosts)))
        return 200 if answer is None else answer[0]

    assert verdict("api.example.com") == 200
    assert verdict("a.b.example.com:443") == 200
    assert verdict("example.com") == 400  # the apex must be listed by itself
    assert verdict("example.com.evil.org") == 400
    assert verdict("notexample.com") == 400
    assert verdict("[::1]:8000") == 200
    assert verdict("localhost:3000") == 200
    assert verdict() == 400  # no Host at all
    assert verdict("localhost", "LOCALHOST") == 200  # duplicates that agree
    assert verdict("localhost", "evil.com") == 400  # duplicates that disagree
    assert verdict("localhost:http") == 400
    anything = TrustedHostMiddleware(allowed_hosts=["*"])
    assert anything.before(conn()) is None
    with pytest.raises(ValueError, match="not supported"):
        TrustedHostMiddleware(allowed_hosts=["*example.com"])
    with pytest.raises(TypeError, match="list of host names"):
        TrustedHostMiddleware(allowed_hosts="example.com")


def test_trusted_host_www_redirect() -> None:
    middleware = TrustedHostMiddleware(allowed_hosts=["www.example.com"], www_redirect=True)
    answer = middleware.before(
        conn(("host", "example.com:8080"), path="/a b", query_string="x=1&y=%20", scheme="https")
    )
    assert answer == (
        307,
        "",
        b"",
        [("location", "https://www.example.com:8080/a%20b?x=1&y=%20")],
    )
    assert middleware.before(conn(("host", "other.com")))[0] == 400  # type: ignore[index]
    ws = conn(("host", "example.com"), type="websocket", scheme="wss")
    assert middleware.before(ws) == error_answer(400, "Invalid host header")


@pytest.mark.asgi_only  # RSGI refuses the handshake with 403 (no close codes before accept)
def test_trusted_host_closes_websockets_with_1008(app_router: Router) -> None:
    factory: Factory = lambda app: TrustedHostMiddleware(app, allowed_hosts=["test"])  # noqa: E731
    with client_for(app_router, factory) as client:
        with client.websocket_connect("/ws") as ws:
            assert ws.receive_text() == "hello"
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect("/ws", headers={"Host": "evil.com"}),
        ):
            pass
    assert refused.value.code == 1008


# -- gzip ----------------------------------------------------------------------------------------

GZIP = {"Accept-Encoding": "gzip, deflate"}


def gzip(**options: Any) -> Factory:
    return lambda app: GZipMiddleware(app, **options)


def gunzip(data: bytes) -> bytes:
    return zlib.decompress(data, 31)


def test_accepts_gzip_reads_qualities() -> None:
    assert accepts_gzip([(b"accept-encoding", b"gzip")])
    assert accepts_gzip([(b"accept-encoding", b"br;q=1.0, GZIP;q=0.5")])
    assert accepts_gzip([(b"accept-encoding", b"*")])
    assert not accepts_gzip([(b"accept-encoding", b"gzip;q=0, br")])
    assert not accepts_gzip([(b"accept-encoding", b"identity")])
    assert not accepts_gzip([(b"accept-encoding", b"gzip;q=bogus")])
    assert not accepts_gzip([])


def test_gzip_compresses_large_bodies_for_clients_that_accept_it(app_router: Router) -> None:
    with client_for(app_router, gzip()) as client:
        compressed = client.get("/big", headers=GZIP)
        plain = client.get("/big")
        refused = client.get("/big", headers={"Accept-Encoding": "gzip;q=0"})
        head = client.head("/big", headers=GZIP)
    assert compressed.headers["content-encoding"] == "gzip"
    assert compressed.headers["vary"] == "Accept-Encoding"
    assert int(compressed.headers["content-length"]) == len(compressed.content)
    assert gunzip(compressed.content) == ("fastware " * 500).encode()
    assert len(compressed.content) < 500
    for untouched in (plain, refused):
        assert "content-encoding" not in untouched.headers
        assert untouched.content == ("fastware " * 500).encode()
    assert "content-encoding" not in head.headers


def test_gzip_skips_small_and_already_encoded_responses(app_router: Router) -> None:
    with client_for(app_router, gzip(minimum_size=100)) as client:
        small = client.get("/small", headers=GZIP)
        encoded = client.get("/encoded", headers=GZIP)
        json_small = client.get("/items", headers=GZIP)
    assert small.content == b"tiny"
    assert "content-encoding" not in small.headers
    assert "vary" not in small.headers
    assert encoded.headers["content-encoding"] == "br"
    assert encoded.content == b"x" * 2000
    assert "content-encoding" not in json_small.headers


def test_gzip_merges_vary_weakens_etags_and_honours_no_transform() -> None:
    router = Router()

    @router.get("/tagged")
    async def tagged(request: Request) -> Any:
        return TextResponse("y" * 1000, headers={"ETag": '"v1"', "Vary": "Origin"})

    @router.get("/raw")
    async def raw(request: Request) -> Any:
        return TextResponse("y" * 1000, headers={"Cache-Control": "no-transform"})

    with TestClient(create_app(router, middleware=[gzip()])) as client:
        tagged_response = client.get("/tagged", headers=GZIP)
        raw_response = client.get("/raw", headers=GZIP)
    assert tagged_response.headers["vary"] == "Origin, Accept-Encoding"
    assert tagged_response.headers["etag"] == 'W/"v1"'
    assert gunzip(tagged_response.content) == b"y" * 1000
    assert "content-encoding" not in raw_response.headers


def streaming_router(release: asyncio.Event, content_type: str) -> Router:
    router = Router()

    @router.get("/stream")
    async def stream(request: Request) -> Any:
        async def body() -> AsyncIterator[str]:
            yield "data: first\n\n"
            await release.wait()  # the test reads the first chunk before releasing the rest
            yield "data: second\n\n"
            yield ""
            yield "data: third\n\n"

        return StreamResponse(body(), content_type)

    return router


@pytest.mark.anyio
async def test_gzip_passes_event_streams_through_chunk_by_chunk() -> None:
    release = asyncio.Event()
    router = streaming_router(release, "text/event-stream")
    app = create_app(router, middleware=[gzip(minimum_size=1)])
    async with (
        AsyncTestClient(app) as client,
        client.stream("GET", "/stream", headers=GZIP) as response,
    ):
        assert "content-encoding" not in response.headers
        chunks = response.aiter_bytes()
        assert await chunks.__anext__() == b"data: first\n\n"
        release.set()
        assert [chunk async for chunk in chunks] == [b"data: second\n\n", b"data: third\n\n"]


@pytest.mark.anyio
async def test_gzip_compresses_streams_chunk_by_chunk_without_holding_back() -> None:
    release = asyncio.Event()
    router = streaming_router(release, "text/plain")
    app = create_app(router, middleware=[gzip()])
    decompressor = zlib.decompressobj(31)
    async with (
        AsyncTestClient(app) as client,
        client.stream("GET", "/stream", headers=GZIP) as response,
    ):
        assert response.headers["content-encoding"] == "gzip"
        assert "content-length" not in response.headers
        assert response.headers["vary"] == "Accept-Encoding"
        chunks = response.aiter_bytes()
        # The first chunk decompresses completely while the stream is still open.
        assert decompressor.decompress(await chunks.__anext__()) == b"data: first\n\n"
        release.set()
        rest = b"".join([decompressor.decompress(chunk) async for chunk in chunks])
    assert rest + decompressor.flush() == b"data: second\n\ndata: third\n\n"
    assert decompressor.eof


def test_gzip_is_not_applied_to_websockets(app_router: Router) -> None:
    with (
        client_for(app_router, gzip()) as client,
        client.websocket_connect("/ws", headers=GZIP) as ws,
    ):
        assert ws.receive_text() == "hello"
    with pytest.raises(ValueError, match="compresslevel"):
        GZipMiddleware(create_app(app_router), compresslevel=10)


# -- https redirect ------------------------------------------------------------------------------


def test_https_redirect_keeps_path_query_and_port(app_router: Router) -> None:
    factory: Factory = lambda app: HTTPSRedirectMiddleware(app)  # noqa: E731
    with client_for(app_router, factory) as client:
        plain = client.get("/items?page=2&q=a%20b")
        port = client.get("/items", headers={"Host": "test:8080"})
        default_port = client.post("/items", headers={"Host": "test:80"})
    assert plain.status_code == 307
    assert plain.headers["location"] == "https://test/items?page=2&q=a%20b"
    assert port.headers["location"] == "https://test:8080/items"
    assert default_port.status_code == 307
    assert default_port.headers["location"] == "https://test/items"
    with client_for(app_router, factory, base_url="https://test") as secure:
        assert secure.get("/items").status_code == 200


def test_https_redirect_hooks_status_ipv6_and_websockets() -> None:
    middleware = HTTPSRedirectMiddleware(status=308)
    answer = middleware.before(conn(("host", "[::1]:8000"), path="/a b"))
    assert answer == (308, "", b"", [("location", "https://[::1]:8000/a%20b")])
    assert middleware.before(conn())[0] == 400  # type: ignore[index]
    assert middleware.before(conn(("host", "x"), scheme="https")) is None
    assert middleware.before(conn(type="websocket", scheme="wss")) is None
    assert middleware.before(conn(("host", "x"), type="websocket", scheme="ws")) is not None
    with pytest.raises(ValueError, match="status"):
        HTTPSRedirectMiddleware(status=200)


@pytest.mark.asgi_only  # RSGI refuses the handshake with 403 (no close codes before accept)
def test_https_redirect_refuses_plain_websockets(app_router: Router) -> None:
    factory: Factory = lambda app: HTTPSRedirectMiddleware(app)  # noqa: E731
    with (
        client_for(app_router, factory) as client,
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/ws"),
    ):
        pass
    assert refused.value.code == 1008
    with (
        client_for(app_router, factory, base_url="https://test") as secure,
        secure.websocket_connect("/ws") as ws,
    ):
        assert ws.receive_text() == "hello"


# -- security headers ----------------------------------------------------------------------------


def test_security_headers_defaults_and_the_apps_own_values_win(app_router: Router) -> None:
    factory: Factory = lambda app: SecurityHeadersMiddleware(app, hsts_max_age=3600)  # noqa: E731
    with client_for(app_router, factory) as client:
        response = client.get("/items")
        framed = client.get("/framed")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "strict-transport-security" not in response.headers  # plain http
    assert "content-security-policy" not in response.headers
    assert framed.headers.getlist("x-frame-options") == ["SAMEORIGIN"]
    with client_for(app_router, factory, base_url="https://test") as secure:
        assert secure.get("/items").headers["strict-transport-security"] == "max-age=3600"


def test_security_headers_options() -> None:
    middleware = SecurityHeadersMiddleware(
        frame_options=None,
        hsts_max_age=63072000,
        hsts_include_subdomains=True,
        hsts_preload=True,
        content_security_policy="default-src 'self'",
        permissions_policy="camera=()",
        cross_origin_opener_policy="same-origin",
    )
    headers: list[tuple[str, str]] = [("strict-transport-security", "max-age=1")]
    middleware.after(conn(scheme="https"), 200, headers)
    assert dict(headers) == {
        "strict-transport-security": "max-age=1",
        "x-content-type-options": "nosniff",
        "referrer-policy": "strict-origin-when-cross-origin",
        "content-security-policy": "default-src 'self'",
        "permissions-policy": "camera=()",
        "cross-origin-opener-policy": "same-origin",
    }
    mixed = [("X-Content-Type-Options", "custom")]
    middleware.after(conn(), 200, mixed)
    assert [name for name, _ in mixed].count("x-content-type-options") == 0
    fresh: list[tuple[str, str]] = []
    middleware.after(conn(scheme="https"), 200, fresh)
    assert value_of(fresh, "strict-transport-security") == (
        "max-age=63072000; includeSubDomains; preload"
    )
    with pytest.raises(ValueError, match="requires hsts_include_subdomains"):
        SecurityHeadersMiddleware(hsts_max_age=1, hsts_preload=True)
    with pytest.raises(ValueError, match="CR, LF"):
        SecurityHeadersMiddleware(content_security_policy="a\r\nSet-Cookie: x=1")


# -- the whole suite together -----------------------------------------------------------------


def test_the_suite_composes_in_one_app(app_router: Router) -> None:
    spy = ErrorLogSpy()
    with client_for(
        app_router,
        lambda app: TrustedHostMiddleware(app, allowed_hosts=["test"]),
        cors(allow_origins=["https://a.example"]),
        request_id(),
        lambda app: RequestTimingMiddleware(app, error_log=spy),
        lambda app: SecurityHeadersMiddleware(app),
        gzip(),
    ) as client:
        response = client.get("/big", headers={**GZIP, "Origin": "https://a.example"})
        rejected = client.get("/items", headers={"Host": "evil.com"})
        failed = client.get("/boom")
    assert response.status_code == 200
    assert gunzip(response.content).startswith(b"fastware fastware")
    assert response.headers["access-control-allow-origin"] == "https://a.example"
    assert response.headers["vary"] == "Accept-Encoding, Origin"
    assert response.headers["x-frame-options"] == "DENY"
    assert len(response.headers["x-request-id"]) == 32
    assert rejected.status_code == 400
    assert "x-request-id" not in rejected.headers
    assert spy.rows[0]["request_id"] == failed.headers["x-request-id"]
    assert msgspec.json.decode(failed.content) == {"detail": "down"}


# -- access log ------------------------------------------------------------------------------------


def access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "fastware.access"]


def test_the_access_log_writes_a_line_per_request_with_its_request_id(
    app_router: Router, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fastware.access")
    app = create_app(app_router, middleware=[AccessLogMiddleware(exclude_paths=["/health"])])
    with TestClient(app) as client:
        given = client.get("/items?page=2", headers={"X-Request-ID": "given-id-1"})
        made = client.get("/boom")
        client.get("/health")
        client.get("/health/deep")
        missing = client.get("/nowhere")
    assert given.headers["x-request-id"] == "given-id-1"
    ids = ["given-id-1", made.headers["x-request-id"], missing.headers["x-request-id"]]
    lines = access_lines(caplog)
    assert [r.getMessage().rsplit(" ", 1)[1] for r in lines] == ids
    first, second, third = lines
    assert first.getMessage().startswith('testclient - "GET /items?page=2 HTTP/1.1" 200 ')
    assert second.getMessage().startswith('testclient - "GET /boom HTTP/1.1" 503 ')
    assert third.getMessage().startswith('testclient - "GET /nowhere HTTP/1.1" 404 ')
    assert [r.levelno for r in lines] == [logging.INFO] * 3
    fields = {k: getattr(first, k) for k in ("method", "path", "query", "status", "client")}
    assert fields == {
        "method": "GET",
        "path": "/items",
        "query": "page=2",
        "status": 200,
        "client": "testclient",
    }
    assert first.__dict__["request_id"] == "given-id-1"
    assert first.__dict__["duration_ms"] >= 0


def test_the_access_log_costs_nothing_while_its_level_is_off(
    app_router: Router, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="fastware.access")
    quiet = AccessLogMiddleware(logger=logging.getLogger("fastware.access"))
    loud = AccessLogMiddleware(logger="fastware.access", level=logging.WARNING)
    with TestClient(create_app(app_router, middleware=[quiet])) as client:
        client.get("/items")
    assert access_lines(caplog) == []
    with TestClient(create_app(app_router, middleware=[loud])) as client:
        client.get("/items")
    assert [r.levelno for r in access_lines(caplog)] == [logging.WARNING]


def test_the_access_log_also_wraps_a_plain_asgi_app(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="fastware.access")

    async def plain(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with TestClient(AccessLogMiddleware(plain)) as client:
        assert client.get("/x?y=1").status_code == 204
    (line,) = access_lines(caplog)
    assert line.getMessage().startswith('testclient - "GET /x?y=1 HTTP/1.1" 204 ')
    assert line.getMessage().endswith(" ms -")
    assert line.__dict__["request_id"] is None


def test_the_access_log_escapes_what_would_forge_or_break_a_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="fastware.access")
    app = create_app(Router(), middleware=[AccessLogMiddleware()])
    with TestClient(app) as client:
        client.get('/a%0A1.2.3.4 - "GET /admin HTTP/1.1" 200%0D/b\\c')
        client.get("/caf%C3%A9")
    forged, plain = (r.getMessage() for r in access_lines(caplog))
    assert "\n" not in forged
    assert "\r" not in forged
    assert forged.startswith(
        'testclient - "GET /a\\n1.2.3.4 - \\"GET /admin HTTP/1.1\\" 200\\r/b\\\\c HTTP/1.1" 404 '
    )
    assert plain.startswith('testclient - "GET /café HTTP/1.1" 404 ')
