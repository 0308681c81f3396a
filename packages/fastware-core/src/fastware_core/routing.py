"""The router: registration API of fastware 0.6.3, compiled into an indexed matcher.

Static paths live in a dict, parametrised paths in a segment tree. Literal segments beat
parameters, typed parameters beat plain ``str`` ones, and greedy ``path`` parameters come
last, so registration order never shadows a route and the cost of a lookup does not grow with
the number of routes. Routers are live: routes or mounts added to an included router after
``include_router`` still take effect.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import re
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, TypedDict, TypeVar, Unpack

from .exceptions import RouteDefinitionError
from .types import ASGIApp

__all__ = ("HTTP_METHODS", "ParsedSegment", "RouteEntry", "RouteOptions", "Router", "parse_path")

HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])

HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
"""The standard methods; requests with a method outside these and the registered ones get 501."""

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Route parameters are ASCII: an optional "-", then digits. No "+", no "_" separators, no
# spaces and no non-ASCII digits, all of which Python's int()/float() would accept.
_FLOAT = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_INT_MAX_DIGITS = 4300  # int()'s default limit on digits
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

_NO_MATCH: Any = object()


def _convert_str(segment: str) -> Any:
    return segment if segment else _NO_MATCH


def _convert_int(segment: str) -> Any:
    digits = segment[1:] if segment[:1] == "-" else segment
    if digits.isascii() and digits.isdigit() and len(digits) <= _INT_MAX_DIGITS:
        return int(segment)
    return _NO_MATCH


def _convert_float(segment: str) -> Any:
    if _FLOAT.fullmatch(segment) is None:
        return _NO_MATCH
    value = float(segment)
    return value if value - value == 0 else _NO_MATCH  # rejects inf from huge exponents


def _convert_uuid(segment: str) -> Any:
    return uuid.UUID(segment) if _UUID.fullmatch(segment) else _NO_MATCH


# name -> (priority among parameters at one position, converter)
_CONVERTERS: dict[str, tuple[int, Callable[[str], Any]]] = {
    "int": (0, _convert_int),
    "float": (1, _convert_float),
    "uuid": (2, _convert_uuid),
    "str": (3, _convert_str),
}


class ParsedSegment(NamedTuple):
    """One ``/``-separated piece of a route pattern."""

    value: str
    """The literal text, or the parameter name."""
    converter: str | None
    """``None`` for a literal; otherwise ``str``, ``int``, ``float``, ``uuid`` or ``path``."""

    @property
    def is_param(self) -> bool:
        """Whether this segment captures a value."""
        return self.converter is not None


def parse_path(path: str) -> tuple[ParsedSegment, ...]:
    """Split a route pattern into segments, validating parameter names and converters.

    Leading and trailing slashes are not significant (``/users/`` is ``/users``).

    Raises:
        RouteDefinitionError: for an unknown converter, a malformed or repeated parameter.
    """
    stripped = path.strip("/")
    segments: list[ParsedSegment] = []
    names: set[str] = set()
    for raw in stripped.split("/"):
        if raw.startswith("{") and raw.endswith("}"):
            name, _, converter = raw[1:-1].partition(":")
            name, converter = name.strip(), (converter.strip() or "str")
            if not name.isidentifier():
                raise RouteDefinitionError(f"Invalid path parameter name {name!r} in {path!r}")
            if converter != "path" and converter not in _CONVERTERS:
                raise RouteDefinitionError(
                    f"Unknown path parameter type: {converter!r} in {path!r} "
                    f"(known: float, int, path, str, uuid)"
                )
            if name in names:
                raise RouteDefinitionError(f"Path parameter {name!r} repeated in {path!r}")
            names.add(name)
            segments.append(ParsedSegment(name, converter))
        elif "{" in raw or "}" in raw:
            raise RouteDefinitionError(
                f"Segment {raw!r} of {path!r} mixes text and a parameter; "
                "a parameter must fill a whole segment, like /files/{name}"
            )
        else:
            segments.append(ParsedSegment(raw, None))
    return tuple(segments)


def _pattern_text(segments: Iterable[ParsedSegment]) -> str:
    parts = [s.value if s.converter is None else f"{{{s.value}:{s.converter}}}" for s in segments]
    return "/" + "/".join(parts)


def _is_async_callable(obj: Any) -> bool:
    while isinstance(obj, functools.partial):
        obj = obj.func
    if inspect.iscoroutinefunction(obj):
        return True
    call = getattr(type(obj), "__call__", None)  # noqa: B004 - instances with async __call__
    return not inspect.isfunction(obj) and inspect.iscoroutinefunction(call)


def _threaded(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a sync handler so that it runs in a worker thread, off the event loop."""

    async def call_in_thread(*args: Any, **kwargs: Any) -> Any:
        result = await asyncio.to_thread(handler, *args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    call_in_thread.__wrapped__ = handler  # type: ignore[attr-defined]
    return call_in_thread


class RouteOptions(TypedDict, total=False):
    """What a route may say about itself beyond its handler (all optional keywords of the
    route decorators): its success status and how it appears in the OpenAPI document."""

    status_code: int
    """The status of a successful answer when the handler returns data, not a Response."""
    tags: Sequence[str]
    """OpenAPI tags grouping the operation on the docs page."""
    summary: str
    """The operation's one-line summary (default: the docstring's first line)."""
    description: str
    """The operation's description (default: the rest of the docstring)."""
    deprecated: bool
    """Mark the operation deprecated in the OpenAPI document."""
    include_in_schema: bool
    """``False`` leaves the route out of the OpenAPI document."""
    operation_id: str
    """The OpenAPI ``operationId`` (default: derived from the handler and the method)."""
    responses: Mapping[int, Any]
    """Extra documented answers: status -> a type (its schema) or an OpenAPI response object."""
    validate_response: bool
    """Convert (and so check) the handler's result to its return annotation; a mismatch is
    a logged 500, as with ``response_model``."""


_ROUTE_OPTIONS = frozenset(RouteOptions.__annotations__)
_NO_OPTIONS: RouteOptions = {}


def _check_options(options: Mapping[str, Any]) -> RouteOptions:
    unknown = sorted(set(options) - _ROUTE_OPTIONS)
    if unknown:
        raise RouteDefinitionError(f"Unknown route option(s): {', '.join(unknown)}")
    status = options.get("status_code")
    if status is not None and (type(status) is not int or not 100 <= status <= 599):
        raise RouteDefinitionError(f"status_code must be an int from 100 to 599, not {status!r}")
    return RouteOptions(**options) if options else _NO_OPTIONS  # type: ignore[typeddict-item]


class RouteEntry:
    """One registered HTTP route, as the app dispatches it."""

    __slots__ = (
        "bound",
        "call",
        "deps",
        "feature",
        "handler",
        "method",
        "options",
        "path",
        "response_model",
        "segments",
    )

    method: str
    """The upper-case method."""
    path: str
    """The full pattern, prefixes included, e.g. ``/orgs/{org:int}/users``."""
    handler: Callable[..., Any]
    """The function as registered."""
    call: Callable[..., Any]
    """What the app awaits: the handler, or a thread-offloading wrapper for sync handlers."""
    deps: dict[str, Any] | None
    """Dependencies by keyword name (router-level ones merged under route-level ones)."""
    response_model: Any
    """A type the result is validated against, or ``None``."""
    segments: tuple[ParsedSegment, ...]
    """The parsed pattern."""
    feature: str | None
    """The feature flag gating this route (answered 404 while it is off), or ``None``."""
    options: RouteOptions
    """Status code and OpenAPI details given at registration (see :class:`RouteOptions`)."""
    bound: frozenset[str]
    """Handler parameters the app itself fills from the request (path, query, header,
    cookie, body: :mod:`fastware_core.params`); an injector leaves them alone."""

    def __init__(
        self,
        method: str,
        segments: tuple[ParsedSegment, ...],
        handler: Callable[..., Any],
        deps: dict[str, Any] | None,
        response_model: Any,
        call: Callable[..., Any] | None = None,
        feature: str | None = None,
        options: RouteOptions | None = None,
        bound: frozenset[str] = frozenset(),
    ) -> None:
        self.method = method
        self.segments = segments
        self.path = _pattern_text(segments)
        self.handler = handler
        self.call = call or (handler if _is_async_callable(handler) else _threaded(handler))
        self.deps = deps or None
        self.response_model = response_model
        self.feature = feature
        self.options = options or _NO_OPTIONS
        self.bound = bound

    def with_call(self, call: Callable[..., Any], **changes: Any) -> RouteEntry:
        """A copy awaiting ``call`` instead (``feature=`` and ``bound=`` may change too)."""
        return RouteEntry(
            self.method,
            self.segments,
            self.handler,
            self.deps,
            self.response_model,
            call,
            changes.get("feature", self.feature),
            self.options,
            changes.get("bound", self.bound),
        )

    def __repr__(self) -> str:
        name = getattr(self.handler, "__qualname__", self.handler)
        return f"<RouteEntry {self.method} {self.path} -> {name!r}>"


class _Node:
    __slots__ = ("greedy", "leaf", "literals", "params")

    def __init__(self) -> None:
        self.literals: dict[str, _Node] = {}
        # (priority, name, converter name, converter, child), sorted by priority
        self.params: list[tuple[int, str, str, Callable[[str], Any], _Node]] = []
        # (name, suffix segments, leaf) for greedy ``path`` parameters
        self.greedy: list[tuple[str, tuple[ParsedSegment, ...], dict[str, RouteEntry]]] = []
        self.leaf: dict[str, RouteEntry] | None = None


def _match_segment(seg: ParsedSegment, text: str) -> Any:
    if seg.converter is None:
        return text if seg.value == text else _NO_MATCH
    if seg.converter == "path":  # a second greedy parameter is matched as one segment
        return _convert_str(text)
    return _CONVERTERS[seg.converter][1](text)


def _match_suffix(
    suffix: tuple[ParsedSegment, ...], texts: list[str], params: dict[str, Any]
) -> bool:
    found: dict[str, Any] = {}
    for seg, text in zip(suffix, texts, strict=True):
        value = _match_segment(seg, text)
        if value is _NO_MATCH:
            return False
        if seg.converter is not None:
            found[seg.value] = value
    params.update(found)
    return True


def _walk(
    node: _Node, segs: list[str], i: int, method: str, params: dict[str, Any]
) -> RouteEntry | None:
    last = i + 1 == len(segs)
    seg = segs[i]
    child = node.literals.get(seg)
    if child is not None:
        if last:
            leaf = child.leaf
            found = leaf.get(method) if leaf is not None else None
        else:
            found = _walk(child, segs, i + 1, method, params)
        if found is not None:
            return found
    for _, name, _, convert, child in node.params:
        value = convert(seg)
        if value is not _NO_MATCH:
            if last:
                leaf = child.leaf
                found = leaf.get(method) if leaf is not None else None
            else:
                found = _walk(child, segs, i + 1, method, params)
            if found is not None:
                params[name] = value
                return found
    for name, suffix, leaf in node.greedy:
        entry = leaf.get(method)
        if entry is None:
            continue
        cut = len(segs) - len(suffix)
        if cut > i and _match_suffix(suffix, segs[cut:], params):
            params[name] = "/".join(segs[i:cut])
            return entry
    return None


def _collect(node: _Node, segs: list[str], i: int, out: set[str]) -> None:
    if i == len(segs):
        if node.leaf is not None:
            out.update(node.leaf)
        return
    seg = segs[i]
    child = node.literals.get(seg)
    if child is not None:
        _collect(child, segs, i + 1, out)
    for _, _, _, convert, child in node.params:
        if convert(seg) is not _NO_MATCH:
            _collect(child, segs, i + 1, out)
    for _, suffix, leaf in node.greedy:
        cut = len(segs) - len(suffix)
        if cut > i and _match_suffix(suffix, segs[cut:], {}):
            out.update(leaf)


class _Mount(NamedTuple):
    prefix: str
    app: ASGIApp


class _Include(NamedTuple):
    router: Router
    prefix: tuple[ParsedSegment, ...]
    deps: dict[str, Any] | None


class _Registered(NamedTuple):
    method: str
    segments: tuple[ParsedSegment, ...]
    handler: Callable[..., Any]
    deps: dict[str, Any] | None
    response_model: Any
    call: Callable[..., Any]
    feature: str | None
    options: RouteOptions = _NO_OPTIONS


def _check_feature(feature: str | None) -> str | None:
    if feature is not None and (not isinstance(feature, str) or not feature.strip()):
        raise RouteDefinitionError(
            f"feature= must be a flag name (a non-empty str), not {feature!r}"
        )
    return feature


def _route_key(method: str, segments: tuple[ParsedSegment, ...]) -> tuple[Any, ...]:
    """What two routes share when they match the same requests: the method, the literal
    segments and the converters (parameter names do not matter)."""
    return (method, tuple((s.converter, "" if s.converter else s.value) for s in segments))


def _where(handler: Any) -> str:
    """``module.qualname (file.py, line N)`` for a handler or a mounted app."""
    target = handler
    while isinstance(target, functools.partial):
        target = target.func
    if not (inspect.isfunction(target) or inspect.ismethod(target) or isinstance(target, type)):
        target = type(target)
    module = getattr(target, "__module__", None)
    name = getattr(target, "__qualname__", None) or repr(target)
    text = f"{module}.{name}" if module else str(name)
    code = getattr(inspect.unwrap(target), "__code__", None)
    if code is not None:
        text += f" ({code.co_filename.rsplit('/', 1)[-1]}, line {code.co_firstlineno})"
    return text


def _describe(entry: RouteEntry, websocket: bool) -> str:
    return f"{'WebSocket' if websocket else entry.method} {entry.path}"


def _check_unique(entries: list[RouteEntry], websocket: bool) -> None:
    seen: dict[tuple[Any, ...], RouteEntry] = {}
    for entry in entries:
        first = seen.setdefault(_route_key(entry.method, entry.segments), entry)
        if first is entry:
            continue
        if first.path == entry.path:
            what = f"{_describe(entry, websocket)} is registered twice"
        else:
            what = (
                f"{_describe(first, websocket)} and {_describe(entry, websocket)} match the same "
                "requests"
            )
        raise RouteDefinitionError(
            f"{what}: first for {_where(first.handler)}, again for {_where(entry.handler)}; "
            "the second could never answer. Remove one or give it another path"
        )


def _check_conflicts(
    entries: list[RouteEntry], mounts: list[_Mount], ws_entries: list[RouteEntry]
) -> None:
    """Refuse routes that could never answer: the same method and pattern twice, two mounts at
    one prefix, a route under a mount's prefix (the mount takes those requests first).

    Raises:
        RouteDefinitionError: naming both handlers (or the handler and the mounted app).
    """
    _check_unique(entries, False)
    _check_unique(ws_entries, True)
    by_prefix: dict[str, _Mount] = {}
    for mount in mounts:
        first = by_prefix.setdefault(mount.prefix, mount)
        if first is not mount:
            raise RouteDefinitionError(
                f"two apps are mounted at {mount.prefix or '/'!r}: first {_where(first.app)}, "
                f"then {_where(mount.app)}; the second would never be reached"
            )
    for prefix, mount in by_prefix.items():
        if not prefix:
            continue  # a mount at "/" serves only what no route matched
        literal = tuple(ParsedSegment(part, None) for part in prefix.strip("/").split("/"))
        for websocket, table in ((False, entries), (True, ws_entries)):
            for entry in table:
                if entry.segments[: len(literal)] == literal:
                    raise RouteDefinitionError(
                        f"{_describe(entry, websocket)} ({_where(entry.handler)}) could never "
                        f"answer: the app mounted at {prefix!r} ({_where(mount.app)}) takes every "
                        "request under that prefix first. Move the route or the mount"
                    )


class CompiledRouter:
    """The indexed form of a router, rebuilt whenever the router (or an included one) changes."""

    __slots__ = ("entries", "has_tree", "methods", "mounts", "root_mount", "static", "tree", "ws")

    def __init__(
        self,
        entries: list[RouteEntry],
        mounts: list[_Mount],
        ws_entries: list[RouteEntry] | None = None,
    ) -> None:
        self.entries = entries
        # WebSocket routes live in their own table (looked up with method GET), so they can
        # never answer an HTTP request.
        self.ws = CompiledRouter(ws_entries, []) if ws_entries else None
        self.static: dict[str, dict[str, RouteEntry]] = {}
        self.tree = _Node()
        self.has_tree = False
        for entry in entries:
            segs = entry.segments
            if all(s.converter is None for s in segs):
                key = "/".join(s.value for s in segs)
                self.static.setdefault(key, {}).setdefault(entry.method, entry)
            else:
                self.has_tree = True
                self._insert(entry)
        for leaf in self._leaves():
            if "GET" in leaf and "HEAD" not in leaf:
                leaf["HEAD"] = leaf["GET"]
        self.methods = frozenset(HTTP_METHODS | {e.method for e in entries})
        self.mounts = tuple((m.prefix, m.prefix + "/", m.app) for m in mounts if m.prefix)
        self.root_mount = next((m.app for m in mounts if not m.prefix), None)

    def transformed(self, transform: Callable[[RouteEntry, bool], RouteEntry]) -> CompiledRouter:
        """A copy whose entries went through ``transform(entry, is_websocket)``; ``self`` when
        it returned every entry unchanged."""
        entries = [transform(entry, False) for entry in self.entries]
        ws_entries = [transform(entry, True) for entry in (self.ws.entries if self.ws else ())]
        unchanged = all(new is old for new, old in zip(entries, self.entries, strict=True))
        if unchanged and self.ws is not None:
            unchanged = all(
                new is old for new, old in zip(ws_entries, self.ws.entries, strict=True)
            )
        if unchanged:
            return self
        mounts = [_Mount(prefix, app) for prefix, app in self.mounts_with_root()]
        return CompiledRouter(entries, mounts, ws_entries)

    def _insert(self, entry: RouteEntry) -> None:
        node = self.tree
        segs = entry.segments
        for index, seg in enumerate(segs):
            if seg.converter is None:
                node = node.literals.setdefault(seg.value, _Node())
            elif seg.converter == "path":
                suffix = segs[index + 1 :]
                for name, other_suffix, leaf in node.greedy:
                    if name == seg.value and other_suffix == suffix:
                        leaf.setdefault(entry.method, entry)
                        return
                node.greedy.append((seg.value, suffix, {entry.method: entry}))
                return
            else:
                for _, name, conv_name, _, child in node.params:
                    if name == seg.value and conv_name == seg.converter:
                        node = child
                        break
                else:
                    priority, convert = _CONVERTERS[seg.converter]
                    child = _Node()
                    node.params.append((priority, seg.value, seg.converter, convert, child))
                    node.params.sort(key=lambda item: item[0])  # stable: ties keep order
                    node = child
        if node.leaf is None:
            node.leaf = {}
        node.leaf.setdefault(entry.method, entry)

    def _leaves(self) -> Iterator[dict[str, RouteEntry]]:
        yield from self.static.values()
        stack = [self.tree]
        while stack:
            node = stack.pop()
            if node.leaf is not None:
                yield node.leaf
            for _, _, leaf in node.greedy:
                yield leaf
            stack.extend(node.literals.values())
            stack.extend(item[4] for item in node.params)

    def lookup(self, method: str, path: str) -> tuple[RouteEntry, dict[str, Any]] | None:
        """The route for ``method`` and ``path`` with its converted parameters, or ``None``."""
        key = path.strip("/")
        by_method = self.static.get(key)
        if by_method is not None:
            entry = by_method.get(method)
            if entry is not None:
                return entry, {}
        return self.lookup_tree(method, key)

    def lookup_tree(self, method: str, key: str) -> tuple[RouteEntry, dict[str, Any]] | None:
        """Like :meth:`lookup` for a caller that already missed the static table; ``key`` is
        the path without leading and trailing slashes."""
        if not self.has_tree:
            return None
        params: dict[str, Any] = {}
        entry = _walk(self.tree, key.split("/"), 0, method, params)
        return None if entry is None else (entry, params)

    def allowed_methods(self, path: str) -> set[str]:
        """Every method some route accepts at ``path`` (HEAD included where GET is)."""
        key = path.strip("/")
        out: set[str] = set(self.static.get(key, ()))
        if self.has_tree:
            _collect(self.tree, key.split("/"), 0, out)
        return out

    def mounts_with_root(self) -> list[tuple[str, ASGIApp]]:
        """Every mount as ``(prefix, app)``, the root mount (prefix ``""``) last."""
        out = [(prefix, app) for prefix, _, app in self.mounts]
        if self.root_mount is not None:
            out.append(("", self.root_mount))
        return out

    def match_mount(self, path: str) -> tuple[str, ASGIApp] | None:
        """The first mount whose prefix is ``path`` or a ``/``-bounded prefix of it."""
        for prefix, prefix_slash, app in self.mounts:
            if path == prefix or path.startswith(prefix_slash):
                return prefix, app
        return None


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
        self._mounts: list[_Mount] = []
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
        call = handler if _is_async_callable(handler) else _threaded(handler)
        deps_dict = dict(deps) if deps else None
        registered = _Registered(
            _normalise_method(method),
            segments,
            handler,
            deps_dict,
            response_model,
            call,
            _check_feature(feature),
            _check_options(options),
        )
        self._claim(registered, websocket=False)
        self._routes.append(registered)
        self._touch()

    def _claim(self, registered: _Registered, *, websocket: bool) -> None:
        key = (websocket, *_route_key(registered.method, registered.segments))
        first = self._keys.get(key)
        if first is not None:
            _check_unique(
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
        if not _is_async_callable(handler):
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
            _check_options(options),
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
    ) -> None:
        """Serve every route and mount of ``other`` under ``prefix``.

        The link is live: routes and mounts added to ``other`` later are served too.
        ``deps`` apply to every included route, under the route's own deps (a route-level
        dependency with the same name wins). The prefix may hold parameters
        (``/orgs/{org:int}``) unless ``other`` has mounts.

        Raises:
            RouteDefinitionError: ``other`` would include this router, or one of its routes
                or mounts conflicts with one already here (see :meth:`compile`).
        """
        if other is self or self._reachable_from(other):
            raise RouteDefinitionError("include_router would make a router include itself")
        segments = parse_path(prefix) if prefix and prefix.strip("/") else ()
        self._includes.append(_Include(other, segments, dict(deps) if deps else None))
        try:
            _check_conflicts(*self._flatten((), None))
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
        self._mounts.append(_Mount(normal, app))
        try:
            _check_conflicts(*self._flatten((), None))
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
        self, prefix: tuple[ParsedSegment, ...], deps: dict[str, Any] | None
    ) -> tuple[list[RouteEntry], list[_Mount], list[RouteEntry]]:
        entries: list[RouteEntry] = []
        mounts: list[_Mount] = []
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
                )
            )
        for mount in self._mounts:
            if any(s.converter is not None for s in prefix):
                raise RouteDefinitionError(
                    f"Mount {mount.prefix or '/'!r} cannot be included under a prefix with "
                    f"parameters ({_pattern_text(prefix)})"
                )
            text = "/".join(s.value for s in prefix)
            full = ("/" + text if text else "") + mount.prefix
            mounts.append(_Mount(full, mount.app))
        for inc in self._includes:
            inner_deps = {**deps, **inc.deps} if deps and inc.deps else (inc.deps or deps)
            sub_entries, sub_mounts, sub_ws = inc.router._flatten(prefix + inc.prefix, inner_deps)
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
            _check_conflicts(entries, mounts, ws_entries)
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
