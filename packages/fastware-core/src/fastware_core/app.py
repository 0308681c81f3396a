"""``create_app`` and ``AppConfig``: one dispatcher behind two doors, ASGI and RSGI.

The :class:`App` is an ASGI application and also implements Granian's RSGI interface
(``__rsgi__``, ``__rsgi_init__``, ``__rsgi_del__``). Routing, body limits, handler calls,
error handling and rendering are shared; only reading the body and writing the answer differ
per door.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, fields, replace
from functools import partial
from pathlib import Path
from typing import Any

import msgspec

from ._deadlines import Deadlines
from ._filesend import (
    asgi_headers,
    send_file_asgi,
    send_file_rsgi,
    send_static_asgi,
    send_static_rsgi,
)
from ._json import DEFAULT_MAX_DEPTH, encode_json
from ._lifespan import LifespanDriver
from ._native_hooks import HookedProtocol, RSGIConnection
from ._rsgi_asgi import asgi_scope_from_rsgi, call_asgi_over_rsgi
from .datastructures import State
from .exceptions import FastwareError, HTTPError
from .injection import Injector
from .middleware import (
    ASGIConnection,
    CORSMiddleware,
    HookMiddleware,
    RequestIDMiddleware,
    RequestTimingMiddleware,
    TrustedHostMiddleware,
    answer_headers,
    send_answer,
)
from .request import Request
from .responses import (
    FileResponse,
    Response,
    StreamResponse,
    _text_type,
    header_pairs,
)
from .routing import CompiledRouter, RouteEntry, Router
from .staticfiles import HeaderLookup, SPAFallback, StaticFiles
from .types import ASGIApp, Receive, Scope, Send
from .websocket import WebSocket, WebSocketDisconnect

__all__ = ("App", "AppConfig", "create_app")

ExceptionHandler = Callable[[Any, Any], Any]
"""``handler(request_or_websocket, exc)``, sync or async."""

try:  # the C implementation; asyncio.current_task is a Python wrapper on 3.11
    from _asyncio import current_task as _current_task  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    _current_task = asyncio.current_task

_RAISE_KEY = "fastware.raise_server_exceptions"
_STREAM_CLOSE_TIMEOUT = 5.0  # seconds lifespan shutdown waits for cancelled streams to close
_CONTINUE: Any = object()
_JSON = "application/json"
_NOT_FOUND = b'{"detail":"Not found"}'
_SERVER_ERROR = b'{"detail":"Internal server error"}'


@dataclass(slots=True)
class AppConfig:
    """Settings for :func:`create_app` (every field can also be passed as a keyword)."""

    middleware: list[Callable[[ASGIApp], ASGIApp] | HookMiddleware] | None = None
    """ASGI middleware factories, called as ``mw(app)``; the first ends up outermost."""
    static_dir: str | Path | None = None
    """Directory of static files, served under ``static_path`` (see docs/static-files.md)."""
    static_path: str = "/assets"
    """URL prefix for static files."""
    spa_fallback: str | Path | None = None
    """A single-page app's ``index.html``: served for GETs no route or file answers."""
    api_prefix: str | None = None
    """Paths under this prefix never get the SPA fallback."""
    sw_mode: str | None = None
    """Service-worker mode ``off``/``cache``/``reset``: accepted and validated; the service
    worker runtime itself is not part of this release."""
    legacy_sw_paths: list[str] = field(default_factory=lambda: ["/sw.js"])
    """Service-worker script paths retired in reset mode."""
    foreign_sw_paths: list[str] | None = None
    """Service workers of other origins' scripts that cache mode tolerates."""
    lifespan: Callable[[Any], AbstractAsyncContextManager[Any]] | None = None
    """``lifespan(app)`` returns an async context manager; a yielded dict becomes state."""
    name: str | None = None
    """The app's name; also the logger name (default ``fastware``)."""
    exception_handlers: Mapping[type[BaseException], ExceptionHandler] | None = None
    """Exception type -> ``(request, exc) -> result``; chosen by the exception's MRO."""
    dependency_overrides: dict[Any, Any] | None = None
    """Factory -> replacement factory, kept by reference (used by the injector)."""
    injector: Injector | None = None
    """The dependency-injection engine for routes that declare dependencies (fastware-di's
    ``DependencyResolver``; ``fastware.create_app`` supplies one)."""
    cors_origins: list[str] | None = None
    """Origins allowed by CORS (``["*"]`` for any, without credentials)."""
    trusted_hosts: list[str] | None = None
    """Accepted Host names (port ignored, ``*.example.com`` allowed); others get 400."""
    request_id: bool = True
    """Give every request an id (``request.state.request_id``, ``x-request-id``)."""
    request_timing: bool = True
    """Count and time requests (``app.request_timing``); report 5xx to ``error_log``."""
    vite_dev_port: int | None = None
    """Proxy to a Vite dev server on this port (provided by fastware-dev)."""
    vite_backend_prefixes: list[str] | None = None
    """Paths the Vite proxy always sends to the backend (provided by fastware-dev)."""
    error_log: Any = None
    """Anything with ``append(method=, path=, status_code=, detail=, request_id=)``: 5xx
    answers are reported to it (the fastware-errorlog seam)."""
    max_body_size: int | None = 10 * 1024 * 1024
    """Largest accepted request body in bytes (413 beyond); ``None`` for no limit."""
    max_json_depth: int = DEFAULT_MAX_DEPTH
    """Deepest JSON nesting accepted in request bodies (400 beyond)."""
    body_timeout: float | None = 30.0
    """Seconds allowed to receive a request body (408 beyond); ``None`` for no limit."""
    websocket_origins: list[str] | None = None
    """Allowed ``Origin`` values for WebSocket handshakes (``["*"]`` for any); others get 403.
    ``None`` (default) does not check. Handshakes without an Origin (non-browsers) pass."""
    stream_shutdown_grace: float = 5.0
    """After shutdown begins, seconds open streams get to finish before they are cancelled."""
    shutdown_signals: bool = True
    """Chain onto SIGTERM/SIGINT (when the server handles them) to start the stream shutdown."""
    websocket_max_message_size: int | None = 1024 * 1024
    """Largest WebSocket message accepted; a bigger one closes the connection with 1009."""


