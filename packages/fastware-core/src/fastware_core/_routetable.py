"""The compiled route table: route entries, the segment tree, and the conflict checks.

:class:`~fastware_core.routing.Router` compiles into a :class:`CompiledRouter`: static paths in a
dict per method, parametrised ones in a tree where literal segments beat parameters, typed
parameters beat plain ``str`` ones and greedy ``path`` parameters come last.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, TypedDict

from ._paths import CONVERTERS, INT_MAX_DIGITS, NO_MATCH, ParsedSegment, convert_str, pattern_text
from .exceptions import RouteDefinitionError
from .types import ASGIApp

__all__ = (
    "HTTP_METHODS",
    "NO_OPTIONS",
    "CompiledRouter",
    "Mount",
    "RouteEntry",
    "RouteOptions",
    "check_conflicts",
    "check_options",
    "check_unique",
    "is_async_callable",
    "route_key",
    "threaded",
)

HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
"""The standard methods; requests with a method outside these and the registered ones get 501."""


def is_async_callable(obj: Any) -> bool:
    """Whether calling ``obj`` returns an awaitable (through partials and ``__call__``)."""
    while isinstance(obj, functools.partial):
        obj = obj.func
    if inspect.iscoroutinefunction(obj):
        return True
    call = getattr(type(obj), "__call__", None)  # noqa: B004 - instances with async __call__
    return not inspect.isfunction(obj) and inspect.iscoroutinefunction(call)


def threaded(handler: Callable[..., Any]) -> Callable[..., Any]:
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
NO_OPTIONS: RouteOptions = {}


def check_options(options: Mapping[str, Any]) -> RouteOptions:
    unknown = sorted(set(options) - _ROUTE_OPTIONS)
    if unknown:
        raise RouteDefinitionError(f"Unknown route option(s): {', '.join(unknown)}")
    status = options.get("status_code")
    if status is not None and (type(status) is not int or not 100 <= status <= 599):
        raise RouteDefinitionError(f"status_code must be an int from 100 to 599, not {status!r}")
    return RouteOptions(**options) if options else NO_OPTIONS  # type: ignore[typeddict-item]


class RouteEntry:
    """One registered HTTP route, as the app dispatches it."""

    __slots__ = (
        "bound",
        "call",
        "deps",
        "feature",
        "features",
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
    """The feature flag the route was registered with (``feature=``), or ``None``."""
    features: tuple[str, ...]
    """Every flag gating the route, all of which must be on (it answers 404 otherwise): those
    of the ``include_router(..., feature=)`` calls that brought it in, outermost first, then
    its own."""
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
        features: tuple[str, ...] | None = None,
    ) -> None:
        self.method = method
        self.segments = segments
        self.path = pattern_text(segments)
        self.handler = handler
        self.call = call or (handler if is_async_callable(handler) else threaded(handler))
        self.deps = deps or None
        self.response_model = response_model
        self.feature = feature
        self.features = features if features is not None else (feature,) if feature else ()
        self.options = options or NO_OPTIONS
        self.bound = bound

    def with_call(self, call: Callable[..., Any], **changes: Any) -> RouteEntry:
        """A copy awaiting ``call`` instead (``bound=`` may change too)."""
        return RouteEntry(
            self.method,
            self.segments,
            self.handler,
            self.deps,
            self.response_model,
            call,
            self.feature,
            self.options,
            changes.get("bound", self.bound),
            self.features,
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
        return text if seg.value == text else NO_MATCH
    if seg.converter == "path":  # a second greedy parameter is matched as one segment
        return convert_str(text)
    return CONVERTERS[seg.converter][1](text)


def _match_suffix(
    suffix: tuple[ParsedSegment, ...], texts: list[str], params: dict[str, Any]
) -> bool:
    found: dict[str, Any] = {}
    for seg, text in zip(suffix, texts, strict=True):
        value = _match_segment(seg, text)
        if value is NO_MATCH:
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
        if value is not NO_MATCH:
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


Matcher = Callable[[list[str]], "dict[str, Any] | None"]
"""A parametrised route's test of a path's segments: its converted parameters, or ``None``."""
Shapes = dict[int, dict["str | None", tuple[tuple[Matcher, dict[str, RouteEntry]], ...]]]


def _shape_index(tree: _Node) -> Shapes | None:
    """The tree's routes in the order :func:`_walk` tries them, by segment count and first
    segment (``None``: a parameter), each with a generated matcher; ``None`` when a route
    has a greedy ``path`` parameter (its segment count varies: the walk serves those).

    For a given path, the walk tries the routes that can match it depth first: the one
    literal child equal to the segment, then the parameters in priority order. Listing
    every route in that depth-first order and keeping, for each path, the ones of its
    length and first segment, gives the same first match without a call per segment.
    """
    routes: list[tuple[tuple[tuple[str, str | None, Any], ...], dict[str, RouteEntry]]] = []
    stack: list[tuple[_Node, tuple[tuple[str, str | None, Any], ...]]] = [(tree, ())]
    while stack:  # depth first, children in the walk's order
        node, pattern = stack.pop()
        if node.greedy:
            return None
        if node.leaf is not None and pattern:
            routes.append((pattern, node.leaf))
        children = [
            (child, (*pattern, (text, None, None))) for text, child in node.literals.items()
        ]
        children += [
            (child, (*pattern, (name, conv_name, convert)))
            for _, name, conv_name, convert, child in node.params
        ]
        stack.extend(reversed(children))
    # One matcher per route, shared by every table the route is listed in.
    matched = [(_matcher(pattern), leaf) for pattern, leaf in routes]
    by_count: dict[int, list[int]] = {}
    for index, (pattern, _) in enumerate(routes):
        by_count.setdefault(len(pattern), []).append(index)
    shapes: Shapes = {}
    for count, indexes in by_count.items():
        any_first = [i for i in indexes if routes[i][0][0][1] is not None]
        firsts = {routes[i][0][0][0] for i in indexes if routes[i][0][0][1] is None}
        table: dict[str | None, tuple[tuple[Matcher, dict[str, RouteEntry]], ...]] = {}
        for first in firsts:
            chosen = sorted(
                [i for i in indexes if routes[i][0][0] == (first, None, None)] + any_first
            )
            table[first] = tuple(matched[i] for i in chosen)
        if any_first:
            table[None] = tuple(matched[i] for i in any_first)
        shapes[count] = table
    return shapes


def _matcher(pattern: tuple[tuple[str, str | None, Any], ...]) -> Matcher:
    """Generate the straight-line test of one route's segments (the first literal segment is
    already known to match: routes are found by it)."""
    namespace: dict[str, Any] = {"NO_MATCH": NO_MATCH, "MAX_DIGITS": INT_MAX_DIGITS}
    lines = ["def match(segs):"]
    found = []
    for index, (text, conv_name, convert) in enumerate(pattern):
        value = f"v{index}"
        if conv_name is None:
            if index:
                lines.append(f"    if segs[{index}] != {text!r}: return None")
            continue
        found.append(f"{text!r}: {value}")
        namespace[f"convert{index}"] = convert
        lines.append(f"    s = segs[{index}]")
        if conv_name == "int":  # _convert_int's commonest case inline: unsigned digits
            lines.append("    if s.isdigit() and s.isascii() and len(s) <= MAX_DIGITS:")
            lines.append(f"        {value} = int(s)")
            lines.append("    else:")
            lines.append(f"        {value} = convert{index}(s)")
            lines.append(f"        if {value} is NO_MATCH: return None")
        elif conv_name == "str":
            lines.append("    if not s: return None")
            lines.append(f"    {value} = s")
        else:
            lines.append(f"    {value} = convert{index}(s)")
            lines.append(f"    if {value} is NO_MATCH: return None")
    lines.append("    return {" + ", ".join(found) + "}")
    exec("\n".join(lines), namespace)  # code built from parsed route patterns only
    match: Matcher = namespace["match"]
    return match


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
        if convert(seg) is not NO_MATCH:
            _collect(child, segs, i + 1, out)
    for _, suffix, leaf in node.greedy:
        cut = len(segs) - len(suffix)
        if cut > i and _match_suffix(suffix, segs[cut:], {}):
            out.update(leaf)


class Mount(NamedTuple):
    prefix: str
    app: ASGIApp


def route_key(method: str, segments: tuple[ParsedSegment, ...]) -> tuple[Any, ...]:
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


def check_unique(entries: list[RouteEntry], websocket: bool) -> None:
    seen: dict[tuple[Any, ...], RouteEntry] = {}
    for entry in entries:
        first = seen.setdefault(route_key(entry.method, entry.segments), entry)
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


def check_conflicts(
    entries: list[RouteEntry], mounts: list[Mount], ws_entries: list[RouteEntry]
) -> None:
    """Refuse routes that could never answer: the same method and pattern twice, two mounts at
    one prefix, a route under a mount's prefix (the mount takes those requests first).

    Raises:
        RouteDefinitionError: naming both handlers (or the handler and the mounted app).
    """
    check_unique(entries, False)
    check_unique(ws_entries, True)
    by_prefix: dict[str, Mount] = {}
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

    __slots__ = (
        "entries",
        "exact",
        "has_tree",
        "methods",
        "mounts",
        "root_mount",
        "shapes",
        "static",
        "tree",
        "ws",
    )

    def __init__(
        self,
        entries: list[RouteEntry],
        mounts: list[Mount],
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
        self.exact: dict[str, dict[str, RouteEntry]] = {
            "/" + key: by_method for key, by_method in self.static.items()
        }
        """The literal routes by their path as written (``/items``): what the doors try
        before :meth:`lookup`, which also takes ``/items/`` and ``//items``."""
        self.shapes = _shape_index(self.tree) if self.has_tree else None
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
        mounts = [Mount(prefix, app) for prefix, app in self.mounts_with_root()]
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
                    priority, convert = CONVERTERS[seg.converter]
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
        shapes = self.shapes
        if shapes is None:  # no parametrised route, or one with a greedy path parameter
            return self.lookup_tree(method, key)
        # the tree's routes by segment count and first segment, in the walk's order
        segs = key.split("/")
        by_first = shapes.get(len(segs))
        if by_first is None:
            return None
        for match, leaf in by_first.get(segs[0]) or by_first.get(None) or ():
            entry = leaf.get(method)
            if entry is not None:
                found = match(segs)
                if found is not None:
                    return entry, found
        return None

    def lookup_tree(self, method: str, key: str) -> tuple[RouteEntry, dict[str, Any]] | None:
        """The tree walk for ``key`` (the path without leading and trailing slashes), without
        the static table: what :meth:`lookup` does when the shape index cannot serve."""
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

    def extended(
        self, before: Sequence[RouteEntry] = (), after: Sequence[RouteEntry] = ()
    ) -> CompiledRouter:
        """A copy with more HTTP routes, ``before`` and ``after`` the current ones (the
        framework's own: the ``/__fastware/`` runtime, the OpenAPI document); the mounts and
        WebSocket routes stay."""
        mounts = [Mount(prefix, app) for prefix, app in self.mounts_with_root()]
        ws_entries = self.ws.entries if self.ws is not None else None
        return CompiledRouter([*before, *self.entries, *after], mounts, ws_entries)

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
