"""The dispatcher both doors share: route tables, handler results, errors and hooks.

:class:`Dispatcher` holds everything that does not depend on how a request arrived: the
compiled router, the body and JSON limits, the exception handlers, static files and the SPA
fallback, the framework's middleware hooks, and the WebSocket handler runner. The ASGI door
(:mod:`fastware_core.asgi`) and the RSGI door (:mod:`fastware_core.rsgi`) only read the body,
and write the answer, in their own protocol; every decision in between is made here, by
synchronous methods, so a door pays no extra ``await`` for sharing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from time import perf_counter as _perf_counter
from typing import TYPE_CHECKING, Any

import msgspec

from ._deadlines import Deadlines, current_task
from ._json import encode_json
from .binding import bind_parameters
from .connection import Connection
from .datastructures import State
from .exceptions import FastwareError, HTTPError
from .gating import gate_routes
from .injection import Injector
from .middleware import (
    CORSMiddleware,
    HookMiddleware,
    RequestIDMiddleware,
    RequestTimingMiddleware,
    TrustedHostMiddleware,
)
from .openapi import build_openapi, docs_entries
from .recording import record_error
from .request import Request, build_request
from .responses import Response, header_pairs
from .routing import CompiledRouter, RouteEntry, Router
from .runtime import FastwareRuntime, runtime_enabled
from .staticfiles import HeaderLookup, SPAFallback, StaticFiles
from .types import Rendered
from .websocket import WebSocket, WebSocketDisconnect

if TYPE_CHECKING:
    from .app import AppConfig

__all__ = ("CONTINUE", "JSON", "Dispatcher", "ExceptionHandler", "HeaderEditor", "current_task")

ExceptionHandler = Callable[[Any, Any], Any]
"""``handler(request_or_websocket, exc)``, sync or async."""

CONTINUE: Any = object()
"""What :meth:`Dispatcher.static_answer` returns when neither static files nor the SPA apply."""

JSON = "application/json"
"""The Content-Type of JSON answers."""
LENGTHS = tuple(map(str, range(4096)))
"""``str(n)`` for the body lengths of most answers: a tuple index instead of a conversion."""
RAW_LENGTHS = tuple(b"%d" % n for n in range(4096))
"""The same as ASGI header bytes."""
NOT_FOUND: Rendered = (404, JSON, b'{"detail":"Not found"}', None)
SERVER_ERROR: Rendered = (500, JSON, b'{"detail":"Internal server error"}', None)
NOSNIFF = ("x-content-type-options", "nosniff")

HeaderEditor = Callable[[Connection, int, list[tuple[str, str]]], list[tuple[str, str]]]
"""Edits a response's header list for a request: default headers, after hooks."""

# (hook, the after hooks and the finished hooks that apply when it answers early)
BeforeHook = tuple[HookMiddleware, tuple[HookMiddleware, ...], tuple[HookMiddleware, ...]]


