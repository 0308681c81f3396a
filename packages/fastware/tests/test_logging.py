"""``fastware.logging``: one format for structlog, the standard library and Granian."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import structlog

from fastware import HTTPError, Request, Router, TestClient, create_app
from fastware.logging import configure_logging, get_logger, init_sentry
from fastware_core.middleware import AccessLogMiddleware, bind_request_ids


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Undo what configure_logging changes in this process."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    granian = {name: logging.getLogger(name) for name in ("_granian", "granian.access")}
    yield
    structlog.reset_defaults()
    bind_request_ids(False)
    for old in list(root.handlers):
        root.removeHandler(old)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for logger in granian.values():
        logger.__class__ = logging.Logger


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [msgspec.json.decode(line) for line in stream.getvalue().splitlines()]


def test_structlog_and_stdlib_records_print_one_json_format() -> None:
    out = io.StringIO()
    configure_logging(json_output=True, stream=out)
    get_logger("billing", tenant="acme").info("invoice sent", invoice=42)
    logging.getLogger("fastware.server").warning("port %d taken", 8000)
    first, second = lines(out)
    assert first["event"] == "invoice sent"
    assert first["component"] == "billing"
    assert first["tenant"] == "acme"
    assert first["invoice"] == 42
    assert second["event"] == "port 8000 taken"
    assert second["logger"] == "fastware.server"
    for line in (first, second):
        assert line["timestamp"].endswith("Z")
        assert line["module"] == "test_logging"
        assert line["func_name"] == "test_structlog_and_stdlib_records_print_one_json_format"
        assert isinstance(line["lineno"], int)
    assert (first["level"], second["level"]) == ("info", "warning")


def test_level_filters_both_kinds_of_logger() -> None:
    out = io.StringIO()
    configure_logging(json_output=True, level="warning", stream=out)
    get_logger().info("hidden")
    logging.getLogger("fastware").info("hidden too")
    get_logger().warning("shown")
    logging.getLogger("fastware").error("shown too")
    assert [line["event"] for line in lines(out)] == ["shown", "shown too"]

    out = io.StringIO()
    configure_logging(json_output=True, level=logging.DEBUG, stream=out)
    get_logger("fresh").debug("now shown")
    logging.getLogger("fastware.sse").debug("stdlib debug")
    assert [line["event"] for line in lines(out)] == ["now shown", "stdlib debug"]


def test_unknown_level_names_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown logging level 'loud'; use one of DEBUG"):
        configure_logging(level="loud")


def test_json_is_the_default_when_the_stream_is_not_a_terminal() -> None:
    out = io.StringIO()
    configure_logging(stream=out)
    logging.getLogger("fastware").info("piped")
    assert lines(out)[0]["event"] == "piped"


def test_console_renderer_prints_readable_lines_and_tracebacks() -> None:
    out = io.StringIO()
    configure_logging(json_output=False, stream=out)
    log = get_logger("jobs")
    log.info("started", job=7)
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError:
        logging.getLogger("fastware.tasks").exception("task crashed")
    text = out.getvalue()
    assert "[info     ] started" in text
    assert "component=jobs" in text
    assert "job=7" in text
    assert "[error    ] task crashed" in text
    assert "[fastware.tasks]" in text
    assert "ZeroDivisionError: division by zero" in text


def test_json_lines_carry_formatted_exceptions() -> None:
    out = io.StringIO()
    configure_logging(json_output=True, stream=out)
    try:
        raise KeyError("missing")
    except KeyError:
        get_logger().exception("lookup failed")
        logging.getLogger("fastware").exception("stdlib lookup failed")
    for line in lines(out):
        assert "KeyError: 'missing'" in line["exception"]


def test_granian_loggers_follow_the_setup_even_after_granian_reconfigures_them() -> None:
    from granian.log import LogLevels
    from granian.log import configure_logging as granian_configure_logging

    out = io.StringIO()
    configure_logging(json_output=True, stream=out)
    # What Granian's Server() does in the serving process and again in each worker.
    granian_configure_logging(LogLevels.info, None, True)
    logging.getLogger("_granian").info("Listening at: http://127.0.0.1:8000")
    logging.getLogger("granian.access").info("%(method)s %(path)s", {"method": "GET", "path": "/"})
    granian, access = lines(out)
    assert granian["event"] == "Listening at: http://127.0.0.1:8000"
    assert granian["logger"] == "_granian"
    assert access["event"] == "GET /"
    assert access["logger"] == "granian.access"


def request_logging_router() -> Router:
    router = Router()

    @router.get("/work")
    async def work(request: Request) -> dict[str, bool]:
        get_logger("handler").info("working")
        logging.getLogger("fastware.example").info("stdlib working")
        return {"ok": True}

    return router


@pytest.mark.parametrize("door", ["asgi", "rsgi"])
def test_every_line_of_a_request_carries_its_request_id(door: str) -> None:
    out = io.StringIO()
    configure_logging(json_output=True, stream=out)
    get_logger().info("before any request")
    app = create_app(request_logging_router())
    with TestClient(app, door=door) as client:
        chosen = client.get("/work", headers={"x-request-id": "req-abc"})
        fresh = client.get("/work")
    events = {(line["event"], line.get("request_id")) for line in lines(out)}
    assert chosen.headers["x-request-id"] == "req-abc"
    fresh_id = fresh.headers["x-request-id"]
    assert ("before any request", None) in events
    for rid in ("req-abc", fresh_id):
        assert ("working", rid) in events
        assert ("stdlib working", rid) in events


@pytest.mark.parametrize("door", ["asgi", "rsgi"])
def test_access_log_lines_carry_their_fields_in_json(door: str) -> None:
    out = io.StringIO()
    configure_logging(json_output=True, stream=out)
    app = create_app(
        request_logging_router(), middleware=[AccessLogMiddleware(exclude_paths=["/quiet"])]
    )
    with TestClient(app, door=door) as client:
        fresh = client.get("/work?x=1")
    (line,) = [line for line in lines(out) if line["logger"] == "fastware.access"]
    assert line["event"].startswith('testclient - "GET /work?x=1 HTTP/1.1" 200 ')
    fields = {k: line[k] for k in ("method", "path", "query", "status", "client", "request_id")}
    assert fields == {
        "method": "GET",
        "path": "/work",
        "query": "x=1",
        "status": 200,
        "client": "testclient",
        "request_id": fresh.headers["x-request-id"],
    }
    assert line["level"] == "info"
    assert line["duration_ms"] >= 0


def test_a_request_id_bound_by_the_caller_wins() -> None:
    out = io.StringIO()
    configure_logging(json_output=True, stream=out)
    router = Router()

    @router.get("/")
    async def index(request: Request) -> dict[str, bool]:
        get_logger().info("explicit", request_id="mine")
        return {"ok": True}

    with TestClient(create_app(router)) as client:
        client.get("/")
    assert lines(out)[-1]["request_id"] == "mine"


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def test_without_structlog_the_error_names_the_extra() -> None:
    result = _run(
        "import sys\n"
        "sys.modules['structlog'] = None  # as if structlog were not installed\n"
        "import fastware.logging as fl\n"
        "from fastware_core import MissingPackageError\n"
        "for call in (fl.configure_logging, fl.get_logger):\n"
        "    try:\n"
        "        call()\n"
        "    except MissingPackageError as exc:\n"
        "        assert isinstance(exc, ImportError)\n"
        "        print(exc)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "fastware.logging.configure_logging needs structlog, which is not installed: "
        "pip install 'fastware[logging]'",
        "fastware.logging.get_logger needs structlog, which is not installed: "
        "pip install 'fastware[logging]'",
    ]


def test_a_real_server_process_prints_one_format(tmp_path: Any) -> None:
    """A script that configures logging at import, the way an app module does."""
    script = tmp_path / "app.py"
    script.write_text(
        "import logging\n"
        "from fastware.logging import configure_logging, get_logger\n"
        "configure_logging()\n"
        "get_logger('app').info('ready')\n"
        "logging.getLogger('fastware.server').info('serving')\n"
        "logging.getLogger('_granian').info('granian says hi')\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True
    )
    assert result.stdout == ""
    events = [msgspec.json.decode(line)["event"] for line in result.stderr.splitlines()]
    assert events == ["ready", "serving", "granian says hi"]


# -- Sentry ------------------------------------------------------------------------------------


class CapturingTransport:
    """A sentry-sdk transport that keeps envelopes instead of sending them."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def make(self) -> Any:
        import sentry_sdk.transport

        events = self.events

        class _Transport(sentry_sdk.transport.Transport):
            def capture_envelope(self, envelope: Any) -> None:
                event = envelope.get_event()
                if event is not None:
                    events.append(event)

        return _Transport


