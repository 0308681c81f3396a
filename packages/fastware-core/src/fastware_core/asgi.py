"""The ASGI door: ``app(scope, receive, send)``.

One request, top to bottom: the framework's before-hooks (request id, CORS, trusted hosts)
may answer early; mounts are matched; the route is looked up; the body is read (only when
one was sent); the handler's result or error becomes a rendered answer (shared with the RSGI
door, :mod:`fastware_core.dispatch`); the answer is sent with the after-hooks' headers; the
finished-hooks (timing) learn the status. Lifespan and WebSocket scopes are served here too.
"""

from __future__ import annotations

import asyncio
from asyncio import get_running_loop
from functools import partial
from time import perf_counter
from typing import Any

from ._deadlines import task_of
from ._filesend import asgi_headers, send_file_asgi, send_static_asgi
from ._json import encode_json
from .connection import ASGIConnection, Connection
from .dispatch import CONTINUE, JSON, RAW_LENGTHS, HeaderEditor, bad_path, merged_state
from .exceptions import HTTPError
from .lifespan import Lifecycle
from .middleware.request_id import id_source
from .request import Request, StreamedBody, build_request, end_request, is_multipart
from .responses import FileResponse, Response, StreamResponse
from .routing import CompiledRouter
from .streaming import close_generator, stream_headers
from .types import ASGIApp, Receive, Rendered, Scope, Send
from .websocket import WebSocket

__all__ = ("ASGIDoor", "HeaderEditingSend")

RAISE_KEY = "fastware.raise_server_exceptions"
"""Scope key the test client sets to have unhandled errors raised instead of answered 500."""


class _ClientGone(Exception):
    """The client disconnected before the request body arrived."""


