"""What generator dependencies see when the handler fails, and how their own failures are
reported without changing the response."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

import pytest

from fastware_core import HTTPError, Request, Router, TestClient, create_app
from fastware_core.app import App
from fastware_di import DependencyResolver, Depends, dependency

EVENTS: list[str] = []


@pytest.fixture(autouse=True)
def _clear_events() -> Iterator[None]:
    EVENTS.clear()
    yield
    EVENTS.clear()


def make_app(router: Router) -> App:
    return create_app(router, injector=DependencyResolver())


async def transaction() -> AsyncIterator[str]:
    EVENTS.append("begin")
    try:
        yield "tx"
    except Exception as exc:
        EVENTS.append(f"rollback {type(exc).__name__}")
        raise
    else:
        EVENTS.append("commit")


def sync_transaction() -> Iterator[str]:
    EVENTS.append("sync begin")
    try:
        yield "sync tx"
    except Exception as exc:
        EVENTS.append(f"sync rollback {type(exc).__name__}")
        raise
    else:
        EVENTS.append("sync commit")


@dependency(blocking=True)
def blocking_transaction() -> Iterator[str]:
    EVENTS.append("blocking begin")
    try:
        yield "blocking tx"
    except Exception as exc:
        EVENTS.append(f"blocking rollback {type(exc).__name__}")
        raise


async def swallowing() -> AsyncIterator[str]:
    try:
        yield "swallow"
    except Exception:
        EVENTS.append("swallowed")


async def failing_cleanup() -> AsyncIterator[str]:
    yield "value"
    EVENTS.append("failing cleanup")
    raise ValueError("cleanup exploded")


def yields_twice() -> Iterator[str]:
    try:
        yield "one"
        EVENTS.append("resumed")
        yield "two"
    finally:
        EVENTS.append("twice closed")


def route(router: Router, path: str, error: Exception | None) -> None:
    async def handler(
        request: Request,
        tx: Annotated[str, Depends(transaction)],
        sync: Annotated[str, Depends(sync_transaction)],
    ) -> dict[str, str]:
        EVENTS.append("handler")
        if error is not None:
            raise error
        return {"tx": tx, "sync": sync}

    router.add_route("POST", path, handler)


def test_successful_request_commits() -> None:
    router = Router()
    route(router, "/ok", None)
    with TestClient(make_app(router)) as client:
        assert client.post("/ok").json() == {"tx": "tx", "sync": "sync tx"}
    assert EVENTS == ["begin", "sync begin", "handler", "sync commit", "commit"]


def test_handler_http_error_is_seen_by_the_deps_and_still_answers() -> None:
    router = Router()
    route(router, "/conflict", HTTPError(409, "Already exists", headers={"X-Id": "7"}))
    with TestClient(make_app(router)) as client:
        response = client.post("/conflict")
    assert response.status_code == 409
    assert response.json() == {"detail": "Already exists"}
    assert response.headers["x-id"] == "7"
    assert EVENTS == [
        "begin",
        "sync begin",
        "handler",
        "sync rollback HTTPError",
        "rollback HTTPError",
    ]


def test_handler_crash_is_seen_by_the_deps_and_answers_500() -> None:
    router = Router()
    route(router, "/crash", RuntimeError("boom"))
    with TestClient(make_app(router), raise_server_exceptions=False) as client:
        response = client.post("/crash")
    assert response.status_code == 500
    assert EVENTS[-2:] == ["sync rollback RuntimeError", "rollback RuntimeError"]


def test_handler_crash_reaches_the_test_client_unchanged() -> None:
    router = Router()
    route(router, "/crash", RuntimeError("boom"))
    with TestClient(make_app(router)) as client, pytest.raises(RuntimeError, match="boom"):
        client.post("/crash")


def test_blocking_generator_sees_the_handler_error() -> None:
    router = Router()

    @router.get("/blocking")
    async def handler(request: Request, tx: Annotated[str, Depends(blocking_transaction)]) -> None:
        raise HTTPError(422, "bad")

    with TestClient(make_app(router)) as client:
        assert client.get("/blocking").status_code == 422
    assert EVENTS == ["blocking begin", "blocking rollback HTTPError"]


def test_dependency_that_swallows_the_error_does_not_change_the_response() -> None:
    router = Router()

    @router.get("/swallow")
    async def handler(request: Request, s: Annotated[str, Depends(swallowing)]) -> None:
        raise HTTPError(409, "conflict")

    with TestClient(make_app(router)) as client:
        assert client.get("/swallow").status_code == 409
    assert EVENTS == ["swallowed"]


def test_failing_cleanup_is_logged_and_the_response_is_unchanged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = Router()

    @router.get("/cleanup", deps={"tx": transaction, "bad": failing_cleanup})
    async def handler(request: Request, bad: str) -> dict[str, str]:
        return {"bad": bad}

    with caplog.at_level(logging.ERROR, logger="fastware.di"), TestClient(make_app(router)) as c:
        response = c.get("/cleanup")
    assert response.status_code == 200
    assert response.json() == {"bad": "value"}
    assert EVENTS == ["begin", "failing cleanup", "commit"]  # later cleanups still ran
    records = [r for r in caplog.records if r.name == "fastware.di"]
    assert len(records) == 1
    assert records[0].exc_info is not None
    assert isinstance(records[0].exc_info[1], ValueError)


def test_cleanup_error_after_a_handler_error_keeps_the_handler_response(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = Router()

    async def rollback_fails() -> AsyncIterator[str]:
        try:
            yield "v"
        except HTTPError:
            raise LookupError("rollback failed") from None

    @router.get("/both", deps={"r": rollback_fails})
    async def handler(request: Request) -> None:
        raise HTTPError(409, "conflict")

    with caplog.at_level(logging.ERROR, logger="fastware.di"), TestClient(make_app(router)) as c:
        response = c.get("/both")
    assert response.status_code == 409
    assert any(
        r.name == "fastware.di" and r.exc_info and isinstance(r.exc_info[1], LookupError)
        for r in caplog.records
    )


def test_generator_yielding_twice_is_logged_and_the_response_is_unchanged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = Router()

    @router.get("/twice", deps={"t": yields_twice})
    async def handler(request: Request, t: str) -> dict[str, str]:
        return {"t": t}

    with caplog.at_level(logging.ERROR, logger="fastware.di"), TestClient(make_app(router)) as c:
        response = c.get("/twice")
    assert response.status_code == 200
    assert response.json() == {"t": "one"}
    assert EVENTS == ["resumed", "twice closed"]
    messages = [r.getMessage() for r in caplog.records if r.name == "fastware.di"]
    assert len(messages) == 1
    assert "more than once" in messages[0]
    assert "yields_twice" in messages[0]


def test_dependency_error_is_thrown_into_earlier_generators() -> None:
    router = Router()

    def guard() -> None:
        raise HTTPError(401, "Not authenticated")

    @router.get("/guarded", deps={"tx": transaction, "guard": guard})
    async def handler(request: Request) -> None:  # pragma: no cover - never runs
        EVENTS.append("handler")

    with TestClient(make_app(router)) as client:
        assert client.get("/guarded").status_code == 401
    assert EVENTS == ["begin", "rollback HTTPError"]


def test_code_after_yield_without_finally_is_skipped_when_the_handler_fails() -> None:
    # 0.6.3 resumed generators with next() even after a handler error; now the error is
    # thrown in at the yield, so only except/finally blocks run.
    router = Router()

    def plain() -> Iterator[str]:
        yield "plain"
        EVENTS.append("after yield")  # pragma: no cover - skipped on error

    @router.get("/plain", deps={"p": plain})
    async def handler(request: Request) -> None:
        raise HTTPError(400, "bad request")

    with TestClient(make_app(router)) as client:
        assert client.get("/plain").status_code == 400
    assert EVENTS == []
