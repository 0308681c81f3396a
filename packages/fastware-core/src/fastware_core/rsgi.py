"""The RSGI door: Granian's ``app.__rsgi__(scope, protocol)``.

One request, top to bottom, as on the ASGI door (:mod:`fastware_core.asgi`): before-hooks,
mounts, route lookup, body, the shared result and error handling of
:mod:`fastware_core.dispatch`, the answer in one protocol call with the after-hooks' headers,
then the finished-hooks. ``__rsgi_init__``/``__rsgi_del__`` run the lifespan once per worker.
Plain ASGI apps (mounts, user ASGI middleware) are served through the adapters of
:mod:`fastware_core._rsgi_asgi`, WebSockets included.
"""

from __future__ import annotations

import asyncio
from asyncio import get_running_loop
from collections.abc import Sequence
from functools import partial
from time import perf_counter
from typing import Any

from ._deadlines import task_of
from ._filesend import send_file_rsgi, send_static_rsgi
from ._json import encode_json
from ._rsgi_asgi import call_asgi_over_rsgi, call_asgi_websocket_over_rsgi
from .connection import Connection, RSGIConnection
from .dispatch import CONTINUE, JSON, HeaderEditor, bad_path, merged_state
from .exceptions import HTTPError
from .lifespan import Lifecycle
from .middleware.request_id import id_source
from .request import Request, StreamedBody, build_request, end_request, is_multipart
from .responses import FileResponse, Response, StreamResponse
from .routing import CompiledRouter
from .streaming import close_generator, stream_headers
from .types import ASGIApp, Rendered, RSGIHTTPProtocol, RSGIScope, RSGIStreamTransport
from .websocket import WebSocket

__all__ = ("HeaderEditingProtocol", "RSGIDoor")