_UNAVAILABLE = {
    "vite_dev_port": "the Vite dev proxy (fastware-dev)",
    "vite_backend_prefixes": "the Vite dev proxy (fastware-dev)",
}


def create_app(router: Router, config: AppConfig | None = None, **kwargs: Any) -> App:
    """Build the application for ``router``.

    Settings come from ``AppConfig()`` defaults, then ``config``, then ``kwargs``.

    Raises:
        TypeError: for a keyword that is not an ``AppConfig`` field (all of them are named).
        FastwareError: for a setting this release cannot honour, or routes that declare
            dependencies without a dependency resolver.
    """
    known = {f.name for f in fields(AppConfig)}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise TypeError(f"create_app() got unexpected keyword arguments: {', '.join(unknown)}")
    resolved = replace(config if config is not None else AppConfig(), **kwargs)
    return App(router, resolved)


class _ClientGone(Exception):
    """The client disconnected before the request body arrived."""


# A rendered buffered answer: (status, content type, body, extra header pairs or None).
Rendered = tuple[int, str, bytes, list[tuple[str, str]] | None]


class App:
    """A fastware application: an ASGI callable that also speaks Granian's RSGI."""

    def __new__(cls, router: Router, config: AppConfig) -> App:
        # With user middleware every request goes through the ASGI chain: a subclass keeps
        # that branch off the hot path of apps without middleware.
        if cls is App and _wants_hooks(config):
            cls = _HookedApp
        elif cls is App and config.middleware:
            cls = _MiddlewareApp
        return super().__new__(cls)

    def __init__(self, router: Router, config: AppConfig) -> None:
        for name, feature in _UNAVAILABLE.items():
            if getattr(config, name) is not None:
                raise FastwareError(
                    f"AppConfig.{name} needs {feature}, which this fastware-core release does "
                    "not provide yet; leave it unset"
                )
        self.router = router
        self.config = config
        self.logger = logging.getLogger(config.name or "fastware")
        self._state: dict[str, Any] = {}
        self._handlers: dict[type[BaseException], ExceptionHandler] = dict(
            config.exception_handlers or {}
        )
        self._http_handlers = any(issubclass(t, HTTPError) for t in self._handlers)
        self._max_body = config.max_body_size
        self._max_depth = config.max_json_depth
        self._deadlines = Deadlines(config.body_timeout) if config.body_timeout else None
        self._injector = config.injector
        self._source: CompiledRouter | None = None
        self._compiled: CompiledRouter | None = None
        self._mount_lifespans: list[tuple[str, LifespanDriver]] = []
        self._started = False
        self._lifespan_cm: AbstractAsyncContextManager[Any] | None = None
        self._streams: set[asyncio.Task[None]] = set()
        self._open_streams = 0  # streams not fully closed yet (their generators included)
        self._streams_closed: asyncio.Event | None = None
        self._closing = False
        self._closing_event: asyncio.Event | None = None
        self._previous_signals: dict[int, Any] = {}
        if config.sw_mode not in (None, "off", "cache", "reset"):
            raise ValueError(f"sw_mode must be 'off', 'cache' or 'reset', got {config.sw_mode!r}")
        self.fastware_sw_mode = config.sw_mode
        self._static = StaticFiles(config.static_dir) if config.static_dir is not None else None
        self._static_prefix = "/" + config.static_path.strip("/")
        self._spa = (
            SPAFallback(config.spa_fallback, api_prefix=config.api_prefix)
            if config.spa_fallback is not None
            else None
        )
        self._compile()
        self._hooks: tuple[HookMiddleware, ...] = tuple(_builtin_hooks(config)) + tuple(
            entry for entry in config.middleware or () if isinstance(entry, HookMiddleware)
        )
        self.request_timing: RequestTimingMiddleware | None = next(
            (h for h in self._hooks if isinstance(h, RequestTimingMiddleware)), None
        )
        factories = [m for m in config.middleware or () if not isinstance(m, HookMiddleware)]
        self._chain: ASGIApp | None = None
        if factories:
            chain: ASGIApp = partial(App.__call__, self)
            for factory in reversed(factories):
                chain = factory(chain)
            self._chain = chain

    @property
    def state(self) -> State:
        """The lifespan state, shared by every request (``request.state`` copies it)."""
        return State(self._state)

    @property
    def dependency_overrides(self) -> Any:
        """The dependency overrides: the injector's (fastware-di's can also be used as
        ``with app.dependency_overrides({factory: fake}):``), else the configured dict."""
        if self._injector is not None:
            return self._injector.overrides
        if self.config.dependency_overrides is None:
            self.config.dependency_overrides = {}
        return self.config.dependency_overrides

    def _compile(self) -> CompiledRouter:
        source = self.router.compile()
        if source is self._source and self._compiled is not None:
            return self._compiled
        injector = self._injector
        if injector is None:
            for entry in [*source.entries, *(source.ws.entries if source.ws else ())]:
                if entry.deps:
                    raise FastwareError(
                        f"Route {entry.method} {entry.path} declares deps, but this app has no "
                        "dependency injector: install fastware-di and use fastware.create_app, "
                        "or pass create_app(..., injector=DependencyResolver())"
                    )
            compiled = source
        else:
            # At create_app a broken route raises; a route added later cannot raise into an
            # unrelated request, so it answers 500 itself (and the error is logged).
            strict = self._compiled is None
            compiled = source.transformed(
                lambda entry, websocket: _prepared(injector, entry, websocket, strict, self.logger)
            )
        self._source = source
        self._compiled = compiled
        return compiled

    # -- lifespan --------------------------------------------------------------------------

    # -- shutting down open streams -----------------------------------------------------------

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
        """Tell open streams to finish; cancel those still running ``grace`` seconds later
        (``stream_shutdown_grace`` by default). Call it from the app's event loop."""
        if self._closing:
            return
        self._closing = True
        if self._closing_event is not None:
            self._closing_event.set()
        if self._streams:
            delay = self.config.stream_shutdown_grace if grace is None else grace
            asyncio.get_running_loop().call_later(delay, self._cancel_streams)

    def _cancel_streams(self) -> None:
        for task in list(self._streams):
            task.cancel()

    def _chain_shutdown_signals(self) -> None:
        # Servers handle SIGTERM/SIGINT with loop signal handlers, which leave a Python-level
        # handler in place and dispatch through the loop's wakeup fd. Replacing that Python
        # handler with one that also starts our stream shutdown keeps the server's own
        # handling intact. Only a callable previous handler is chained, so a signal is never
        # swallowed.
        if not self.config.shutdown_signals:
            return
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(signum)
            if not callable(previous):
                continue

            def on_signal(number: int, frame: Any, previous: Any = previous) -> None:
                loop.call_soon_threadsafe(self.begin_shutdown)
                previous(number, frame)

            signal.signal(signum, on_signal)
            self._previous_signals[signum] = previous

    def _restore_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, previous in self._previous_signals.items():
            signal.signal(signum, previous)
        self._previous_signals.clear()

    async def startup(self) -> None:
        """Enter the user's lifespan and start mounted apps' lifespans, in order.

        Raises:
            Exception: whatever the lifespan raised; mounts already started are stopped.
        """
        if self._started:
            return
        self._closing = False
        self._closing_event = None
        self._chain_shutdown_signals()
        lifespan = self.config.lifespan
        self._lifespan_cm = lifespan(self) if lifespan is not None else None
        if self._lifespan_cm is not None:
            value = await self._lifespan_cm.__aenter__()
            if isinstance(value, Mapping):
                self._state.update(value)
        try:
            for prefix, app in self._compile().mounts_with_root():
                driver = LifespanDriver(app, {})
                await driver.startup()
                if driver.supported:
                    self._mount_lifespans.append((prefix, driver))
            if self._injector is not None:
                await self._injector.startup()
        except BaseException as exc:
            await self._stop_mounts()
            if self._lifespan_cm is not None:
                await self._lifespan_cm.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        self._started = True

    async def _close_streams(self) -> None:
        # Streams still open when the lifespan ends are cancelled, and closed (their
        # generators, and the dependencies held for them) before app-wide resources go.
        if not self._open_streams:
            return
        self._cancel_streams()
        self._streams_closed = asyncio.Event()
        try:
            await asyncio.wait_for(self._streams_closed.wait(), _STREAM_CLOSE_TIMEOUT)
        except TimeoutError:
            self.logger.warning("%d stream(s) did not close during shutdown", self._open_streams)
        finally:
            self._streams_closed = None

    async def _stop_mounts(self) -> list[BaseException]:
        errors: list[BaseException] = []
        while self._mount_lifespans:
            _, driver = self._mount_lifespans.pop()
            try:
                await driver.shutdown()
            except Exception as exc:
                errors.append(exc)
        return errors

    async def shutdown(self) -> None:
        """Stop mounted apps' lifespans in reverse order, then exit the user's lifespan.

        Raises:
            FastwareError: naming every error met, after all of them ran.
        """
        self._restore_signals()
        if not self._started:
            return
        self._started = False
        self.begin_shutdown(0)
        await self._close_streams()
        errors: list[BaseException] = []
        if self._injector is not None:
            try:
                await self._injector.shutdown()
            except Exception as exc:
                errors.append(exc)
        errors += await self._stop_mounts()
        cm, self._lifespan_cm = self._lifespan_cm, None
        if cm is not None:
            try:
                await cm.__aexit__(None, None, None)
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise FastwareError("; ".join(str(e) or type(e).__name__ for e in errors))

    def _mount_state(self, prefix: str) -> dict[str, Any]:
        for mount_prefix, driver in self._mount_lifespans:
            if mount_prefix == prefix:
                return driver.state
        return {}

    # -- the ASGI door -----------------------------------------------------------------------

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
        if self.router._compiled is not self._source or compiled is None:
            compiled = self._compile()
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
            await send({"type": "websocket.close", "code": 4004})
            return
        entry, params = found
        scope["path_params"] = params
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        for key, value in self._state.items():
            state.setdefault(key, value)
        await self._serve_websocket(entry, WebSocket(scope, receive, send))

    async def _rsgi_websocket(self, scope: Any, protocol: Any) -> None:
        compiled = self._compiled
        if self.router._compiled is not self._source or compiled is None:
            compiled = self._compile()
        found = compiled.ws.lookup("GET", scope.path) if compiled.ws is not None else None
        if found is None:
            protocol.close(403)  # before accept RSGI takes an HTTP status, as ASGI servers send
            return
        entry, params = found
        websocket = WebSocket._from_rsgi(scope, protocol, params)
        websocket._state = State(dict(self._state))
        await self._serve_websocket(entry, websocket)

    async def _serve_websocket(self, entry: RouteEntry, websocket: WebSocket) -> None:
        """Run a WebSocket handler: origin check, size limit, errors mapped to close codes."""
        config = self.config
        websocket._max_size = config.websocket_max_message_size or (1 << 62)
        origins = config.websocket_origins
        if origins is not None:
            origin = websocket.headers.get("origin")
            if origin is not None and "*" not in origins and origin not in origins:
                self.logger.warning("WebSocket %s refused: origin %r", websocket.path, origin)
                await websocket.deny(403, "Origin not allowed")
                return
        try:
            await entry.call(websocket)
        except WebSocketDisconnect:
            pass
        except HTTPError as exc:
            # As in 0.6.3 (a dependency's HTTPError): close 1008 with the detail as reason.
            # Before accept() servers turn that close into a 403 answer to the handshake;
            # websocket.deny(status, detail) refuses it with a chosen status instead.
            if not websocket.closed:
                await websocket.close(1008, str(exc.detail)[:120])
        except Exception as exc:
            handler = self._find_handler(exc)
            if handler is not None:
                try:
                    result = handler(websocket, exc)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    self.logger.exception(
                        "Exception handler failed for WebSocket %s", websocket.path
                    )
            else:
                self.logger.exception("Unhandled error in WebSocket %s", websocket.path)
            if not websocket.closed:
                try:
                    await websocket.close(1011)
                except Exception:
                    pass
        else:
            if not websocket.closed:
                try:
                    await websocket.close(1000)
                except Exception:
                    pass

    def _mounted_scope(self, scope: Scope, prefix: str) -> Scope:
        child = dict(scope)
        path: str = scope["path"]
        child["path"] = path[len(prefix) :] or "/"
        raw_path = scope.get("raw_path")
        if isinstance(raw_path, bytes) and raw_path.startswith(prefix.encode()):
            child["raw_path"] = raw_path[len(prefix) :] or b"/"
        child["root_path"] = scope.get("root_path", "") + prefix
        child["state"] = {**(scope.get("state") or {}), **self._state, **self._mount_state(prefix)}
        return child

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection (HTTP inline; lifespan and websocket delegated)."""
        if scope["type"] != "http":
            await self._asgi_other(scope, receive, send)
            return
        compiled = self._compiled
        if self.router._compiled is not self._source or compiled is None:
            compiled = self._compile()
        method: str = scope["method"]
        path: str = scope["path"]
        if compiled.mounts:
            mount = compiled.match_mount(path)
            if mount is not None:
                await mount[1](self._mounted_scope(scope, mount[0]), receive, send)
                return
        if "\x00" in path or (not path.isascii() and "\ufffd" in path):
            await _asgi_send(send, self._error(400, "Invalid characters in path"), False)
            return
        key = path.strip("/")
        by_method = compiled.static.get(key)
        entry = by_method.get(method) if by_method is not None else None
        if entry is not None:
            params: dict[str, Any] = {}
        else:
            found = compiled.lookup_tree(method, key)
            if found is None:
                if self._static is not None or self._spa is not None:
                    answer = await self._static_answer(compiled, method, path, asgi_headers(scope))
                    if answer is not _CONTINUE:
                        await send_static_asgi(send, answer, method == "HEAD")
                        return
                if compiled.root_mount is not None:
                    await compiled.root_mount(self._mounted_scope(scope, ""), receive, send)
                    return
                rendered = await self._miss(compiled, method, path, scope, None)
                await _asgi_send(send, rendered, method == "HEAD")
                return
            entry, params = found
        body = None
        length: bytes | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                if length is not None and value != length:
                    await _asgi_send(send, self._error(400, "Invalid Content-Length"), False)
                    return
                length = value
            elif name == b"transfer-encoding":
                chunked = True
        if length is not None or chunked or scope.get("http_version") == "2":
            try:
                body = await self._read_asgi_body(receive, length)
            except HTTPError as exc:
                await _asgi_send(send, self._error(exc.status_code, exc.detail, exc.headers), False)
                return
            except _ClientGone:
                return
        request = Request._build(scope, None, params, body, self, receive)
        # Kept inline in both doors (twin in __rsgi__): a shared coroutine would cost an
        # extra await on every request. The logic itself lives in _render/_handle_error.
        try:
            result = await entry.call(request)
            if entry.response_model is not None:
                result = self._apply_response_model(result, entry.response_model, request)
            kind = type(result)
            if kind is dict or kind is list:
                out: Any = (200, _JSON, encode_json(result), None)
            elif isinstance(result, Response) and not result.streaming:
                out = result.rendered()
            else:
                out = self._render(result)
        except Exception as exc:
            out = await self._handle_error(exc, request, scope.get(_RAISE_KEY, False))
        if request._watcher is not None:
            request._close()
        if type(out) is tuple:
            await send(_start_message(out))
            payload = b"" if method == "HEAD" else out[2]
            await send({"type": "http.response.body", "body": payload, "more_body": False})
        else:
            await self._asgi_stream(send, receive, out, method == "HEAD", request)

    def _check_length(self, length: str | bytes) -> None:
        """Refuse a malformed Content-Length (400) or one over ``max_body_size`` (413)."""
        if not length.isdigit():
            raise HTTPError(400, "Invalid Content-Length")
        if self._max_body is not None and int(length) > self._max_body:
            raise HTTPError(413, "Request body too large")

    def _start_deadline(self) -> asyncio.Task[Any] | None:
        """Put the current task under ``body_timeout``; ``None`` when there is no deadline
        (disabled, or a server-specific task object that cannot be cancelled)."""
        deadlines = self._deadlines
        if deadlines is None:
            return None
        task = _current_task()
        if not isinstance(task, asyncio.Task):
            return None
        deadlines.start(task)
        return task

    async def _read_asgi_body(self, receive: Receive, length: bytes | None) -> bytes | None:
        limit = self._max_body
        if length is not None:
            self._check_length(length)
        chunks: list[bytes] = []
        size = 0
        deadlines = self._deadlines
        task = self._start_deadline()
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
            if task is not None and deadlines.expired(task):  # type: ignore[union-attr]
                task.uncancel()
                raise HTTPError(408, "Request body not received in time") from None
            raise
        finally:
            if task is not None:
                deadlines.finish(task)  # type: ignore[union-attr]
        if not chunks:
            return None
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _asgi_stream(
        self, send: Send, receive: Receive, response: Response, head: bool, request: Request
    ) -> None:
        if isinstance(response, FileResponse):
            await send_file_asgi(send, response, head)
            return
        assert isinstance(response, StreamResponse)
        generator = response.generator
        content_type = _stream_type(response.content_type)
        headers = _encode_headers(_stream_headers(response, content_type))
        try:
            await send(
                {"type": "http.response.start", "status": response.status, "headers": headers}
            )
            if head:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except Exception:
            await _aclose(generator)
            return
        if head:
            await _aclose(generator)  # never started; closing it lets its owner clean up
            return
        await self._drive_stream(
            generator,
            partial(_asgi_chunk, send),
            partial(send, {"type": "http.response.body", "body": b"", "more_body": False}),
            partial(_wait_asgi_disconnect, receive),
            request,
        )

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
                request._disconnected = True
            try:
                await _aclose(generator)
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
            except Exception:
                self.logger.exception(
                    "Error in the stream of %s %s; ending the response",
                    request.method,
                    request.path,
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

    # -- the RSGI door ------------------------------------------------------------------------

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """Granian calls this once per worker before serving: run lifespan startup."""
        try:
            loop.run_until_complete(self.startup())
        except BaseException:
            self.logger.exception("Lifespan startup failed; this worker will not serve")
            raise

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        """Granian calls this once per worker after serving: run lifespan shutdown."""
        try:
            loop.run_until_complete(self.shutdown())
        except Exception:
            self.logger.exception("Lifespan shutdown failed")

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        """Serve one RSGI request or websocket."""
        if scope.proto != "http":
            await self._rsgi_websocket(scope, protocol)
            return
        compiled = self._compiled
        if self.router._compiled is not self._source or compiled is None:
            compiled = self._compile()
        method: str = scope.method
        path: str = scope.path
        if compiled.mounts:
            mount = compiled.match_mount(path)
            if mount is not None:
                await self._rsgi_mount(scope, protocol, mount[0], mount[1])
                return
        if "\x00" in path or (not path.isascii() and "\ufffd" in path):
            _rsgi_send(protocol, self._error(400, "Invalid characters in path"))
            return
        key = path.strip("/")
        by_method = compiled.static.get(key)
        entry = by_method.get(method) if by_method is not None else None
        if entry is not None:
            params: dict[str, Any] = {}
        else:
            found = compiled.lookup_tree(method, key)
            if found is None:
                if self._static is not None or self._spa is not None:
                    answer = await self._static_answer(compiled, method, path, scope.headers)
                    if answer is not _CONTINUE:
                        await send_static_rsgi(protocol, answer, method == "HEAD")
                        return
                if compiled.root_mount is not None:
                    await self._rsgi_mount(scope, protocol, "", compiled.root_mount)
                    return
                _rsgi_send(protocol, await self._miss(compiled, method, path, None, scope))
                return
            entry, params = found
        headers = scope.headers
        length = headers.get("content-length")
        body = None
        if length is not None or "transfer-encoding" in headers or scope.http_version == "2":
            try:
                body = await self._read_rsgi_body(protocol, length)
            except HTTPError as exc:
                _rsgi_send(protocol, self._error(exc.status_code, exc.detail, exc.headers))
                return
        request = Request._build(None, scope, params, body, self, protocol)
        # Twin of the block in __call__; keep them in step.
        try:
            result = await entry.call(request)
            if entry.response_model is not None:
                result = self._apply_response_model(result, entry.response_model, request)
            kind = type(result)
            if kind is dict or kind is list:
                out: Any = (200, _JSON, encode_json(result), None)
            elif isinstance(result, Response) and not result.streaming:
                out = result.rendered()
            else:
                out = self._render(result)
        except Exception as exc:
            out = await self._handle_error(exc, request, False)
        if request._watcher is not None:
            request._close()
        if type(out) is tuple:
            _rsgi_send(protocol, out)
        else:
            await self._rsgi_stream(protocol, out, method == "HEAD", request)

    async def _read_rsgi_body(self, protocol: Any, length: str | None) -> bytes | None:
        limit = self._max_body
        if length is not None:
            self._check_length(length)
            if length == "0":
                return None
        deadlines = self._deadlines
        task = self._start_deadline()
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
            if task is not None and deadlines.expired(task):  # type: ignore[union-attr]
                task.uncancel()
                raise HTTPError(408, "Request body not received in time") from None
            raise
        finally:
            if task is not None:
                deadlines.finish(task)  # type: ignore[union-attr]

    async def _rsgi_mount(self, scope: Any, protocol: Any, prefix: str, app: ASGIApp) -> None:
        asgi_scope = self._mounted_scope(asgi_scope_from_rsgi(scope, {}), prefix)
        await call_asgi_over_rsgi(app, asgi_scope, protocol)

    async def _rsgi_stream(
        self, protocol: Any, response: Response, head: bool, request: Request
    ) -> None:
        if isinstance(response, FileResponse):
            await send_file_rsgi(protocol, response, head)
            return
        assert isinstance(response, StreamResponse)
        generator = response.generator
        headers = _stream_headers(response, _stream_type(response.content_type))
        if head:
            protocol.response_empty(response.status, headers)
            await _aclose(generator)
            return
        transport = protocol.response_stream(response.status, headers)
        await self._drive_stream(
            generator, transport.send_bytes, _nothing, protocol.client_disconnect, request
        )

    # -- the shared dispatcher ----------------------------------------------------------------

    def _render(self, result: Any) -> Rendered | Response:
        if isinstance(result, Response):
            return result if result.streaming else result.rendered()
        return 200, _JSON, encode_json(result), None

    def _apply_response_model(self, result: Any, model: Any, request: Request) -> Any:
        if type(result) is not dict:
            return result
        try:
            validate = getattr(model, "model_validate", None)
            if validate is not None:
                return validate(result).model_dump(mode="json")
            return msgspec.convert(result, model)
        except (ValueError, msgspec.ValidationError) as exc:
            self.logger.error(
                "Response of %s %s does not match its response_model: %s",
                request.method,
                request.path,
                exc,
            )
            raise HTTPError(500, str(exc)) from None

    def _find_handler(self, exc: BaseException) -> ExceptionHandler | None:
        handlers = self._handlers
        if not handlers:
            return None
        is_http = isinstance(exc, HTTPError)
        for cls in type(exc).__mro__:
            handler = handlers.get(cls)
            if handler is not None:
                return handler
            if is_http and cls is HTTPError:
                return None  # HTTPError never falls through to a catch-all Exception handler
        return None

    async def _handle_error(self, exc: Exception, request: Request, reraise: bool) -> Any:
        handler = self._find_handler(exc)
        if handler is not None:
            try:
                result = handler(request, exc)
                if inspect.isawaitable(result):
                    result = await result
                return self._render(result)
            except Exception as handler_exc:
                if isinstance(handler_exc, HTTPError) and handler_exc is not exc:
                    return self._error(
                        handler_exc.status_code, handler_exc.detail, handler_exc.headers
                    )
                self.logger.exception(
                    "Exception handler for %s failed in %s %s",
                    type(exc).__name__,
                    request.method,
                    request.path,
                )
                if reraise:
                    raise
                return 500, _JSON, _SERVER_ERROR, None
        if isinstance(exc, HTTPError):
            return self._error(exc.status_code, exc.detail, exc.headers)
        self.logger.exception("Unhandled error in %s %s", request.method, request.path)
        if reraise:
            raise exc
        return 500, _JSON, _SERVER_ERROR, None

    def _error(self, status: int, detail: Any, headers: Any = None) -> Rendered:
        try:
            body = encode_json({"detail": detail})
        except TypeError:
            body = encode_json({"detail": str(detail)})
        try:
            extra = header_pairs(headers) or None
        except ValueError:
            self.logger.exception("HTTPError(%s) carries invalid headers", status)
            return 500, _JSON, _SERVER_ERROR, None
        return status, _JSON, body, extra

    async def _static_answer(
        self, compiled: CompiledRouter, method: str, path: str, headers: HeaderLookup
    ) -> Any:
        """A static file or the SPA page for a path no route answered; ``None`` for 404
        under the static prefix, ``_CONTINUE`` when neither applies."""
        prefix = self._static_prefix
        if self._static is not None and (path == prefix or path.startswith(prefix + "/")):
            return await self._static.respond(method, path[len(prefix) :], headers)
        if self._spa is not None and not compiled.allowed_methods(path):
            answer = await self._spa.respond(method, path, headers)
            if answer is not None:
                return answer
        return _CONTINUE

    async def _miss(
        self, compiled: CompiledRouter, method: str, path: str, asgi: Scope | None, rsgi: Any
    ) -> Rendered:
        if method not in compiled.methods:
            error = HTTPError(501, "Method not implemented")
        else:
            allowed = compiled.allowed_methods(path)
            if allowed:
                error = HTTPError(405, "Method not allowed", {"Allow": ", ".join(sorted(allowed))})
            else:
                if not self._http_handlers:
                    return 404, _JSON, _NOT_FOUND, None
                error = HTTPError(404, "Not found")
        if self._http_handlers:
            request = Request._build(asgi, rsgi, {}, None, self, None)
            rendered = await self._handle_error(error, request, False)
            if type(rendered) is tuple:
                return rendered
        return self._error(error.status_code, error.detail, error.headers)


class _MiddlewareApp(App):
    """An app with ``middleware=[...]``: both doors enter the user's ASGI middleware chain."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self._chain is not None
        await self._chain(scope, receive, send)

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        """Serve one RSGI request through the ASGI middleware chain."""
        if scope.proto != "http":
            # The ASGI adapter speaks HTTP only: WebSockets skip user middleware on this door.
            await self._rsgi_websocket(scope, protocol)
            return
        assert self._chain is not None
        await call_asgi_over_rsgi(self._chain, asgi_scope_from_rsgi(scope, {}), protocol)