class Dispatcher:
    """The door-independent half of an app (see the module docstring)."""

    native_request_ids = True
    """Whether the doors run an outermost :class:`RequestIDMiddleware` themselves (apps with
    user ASGI middleware run every hook the generic way, around the user's chain)."""

    def __init__(self, router: Router, config: AppConfig) -> None:
        self.router = router
        self.config = config
        self.logger = logging.getLogger(config.name or "fastware")
        self._state: dict[str, Any] = {}
        self._handlers: dict[type[BaseException], ExceptionHandler] = dict(
            config.exception_handlers or {}
        )
        self._http_handlers = any(issubclass(t, HTTPError) for t in self._handlers)
        self.max_body_size = config.max_body_size
        """Largest accepted request body (``None``: no limit)."""
        self.form_limits = config.form_limits
        """Limits for ``request.form()`` (``None``: ``FormLimits()``)."""
        self.max_json_depth = config.max_json_depth
        """Deepest JSON nesting accepted in request bodies."""
        self.json_content_types_only = config.json_content_types_only
        """Whether ``request.json()`` refuses bodies whose media type is not JSON (415)."""
        self._deadlines = Deadlines(config.body_timeout) if config.body_timeout else None
        self._injector = config.injector
        self._recorder = config.error_recorder
        """Where unhandled exceptions go (:mod:`fastware_core.recording`); error paths only."""
        self._compiled: CompiledRouter | None = None
        self._openapi: dict[str, Any] | None = None
        self._openapi_bytes = b""
        self._routes_checked = False  # a broken route raises at create_app, later it answers 500
        self._static = StaticFiles(config.static_dir) if config.static_dir is not None else None
        self._static_prefix = "/" + config.static_path.strip("/")
        self._spa = (
            SPAFallback(config.spa_fallback, api_prefix=config.api_prefix)
            if config.spa_fallback is not None
            else None
        )
        self._default_headers: list[tuple[str, str]] = [NOSNIFF] if config.nosniff else []
        self._raw_default_headers = [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in self._default_headers
        ]
        self.runtime = FastwareRuntime(self, config) if runtime_enabled(config) else None
        """The ``/__fastware/`` endpoints (:mod:`fastware_core.runtime`), or ``None``."""
        self._set_hooks(
            tuple(_builtin_hooks(config))
            + tuple(m for m in config.middleware or () if isinstance(m, HookMiddleware))
        )
        # Hooks that wrap route handlers (server-side sessions), applied at each compile.
        self._route_wrappers = tuple(h for h in self._hooks if h.uses_wrap_route)
        self.session_middleware: HookMiddleware | None = next(
            (h for h in self._hooks if getattr(h, "provides_session", False)), None
        )
        """The ``SessionMiddleware`` that ``request.session`` opens its slot with, if any."""
        self._open_websocket_session: Callable[[Connection], Any] | None = getattr(
            self.session_middleware, "open_websocket", None
        )
        router.on_change(self._router_changed)
        self._compile()

    def _set_hooks(self, hooks: tuple[HookMiddleware, ...]) -> None:
        """Work out, once, which hooks run where (see ``middleware/base.py`` for the order)."""
        self._hooks = hooks
        self.request_timing: RequestTimingMiddleware | None = next(
            (h for h in hooks if isinstance(h, RequestTimingMiddleware)), None
        )
        # The outermost request-id middleware (create_app's default) is run by the doors
        # themselves: they read its header with the ones they read anyway, and the header
        # builders below append the id. Its before() runs first and its after() last, as the
        # outermost hook's do, for a fraction of the cost of two generic hook calls.
        ids = hooks[0] if hooks and self.native_request_ids else None
        if ids is not None and type(ids) is RequestIDMiddleware:
            self._request_ids: RequestIDMiddleware | None = ids
            self._request_id_header = ids.header_name
            self._raw_request_id_header = ids.header_name.encode("latin-1")
            hooks = hooks[1:]
        else:
            self._request_ids = None
            self._raw_request_id_header = b""  # matches no header
        # The request headers the ASGI door looks for in its one pass over them.
        self._asgi_headers_read = frozenset(
            {b"content-length", b"transfer-encoding", b"content-type", self._raw_request_id_header}
        )
        self._after_hooks = tuple(h for h in reversed(hooks) if h.uses_after)
        self._after_appends_only = all(h.after_appends_only for h in self._after_hooks)
        self._finished_hooks = tuple(h for h in hooks if h.uses_finished)
        # create_app's timing middleware as the only finished hook, recording every path: the
        # doors record its commonest case themselves (see RequestTimingMiddleware.finished).
        timing = self._finished_hooks[0] if len(self._finished_hooks) == 1 else None
        self._timing: RequestTimingMiddleware | None = (
            timing
            if type(timing) is RequestTimingMiddleware and timing.records_every_path
            else None
        )
        self._before_hooks: tuple[BeforeHook, ...] = tuple(
            (
                hook,
                tuple(h for h in reversed(hooks[: i + 1]) if h.uses_after),
                tuple(h for h in hooks[: i + 1] if h.uses_finished),
            )
            for i, hook in enumerate(hooks)
            if hook.uses_before
        )
        self._websocket_hooks = tuple(h for h in hooks if h.applies_to_websocket and h.uses_before)
        self._outer_after: tuple[HookMiddleware, ...] = ()
        # Whether a buffered answer's headers are its content-type and length, the default
        # headers and the request id: no after hook edits them.
        self._plain_answers = not self._after_hooks
        # Whether an answer's headers need more than content-type and content-length.
        self._edits_headers = bool(
            self._after_hooks or self._default_headers or self._request_ids is not None
        )

    # -- public surface ------------------------------------------------------------------------

    @property
    def state(self) -> State:
        """The lifespan state, shared by every request (``request.state`` copies it)."""
        return State(self._state)

    @property
    def app_state(self) -> dict[str, Any]:
        """The lifespan state as the dict requests and WebSockets start their state from."""
        return self._state

    @property
    def dependency_overrides(self) -> Any:
        """The dependency overrides: the injector's (fastware-di's can also be used as
        ``with app.dependency_overrides({factory: fake}):``), else the configured dict."""
        if self._injector is not None:
            return self._injector.overrides
        if self.config.dependency_overrides is None:
            self.config.dependency_overrides = {}
        return self.config.dependency_overrides

    # -- routes --------------------------------------------------------------------------------

    def _router_changed(self) -> None:
        self._compiled = None
        self._openapi = None

    # -- OpenAPI -------------------------------------------------------------------------------

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of the app's HTTP routes (built once per router change;
        see :mod:`fastware_core.openapi`).

        Raises:
            FastwareError: a route declares a type msgspec cannot describe.
        """
        document = self._openapi
        if document is None:
            config = self.config
            document = self._openapi = build_openapi(
                self.router.compile().entries,
                title=self.openapi_title(),
                version=config.version,
                description=config.description,
            )
            self._openapi_bytes = encode_json(document)
        return document

    def openapi_bytes(self) -> bytes:
        """:meth:`openapi` encoded as JSON."""
        self.openapi()
        return self._openapi_bytes

    def openapi_title(self) -> str:
        """The document's title: ``AppConfig.title``, else the app's name."""
        return self.config.title or self.config.name or "fastware app"

    def _with_docs(self, compiled: CompiledRouter) -> CompiledRouter:
        """``compiled`` plus the OpenAPI document and docs page routes (unless switched off
        or a user route takes their paths)."""
        config = self.config
        if config.openapi_path is None and config.docs_path is None:
            return compiled
        extra = docs_entries(self, lambda path: compiled.lookup("GET", path) is not None)
        if not extra:
            return compiled
        return compiled.extended(after=extra)

    def _compile(self) -> CompiledRouter:
        """The compiled router, prepared by the injector; rebuilt after the router changed."""
        compiled = self._compiled
        if compiled is not None:
            return compiled
        injector = self._injector
        strict = not self._routes_checked
        source = self.router.compile()
        if self.runtime is not None:
            source = self.runtime.merged(source)
        source = source.transformed(
            partial(_bound, getattr(injector, "claims_parameter", None), strict, self.logger)
        )
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
            compiled = source.transformed(
                lambda entry, websocket: _prepared(injector, entry, websocket, strict, self.logger)
            )
        compiled = self._with_docs(compiled)
        open_session = self._open_websocket_session
        if self._route_wrappers or open_session is not None:
            compiled = compiled.transformed(
                partial(_wrapped_route, self._route_wrappers, open_session)
            )
        # Gates outermost: a route whose feature is off is not there, so it answers 404
        # before anything else runs for it (a server-side session is not even loaded).
        compiled = gate_routes(
            compiled, self.config.features, strict=not self._routes_checked, logger=self.logger
        )
        self._routes_checked = True
        self._compiled = compiled
        return compiled

    # -- results and errors --------------------------------------------------------------------

    def _result(self, result: Any, entry: RouteEntry, request: Request) -> Rendered | Response:
        """A handler's return value as a buffered answer, or the streaming response itself."""
        if entry.response_model is not None:
            result = self._apply_response_model(result, entry.response_model, request)
        kind = type(result)
        if kind is dict or kind is list:
            return 200, JSON, encode_json(result), None
        if isinstance(result, Response):  # _render's work, inlined for the hot path
            return result if result.streaming else result.rendered()
        return 200, JSON, encode_json(result), None

    def _render(self, result: Any) -> Rendered | Response:
        if isinstance(result, Response):
            return result if result.streaming else result.rendered()
        return 200, JSON, encode_json(result), None

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

    async def _handle_error(
        self, exc: Exception, request: Request, reraise: bool
    ) -> Rendered | Response:
        """The answer for an exception a handler raised: its exception handler's result, the
        HTTPError's own answer, or a logged 500."""
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
                if self._recorder is not None:
                    record_error(self._recorder, handler_exc, request, "http", 500)
                if reraise:
                    raise
                return SERVER_ERROR
        if isinstance(exc, HTTPError):
            recorder = self._recorder
            if recorder is not None and exc.status_code >= recorder.min_status:
                record_error(recorder, exc, request, "http", exc.status_code, str(exc.detail))
            return self._error(exc.status_code, exc.detail, exc.headers)
        self.logger.exception("Unhandled error in %s %s", request.method, request.path)
        if self._recorder is not None:
            record_error(self._recorder, exc, request, "http", 500)
        if reraise:
            raise exc
        return SERVER_ERROR

    def _error(self, status: int, detail: Any, headers: Any = None) -> Rendered:
        """A JSON ``{"detail": ...}`` answer."""
        try:
            body = encode_json({"detail": detail})
        except TypeError:
            body = encode_json({"detail": str(detail)})
        try:
            extra = header_pairs(headers) or None
        except ValueError:
            self.logger.exception("HTTPError(%s) carries invalid headers", status)
            return SERVER_ERROR
        return status, JSON, body, extra

    # -- what no route answers -----------------------------------------------------------------

    async def _static_answer(
        self, compiled: CompiledRouter, method: str, path: str, headers: HeaderLookup
    ) -> Any:
        """A static file or the SPA page for a path no route answered; ``None`` for 404
        under the static prefix, :data:`CONTINUE` when neither applies."""
        prefix = self._static_prefix
        if self._static is not None and (path == prefix or path.startswith(prefix + "/")):
            return await self._static.respond(method, path[len(prefix) :], headers)
        if self._spa is not None and not compiled.allowed_methods(path):
            answer = await self._spa.respond(method, path, headers)
            if answer is not None:
                return answer
        return CONTINUE

    async def _miss(self, compiled: CompiledRouter, conn: Any) -> Rendered:
        """501, 405 (with Allow) or 404, through the HTTPError handlers when there are any."""
        method = conn.method
        if method not in compiled.methods:
            error = HTTPError(501, "Method not implemented")
        else:
            allowed = compiled.allowed_methods(conn.path)
            if allowed:
                error = HTTPError(405, "Method not allowed", {"Allow": ", ".join(sorted(allowed))})
            else:
                if not self._http_handlers:
                    return NOT_FOUND
                error = HTTPError(404, "Not found")
        if self._http_handlers:
            request = build_request(conn, {}, None, self)
            rendered = await self._handle_error(error, request, False)
            if type(rendered) is tuple:
                return rendered
        return self._error(error.status_code, error.detail, error.headers)

    # -- request bodies ------------------------------------------------------------------------

    def _check_length(self, length: str | bytes) -> None:
        """Refuse a malformed Content-Length (400) or one over ``max_body_size`` (413)."""
        if not length.isdigit() or not length.isascii():
            raise HTTPError(400, "Invalid Content-Length")
        if self.max_body_size is not None and int(length) > self.max_body_size:
            raise HTTPError(413, "Request body too large")

    @contextlib.contextmanager
    def body_deadline(self) -> Iterator[None]:
        """Hold a body read inside to ``body_timeout``: past it, :class:`HTTPError` 408.

        The doors inline the same steps; readers of bodies they leave unread (forms) use
        this.
        """
        deadlines = self._deadlines
        task = deadlines.start() if deadlines is not None else None
        try:
            yield
        except asyncio.CancelledError:
            if self._body_timed_out(task):
                raise HTTPError(408, "Request body not received in time") from None
            raise
        finally:
            if task is not None and deadlines is not None:
                deadlines.finish(task)

    def _body_timed_out(self, task: asyncio.Task[Any] | None) -> bool:
        """After a cancellation while reading a body: whether it was the body deadline."""
        if task is not None and self._deadlines is not None and self._deadlines.expired(task):
            task.uncancel()
            return True
        return False

    # -- headers and hooks ---------------------------------------------------------------------

    def _answer_headers(
        self, conn: Connection, status: int, headers: list[tuple[str, str]]
    ) -> list[tuple[str, str]]:
        """Add the default headers (unless the response set them) and run the after hooks."""
        defaults = self._default_headers
        if defaults:
            present = {name.lower() for name, _ in headers}
            headers.extend(pair for pair in defaults if pair[0] not in present)
        for hook in self._after_hooks:
            hook.after(conn, status, headers)
        if self._request_ids is not None:
            headers.append((self._request_id_header, conn.state["request_id"]))
        return headers

    def _rendered_headers(self, conn: Connection, rendered: Rendered) -> list[tuple[str, str]]:
        """The header list of a buffered answer: content-type, content-length, its own
        headers, the default headers it did not set, then the after hooks' edits."""
        status, content_type, body, extra = rendered
        size = len(body)
        headers = [
            ("content-type", content_type),
            ("content-length", LENGTHS[size] if size < 4096 else str(size)),
        ]
        if extra:
            headers += extra
            defaults = self._default_headers
            if defaults:
                present = {name.lower() for name, _ in extra}
                headers.extend(pair for pair in defaults if pair[0] not in present)
        else:
            headers += self._default_headers
        for hook in self._after_hooks:
            hook.after(conn, status, headers)
        if self._request_ids is not None:
            headers.append((self._request_id_header, conn.state["request_id"]))
        return headers

    def _outer_headers(
        self, conn: Connection, status: int, headers: list[tuple[str, str]]
    ) -> list[tuple[str, str]]:
        """Run only the after hooks of :attr:`_outer_after` (hooks outside user middleware)."""
        for hook in self._outer_after:
            hook.after(conn, status, headers)
        return headers

    def _early_answer(
        self, conn: Connection, before: tuple[BeforeHook, ...]
    ) -> tuple[Rendered, list[tuple[str, str]], tuple[HookMiddleware, ...]] | None:
        """Run the ``before`` hooks; for the first that answers: its answer, the answer's
        headers and the finished hooks to call (the doors inline this loop)."""
        for hook, answer_after, answer_finished in before:
            answer = hook.before(conn)
            if answer is not None:
                return answer, self._early_headers(conn, answer, answer_after), answer_finished
        return None

    def _early_headers(
        self, conn: Connection, answer: Rendered, answer_after: tuple[HookMiddleware, ...]
    ) -> list[tuple[str, str]]:
        """The header list of a before hook's answer, after ``answer_after`` edited it."""
        status, content_type, body, extra = answer
        headers: list[tuple[str, str]] = []
        if content_type:
            headers.append(("content-type", content_type))
        if status >= 200 and status not in (204, 304):
            headers.append(("content-length", str(len(body))))
        if extra:
            headers.extend(extra)
        if self._default_headers:
            present = {name.lower() for name, _ in headers}
            headers.extend(p for p in self._default_headers if p[0] not in present)
        for after in answer_after:
            after.after(conn, status, headers)
        if self._request_ids is not None:
            headers.append((self._request_id_header, conn.state["request_id"]))
        return headers

    def _finish(
        self,
        conn: Connection,
        hooks: tuple[HookMiddleware, ...],
        status: int,
        started: float,
    ) -> None:
        """Run the ``finished`` hooks with the time since ``started``."""
        seconds = _perf_counter() - started
        for hook in hooks:
            hook.finished(conn, status, seconds)

    # -- WebSockets ----------------------------------------------------------------------------

    def _websocket_refused(self, conn: Connection) -> bool:
        """Whether a hook (trusted hosts, CORS) refuses this handshake."""
        return any(hook.before(conn) is not None for hook in self._websocket_hooks)

    async def _serve_websocket(self, entry: RouteEntry, websocket: WebSocket) -> None:
        """Run a WebSocket handler: origin check, size limit, errors mapped to close codes."""
        config = self.config
        websocket.max_message_size = config.websocket_max_message_size
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
                except Exception as handler_exc:
                    self.logger.exception(
                        "Exception handler failed for WebSocket %s", websocket.path
                    )
                    if self._recorder is not None:
                        record_error(self._recorder, handler_exc, websocket, "websocket", 1011)
            else:
                self.logger.exception("Unhandled error in WebSocket %s", websocket.path)
                if self._recorder is not None:
                    record_error(self._recorder, exc, websocket, "websocket", 1011)
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


