"""Streamed answers and open WebSockets, and telling both that the server is going away.

A streamed response runs in a child task (the pump) beside a watcher that notices the client
leaving; whichever ends first ends the exchange, and the generator is closed exactly once.
Open streams and WebSockets are tracked so that a shutdown can first ask them to finish
(``app.shutting_down``, a 1001 close frame for WebSockets) and then, after
``stream_shutdown_grace`` seconds, cancel what is still running.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .dispatch import Dispatcher, current_task
from .recording import record_error
from .request import Request, mark_disconnected
from .responses import Response, text_type
from .websocket import WebSocket, close_at_once

__all__ = ("Streaming", "close_generator", "stream_headers")

GOING_AWAY = 1001
STREAM_CLOSE_TIMEOUT = 5.0  # seconds lifespan shutdown waits for cancelled streams to close


class Streaming(Dispatcher):
    """Stream driving and the shutdown of open streams and WebSockets (mixed into the app)."""

    def _init_streaming(self) -> None:
        self._streams: set[asyncio.Task[None]] = set()
        self._open_streams = 0  # streams not fully closed yet (their generators included)
        self._streams_closed: asyncio.Event | None = None
        self._websockets: dict[WebSocket, asyncio.Task[Any] | None] = {}
        self._closing_tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._closing_event: asyncio.Event | None = None

    @property
    def shutting_down(self) -> asyncio.Event:
        """Set when the server starts shutting down: a stream can wait on it, send a last
        event and return (``await request.app.shutting_down.wait()``)."""
        event = self._closing_event
        if event is None:
            event = self._closing_event = asyncio.Event()
            if self._closing:
                event.set()
        return event

    def begin_shutdown(self, grace: float | None = None) -> None:
        """Tell open streams to finish and close open WebSockets with 1001 (going away);
        cancel what still runs ``grace`` seconds later (``stream_shutdown_grace`` by
        default). Call it from the app's event loop."""
        if self._closing:
            return
        self._closing = True
        if self._closing_event is not None:
            self._closing_event.set()
        loop = asyncio.get_running_loop()
        for websocket in list(self._websockets):
            # Over RSGI the close frame goes out now, before the server's own shutdown
            # (scheduled by the same signal) tears the connection down.
            if not websocket.closed and not close_at_once(websocket, GOING_AWAY):
                closing = loop.create_task(_say_going_away(websocket, self.logger))
                self._closing_tasks.add(closing)
                closing.add_done_callback(self._closing_tasks.discard)
        if self._streams or self._websockets:
            delay = self.config.stream_shutdown_grace if grace is None else grace
            loop.call_later(delay, self._cancel_streams)

    def _watch_shutdown_signals(self) -> None:
        """Chain onto the server's signal handlers if that has not happened yet (see
        ``Lifecycle._chain_shutdown_signals``)."""

    def _cancel_streams(self) -> None:
        for task in list(self._streams):
            task.cancel()
        for handler in list(self._websockets.values()):
            if handler is not None:
                handler.cancel()

    async def _close_streams(self) -> None:
        # Streams still open when the lifespan ends are cancelled, and closed (their
        # generators, and the dependencies held for them) before app-wide resources go.
        if not self._open_streams:
            return
        self._cancel_streams()
        self._streams_closed = asyncio.Event()
        try:
            await asyncio.wait_for(self._streams_closed.wait(), STREAM_CLOSE_TIMEOUT)
        except TimeoutError:
            self.logger.warning("%d stream(s) did not close during shutdown", self._open_streams)
        finally:
            self._streams_closed = None

    async def _track_websocket(
        self, websocket: WebSocket, serve: Callable[[], Awaitable[None]]
    ) -> None:
        """Run ``serve()`` with ``websocket`` known to the shutdown (see :meth:`begin_shutdown`)."""
        self._watch_shutdown_signals()
        task = current_task()
        self._websockets[websocket] = task if isinstance(task, asyncio.Task) else None
        try:
            if self._closing:
                await websocket.deny(503, "Server shutting down")
                return
            await serve()
        finally:
            del self._websockets[websocket]

    async def _drive_stream(
        self,
        generator: Any,
        write: Callable[[bytes], Awaitable[Any]],
        finish: Callable[[], Awaitable[Any]],
        wait_disconnect: Callable[[], Awaitable[Any]],
        request: Request,
    ) -> None:
        """Send the generator's chunks while watching the client; stop when it leaves.

        The pump and the watcher are child tasks, so this works whatever task implementation
        the server runs requests in. The generator is closed exactly once, in all cases.
        """
        self._watch_shutdown_signals()
        loop = asyncio.get_running_loop()
        pump = loop.create_task(self._pump(generator, write, finish, request))
        self._streams.add(pump)
        pump.add_done_callback(self._streams.discard)
        watcher = loop.create_task(_await_call(wait_disconnect))
        self._open_streams += 1
        try:
            await asyncio.wait((pump, watcher), return_when=asyncio.FIRST_COMPLETED)
        finally:
            watcher.cancel()
            pump.cancel()
            await asyncio.gather(pump, watcher, return_exceptions=True)
            if not watcher.cancelled():
                mark_disconnected(request)
            try:
                await close_generator(generator)
            finally:
                self._open_streams -= 1
                if not self._open_streams and self._streams_closed is not None:
                    self._streams_closed.set()

    async def _pump(
        self,
        generator: Any,
        write: Callable[[bytes], Awaitable[Any]],
        finish: Callable[[], Awaitable[Any]],
        request: Request,
    ) -> None:
        iterator = generator.__aiter__()
        while True:
            try:
                chunk = await iterator.__anext__()
            except StopAsyncIteration:
                break
            except Exception as exc:
                self.logger.exception(
                    "Error in the stream of %s %s; ending the response",
                    request.method,
                    request.path,
                )
                if self._recorder is not None:
                    record_error(
                        self._recorder,
                        exc,
                        request,
                        "http",
                        500,
                        "the stream raised after "
                        "the response started; the client got a truncated body",
                    )
                break
            if isinstance(chunk, str):
                chunk = chunk.encode("utf-8")
            if not chunk:
                continue
            try:
                await write(chunk)
            except Exception:  # the client is gone: nothing more can be sent
                return
        try:
            await finish()
        except Exception:
            return


def stream_headers(response: Response) -> list[tuple[str, str]]:
    """The headers of a streamed answer: its content type (text types get a charset, event
    streams are UTF-8 by definition), then its own headers; no content-length."""
    content_type = response.content_type  # type: ignore[attr-defined]
    if content_type != "text/event-stream":
        content_type = text_type(content_type)
    headers = [("content-type", content_type)]
    headers.extend(response.extra_headers() or ())
    return headers


async def close_generator(generator: Any) -> None:
    """``aclose()`` a response generator, logging (not raising) what its cleanup raises."""
    close = getattr(generator, "aclose", None)
    if close is not None:
        try:
            await close()
        except Exception:
            logging.getLogger("fastware").exception("Error while closing a response stream")


async def _await_call(function: Callable[[], Awaitable[Any]]) -> Any:
    # Wraps awaitables that are not coroutines (Granian's futures) so they get a real Task.
    return await function()


async def _say_going_away(websocket: WebSocket, logger: logging.Logger) -> None:
    try:
        await websocket.close(GOING_AWAY, "Server shutting down")
    except Exception:  # the peer may be gone already
        logger.debug("Could not send 1001 to WebSocket %s", websocket.path, exc_info=True)