class RSGIDoor(Lifecycle):
    """Serving Granian's RSGI interface (mixed into the app)."""

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """Granian calls this once per worker before serving: run lifespan startup."""
        try:
            loop.run_until_complete(self.startup())
        except BaseException:
            self.logger.exception("Lifespan startup failed; this worker will not serve")
            raise

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        """Granian calls this once per worker after serving: run lifespan shutdown.

        Raises:
            LifespanError: when a shutdown step failed (logged first), so that the worker,
                and the server, exit with a failure status.
        """
        try:
            loop.run_until_complete(self.shutdown())
        except Exception:
            self.logger.exception("Lifespan shutdown failed")
            raise

    async def __rsgi__(self, scope: RSGIScope, protocol: Any) -> None:
        """Serve one RSGI request or WebSocket."""
        if scope.proto != "http":
            await self._rsgi_websocket(scope, protocol)
            return
        compiled = self._compiled
        if compiled is None:
            compiled = self._compile()
        method = scope.method
        path = scope.path
        request_headers = scope.headers
        finished = self._finished_hooks
        started = perf_counter() if finished else 0.0
        ids = self._request_ids
        if ids is None:
            request_id = None
            conn = RSGIConnection(scope, protocol, method, path, {}, request_headers)
        else:
            incoming = request_headers.get(self._request_id_header)
            request_id = id_source.fresh() if incoming is None else ids.identify(incoming)
            conn = RSGIConnection(
                scope, protocol, method, path, {"request_id": request_id}, request_headers
            )
        for hook, answer_after, answer_finished in self._before_hooks:
            answer = hook.before(conn)
            if answer is not None:
                headers = self._early_headers(conn, answer, answer_after)
                protocol.response_bytes(answer[0], headers, answer[2])
                if answer_finished:
                    self._finish(conn, answer_finished, answer[0], started)
                return
        if compiled.mounts:
            mount = compiled.match_mount(path)
            if mount is not None:
                await self._rsgi_mount(conn, protocol, mount[0], mount[1], started)
                return
        # A literal route's path as written; else the full lookup, after bad_path() inlined:
        # a NUL or an undecodable byte in the decoded path is a 400.
        by_method = compiled.exact.get(path)
        entry = None if by_method is None else by_method.get(method)
        if entry is not None:
            params: dict[str, Any] = {}
        else:
            if "\x00" in path or (not path.isascii() and "\ufffd" in path):
                found = None
            else:
                found = compiled.lookup(method, path)
            if found is None:
                await self._rsgi_unrouted(compiled, conn, protocol, started)
                return
            entry, params = found
        out: Rendered | Response | None = None
        body: bytes | StreamedBody | None = None
        length = request_headers.get("content-length")
        # A body is announced by its length, by chunked encoding or (HTTP/2) by neither; a
        # GET or HEAD, whose content has no meaning (RFC 9110, 9.3.1), is read only with a
        # length: most requests ask Granian one question here.
        if length is not None or (
            method != "GET"
            and method != "HEAD"
            and ("transfer-encoding" in request_headers or scope.http_version == "2")
        ):
            try:
                content_type = request_headers.get("content-type")
                # Only a form body starts with "m": most bodies skip the full check.
                if content_type and content_type[0] in "mM" and is_multipart(content_type):
                    body = self._streamed_body(request_headers, length)
                else:
                    body = await self._read_rsgi_body(protocol, scope, request_headers, length)
            except HTTPError as exc:
                out = self._error(exc.status_code, exc.detail, exc.headers)
        request = None
        if out is None:
            request = build_request(conn, params, body, self)
            try:
                result = await entry.call(request)
                # _result() without a response model, inlined
                if entry.response_model is not None:
                    out = self._result(result, entry, request)
                elif type(result) is dict or not isinstance(result, Response):
                    out = (200, JSON, encode_json(result), None)
                else:
                    out = result if result.streaming else result.rendered()
            except Exception as exc:
                out = await self._handle_error(exc, request, False)
            if conn.ends:
                end_request(request)
        if type(out) is tuple:
            status, content_type, payload, extra = out
            if extra is None and self._plain_answers:
                # _rendered_headers(), inlined for an answer of its own content-type only and
                # without Content-Length: Granian sets it from the body (to HEAD requests
                # too, never on a 204 or 304), cheaper than parsing ours. With after hooks
                # it stays, so that hooks see the same headers through both doors.
                if request_id is None:
                    headers = [("content-type", content_type), *self._default_headers]
                else:
                    headers = [
                        ("content-type", content_type),
                        *self._default_headers,
                        (self._request_id_header, request_id),
                    ]
            else:
                headers = self._rendered_headers(conn, out)
            protocol.response_bytes(status, headers, payload)
        else:
            assert isinstance(out, Response)
            assert request is not None
            status = await self._rsgi_stream(protocol, conn, out, method == "HEAD", request)
        if finished:
            ended = perf_counter()
            timing = self._timing
            if timing is not None and status < 500 and timing.log_levels.get(10) is False:
                # RequestTimingMiddleware.finished's commonest case (DEBUG off, no 5xx)
                timing.request_count += 1
                timing.pending.append((ended, method, path, status, started))
            else:
                for done in finished:
                    done.finished(conn, status, ended - started)

    # -- answers -------------------------------------------------------------------------------

    def _rsgi_send(self, protocol: Any, conn: Connection, rendered: Rendered) -> int:
        protocol.response_bytes(rendered[0], self._rendered_headers(conn, rendered), rendered[2])
        return rendered[0]

    def _rsgi_editing(self, protocol: Any, conn: Connection) -> Any:
        """``protocol``, or a wrapper adding the default headers and running the after hooks on
        a response this door did not build itself (files, mounted apps)."""
        if not self._edits_headers:
            return protocol
        return HeaderEditingProtocol(protocol, conn, self._answer_headers)

    async def _rsgi_unrouted(
        self, compiled: CompiledRouter, conn: RSGIConnection, protocol: Any, started: float
    ) -> None:
        """A request no route matched: bad path, static files, the SPA, the root mount, or
        405/404/501."""
        method, path = conn.method, conn.path
        if bad_path(path):
            status = self._rsgi_send(protocol, conn, self._error(400, "Invalid characters in path"))
        else:
            answer: Any = CONTINUE
            if self._static is not None or self._spa is not None:
                answer = await self._static_answer(compiled, method, path, conn.headers)
            if answer is not CONTINUE:
                edited = self._rsgi_editing(protocol, conn)
                await send_static_rsgi(edited, answer, method == "HEAD")
                status = getattr(edited, "status", 200 if answer is not None else 404)
            elif compiled.root_mount is not None:
                await self._rsgi_mount(conn, protocol, "", compiled.root_mount, started)
                return
            else:
                status = self._rsgi_send(protocol, conn, await self._miss(compiled, conn))
        if self._finished_hooks:
            self._finish(conn, self._finished_hooks, status, started)

    async def _rsgi_mount(
        self, conn: RSGIConnection, protocol: Any, prefix: str, app: ASGIApp, started: float
    ) -> None:
        edited = self._rsgi_editing(protocol, conn)
        scope = self._mounted_scope(conn.asgi_scope(), prefix)
        try:
            await call_asgi_over_rsgi(app, scope, edited)
        finally:
            if self._finished_hooks:
                self._finish(conn, self._finished_hooks, getattr(edited, "status", 0), started)

    # -- bodies and streams --------------------------------------------------------------------

    def _streamed_body(self, headers: Any, length: str | None) -> StreamedBody:
        """A multipart body, left for ``request.form()`` to stream (Content-Length checked)."""
        if length is not None:
            lengths = headers.get_all("content-length")
            if (len(lengths) > 1 and len(set(lengths)) > 1) or not length.isdigit():
                raise HTTPError(400, "Invalid Content-Length")
        return StreamedBody()

    async def _read_rsgi_body(
        self, protocol: RSGIHTTPProtocol, scope: RSGIScope, headers: Any, length: str | None
    ) -> bytes | None:
        limit = self.max_body_size
        if length is not None:
            # Conflicting lengths are a smuggling attempt (the ASGI door refuses them too).
            # Granian's HTTP/1.1 parser answers them 400 before the app is called; other
            # versions pass repeated headers through, and are checked here.
            if scope.http_version != "1.1":
                lengths = headers.get_all("content-length")
                if len(lengths) > 1 and len(set(lengths)) > 1:
                    raise HTTPError(400, "Invalid Content-Length")
            # _check_length(), inlined; a length shorter than the limit's needs no int()
            if not length.isdigit() or not length.isascii():
                raise HTTPError(400, "Invalid Content-Length")
            if limit is not None and len(length) >= len(str(limit)) and int(length) > limit:
                raise HTTPError(413, "Request body too large")
            if length == "0":
                return None
        deadlines = self._deadlines
        task = None
        if deadlines is not None:  # deadlines.start(), inlined
            loop = get_running_loop()
            task = task_of(loop)
            if isinstance(task, asyncio.Task):
                deadlines.pending[task] = deadlines.tick
                if deadlines.reaper_loop is not loop:
                    deadlines.watch(loop)
            else:
                task = None
        try:
            if length is not None:
                body: bytes = await protocol()
                return body or None
            chunks: list[bytes] = []
            size = 0
            async for chunk in protocol:
                size += len(chunk)
                if limit is not None and size > limit:
                    raise HTTPError(413, "Request body too large")
                chunks.append(chunk)
            return b"".join(chunks) or None
        except asyncio.CancelledError:
            if self._body_timed_out(task):
                raise HTTPError(408, "Request body not received in time") from None
            raise
        finally:
            if task is not None and deadlines is not None:  # deadlines.finish(), inlined
                del deadlines.pending[task]
                if deadlines.timed_out:
                    deadlines.timed_out.discard(task)

    async def _rsgi_stream(
        self, protocol: Any, conn: Connection, response: Response, head: bool, request: Request
    ) -> int:
        if isinstance(response, FileResponse):
            edited = self._rsgi_editing(protocol, conn)
            await send_file_rsgi(edited, response, head)
            return int(getattr(edited, "status", response.status))
        assert isinstance(response, StreamResponse)
        generator = response.generator
        headers = self._answer_headers(conn, response.status, stream_headers(response))
        if head:
            protocol.response_empty(response.status, headers)
            await close_generator(generator)
            return response.status
        transport: RSGIStreamTransport = protocol.response_stream(response.status, headers)
        await self._drive_stream(
            generator, transport.send_bytes, _nothing, protocol.client_disconnect, request
        )
        return response.status

    # -- WebSockets ----------------------------------------------------------------------------

    async def _rsgi_websocket(self, scope: RSGIScope, protocol: Any) -> None:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compile()
        conn = RSGIConnection.of(scope, protocol)
        if self._websocket_hooks and self._websocket_refused(conn):
            protocol.close(403)
            return
        path = scope.path
        mount = compiled.match_mount(path) if compiled.mounts else None
        if mount is None and compiled.ws is not None:
            found = compiled.ws.lookup("GET", path)
            if found is not None:
                entry, params = found
                merged_state(self._state, conn.state)
                websocket = WebSocket.over_rsgi(conn, params)
                await self._track_websocket(
                    websocket, partial(self._serve_websocket, entry, websocket)
                )
                return
        if mount is None and compiled.root_mount is not None:
            mount = ("", compiled.root_mount)
        if mount is not None:
            asgi_scope = self._mounted_scope(conn.asgi_scope(), mount[0])
            await call_asgi_websocket_over_rsgi(mount[1], asgi_scope, protocol)
            return
        protocol.close(403)  # as the ASGI door's close 4004 before accept: a 403 handshake answer