def bad_path(path: str) -> bool:
    """Whether a decoded path holds a NUL or an undecodable byte (400)."""
    return "\x00" in path or (not path.isascii() and "\ufffd" in path)


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


def _bound(
    claims: Callable[[Any], bool] | None,
    strict: bool,
    logger: logging.Logger,
    entry: RouteEntry,
    websocket: bool,
) -> RouteEntry:
    """``entry`` calling its handler with the parameters it declares (:mod:`.params`)."""
    try:
        return bind_parameters(entry, websocket, claims)
    except Exception as exc:
        if strict:
            raise
        logger.error("Route %s %s cannot be served: %s", entry.method, entry.path, exc)
        return entry.with_call(partial(_broken_signature, exc))


async def _broken_signature(error: Exception, connection: Any, **values: Any) -> Any:
    raise FastwareError(f"this route's parameters cannot be filled: {error}") from error


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
    return entry.with_call(call)


def _wrapped_route(
    hooks: tuple[HookMiddleware, ...],
    open_session: Callable[[Connection], Any] | None,
    entry: RouteEntry,
    websocket: bool,
) -> RouteEntry:
    """``entry`` with its call wrapped by each hook's ``wrap_route`` (the first hook
    outermost); a WebSocket route's call instead first gives the connection its read-only
    session (``websocket.session``) when the app has sessions."""
    call = entry.call
    if websocket:
        if open_session is None:
            return entry

        async def with_session(connection: WebSocket) -> Any:
            await open_session(connection.connection)
            return await call(connection)

        with_session.__wrapped__ = call  # type: ignore[attr-defined]
        return entry.with_call(with_session)
    for hook in reversed(hooks):
        call = hook.wrap_route(call)
    if call is entry.call:
        return entry
    return entry.with_call(call)


async def _broken_route(error: Exception, connection: Any) -> Any:
    raise FastwareError(f"this route's dependencies cannot be resolved: {error}") from error


def merged_state(app_state: Mapping[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with every lifespan value it does not already hold."""
    for key, value in app_state.items():
        state.setdefault(key, value)
    return state