def _wants_hooks(config: AppConfig) -> bool:
    return bool(
        config.trusted_hosts
        or config.cors_origins
        or config.request_id
        or config.request_timing
        or any(isinstance(m, HookMiddleware) for m in config.middleware or ())
    )


def _builtin_hooks(config: AppConfig) -> list[HookMiddleware]:
    # The order of fastware 0.6.3 (outermost first): TrustedHost, CORS, RequestID, timing.
    hooks: list[HookMiddleware] = []
    if config.trusted_hosts:
        hooks.append(TrustedHostMiddleware(allowed_hosts=config.trusted_hosts))
    if config.cors_origins:
        hooks.append(CORSMiddleware(allow_origins=config.cors_origins))
    if config.request_id:
        hooks.append(RequestIDMiddleware())
    if config.request_timing:
        hooks.append(RequestTimingMiddleware(error_log=config.error_log))
    return hooks


class _HookedApp(App):
    """An app with the framework's own middleware (the default: request id and timing).

    The RSGI door runs the hooks natively around the dispatcher (no ASGI translation); the
    ASGI door runs the same hook objects as ASGI middleware. User ASGI middleware sits
    inside them.
    """

    def __init__(self, router: Router, config: AppConfig) -> None:
        super().__init__(router, config)
        hooks = self._hooks
        self._after_hooks = tuple(h for h in reversed(hooks) if h.uses_after)
        self._finished_hooks = tuple(h for h in hooks if h.uses_finished)
        # For each hook that can answer: the after/finished hooks that then apply (its own and
        # those outside it), worked out once here rather than on every early answer.
        self._before_hooks = tuple(
            (
                hook,
                tuple(h for h in reversed(hooks[: i + 1]) if h.uses_after),
                tuple(h for h in hooks[: i + 1] if h.uses_finished),
            )
            for i, hook in enumerate(hooks)
            if hook.uses_before
        )
        self._websocket_hooks = tuple(h for h in hooks if h.applies_to_websocket and h.uses_before)
        self._inner: ASGIApp = (
            self._chain if self._chain is not None else partial(App.__call__, self)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection with the hooks run around the app in one wrapper."""
        kind = scope["type"]
        if kind != "http":
            if kind == "websocket":
                conn = ASGIConnection(scope)
                for hook in self._websocket_hooks:
                    if hook.before(conn) is not None:
                        await receive()
                        await send({"type": "websocket.close", "code": 1008})
                        return
            await self._inner(scope, receive, send)
            return
        conn = ASGIConnection(scope)
        started = time.perf_counter()
        for hook, answer_after, answer_finished in self._before_hooks:
            answer = hook.before(conn)
            if answer is not None:
                headers = _answer_headers(conn, answer, answer_after)
                await send_answer(send, answer, scope["method"] == "HEAD", headers)
                _finish(conn, answer_finished, answer[0], started)
                return
        after = self._after_hooks
        status = 0

        async def hooked_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in message["headers"]
                ]
                for hook in after:
                    hook.after(conn, status, headers)
                message = {
                    **message,
                    "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
                }
            await send(message)

        try:
            await self._inner(scope, receive, hooked_send)
        finally:
            _finish(conn, self._finished_hooks, status, started)

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        """Serve one RSGI request or websocket with the hooks run natively."""
        conn = RSGIConnection(scope)
        if scope.proto != "http":
            for hook in self._websocket_hooks:
                if hook.before(conn) is not None:
                    protocol.close(403)
                    return
            await self._rsgi_websocket(scope, protocol)
            return
        started = time.perf_counter()
        for hook, answer_after, answer_finished in self._before_hooks:
            answer = hook.before(conn)
            if answer is not None:
                headers = _answer_headers(conn, answer, answer_after)
                protocol.response_bytes(answer[0], headers, answer[2])
                _finish(conn, answer_finished, answer[0], started)
                return
        hooked = HookedProtocol(protocol, conn, self._after_hooks)
        try:
            if self._chain is not None:
                asgi_scope = asgi_scope_from_rsgi(scope, conn.state)
                await call_asgi_over_rsgi(self._chain, asgi_scope, hooked)
            else:
                await App.__rsgi__(self, scope, hooked)
        finally:
            _finish(conn, self._finished_hooks, hooked.status, started)


def _answer_headers(
    conn: Any, answer: tuple[int, str, bytes, Any], after: tuple[HookMiddleware, ...]
) -> list[tuple[str, str]]:
    """The headers of a hook's early answer, passed through the ``after`` hooks that apply."""
    headers = answer_headers(answer)
    for hook in after:
        hook.after(conn, answer[0], headers)
    return headers


def _finish(conn: Any, hooks: tuple[HookMiddleware, ...], status: int, started: float) -> None:
    """Run the ``finished`` hooks with the time since ``started``."""
    seconds = time.perf_counter() - started
    for hook in hooks:
        hook.finished(conn, status, seconds)


# -- helpers shared by the doors ---------------------------------------------------------------


def _stream_headers(response: Response, content_type: str) -> list[tuple[str, str]]:
    # A stream has no content-length; file responses build their headers in _filesend.
    headers = [("content-type", content_type)]
    headers.extend(response.extra_headers() or ())
    return headers


def _stream_type(content_type: str) -> str:
    # text/* streams get a charset like TextResponse; event streams are UTF-8 by definition.
    return content_type if content_type == "text/event-stream" else _text_type(content_type)


def _encode_headers(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]


_ascii_cache: dict[str, bytes] = {}


def _ascii(value: str) -> bytes:
    """``value`` encoded as latin-1, cached for the few distinct content types an app sends."""
    encoded = _ascii_cache.get(value)
    if encoded is None:
        encoded = value.encode("latin-1")
        if len(_ascii_cache) < 256:
            _ascii_cache[value] = encoded
    return encoded


def _start_message(rendered: Rendered) -> dict[str, Any]:
    """The ``http.response.start`` message of a buffered answer."""
    status, content_type, body, extra = rendered
    headers = [
        (b"content-type", _ascii(content_type)),
        (b"content-length", b"%d" % len(body)),
    ]
    if extra:
        headers += _encode_headers(extra)
    return {"type": "http.response.start", "status": status, "headers": headers}


async def _asgi_send(send: Send, rendered: Rendered, head: bool) -> None:
    await send(_start_message(rendered))
    body = b"" if head else rendered[2]
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _rsgi_send(protocol: Any, rendered: Rendered) -> None:
    status, content_type, body, extra = rendered
    headers = [("content-type", content_type), ("content-length", str(len(body)))]
    if extra:
        headers += extra
    protocol.response_bytes(status, headers, body)


async def _asgi_chunk(send: Send, chunk: bytes) -> None:
    await send({"type": "http.response.body", "body": chunk, "more_body": True})


async def _wait_asgi_disconnect(receive: Receive) -> None:
    while (await receive()).get("type") != "http.disconnect":
        pass


async def _nothing() -> None:
    return None


async def _await_call(function: Callable[[], Awaitable[Any]]) -> Any:
    # Wraps awaitables that are not coroutines (Granian's futures) so they get a real Task.
    return await function()


def _prepared(
    injector: Injector, entry: RouteEntry, websocket: bool, strict: bool, logger: logging.Logger
) -> RouteEntry:
    try:
        call = injector.prepare(entry, websocket=websocket)
    except Exception as exc:
        if strict:
            raise
        logger.error("Route %s %s cannot be served: %s", entry.method, entry.path, exc)
        call = partial(_broken_route, exc)
    if call is None:
        return entry
    return RouteEntry(
        entry.method, entry.segments, entry.handler, entry.deps, entry.response_model, call
    )


async def _broken_route(error: Exception, connection: Any) -> Any:
    raise FastwareError(f"this route's dependencies cannot be resolved: {error}") from error


async def _aclose(generator: Any) -> None:
    close = getattr(generator, "aclose", None)
    if close is not None:
        try:
            await close()
        except Exception:
            logging.getLogger("fastware").exception("Error while closing a response stream")
