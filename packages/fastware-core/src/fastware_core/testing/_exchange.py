"""One request or WebSocket in flight against an app, through either door."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from fastware_core.datastructures import Headers
from fastware_core.websocket import WebSocketDisconnect

from ._responses import WebSocketDenied
from ._rsgi import run_rsgi_http, run_rsgi_websocket

__all__ = ("AsyncWebSocketSession",)


class Exchange:
    """One request in flight against the ASGI app."""

    def __init__(self, app: Any, scope: dict[str, Any], body: bytes, door: str = "asgi") -> None:
        self.app = app
        self.door = door
        self.scope = scope
        self.body = body
        self.sent_request = False
        self.gone = asyncio.Event()
        self.messages: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.error: BaseException | None = None
        self.task: asyncio.Task[None] = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            if self.door == "rsgi":
                await run_rsgi_http(self.app, self.scope, self.body, self.gone, self._put)
            else:
                await self.app(self.scope, self._receive, self._send)
        except BaseException as exc:
            self.error = exc
        finally:
            self.messages.put_nowait(None)

    def _put(self, message: dict[str, Any]) -> None:
        self.messages.put_nowait(message)

    async def _receive(self) -> dict[str, Any]:
        if not self.sent_request:
            self.sent_request = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        if self.gone.is_set():
            raise OSError("The test client disconnected")
        self.messages.put_nowait(message)

    async def start(self) -> tuple[int, Headers]:
        message = await self.messages.get()
        if message is None:
            await self.task
            if self.error is not None:
                raise self.error
            raise RuntimeError("The application returned without sending a response")
        if message["type"] != "http.response.start":
            raise RuntimeError(f"Expected http.response.start, got {message['type']!r}")
        return int(message["status"]), Headers.from_asgi(message.get("headers", ()))

    async def next_chunk(self) -> bytes | None:
        """The next body chunk, or ``None`` at the end of the body."""
        while True:
            message = await self.messages.get()
            if message is None:
                self.messages.put_nowait(None)
                return None
            if message["type"] != "http.response.body":
                continue
            body = bytes(message.get("body", b""))
            if not message.get("more_body", False):
                self.messages.put_nowait(None)
                return body or None
            if body:
                return body

    async def disconnect(self, grace: float) -> None:
        self.gone.set()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), grace)
        except TimeoutError:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


class AsyncWebSocketSession:
    """A WebSocket connected to the app in-process (from ``websocket_connect``)."""

    __test__ = False

    def __init__(self, app: Any, scope: dict[str, Any], grace: float, door: str = "asgi") -> None:
        self._door = door
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._grace = grace
        self._app = app
        self._scope = scope
        self._task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None
        self.accepted_subprotocol: str | None = None
        self.accept_headers: Headers = Headers()
        self.close_code: int | None = None
        self.close_reason = ""

    async def _run(self) -> None:
        try:
            if self._door == "rsgi":
                await run_rsgi_websocket(
                    self._app, self._scope, self._to_app.get, self._from_app.put_nowait
                )
            else:
                await self._app(self._scope, self._to_app.get, self._send)
        except BaseException as exc:
            self.error = exc
        finally:
            self._from_app.put_nowait(None)

    async def _send(self, message: dict[str, Any]) -> None:
        self._from_app.put_nowait(message)

    async def _next(self) -> dict[str, Any]:
        message = await self._from_app.get()
        if message is None:
            self._from_app.put_nowait(None)
            if self.error is not None:
                raise self.error
            self.close_code = self.close_code or 1006
            raise WebSocketDisconnect(self.close_code, "The application returned")
        return message

    async def handshake(self) -> None:
        """Start the app on this connection and wait for its answer to the handshake
        (the clients call this before handing the session out)."""
        self._task = asyncio.get_running_loop().create_task(self._run())
        await self._to_app.put({"type": "websocket.connect"})
        message = await self._next()
        kind = message["type"]
        if kind == "websocket.accept":
            self.accepted_subprotocol = message.get("subprotocol")
            self.accept_headers = Headers.from_asgi(message.get("headers") or ())
            return
        if kind == "websocket.close":
            self.close_code = message.get("code", 1000)
            self.close_reason = message.get("reason") or ""
            raise WebSocketDisconnect(self.close_code or 1000, self.close_reason)
        if kind == "websocket.http.response.start":
            headers = Headers.from_asgi(message.get("headers") or ())
            body = b""
            while True:
                part = await self._next()
                body += part.get("body", b"")
                if not part.get("more_body", False):
                    break
            raise WebSocketDenied(int(message["status"]), headers, body)
        raise RuntimeError(f"Unexpected message {kind!r} during the handshake")

    async def send_text(self, data: str) -> None:
        """Send a text message to the app."""
        await self._to_app.put({"type": "websocket.receive", "text": data})

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary message to the app."""
        await self._to_app.put({"type": "websocket.receive", "bytes": data})

    async def send_json(self, data: Any, mode: str = "text") -> None:
        """Send ``data`` as JSON (text frame, or binary with ``mode="binary"``)."""
        encoded = msgspec.json.encode(data)
        if mode == "binary":
            await self.send_bytes(encoded)
        else:
            await self.send_text(encoded.decode())

    async def receive(self) -> dict[str, Any]:
        """The next ``websocket.send`` message from the app.

        Raises:
            WebSocketDisconnect: when the app closed the connection (code and reason kept).
        """
        message = await self._next()
        if message["type"] == "websocket.close":
            self.close_code = message.get("code", 1000)
            self.close_reason = message.get("reason") or ""
            raise WebSocketDisconnect(self.close_code or 1000, self.close_reason)
        return message

    async def receive_text(self) -> str:
        """The next message as text."""
        message = await self.receive()
        text = message.get("text")
        if text is None:
            raise TypeError("Expected a text frame, got a binary one")
        return str(text)

    async def receive_bytes(self) -> bytes:
        """The next message as bytes."""
        message = await self.receive()
        data = message.get("bytes")
        if data is None:
            raise TypeError("Expected a binary frame, got a text one")
        return bytes(data)

    async def receive_json(self) -> Any:
        """The next message decoded as JSON (text or binary frame)."""
        message = await self.receive()
        raw = message.get("text")
        return msgspec.json.decode(raw.encode() if raw is not None else message["bytes"])

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Disconnect and wait for the app's handler to finish."""
        await self._to_app.put({"type": "websocket.disconnect", "code": code, "reason": reason})
        task = self._task
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), self._grace)
            except TimeoutError:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
