"""The router: registration API of fastware 0.6.3, compiled into an indexed matcher.

Patterns are parsed in :mod:`fastware_core._paths`; the compiled table, its tree and the
checks that refuse routes which could never answer are in :mod:`fastware_core._routetable`.
Static paths live in a dict, parametrised paths in a segment tree. Literal segments beat
parameters, typed parameters beat plain ``str`` ones, and greedy ``path`` parameters come
last, so registration order never shadows a route and the cost of a lookup does not grow with
the number of routes. Routers are live: routes or mounts added to an included router after
``include_router`` still take effect.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, TypeVar, Unpack

from ._paths import ParsedSegment, parse_path, pattern_text
from ._routetable import (
    HTTP_METHODS,
    NO_OPTIONS,
    CompiledRouter,
    Mount,
    RouteEntry,
    RouteOptions,
    check_conflicts,
    check_options,
    check_unique,
    is_async_callable,
    route_key,
    threaded,
)
from .exceptions import RouteDefinitionError
from .types import ASGIApp

__all__ = (
    "HTTP_METHODS",
    "CompiledRouter",
    "Mount",
    "ParsedSegment",
    "RouteEntry",
    "RouteOptions",
    "Router",
    "parse_path",
)

HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class _Include(NamedTuple):
    router: Router
    prefix: tuple[ParsedSegment, ...]
    deps: dict[str, Any] | None
    feature: str | None = None


class _Registered(NamedTuple):
    method: str
    segments: tuple[ParsedSegment, ...]
    handler: Callable[..., Any]
    deps: dict[str, Any] | None
    response_model: Any
    call: Callable[..., Any]
    feature: str | None
    options: RouteOptions = NO_OPTIONS


def _check_feature(feature: str | None) -> str | None:
    if feature is not None and (not isinstance(feature, str) or not feature.strip()):
        raise RouteDefinitionError(
            f"feature= must be a flag name (a non-empty str), not {feature!r}"
        )
    return feature


def _normalise_method(method: str) -> str:
    upper = method.strip().upper()
    if not _TOKEN.fullmatch(upper):
        raise RouteDefinitionError(f"Invalid HTTP method {method!r}")
    return upper


class Router:
    """Collects HTTP routes and mounts; ``create_app`` turns it into an application.

    Routes are registered with the verb decorators (``@router.get("/users/{id:int}")``),
    :meth:`route` for several methods, or :meth:`add_route`. Path parameters take the forms
    ``{name}``, ``{name:str}``, ``{name:int}``, ``{name:float}``, ``{name:uuid}`` and the
    greedy ``{name:path}``; converted values arrive in ``request.path_params``.
    """

    def __init__(self) -> None:
        self._routes: list[_Registered] = []
        self._ws_routes: list[_Registered] = []
        self._mounts: list[Mount] = []
        self._includes: list[_Include] = []
        self._parents: weakref.WeakSet[Router] = weakref.WeakSet()
        self._compiled: CompiledRouter | None = None
        self._listeners: list[weakref.WeakMethod[Callable[[], None]]] = []
        # (method, pattern without parameter names) -> its registration, to refuse a second
        # route that could never answer at once, naming both handlers.
        self._keys: dict[tuple[Any, ...], _Registered] = {}

    # -- registration -------------------------------------------------------------------

    def add_route(
        self,
        method: str,
        path: str,
        handler: Callable[..., Any],
        *,
        deps: Mapping[str, Any] | None = None,
        response_model: Any = None,
        feature: str | None = None,
        **options: Unpack[RouteOptions],
    ) -> None:
        """Register ``handler`` for ``method`` (any case) at ``path``.

        ``feature`` names a feature flag: while it is off the route answers 404, as if it
        did not exist (the app needs ``create_app(..., features=flags)``). ``options`` are
        :class:`RouteOptions` (``status_code=``, ``tags=``, ``summary=``, ...).

        Raises:
            RouteDefinitionError: for an invalid method, pattern or converter, or when the
                router already has a route for ``method`` and ``path`` (or a pattern matching
                the same requests): the second could never answer.
        """
        if not callable(handler):
            raise RouteDefinitionError(f"Handler for {method} {path} is not callable")
        segments = parse_path(path)
        call = handler if is_async_callable(handler) else threaded(handler)
        deps_dict = dict(deps) if deps else None
        registered = _Registered(
            _normalise_method(method),
            segments,
            handler,
            deps_dict,
            response_model,
            call,
            _check_feature(feature),
            check_options(options),
        )
        self._claim(registered, websocket=False)
        self._routes.append(registered)
        self._touch()

    def _claim(self, registered: _Registered, *, websocket: bool) -> None:
        key = (websocket, *route_key(registered.method, registered.segments))
        first = self._keys.get(key)
        if first is not None:
            check_unique(
                [
                    RouteEntry(first.method, first.segments, first.handler, None, None, first.call),
                    RouteEntry(
                        registered.method,
                        registered.segments,
                        registered.handler,
                        None,
                        None,
                        registered.call,
                    ),
                ],
                websocket,
            )
        self._keys[key] = registered

    def route(
        self,
        path: str,
        methods: Iterable[str] = ("GET",),
        *,
        deps: Mapping[str, Any] | None = None,
        response_model: Any = None,
        feature: str | None = None,
        **options: Unpack[RouteOptions],
    ) -> Callable[[HandlerT], HandlerT]:
        """Decorator registering the function for each of ``methods`` at ``path``."""
        if isinstance(methods, str):
            methods = (methods,)
        method_list = list(methods)
        if not method_list:
            raise RouteDefinitionError(f"route({path!r}) needs at least one method")

        def register(handler: HandlerT) -> HandlerT:
            for method in method_list:
                self.add_route(
                    method,
                    path,
                    handler,
                    deps=deps,
                    response_model=response_model,
                    feature=feature,
                    **options,
                )
            return handler

        return register

    def _verb(
        self,
        method: str,
        path: str,
        deps: Mapping[str, Any] | None,
        response_model: Any,
        feature: str | None,
        options: RouteOptions,
    ) -> Callable[[HandlerT], HandlerT]:
        def register(handler: HandlerT) -> HandlerT:
            self.add_route(
                method,
                path,
                handler,
                deps=deps,
                response_model=response_model,
                feature=feature,
                **options,
            )
            return handler

        return register

    def get(
        self,
        path: str,
        *,
        deps: Mapping[str, Any] | None = None,
        response_model: Any = None,
        feature: str | None = None,
        **options: Unpack[RouteOptions],
    ) -> Callable[[HandlerT], HandlerT]:
        """Decorator for a GET route (HEAD is answered from it, without a body)."""
        return self._verb("GET", path, deps, response_model, feature, options)

    def post(
        self,
        path: str,
        *,
        deps: Mapping[str, Any] | None = None,
        response_model: Any = None,
        feature: str | None = None,
        **options: Unpack[RouteOptions],
    ) -> Callable[[HandlerT], HandlerT]:
        """Decorator for a POST route."""
        return self._verb("POST", path, deps, response_model, feature, options)

    def put(
        self,
        path: str,
        *,
        deps: Mapping[str, Any] | None = None,
        response_model: Any = None,
        feature: str | None = None,
        **options: Unpack[RouteOptions],
    ) -> Callable[[HandlerT], HandlerT]:
        """Decorator for a PUT route."""
        return self._verb("PUT", path, deps, response_model, feature, options)

    def patch(
        self,
        path: str,
        *,
        deps: Mapping[str, Any] | None = None,
        response_model: Any = None,
        feature: str | None = None,
        **options: Unpack[RouteOptions],
    ) -> Callable[[HandlerT], HandlerT]:
        """Decorator for a PATCH route."""
        return self._verb("PATCH", path, deps, response_model, feature, options)

    def delete(
        self,
        path: str,
        *,
        deps: Mapping[str, Any] | None = None,
        response_model: Any = None,
        feature: str | None = None,
        **options: Unpack[RouteOptions],
    ) -> Callable[[HandlerT], HandlerT]:
        """Decorator for a DELETE route."""
        return self._verb("DELETE", path, deps, response_model, feature, options)

    def head(
        self,
        path: str,
        *,
        deps: Mapping[str, Any] | None = None,
        response_model: Any = None,
        feature: str | None = None,
        **options: Unpack[RouteOptions],
    ) -> Callable[[HandlerT], HandlerT]:
        """Decorator for an explicit HEAD route (overrides the answer derived from GET)."""
        return self._verb("HEAD", path, deps, response_model, feature, options)

    def options(
        self,
        path: str,
        *,
        deps: Mapping[str, Any] | None = None,
        response_model: Any = None,
        feature: str | None = None,
        **options: Unpack[RouteOptions],
    ) -> Callable[[HandlerT], HandlerT]:
        """Decorator for an OPTIONS route."""
        return self._verb("OPTIONS", path, deps, response_model, feature, options)

    def add_ws_route(
        self,
        path: str,
        handler: Callable[..., Any],
        *,
        deps: Mapping[str, Any] | None = None,
        feature: str | None = None,
        **options: Unpack[RouteOptions],
    ) -> None:
        """Register an async WebSocket handler, called as ``handler(websocket, **deps)``.

        ``feature`` names a feature flag: while it is off the handshake is refused with 404.

        Raises:
            RouteDefinitionError: for a sync handler or an invalid pattern.
        """
        if not is_async_callable(handler):
            raise RouteDefinitionError(f"WebSocket handler for {path} must be async")
        segments = parse_path(path)
        deps_dict = dict(deps) if deps else None
        registered = _Registered(
            "GET",
            segments,
            handler,
            deps_dict,
            None,
            handler,
            _check_feature(feature),
            check_options(options),
        )
        self._claim(registered, websocket=True)
        self._ws_routes.append(registered)
        self._touch()

    def ws(
        self,
        path: str,
        *,
        deps: Mapping[str, Any] | None = None,
        feature: str | None = None,
        **options: Unpack[RouteOptions],
    ) -> Callable[[HandlerT], HandlerT]:
        """Decorator for a WebSocket route (same path syntax as HTTP routes)."""

        def register(handler: HandlerT) -> HandlerT:
            self.add_ws_route(path, handler, deps=deps, feature=feature, **options)
            return handler

        return register

    def include_router(
        self,
        other: Router,
        prefix: str | None = None,
        deps: Mapping[str, Any] | None = None,
        feature: str | None = None,
    ) -> None:
        """Serve every route and mount of ``other`` under ``prefix``.

        The link is live: routes and mounts added to ``other`` later are served too.
        ``deps`` apply to every included route, under the route's own deps (a route-level
        dependency with the same name wins). The prefix may hold parameters
        (``/orgs/{org:int}``) unless ``other`` has mounts. ``feature`` gates every included
        route and WebSocket route on a flag, on top of their own ``feature=``: each answers
        404 unless all of its flags are on.

        Raises:
            RouteDefinitionError: ``other`` would include this router, one of its routes or
                mounts conflicts with one already here (see :meth:`compile`), or ``feature``
                is given and ``other`` has mounts (gate the mounted app itself).
        """
        if other is self or self._reachable_from(other):
            raise RouteDefinitionError("include_router would make a router include itself")
        segments = parse_path(prefix) if prefix and prefix.strip("/") else ()
        include = _Include(other, segments, dict(deps) if deps else None, _check_feature(feature))
        self._includes.append(include)
        try:
            check_conflicts(*self._flatten((), None))
        except RouteDefinitionError:
            self._includes.pop()
            raise
        other._parents.add(self)
        self._touch()

    def _reachable_from(self, other: Router) -> bool:
        return any(
            inc.router is self or self._reachable_from(inc.router) for inc in other._includes
        )

    def mount(self, prefix: str, app: ASGIApp) -> None:
        """Hand every request under ``prefix`` (at a ``/`` boundary) to another ASGI app.

        The mounted app sees ``path`` without the prefix and ``root_path`` with it. Mounts are
        matched before routes, except a mount at ``/``, which serves what no route matched.

        Raises:
            RouteDefinitionError: another app is mounted at ``prefix``, or a route lies under
                it (the mount would take its requests).
        """
        normal = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self._mounts.append(Mount(normal, app))
        try:
            check_conflicts(*self._flatten((), None))
        except RouteDefinitionError:
            self._mounts.pop()
            raise
        self._touch()

    # -- compilation ----------------------------------------------------------------------

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call the bound method ``callback`` whenever this router (or one it includes) changes.

        The router keeps only a weak reference, so an app listening to a long-lived router can
        still be garbage-collected.
        """
        self._listeners.append(weakref.WeakMethod(callback))

    def _touch(self) -> None:
        self._compiled = None
        if self._listeners:
            live = []
            for ref in self._listeners:
                callback = ref()
                if callback is not None:
                    callback()
                    live.append(ref)
            self._listeners = live
        for parent in list(self._parents):
            parent._touch()

    def _flatten(
        self,
        prefix: tuple[ParsedSegment, ...],
        deps: dict[str, Any] | None,
        gates: tuple[str, ...] = (),
    ) -> tuple[list[RouteEntry], list[Mount], list[RouteEntry]]:
        entries: list[RouteEntry] = []
        mounts: list[Mount] = []
        ws_entries: list[RouteEntry] = []
        for reg in self._ws_routes:
            merged = {**deps, **reg.deps} if deps and reg.deps else (reg.deps or deps)
            segments = prefix + reg.segments if prefix else reg.segments
            if prefix and segments[-1] == ParsedSegment("", None) and len(segments) > 1:
                segments = segments[:-1]
            ws_entries.append(
                RouteEntry(
                    reg.method,
                    segments,
                    reg.handler,
                    merged,
                    None,
                    reg.call,
                    reg.feature,
                    reg.options,
                    features=(*gates, reg.feature) if reg.feature else gates,
                )
            )
        for reg in self._routes:
            merged = {**deps, **reg.deps} if deps and reg.deps else (reg.deps or deps)
            segments = prefix + reg.segments if prefix else reg.segments
            if prefix and segments[-1] == ParsedSegment("", None) and len(segments) > 1:
                segments = segments[:-1]  # "/" inside a prefixed router is the prefix itself
            entries.append(
                RouteEntry(
                    reg.method,
                    segments,
                    reg.handler,
                    merged,
                    reg.response_model,
                    reg.call,
                    reg.feature,
                    reg.options,
                    features=(*gates, reg.feature) if reg.feature else gates,
                )
            )
        for mount in self._mounts:
            if gates:
                raise RouteDefinitionError(
                    f"Mount {mount.prefix or '/'!r} cannot be included with feature= "
                    f"({', '.join(map(repr, gates))}): a flag gates routes, not mounted apps; "
                    "gate the mounted app itself"
                )
            if any(s.converter is not None for s in prefix):
                raise RouteDefinitionError(
                    f"Mount {mount.prefix or '/'!r} cannot be included under a prefix with "
                    f"parameters ({pattern_text(prefix)})"
                )
            text = "/".join(s.value for s in prefix)
            full = ("/" + text if text else "") + mount.prefix
            mounts.append(Mount(full, mount.app))
        for inc in self._includes:
            inner_deps = {**deps, **inc.deps} if deps and inc.deps else (inc.deps or deps)
            inner_gates = (*gates, inc.feature) if inc.feature else gates
            sub_entries, sub_mounts, sub_ws = inc.router._flatten(
                prefix + inc.prefix, inner_deps, inner_gates
            )
            entries.extend(sub_entries)
            mounts.extend(sub_mounts)
            ws_entries.extend(sub_ws)
        return entries, mounts, ws_entries

    def compile(self) -> CompiledRouter:
        """The indexed router (cached until the next change).

        Raises:
            RouteDefinitionError: two routes match the same requests (the same method and
                pattern, parameter names aside), two apps are mounted at one prefix, or a
                route lies under a mount's prefix: one of them could never answer. The
                message names both handlers. Routes added to an included router after
                ``include_router`` are checked here.
        """
        compiled = self._compiled
        if compiled is None:
            entries, mounts, ws_entries = self._flatten((), None)
            check_conflicts(entries, mounts, ws_entries)
            compiled = self._compiled = CompiledRouter(entries, mounts, ws_entries)
        return compiled

    # -- lookup (0.6.3 public and private API) --------------------------------------------

    @property
    def routes(self) -> list[RouteEntry]:
        """Every HTTP route, included routers flattened, in registration order."""
        return list(self.compile().entries)

    def match(self, method: str, path: str) -> tuple[Callable[..., Any], dict[str, Any]] | None:
        """``(handler, path_params)`` for a request, or ``None``; HEAD falls back to GET."""
        found = self.compile().lookup(method, path)
        return None if found is None else (found[0].handler, found[1])

    def _match_with_deps(
        self, method: str, path: str
    ) -> tuple[Callable[..., Any], dict[str, Any], dict[str, Any], Any] | None:
        found = self.compile().lookup(method, path)
        if found is None:
            return None
        entry, params = found
        return entry.handler, params, dict(entry.deps or {}), entry.response_model

    def allowed_methods(self, path: str) -> set[str]:
        """The methods of every route whose pattern matches ``path`` (HEAD where GET is)."""
        return self.compile().allowed_methods(path)

    def match_ws(self, path: str) -> tuple[Callable[..., Any], dict[str, Any]] | None:
        """``(handler, path_params)`` of the WebSocket route for ``path``, or ``None``."""
        found = self._match_ws_with_deps(path)
        return None if found is None else (found[0], found[1])

    def _match_ws_with_deps(
        self, path: str
    ) -> tuple[Callable[..., Any], dict[str, Any], dict[str, Any]] | None:
        table = self.compile().ws
        found = table.lookup("GET", path) if table is not None else None
        if found is None:
            return None
        entry, params = found
        return entry.handler, params, dict(entry.deps or {})

    @property
    def mounts(self) -> list[tuple[str, ASGIApp]]:
        """``(prefix, app)`` of every mount, included routers' mounts flattened."""
        return self.compile().mounts_with_root()