class ASGIDoor(Lifecycle):
    """Serving ASGI HTTP, WebSocket and lifespan scopes (mixed into the app)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection (HTTP inline; lifespan and WebSocket delegated)."""
        if scope["type"] != "http":
            await self._asgi_other(scope, receive, send)
            return
        compiled = self._compiled
        if compiled is None:
            compiled = self._compile()
        finished = self._finished_hooks
        started = perf_counter() if finished else 0.0
        method = scope["method"]
        path = scope["path"]
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        # One pass over the headers for what this door needs of them.
        length: bytes | None = None
        bad_length = chunked = False
        content_type = incoming_id = None
        id_name = self._raw_request_id_header
        wanted = self._asgi_headers_read
        for name, value in scope["headers"]:
            if name not in wanted:  # most headers: one set lookup
                continue
            if name == b"content-length":
                if length is not None and value != length:
                    bad_length = True
                length = value
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"content-type":
                if content_type is None:
                    content_type = value
            elif name == id_name and incoming_id is None:
                incoming_id = value
        ids = self._request_ids
        request_id = None
        if ids is not None:
            request_id = state["request_id"] = (
                id_source.fresh()
                if incoming_id is None
                else ids.identify(bytes(incoming_id).decode("latin-1"))
            )
        conn = ASGIConnection(scope, receive, method, path, state)
        for hook, answer_after, answer_finished in self._before_hooks:
            answer = hook.before(conn)
            if answer is not None:
                headers = self._early_headers(conn, answer, answer_after)
                await send_pairs(send, answer[0], headers, answer[2], method == "HEAD")
                if answer_finished:
                    self._finish(conn, answer_finished, answer[0], started)
                return
        if compiled.mounts:
            mount = compiled.match_mount(path)
            if mount is not None:
                await self._asgi_mount(conn, send, mount[0], mount[1], started)
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
                await self._asgi_unrouted(compiled, conn, send, started)
                return
            entry, params = found
        out: Rendered | Response | None = None
        body: bytes | StreamedBody | None = None
        if bad_length:
            out = self._error(400, "Invalid Content-Length")
        request = None
        # A body is announced by its length, by chunked encoding or (HTTP/2) by neither; a
        # GET or HEAD, whose content has no meaning (RFC 9110, 9.3.1), is read only with a
        # length, as on the RSGI door.
        if out is None and (
            length is not None
            or (
                method != "GET"
                and method != "HEAD"
                and (chunked or scope.get("http_version") == "2")
            )
        ):
            try:
                # A form body is streamed by request.form() instead; only its type starts
                # with "m", so most bodies skip the full check.
                if content_type and content_type[:1] in (b"m", b"M") and is_multipart(content_type):
                    body = StreamedBody() if length is None or length.isdigit() else None
                    if body is None:
                        raise HTTPError(400, "Invalid Content-Length")
                else:
                    body = await self._read_asgi_body(receive, length)
            except HTTPError as exc:
                out = self._error(exc.status_code, exc.detail, exc.headers)
            except _ClientGone:
                if finished:
                    self._finish(conn, finished, 0, started)
                return
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
                out = await self._handle_error(exc, request, scope.get(RAISE_KEY, False))
            if conn.ends:
                end_request(request)
        if type(out) is tuple:
            status, content_type_text, payload, extra = out
            if extra is None and self._plain_answers:
                # _asgi_start(), inlined for an answer of its own content-type only
                size = len(payload)
                raw = [
                    (
                        b"content-type",
                        _ascii_cache.get(content_type_text) or _ascii(content_type_text),
                    ),
                    (b"content-length", RAW_LENGTHS[size] if size < 4096 else b"%d" % size),
                    *self._raw_default_headers,
                ]
                if request_id is not None:
                    raw.append((id_name, request_id.encode("latin-1")))
                start = {"type": "http.response.start", "status": status, "headers": raw}
            else:
                start = self._asgi_start(conn, out)
            await send(start)
            await send(
                {
                    "type": "http.response.body",
                    "body": b"" if method == "HEAD" else payload,
                    "more_body": False,
                }
            )
        else:
            assert isinstance(out, Response)
            if request is None:  # pragma: no cover - only handlers stream
                request = build_request(conn, params, body, self)
            status = await self._asgi_stream(send, conn, out, method == "HEAD", request)
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

    def _asgi_start(self, conn: Connection, rendered: Rendered) -> dict[str, Any]:
        """The ``http.response.start`` message of a buffered answer."""
        status, content_type, body, extra = rendered
        if extra or not self._after_appends_only:
            raw = encode_headers(self._rendered_headers(conn, rendered))
        else:
            raw = [
                (b"content-type", _ascii_cache.get(content_type) or _ascii(content_type)),
                (
                    b"content-length",
                    RAW_LENGTHS[size] if (size := len(body)) < 4096 else b"%d" % size,
                ),
            ]
            raw += self._raw_default_headers
            if self._after_hooks:  # each only appends: encode just what they add
                added: list[tuple[str, str]] = []
                for hook in self._after_hooks:
                    hook.after(conn, status, added)
                raw += encode_headers(added)
            if self._request_ids is not None:
                raw.append(
                    (self._raw_request_id_header, conn.state["request_id"].encode("latin-1"))
                )
        return {"type": "http.response.start", "status": status, "headers": raw}

    async def _asgi_send(self, conn: Connection, send: Send, rendered: Rendered) -> int:
        await send(self._asgi_start(conn, rendered))
        body = b"" if conn.method == "HEAD" else rendered[2]
        await send({"type": "http.response.body", "body": body, "more_body": False})
        return rendered[0]

    def _asgi_editing(self, send: Send, conn: Connection) -> Send:
        """``send``, or a wrapper adding the default headers and running the after hooks on a
        response this door did not build itself (files, mounted apps)."""
        return HeaderEditingSend(send, conn, self._answer_headers) if self._edits_headers else send

    async def _asgi_unrouted(
        self, compiled: CompiledRouter, conn: ASGIConnection, send: Send, started: float
    ) -> None:
        """A request no route matched: bad path, static files, the SPA, the root mount, or
        405/404/501."""
        scope = conn.scope
        method, path = conn.method, conn.path
        status = 0
        if bad_path(path):
            status = await self._asgi_send(
                conn, send, self._error(400, "Invalid characters in path")
            )
        else:
            answer: Any = CONTINUE
            if self._static is not None or self._spa is not None:
                answer = await self._static_answer(compiled, method, path, asgi_headers(scope))
            if answer is not CONTINUE:
                edited = self._asgi_editing(send, conn)
                await send_static_asgi(edited, answer, method == "HEAD")
                status = getattr(edited, "status", 200 if answer is not None else 404)
            elif compiled.root_mount is not None:
                await self._asgi_mount(conn, send, "", compiled.root_mount, started)
                return
            else:
                status = await self._asgi_send(conn, send, await self._miss(compiled, conn))
        if self._finished_hooks:
            self._finish(conn, self._finished_hooks, status, started)

    async def _asgi_mount(
        self, conn: ASGIConnection, send: Send, prefix: str, app: ASGIApp, started: float
    ) -> None:
        edited = self._asgi_editing(send, conn)
        scope = self._mounted_scope(conn.scope, prefix)
        assert conn.receive is not None
        try:
            await app(scope, conn.receive, edited)
        finally:
            if self._finished_hooks:
                self._finish(conn, self._finished_hooks, getattr(edited, "status", 0), started)

    # -- bodies and streams --------------------------------------------------------------------

    async def _read_asgi_body(self, receive: Receive, length: bytes | None) -> bytes | None:
        limit = self.max_body_size
        if length is not None:
            self._check_length(length)
        chunks: list[bytes] = []
        size = 0
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
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _ClientGone
                chunk = message.get("body", b"")
                if chunk:
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise HTTPError(413, "Request body too large")
                    chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        except asyncio.CancelledError:
            if self._body_timed_out(task):
                raise HTTPError(408, "Request body not received in time") from None
            raise
        finally:
            if task is not None and deadlines is not None:  # deadlines.finish(), inlined
                del deadlines.pending[task]
                if deadlines.timed_out:
                    deadlines.timed_out.discard(task)
        if not chunks:
            return None
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _asgi_stream(
        self, send: Send, conn: ASGIConnection, response: Response, head: bool, request: Request
    ) -> int:
        if isinstance(response, FileResponse):
            edited = self._asgi_editing(send, conn)
            await send_file_asgi(edited, response, head)
            return int(getattr(edited, "status", response.status))
        assert isinstance(response, StreamResponse)
        generator = response.generator
        headers = self._answer_headers(conn, response.status, stream_headers(response))
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": encode_headers(headers),
                }
            )
            if head:
                await _asgi_end(send)
        except Exception:
            await close_generator(generator)
            return response.status
        if head:
            await close_generator(generator)  # never started; closing it lets its owner clean up
            return response.status
        await self._drive_stream(
            generator,
            partial(_asgi_chunk, send),
            partial(_asgi_end, send),
            conn.wait_disconnect,
            request,
        )
        return response.status

    # -- lifespan and WebSockets ---------------------------------------------------------------

    async def _asgi_other(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._asgi_lifespan(receive, send)
        elif kind == "websocket":
            await self._asgi_websocket(scope, receive, send)

    async def _asgi_lifespan(self, receive: Receive, send: Send) -> None:
        await receive()
        try:
            await self.startup()
        except BaseException as exc:
            self.logger.exception("Lifespan startup failed")
            await send({"type": "lifespan.startup.failed", "message": str(exc) or repr(exc)})
            return
        await send({"type": "lifespan.startup.complete"})
        await receive()
        try:
            await self.shutdown()
        except Exception as exc:
            self.logger.exception("Lifespan shutdown failed")
            await send({"type": "lifespan.shutdown.failed", "message": str(exc) or repr(exc)})
            return
        await send({"type": "lifespan.shutdown.complete"})

    async def _asgi_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compile()
        conn = ASGIConnection.of(scope, receive)
        if self._websocket_hooks and self._websocket_refused(conn):
            await receive()
            await send({"type": "websocket.close", "code": 1008})
            return
        path: str = scope["path"]
        mount = compiled.match_mount(path) if compiled.mounts else None
        if mount is not None:
            await mount[1](self._mounted_scope(scope, mount[0]), receive, send)
            return
        found = compiled.ws.lookup("GET", path) if compiled.ws is not None else None
        if found is None:
            if compiled.root_mount is not None:
                await compiled.root_mount(self._mounted_scope(scope, ""), receive, send)
                return
            await receive()
            # As 0.6.3: close 4004 before accept; servers answer the handshake with 403.
            await send({"type": "websocket.close", "code": 4004})
            return
        entry, params = found
        scope["path_params"] = params
        merged_state(self._state, conn.state)
        websocket = WebSocket(scope, receive, send)
        await self._track_websocket(websocket, partial(self._serve_websocket, entry, websocket))


class HeaderEditingSend:
    """An ASGI ``send`` that adds the app's default headers and runs its after hooks on the
    ``http.response.start`` message, remembering the status for the finished hooks."""

    __slots__ = ("_conn", "_edit", "_send", "status")

    def __init__(self, send: Send, conn: Connection, edit: HeaderEditor) -> None:
        self._send = send
        self._conn = conn
        self._edit = edit
        self.status = 0

    async def __call__(self, message: Any) -> None:
        if message["type"] == "http.response.start":
            self.status = status = message["status"]
            headers = [
                (bytes(k).decode("latin-1").lower(), bytes(v).decode("latin-1"))
                for k, v in message.get("headers") or ()
            ]
            headers = self._edit(self._conn, status, headers)
            message = {**message, "headers": encode_headers(headers)}
        await self._send(message)


async def send_pairs(
    send: Send, status: int, headers: list[tuple[str, str]], body: bytes, head: bool
) -> None:
    """Send a buffered answer whose header list is already final."""
    await send(
        {"type": "http.response.start", "status": status, "headers": encode_headers(headers)}
    )
    payload = b"" if head or status in (204, 304) else body
    await send({"type": "http.response.body", "body": payload, "more_body": False})


_names: dict[str, bytes] = {}


def _name(name: str) -> bytes:
    """A header name as ASGI's lower-case bytes, cached: an app sends few distinct names."""
    encoded = _names.get(name)
    if encoded is None:
        encoded = name.lower().encode("latin-1")
        if len(_names) < 1024:
            _names[name] = encoded
    return encoded


def encode_headers(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """``str`` header pairs as ASGI's lower-case ``bytes`` pairs."""
    names = _names
    return [(names.get(k) or _name(k), v.encode("latin-1")) for k, v in headers]


_ascii_cache: dict[str, bytes] = {}


def _ascii(value: str) -> bytes:
    """``value`` encoded as latin-1, cached for the few distinct content types an app sends."""
    encoded = _ascii_cache.get(value)
    if encoded is None:
        encoded = value.encode("latin-1")
        if len(_ascii_cache) < 256:
            _ascii_cache[value] = encoded
    return encoded


async def _asgi_chunk(send: Send, chunk: bytes) -> None:
    await send({"type": "http.response.body", "body": chunk, "more_body": True})


async def _asgi_end(send: Send) -> None:
    await send({"type": "http.response.body", "body": b"", "more_body": False})
