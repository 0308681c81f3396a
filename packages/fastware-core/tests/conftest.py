"""Shared fixtures for the fastware-core tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from fastware_core import AsyncTestClient, Router, TestClient
from fastware_core.types import ASGIApp

RawExchange = Callable[..., Awaitable[tuple[list[dict[str, Any]], int]]]


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only."""
    return "asyncio"


@pytest.fixture(params=["asgi", "rsgi"], autouse=True)
def door(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run every test through both doors: test clients built for a fastware app drive it
    over ASGI, then over RSGI (the in-process Granian double), unless the test is marked
    ``asgi_only`` (it checks something only the ASGI door has) or names a door itself."""
    door: str = request.param
    if door == "rsgi":
        for client_class in (AsyncTestClient, TestClient):
            monkeypatch.setattr(client_class, "__init__", _over_rsgi(client_class.__init__))
    return door


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the RSGI run of tests marked ``asgi_only``."""
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        rsgi = callspec is not None and callspec.params.get("door") == "rsgi"
        (dropped if rsgi and item.get_closest_marker("asgi_only") else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def _over_rsgi(init: Callable[..., None]) -> Callable[..., None]:
    def over_rsgi(self: Any, app: Any, *args: Any, **kwargs: Any) -> None:
        if hasattr(app, "__rsgi__"):
            kwargs.setdefault("door", "rsgi")
        init(self, app, *args, **kwargs)

    return over_rsgi


@pytest.fixture
def router() -> Router:
    """A fresh, empty router."""
    return Router()


def http_scope(
    method: str = "GET",
    path: str = "/",
    *,
    headers: Sequence[tuple[bytes, bytes]] = (),
    query_string: bytes = b"",
) -> dict[str, Any]:
    """A minimal ASGI HTTP scope, as a server would build it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("latin-1"),
        "query_string": query_string,
        "root_path": "",
        "headers": list(headers),
        "client": ("127.0.0.1", 4242),
        "server": ("testserver", 80),
        "state": {},
    }


@pytest.fixture
def make_scope() -> Callable[..., dict[str, Any]]:
    """Build a minimal ASGI HTTP scope: ``make_scope("GET", "/x", headers=[...])``."""
    return http_scope


@pytest.fixture
def raw_http() -> RawExchange:
    """Call an ASGI app by hand for one HTTP request.

    ``await raw_http(app, method, path, headers=[...], chunks=[b"..", ...])`` returns the
    messages the app sent and how many times it called ``receive``.
    """

    async def run(
        app: ASGIApp,
        method: str,
        path: str,
        *,
        headers: Sequence[tuple[bytes, bytes]] = (),
        chunks: Sequence[bytes] = (b"",),
    ) -> tuple[list[dict[str, Any]], int]:
        pending = list(chunks)
        sent: list[dict[str, Any]] = []
        calls = 0

        async def receive() -> dict[str, Any]:
            nonlocal calls
            calls += 1
            if pending:
                body = pending.pop(0)
                return {"type": "http.request", "body": body, "more_body": bool(pending)}
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(http_scope(method, path, headers=headers), receive, send)
        return sent, calls

    return run
