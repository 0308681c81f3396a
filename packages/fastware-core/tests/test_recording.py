"""The error-recording seam: unhandled exceptions reach ``AppConfig.error_recorder``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from fastware_core import (
    HTTPError,
    JSONResponse,
    Request,
    Router,
    StreamResponse,
    TestClient,
    WebSocket,
    WebSocketDisconnect,
    create_app,
)
from fastware_core.recording import ErrorContext, ErrorRecorder


class Recorder:
    """Keeps what it is given."""

    def __init__(self, min_status: int = 500, fail: bool = False) -> None:
        self.min_status = min_status
        self.fail = fail
        self.calls: list[tuple[BaseException, ErrorContext]] = []

    def record(self, exc: BaseException, context: ErrorContext) -> None:
        self.calls.append((exc, context))
        if self.fail:
            raise RuntimeError("recorder broke")


class Sink:
    """A 0.6.3 ``error_log`` (ErrorSink)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def append(self, **row: Any) -> None:
        self.rows.append(row)


class Both(Recorder, Sink):
    def __init__(self) -> None:
        Recorder.__init__(self)
        Sink.__init__(self)


def routes() -> Router:
    router = Router()

    @router.get("/ok")
    async def ok(request: Request) -> dict[str, bool]:
        return {"ok": True}

    @router.get("/crash")
    async def crash(request: Request) -> None:
        request.state.user = "alice"
        raise ValueError("kaboom")

    @router.get("/teapot")
    async def teapot(request: Request) -> None:
        raise HTTPError(418, "short and stout")

    @router.get("/unavailable")
    async def unavailable(request: Request) -> None:
        raise HTTPError(503, "maintenance")

    @router.get("/returned")
    async def returned(request: Request) -> JSONResponse:
        return JSONResponse({"detail": "later"}, status=503)

    @router.get("/handled")
    async def handled(request: Request) -> None:
        raise KeyError("x")

    @router.get("/handler-fails")
    async def handler_fails(request: Request) -> None:
        raise LookupError("first")

    @router.get("/stream")
    async def stream(request: Request) -> StreamResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"part"
            raise RuntimeError("mid-stream")

        return StreamResponse(chunks(), "text/plain")

    @router.ws("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()
        raise ZeroDivisionError("in the socket")

    return router


async def on_key_error(request: Any, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": "handled"}, status=409)


async def on_lookup_error(request: Any, exc: Exception) -> JSONResponse:
    raise RuntimeError("the handler itself broke")


def app_with(**config: Any) -> Any:
    return create_app(
        routes(),
        exception_handlers={KeyError: on_key_error, LookupError: on_lookup_error},
        **config,
    )


def test_a_recorder_satisfies_the_protocol() -> None:
    assert isinstance(Recorder(), ErrorRecorder)
    assert not isinstance(Sink(), ErrorRecorder)


def test_an_unhandled_exception_is_recorded_with_its_context() -> None:
    recorder = Recorder()
    with TestClient(app_with(error_recorder=recorder), raise_server_exceptions=False) as client:
        assert client.get("/ok").status_code == 200
        response = client.get(
            "/crash?token=secret", headers={"Authorization": "Bearer t", "X-Thing": "1"}
        )
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error"}
    [(exc, context)] = recorder.calls
    assert isinstance(exc, ValueError)
    assert exc.__traceback__ is not None
    assert context.kind == "http"
    assert (context.method, context.path, context.status_code) == ("GET", "/crash", 500)
    assert context.request_id == response.headers["x-request-id"]
    assert context.user == "alice"
    assert ("x-thing", "1") in context.headers


@pytest.mark.asgi_only  # over RSGI unhandled errors are always answered 500 (as under Granian)
def test_the_test_client_still_raises_and_the_error_is_recorded_first() -> None:
    recorder = Recorder()
    with TestClient(app_with(error_recorder=recorder)) as client, pytest.raises(ValueError):
        client.get("/crash")
    assert len(recorder.calls) == 1


def test_http_errors_are_recorded_from_min_status() -> None:
    recorder = Recorder()
    with TestClient(app_with(error_recorder=recorder)) as client:
        assert client.get("/teapot").status_code == 418
        assert client.get("/unavailable").status_code == 503
        assert client.get("/nowhere").status_code == 404
    assert [(c.status_code, c.detail) for _, c in recorder.calls] == [(503, "maintenance")]
    everything = Recorder(min_status=400)
    with TestClient(app_with(error_recorder=everything)) as client:
        client.get("/teapot")
        client.get("/nowhere")  # no route: not an exception the app raised
    assert [c.status_code for _, c in everything.calls] == [418]


def test_handled_exceptions_are_not_recorded_a_failing_handler_is() -> None:
    recorder = Recorder()
    with TestClient(app_with(error_recorder=recorder), raise_server_exceptions=False) as client:
        assert client.get("/handled").status_code == 409
        assert client.get("/handler-fails").status_code == 500
    [(exc, context)] = recorder.calls
    assert str(exc) == "the handler itself broke"
    assert isinstance(exc.__context__, LookupError)
    assert context.status_code == 500


def test_an_error_inside_a_stream_is_recorded() -> None:
    recorder = Recorder()
    with TestClient(app_with(error_recorder=recorder)) as client:
        response = client.get("/stream")
    assert response.content == b"part"
    [(exc, context)] = recorder.calls
    assert str(exc) == "mid-stream"
    assert context.path == "/stream"
    assert "truncated" in context.detail


def test_a_websocket_error_is_recorded_with_1011() -> None:
    recorder = Recorder()
    with (
        TestClient(app_with(error_recorder=recorder), raise_server_exceptions=False) as client,
        client.websocket_connect("/ws") as ws,
    ):
        ws.send_text("go")
        with pytest.raises(WebSocketDisconnect):
            ws.receive_text()
    [(exc, context)] = recorder.calls
    assert isinstance(exc, ZeroDivisionError)
    assert (context.kind, context.path, context.status_code, context.method) == (
        "websocket",
        "/ws",
        1011,
        "",
    )


def test_a_failing_recorder_is_logged_and_the_answer_stays_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Recorder(fail=True)
    with (
        caplog.at_level(logging.ERROR),
        TestClient(app_with(error_recorder=recorder), raise_server_exceptions=False) as client,
    ):
        assert client.get("/crash").status_code == 500
        assert client.get("/ok").status_code == 200
    assert "The error recorder failed to record ValueError" in caplog.text


def test_the_0_6_3_error_log_still_gets_every_5xx() -> None:
    sink = Sink()
    with TestClient(app_with(error_log=sink), raise_server_exceptions=False) as client:
        client.get("/crash")
        client.get("/returned")
    assert [(r["path"], r["status_code"]) for r in sink.rows] == [
        ("/crash", 500),
        ("/returned", 503),
    ]
    assert sink.rows[0]["detail"] == "GET /crash returned 500"


def test_one_object_as_log_and_recorder_gets_one_row_per_error() -> None:
    both = Both()
    with TestClient(
        app_with(error_log=both, error_recorder=both), raise_server_exceptions=False
    ) as client:
        client.get("/crash")
        client.get("/returned")
    assert [c.path for _, c in both.calls] == ["/crash"]
    assert [r["path"] for r in both.rows] == ["/returned"]  # the exception was not appended
    # a separate 0.6.3 sink still hears about every 5xx
    recorder, sink = Recorder(), Sink()
    with TestClient(
        app_with(error_log=sink, error_recorder=recorder), raise_server_exceptions=False
    ) as client:
        client.get("/crash")
    assert len(recorder.calls) == len(sink.rows) == 1
