"""``TestClient``: the synchronous face of ``AsyncTestClient`` (a loop in a thread)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self, TypeVar

from fastware_core.types import ASGIApp

from ._client import AsyncTestClient, CookieJar, TestRequest
from ._exchange import AsyncWebSocketSession
from ._httpx import timeout_seconds
from ._responses import TestResponse, TestStreamResponse, _ResponseBase

__all__ = ("TestClient", "WebSocketTestSession")

T = TypeVar("T")


class _LoopThread:
    """An event loop running in a daemon thread; coroutines are submitted to it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="fastware-testclient", daemon=True
        )
        self.thread.start()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise TimeoutError(f"The application did not answer within {timeout} s") from None

    def stop(self) -> None:
        async def drain() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.loop.shutdown_asyncgens()

        asyncio.run_coroutine_threadsafe(drain(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class _SyncStream(_ResponseBase):
    """The synchronous view of a :class:`TestStreamResponse`."""

    __test__ = False

    def __init__(
        self, portal: _LoopThread, inner: TestStreamResponse, timeout: float | None
    ) -> None:
        self._portal = portal
        self._inner = inner
        self._timeout = timeout
        self.status_code = inner.status_code
        self.headers = inner.headers
        self.request = inner.request

    def _iterate(self, iterator: AsyncIterator[T]) -> Iterator[T]:
        while True:
            try:
                yield self._portal.call(_anext(iterator), self._timeout)
            except StopAsyncIteration:
                return

    def iter_bytes(self) -> Iterator[bytes]:
        """Body chunks as the app sends them."""
        return self._iterate(self._inner.aiter_bytes())

    def iter_text(self) -> Iterator[str]:
        """Body chunks decoded as text."""
        return self._iterate(self._inner.aiter_text())

    def iter_lines(self) -> Iterator[str]:
        """Body lines without line endings."""
        return self._iterate(self._inner.aiter_lines())

    def read(self) -> bytes:
        """Read the rest of the body (only for finite streams)."""
        return self._portal.call(self._inner.aread(), self._timeout)

    @property
    def content(self) -> bytes:  # type: ignore[override]  # read-only: the stream fills it
        """What has been read so far."""
        return self._inner.content

    @property
    def text(self) -> str:
        """What has been read so far, decoded."""
        return self._inner.text

    def json(self) -> Any:
        """What has been read so far, decoded as JSON."""
        return self._inner.json()


async def _anext(iterator: AsyncIterator[T]) -> T:
    return await iterator.__anext__()


class WebSocketTestSession:
    """The synchronous view of an :class:`AsyncWebSocketSession`."""

    __test__ = False

    def __init__(
        self, portal: _LoopThread, inner: AsyncWebSocketSession, timeout: float | None
    ) -> None:
        self._portal = portal
        self._inner = inner
        self._timeout = timeout

    @property
    def accepted_subprotocol(self) -> str | None:
        """The subprotocol the app accepted."""
        return self._inner.accepted_subprotocol

    @property
    def close_code(self) -> int | None:
        """The code the app closed with, once it did."""
        return self._inner.close_code

    @property
    def close_reason(self) -> str:
        """The reason the app closed with."""
        return self._inner.close_reason

    def send_text(self, data: str) -> None:
        """Send a text message."""
        self._portal.call(self._inner.send_text(data), self._timeout)

    def send_bytes(self, data: bytes) -> None:
        """Send a binary message."""
        self._portal.call(self._inner.send_bytes(data), self._timeout)

    def send_json(self, data: Any, mode: str = "text") -> None:
        """Send JSON."""
        self._portal.call(self._inner.send_json(data, mode), self._timeout)

    def receive_text(self) -> str:
        """The next text message."""
        return self._portal.call(self._inner.receive_text(), self._timeout)

    def receive_bytes(self) -> bytes:
        """The next binary message."""
        return self._portal.call(self._inner.receive_bytes(), self._timeout)

    def receive_json(self) -> Any:
        """The next message as JSON."""
        return self._portal.call(self._inner.receive_json(), self._timeout)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Disconnect."""
        self._portal.call(self._inner.close(code, reason), self._timeout)


class TestClient:
    """The synchronous test client: the same surface as :class:`AsyncTestClient`.

    The app runs on an event loop in a background thread. Use it as a context manager
    (``with TestClient(app) as client:``) to run the lifespan; used without ``with``, the
    first request starts it and :meth:`close` stops it.

    Args:
        timeout: Seconds each call waits for the app (``None`` waits forever).
        http_version: The ASGI ``http_version`` requests claim (``"1.1"``, ``"2"``).
        door: ``"asgi"`` or ``"rsgi"`` (see :class:`AsyncTestClient`).
    """

    __test__ = False

    def __init__(
        self,
        app: ASGIApp,
        base_url: str = "http://test",
        *,
        raise_server_exceptions: bool = True,
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        root_path: str = "",
        timeout: float | None = 30.0,
        http_version: str = "1.1",
        door: str = "asgi",
    ) -> None:
        self._async = AsyncTestClient(
            app,
            base_url,
            raise_server_exceptions=raise_server_exceptions,
            headers=headers,
            cookies=cookies,
            root_path=root_path,
            http_version=http_version,
            door=door,
        )
        self.timeout = timeout
        self._portal: _LoopThread | None = None
        self._closed = False

    @property
    def app(self) -> ASGIApp:
        """The application under test."""
        return self._async.app

    @property
    def cookies(self) -> CookieJar:
        """The cookie jar, updated from responses."""
        return self._async.cookies

    def _open(self) -> _LoopThread:
        if self._portal is None:
            self._closed = False
            portal = _LoopThread()
            try:
                portal.call(self._async.__aenter__(), self.timeout)
            except BaseException:
                portal.stop()
                raise
            self._portal = portal
        return self._portal

    def __enter__(self) -> Self:
        self._open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Run lifespan shutdown and stop the background loop."""
        self._closed = True
        portal, self._portal = self._portal, None
        if portal is not None:
            try:
                portal.call(self._async.__aexit__(None, None, None), self.timeout)
            finally:
                portal.stop()

    def _call(self, coro: Awaitable[T], bound: float | None = None) -> T:
        async def run() -> T:
            return await coro

        wait = self.timeout
        if bound is not None and wait is not None:
            wait = max(wait, bound + 1.0)  # the request's own timeout fires first
        return self._open().call(run(), wait)

    def request(self, method: str, url: str, **kwargs: Any) -> TestResponse:
        """Send one request and read the whole response."""
        bound = timeout_seconds(kwargs.get("timeout"))
        return self._call(self._async.request(method, url, **kwargs), bound)

    @property
    def is_closed(self) -> bool:
        """Whether :meth:`close` was called (a later request starts the client again)."""
        return self._closed

    def build_request(self, method: str, url: str, **kwargs: Any) -> TestRequest:
        """A request to :meth:`send` later (httpx's ``build_request``)."""
        return self._async.build_request(method, url, **kwargs)

    def send(self, request: TestRequest, **kwargs: Any) -> TestResponse:
        """Send a request made by :meth:`build_request` (its headers as they are now)."""
        return self._call(self._async.send(request, **kwargs))

    @contextmanager
    def stream(self, method: str, url: str, **kwargs: Any) -> Iterator[_SyncStream]:
        """Read a response incrementally: ``with client.stream("GET", "/events") as r:``."""
        portal = self._open()
        manager = self._async.stream(method, url, **kwargs)
        inner = portal.call(manager.__aenter__(), self.timeout)
        try:
            yield _SyncStream(portal, inner, self.timeout)
        except BaseException as exc:
            portal.call(manager.__aexit__(type(exc), exc, exc.__traceback__), self.timeout)
            raise
        else:
            portal.call(manager.__aexit__(None, None, None), self.timeout)

    @contextmanager
    def websocket_connect(self, url: str, **kwargs: Any) -> Iterator[WebSocketTestSession]:
        """Open a WebSocket to the app: ``with client.websocket_connect("/ws") as ws:``."""
        portal = self._open()
        manager = self._async.websocket_connect(url, **kwargs)
        inner = portal.call(manager.__aenter__(), self.timeout)
        try:
            yield WebSocketTestSession(portal, inner, self.timeout)
        except BaseException as exc:
            portal.call(manager.__aexit__(type(exc), exc, exc.__traceback__), self.timeout)
            raise
        else:
            portal.call(manager.__aexit__(None, None, None), self.timeout)

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a GET request."""
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a HEAD request."""
        return self.request("HEAD", url, **kwargs)

    def options(self, url: str, **kwargs: Any) -> TestResponse:
        """Send an OPTIONS request."""
        return self.request("OPTIONS", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a POST request."""
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a PUT request."""
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a PATCH request."""
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a DELETE request."""
        return self.request("DELETE", url, **kwargs)