class HeaderEditingProtocol:
    """An RSGI HTTP protocol whose responses get the app's default headers and pass through
    its after hooks; remembers the status for the finished hooks."""

    __slots__ = ("_conn", "_edit", "_protocol", "status")

    def __init__(self, protocol: Any, conn: Connection, edit: HeaderEditor) -> None:
        self._protocol = protocol
        self._conn = conn
        self._edit = edit
        self.status = 0

    def _headers(self, status: int, headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        self.status = status
        return self._edit(self._conn, status, [(k.lower(), v) for k, v in headers])

    def __call__(self) -> Any:
        return self._protocol()

    def __aiter__(self) -> Any:
        return self._protocol.__aiter__()

    def client_disconnect(self) -> Any:
        """Resolves when the client leaves."""
        return self._protocol.client_disconnect()

    def response_empty(self, status: int, headers: list[tuple[str, str]]) -> None:
        """An answer without a body."""
        self._protocol.response_empty(status, self._headers(status, headers))

    def response_str(self, status: int, headers: list[tuple[str, str]], body: str) -> None:
        """A text body."""
        self._protocol.response_str(status, self._headers(status, headers), body)

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """A bytes body."""
        self._protocol.response_bytes(status, self._headers(status, headers), body)

    def response_file(self, status: int, headers: list[tuple[str, str]], file: str) -> None:
        """A file sent by the server."""
        self._protocol.response_file(status, self._headers(status, headers), file)

    def response_file_range(
        self, status: int, headers: list[tuple[str, str]], file: str, start: int, end: int
    ) -> None:
        """Part of a file sent by the server."""
        self._protocol.response_file_range(status, self._headers(status, headers), file, start, end)

    def response_stream(self, status: int, headers: list[tuple[str, str]]) -> Any:
        """A streamed body: returns the transport."""
        return self._protocol.response_stream(status, self._headers(status, headers))


async def _nothing() -> None:
    return None
