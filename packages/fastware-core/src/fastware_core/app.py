"""``create_app`` and ``AppConfig``: one dispatcher behind two doors, ASGI and RSGI.

An :class:`App` is an ASGI application (:mod:`fastware_core.asgi`) and also implements
Granian's RSGI interface (:mod:`fastware_core.rsgi`). Both doors share the dispatcher
(:mod:`fastware_core.dispatch`: routes, results, errors, hooks), the stream and WebSocket
shutdown (:mod:`fastware_core.streaming`) and the lifespan (:mod:`fastware_core.lifespan`);
each door only reads the request and writes the answer in its own protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, fields, replace
from functools import partial
from pathlib import Path
from time import perf_counter
from typing import Any

from ._json import DEFAULT_MAX_DEPTH
from ._rsgi_asgi import call_asgi_over_rsgi, call_asgi_websocket_over_rsgi
from .asgi import ASGIDoor, HeaderEditingSend, send_pairs
from .connection import ASGIConnection, RSGIConnection
from .dispatch import ExceptionHandler
from .exceptions import FastwareError
from .gating import FlagSource
from .injection import Injector
from .middleware import HookMiddleware
from .middleware.timing import ErrorSink
from .recording import ErrorRecorder
from .routing import Router
from .rsgi import HeaderEditingProtocol, RSGIDoor
from .runtime import SW_MODES
from .tasks import TaskRegistry
from .types import ASGIApp, Receive, RSGIScope, Scope, Send

__all__ = ("App", "AppConfig", "ExceptionHandler", "create_app")


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
    """Service-worker mode: ``cache`` (a caching worker, pages work offline), ``reset``
    (a worker that unregisters itself and deletes the caches) or ``off``; ``None`` is
    ``off``. Retire a cache-mode worker through ``reset`` before ``off`` (docs/runtime.md)."""
    legacy_sw_paths: list[str] = field(default_factory=lambda: ["/sw.js"])
    """Older service-worker script paths that also serve the self-destruct worker in reset
    mode."""
    foreign_sw_paths: list[str] | None = None
    """Script paths of other service workers of this origin that the cache-mode registration
    leaves registered (it unregisters every other one)."""
    runtime: bool | None = None
    """Serve the ``/__fastware/`` runtime (build id, update events, update client, service
    workers). ``None``: when ``static_dir``, ``spa_fallback`` or ``sw_mode`` is set."""
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
    error_log: ErrorSink | None = None
    """Anything with ``append(method=, path=, status_code=, detail=, request_id=)``: every
    5xx answer sent is reported to it (0.6.3's seam; no traceback), unless ``error_recorder``
    is the same object and already recorded that request's exception."""
    error_recorder: ErrorRecorder | None = None
    """Receives every unhandled exception with its traceback and context (HTTP, WebSocket,
    streams; see :mod:`fastware_core.recording`), e.g. fastware-errorlog's ``ErrorLog``,
    which ``fastware.create_app`` wires in by default."""
    max_body_size: int | None = 10 * 1024 * 1024
    """Largest accepted request body in bytes (413 beyond); ``None`` for no limit."""
    form_limits: Any = None
    """Limits for ``request.form()``: a :class:`fastware_core.forms.FormLimits` (its
    defaults when ``None``). Multipart bodies are streamed, so ``max_body_size`` bounds them
    only through ``FormLimits.max_size`` (``"app"`` by default)."""
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
    nosniff: bool = True
    """Send ``X-Content-Type-Options: nosniff`` with every response (unless it sets its own),
    so browsers never guess a JSON, static or error body to be HTML or script."""
    features: FlagSource | None = None
    """Feature flags (fastware-flags' ``FeatureFlags``, or anything with ``enabled(name)``):
    routes registered with ``feature=`` answer 404 while their flag is off, and gated tasks
    run only while theirs is on."""
    tasks: TaskRegistry | None = None
    """Background tasks, started after the lifespan started and stopped (in reverse start
    order) before it ends."""
    openapi_path: str | None = "/openapi.json"
    """Where the app serves its OpenAPI 3.1 document (``None``: not served; ``app.openapi()``
    still builds it). A user route at the same path wins."""
    docs_path: str | None = "/docs"
    """Where the app serves its interactive docs page (Swagger UI, whose files come from
    ``fastware-core[docs]``); ``None`` switches it off. A user route at the same path wins."""
    title: str | None = None
    """The OpenAPI document's title (default: ``name``, else "fastware app")."""
    version: str = "0.1.0"
    """The API's version in the OpenAPI document."""
    description: str | None = None
    """The API's description in the OpenAPI document (Markdown)."""
    json_content_types_only: bool = True
    """``request.json()``/``json_as()`` answer 415 for a body whose Content-Type is not JSON
    (``application/json`` or ``*/*+json``): a cross-site form can post ``text/plain`` or a
    form encoding without a CORS preflight. ``False`` accepts any (for legacy clients)."""


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


class App(ASGIDoor, RSGIDoor):
    """A fastware application: an ASGI callable that also speaks Granian's RSGI.

    Build it with :func:`create_app`. The framework's own middleware (request ids, timing,
    CORS, trusted hosts) runs natively inside both doors; user ASGI middleware makes the app
    an :class:`App` subclass whose doors enter that chain first.
    """

    def __new__(cls, router: Router, config: AppConfig) -> App:
        # User ASGI middleware wraps the whole app: a subclass keeps that branch off the hot
        # path of apps without it.
        if cls is App and any(not isinstance(m, HookMiddleware) for m in config.middleware or ()):
            cls = _MiddlewareApp
        return super().__new__(cls)

    def __init__(self, router: Router, config: AppConfig) -> None:
        for name, feature in _UNAVAILABLE.items():
            if getattr(config, name) is not None:
                raise FastwareError(
                    f"AppConfig.{name} needs {feature}, which this fastware-core release does "
                    "not provide yet; leave it unset"
                )
        if config.sw_mode not in (None, *SW_MODES):
            raise ValueError(f"sw_mode must be 'off', 'cache' or 'reset', got {config.sw_mode!r}")
        super().__init__(router, config)
        self._init_lifecycle()
        self.fastware_sw_mode = config.sw_mode


class _MiddlewareApp(App):
    """An app with user ASGI middleware (``middleware=[factory, ...]``).

    Both doors run the framework's hooks outermost, then enter the user's chain, whose
    innermost app is the plain ASGI door. Over RSGI the chain is served through the ASGI
    adapters, WebSockets included.
    """

    native_request_ids = False

    def __init__(self, router: Router, config: AppConfig) -> None:
        super().__init__(router, config)
        timing = self.request_timing
        self._outer_before = self._before_hooks
        self._outer_finished = self._finished_hooks
        outer_after = self._after_hooks
        self._outer_websocket = self._websocket_hooks
        # Inside the chain the plain door runs no hooks (they ran outside it); the default
        # headers stay, as part of the app's own answers.
        self._set_hooks(())
        self.request_timing = timing
        self._outer_after = outer_after
        chain: ASGIApp = partial(ASGIDoor.__call__, self)
        for factory in reversed(
            [m for m in config.middleware or () if not isinstance(m, HookMiddleware)]
        ):
            chain = factory(chain)
        self._chain = chain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection: hooks, then the user's middleware chain."""
        kind = scope["type"]
        if kind != "http":
            if kind == "websocket" and self._outer_websocket:
                conn = ASGIConnection.of(scope)
                if any(hook.before(conn) is not None for hook in self._outer_websocket):
                    await receive()
                    await send({"type": "websocket.close", "code": 1008})
                    return
            await self._chain(scope, receive, send)
            return
        conn = ASGIConnection.of(scope, receive)
        started = perf_counter()
        early = self._early_answer(conn, self._outer_before)
        if early is not None:
            answer, headers, answer_finished = early
            await send_pairs(send, answer[0], headers, answer[2], scope["method"] == "HEAD")
            self._finish(conn, answer_finished, answer[0], started)
            return
        edited = HeaderEditingSend(send, conn, self._outer_headers)
        try:
            await self._chain(scope, receive, edited)
        finally:
            self._finish(conn, self._outer_finished, edited.status, started)

    async def __rsgi__(self, scope: RSGIScope, protocol: Any) -> None:
        """Serve one RSGI request or WebSocket through the user's middleware chain."""
        conn = RSGIConnection.of(scope, protocol)
        if scope.proto != "http":
            if any(hook.before(conn) is not None for hook in self._outer_websocket):
                protocol.close(403)
                return
            await call_asgi_websocket_over_rsgi(self._chain, conn.asgi_scope(), protocol)
            return
        started = perf_counter()
        early = self._early_answer(conn, self._outer_before)
        if early is not None:
            answer, headers, answer_finished = early
            protocol.response_bytes(answer[0], headers, answer[2])
            self._finish(conn, answer_finished, answer[0], started)
            return
        edited = HeaderEditingProtocol(protocol, conn, self._outer_headers)
        try:
            await call_asgi_over_rsgi(self._chain, conn.asgi_scope(), edited)
        finally:
            self._finish(conn, self._outer_finished, edited.status, started)
