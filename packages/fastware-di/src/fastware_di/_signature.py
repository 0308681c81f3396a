"""Reading what a factory or handler wants from its signature, once, at compile time."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, get_args, get_origin

from fastware_core import Request, WebSocket

from .exceptions import DependencyError
from .markers import Dependency, is_marked, options_of

# How a callable is run and what its result needs.
K_SYNC = 0  # a plain function: only a coroutine or generator result needs more work
K_OPAQUE = 1  # a class, partial or callable object: check the result for anything awaitable
K_ASYNC = 2
K_GEN = 3
K_AGEN = 4
K_THREAD = 5  # a blocking sync callable, run in a worker thread
K_THREAD_GEN = 6  # a blocking sync generator, advanced in a worker thread
K_APP = 7  # an app-scoped value, created once and shared

# How the connection (the request or the websocket) is passed.
CONN_NONE = 0
CONN_POSITIONAL = 1
CONN_KEYWORD = 2

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def describe(target: Any) -> str:
    """``module.qualname`` of a callable, for error messages."""
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    if name is None:
        func = getattr(target, "func", None)  # functools.partial
        return f"partial({describe(func)})" if func is not None else repr(target)
    module = getattr(target, "__module__", None)
    return f"{module}.{name}" if module and module != "builtins" else str(name)


class CallableInfo:
    """What one callable needs: the connection, marked dependencies, dependencies by name."""

    __slots__ = (
        "accepted",
        "conn",
        "conn_name",
        "kind",
        "marked",
        "markers",
        "name",
        "named",
        "scope",
        "var_keyword",
    )

    def __init__(self, target: Callable[..., Any], *, handler: bool) -> None:
        self.name = describe(target)  # not the target itself: caches hold infos weakly
        self.marked = is_marked(target)
        options = options_of(target)
        self.scope = options.scope
        self.kind = _kind(target, options.blocking)
        self.conn = CONN_NONE
        self.conn_name: str | None = None
        self.markers: list[tuple[str, Callable[..., Any]]] = []
        self.named: list[tuple[str, bool]] = []  # (name, required)
        self.accepted: set[str] = set()
        self.var_keyword = False
        parameters = _parameters(target)
        if parameters is None:  # no readable signature (some builtins): call without arguments
            return
        self._read(parameters, handler)

    def _read(self, parameters: list[inspect.Parameter], handler: bool) -> None:
        conn_param: inspect.Parameter | None = None
        plain: list[inspect.Parameter] = []
        for param in parameters:
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                self.var_keyword = True
                continue
            marker = _marker(param)
            if marker is not None:
                if param.kind not in (
                    inspect.Parameter.POSITIONAL_OR_KEYWORD,
                    inspect.Parameter.KEYWORD_ONLY,
                ):
                    raise self._unsupported(
                        f"parameter {param.name!r} has Depends() but cannot be passed by keyword"
                    )
                self.markers.append((param.name, marker.factory))
                self.accepted.add(param.name)
                continue
            plain.append(param)
        if handler:
            # The app always calls handler(connection, **values).
            first = plain[0] if plain else None
            if first is not None and first.kind in (*_POSITIONAL, inspect.Parameter.VAR_POSITIONAL):
                conn_param = first
                self.conn = CONN_POSITIONAL
        else:
            conn_param = self._find_conn(parameters, plain)
        for param in plain:
            if param is conn_param or param.kind is inspect.Parameter.VAR_POSITIONAL:
                continue
            required = param.default is inspect.Parameter.empty
            if param.kind is inspect.Parameter.POSITIONAL_ONLY:
                if required:
                    raise self._unsupported(
                        f"positional-only parameter {param.name!r} cannot be injected"
                    )
                continue
            self.accepted.add(param.name)
            self.named.append((param.name, required))

    def _find_conn(
        self, parameters: list[inspect.Parameter], plain: list[inspect.Parameter]
    ) -> inspect.Parameter | None:
        # 0.6.3's rule, extended: a parameter annotated as the Request or WebSocket first;
        # else the first positional parameter; else a keyword-only one named ``request``;
        # else ``*args``. Markers are never the connection.
        typed = [p for p in plain if _is_connection_type(p.annotation)]
        chosen = typed[0] if typed else None
        if chosen is None:
            chosen = next((p for p in plain if p.kind in _POSITIONAL), None)
        if chosen is None:
            chosen = next(
                (
                    p
                    for p in plain
                    if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name == "request"
                ),
                None,
            )
        if chosen is None:
            star = next((p for p in plain if p.kind is inspect.Parameter.VAR_POSITIONAL), None)
            if star is not None and star is parameters[0]:
                self.conn = CONN_POSITIONAL
            return star
        if chosen is parameters[0] and chosen.kind in _POSITIONAL:
            self.conn = CONN_POSITIONAL
        elif chosen.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise self._unsupported(
                f"the request parameter {chosen.name!r} is positional-only but not first"
            )
        else:
            self.conn = CONN_KEYWORD
            self.conn_name = chosen.name
        return chosen

    def without(self, names: frozenset[str]) -> CallableInfo:
        """A copy that leaves the parameters ``names`` to someone else (the app fills them
        from the request)."""
        copy = CallableInfo.__new__(CallableInfo)
        for slot in CallableInfo.__slots__:
            setattr(copy, slot, getattr(self, slot))
        copy.named = [(name, required) for name, required in self.named if name not in names]
        copy.accepted = self.accepted - names
        return copy

    def accepts(self, name: str) -> bool:
        """Whether the callable takes a keyword argument ``name``."""
        return self.var_keyword or name in self.accepted

    def _unsupported(self, why: str) -> DependencyError:
        return DependencyError(f"{self.name} has an unsupported signature: {why}")


def _kind(target: Any, blocking: bool) -> int:
    candidates = [target]
    if not (inspect.isfunction(target) or inspect.ismethod(target) or isinstance(target, type)):
        call = getattr(target, "__call__", None)  # noqa: B004 - a callable object's method
        if call is not None and not isinstance(target, type):
            candidates.append(call)
    for candidate in candidates:
        if inspect.isasyncgenfunction(candidate):
            return K_AGEN
        if inspect.iscoroutinefunction(candidate):
            return K_ASYNC
        if inspect.isgeneratorfunction(candidate):
            return K_THREAD_GEN if blocking else K_GEN
    if blocking:
        return K_THREAD
    return K_SYNC if inspect.isfunction(target) or inspect.ismethod(target) else K_OPAQUE


def _parameters(target: Callable[..., Any]) -> list[inspect.Parameter] | None:
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    params = list(signature.parameters.values())
    namespace = _globals_of(target)
    out = []
    for param in params:
        annotation = param.annotation
        if isinstance(annotation, str):
            annotation = _evaluate(annotation, namespace, target, param.name)
            param = param.replace(annotation=annotation)
        out.append(param)
    return out


def _globals_of(target: Any) -> dict[str, Any]:
    seen = inspect.unwrap(target) if callable(target) else target
    for candidate in (seen, getattr(seen, "func", None), getattr(seen, "__init__", None)):
        namespace = getattr(candidate, "__globals__", None)
        if isinstance(namespace, dict):
            return namespace
    module = inspect.getmodule(seen)
    return vars(module) if module is not None else {}


def _evaluate(text: str, namespace: dict[str, Any], target: Any, name: str) -> Any:
    try:
        return eval(text, namespace)
    except Exception as exc:
        if "Depends" in text:
            raise DependencyError(
                f"cannot evaluate the annotation {text!r} of parameter {name!r} of "
                f"{describe(target)}: {exc}; make the names it uses importable at runtime"
            ) from None
        return inspect.Parameter.empty  # an annotation DI does not need


def marker_of(param: inspect.Parameter) -> Dependency | None:
    """The ``Depends`` marker of a parameter (its default or ``Annotated`` metadata)."""
    return _marker(param)


def _marker(param: inspect.Parameter) -> Dependency | None:
    if isinstance(param.default, Dependency):
        return param.default
    annotation = param.annotation
    if get_origin(annotation) is Annotated:
        for item in reversed(get_args(annotation)[1:]):
            if isinstance(item, Dependency):
                return item
    return None


def _is_connection_type(annotation: Any) -> bool:
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return isinstance(annotation, type) and issubclass(annotation, (Request, WebSocket))


def injected_parameters(handler: Callable[..., Any]) -> list[tuple[str, Callable[..., Any]]]:
    """The parameters of a route handler injected through ``Depends``, as
    ``(name, factory)``, read as the app reads them (for tools such as ``fastware routes``).

    Raises:
        DependencyError: the handler's signature cannot be used for injection.
    """
    return list(CallableInfo(handler, handler=True).markers)