@pytest.fixture
def sentry_events() -> Iterator[list[dict[str, Any]]]:
    import sentry_sdk

    capture = CapturingTransport()
    yield capture.events
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # back to a disabled client


def _exception_types(events: list[dict[str, Any]]) -> list[str]:
    return [e["exception"]["values"][-1]["type"] for e in events]


def test_init_sentry_drops_4xx_http_errors_and_keeps_the_rest(
    sentry_events: list[dict[str, Any]],
) -> None:
    import sentry_sdk

    capture = CapturingTransport()
    capture.events = sentry_events
    init_sentry("https://key@sentry.example/1", transport=capture.make(), environment="test")
    for error in (HTTPError(404, "nope"), HTTPError(503, "down"), ValueError("bad")):
        try:
            raise error
        except Exception as exc:
            sentry_sdk.capture_exception(exc)
    sentry_sdk.flush()
    assert _exception_types(sentry_events) == ["HTTPError", "ValueError"]
    assert {e["environment"] for e in sentry_events} == {"test"}


def test_init_sentry_runs_the_apps_own_before_send_after_the_filter(
    sentry_events: list[dict[str, Any]],
) -> None:
    import sentry_sdk

    seen: list[str] = []

    def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
        seen.append(type(hint["exc_info"][1]).__name__)
        return None if isinstance(hint["exc_info"][1], KeyError) else event

    capture = CapturingTransport()
    capture.events = sentry_events
    init_sentry("https://key@sentry.example/1", transport=capture.make(), before_send=before_send)
    for error in (HTTPError(400, "bad"), KeyError("k"), RuntimeError("r")):
        try:
            raise error
        except Exception as exc:
            sentry_sdk.capture_exception(exc)
    sentry_sdk.flush()
    assert seen == ["KeyError", "RuntimeError"]  # the 400 never reached it
    assert _exception_types(sentry_events) == ["RuntimeError"]


def test_init_sentry_without_sentry_sdk() -> None:
    result = _run(
        "import sys\n"
        "sys.modules['sentry_sdk'] = None  # as if sentry-sdk were not installed\n"
        "from fastware.logging import init_sentry\n"
        "from fastware_core import MissingPackageError\n"
        "init_sentry(None)\n"
        "init_sentry('')\n"
        "print('no dsn: nothing to do')\n"
        "try:\n"
        "    init_sentry('https://key@sentry.example/1')\n"
        "except MissingPackageError as exc:\n"
        "    print(exc)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "no dsn: nothing to do",
        "fastware.logging.init_sentry was given a DSN, but sentry-sdk is not installed: "
        "pip install 'fastware[sentry]'",
    ]
