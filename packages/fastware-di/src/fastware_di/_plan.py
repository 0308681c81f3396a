"""Compiling a route's dependencies into a flat list of steps, checked once.

A plan lists every factory a route needs in the order they must run (a factory after the
factories it depends on), each effective factory once, so a value is shared by every name and
parameter that asks for it within one request. Missing names, cycles, unsupported signatures
and scope mistakes are found here, when the app compiles its routes.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from typing import Any

from ._signature import (
    CONN_NONE,
    K_APP,
    CallableInfo,
    describe,
)
from .exceptions import DependencyError
from .markers import options_of

# (kind, factory, connection mode, connection keyword, ((keyword, value index), ...))
Step = tuple[int, Callable[..., Any], int, "str | None", tuple[tuple[str, int], ...]]

Lookup = Callable[[Callable[..., Any]], "Callable[..., Any] | None"]
"""``overrides.get``-like: the replacement of a factory, or ``None``."""


class InfoCache:
    """Signature readings by callable, so each callable's signature is read once.

    Entries go away with their callable, so one-off factories (lambdas made per call) do not
    accumulate; callables that cannot be weakly referenced are read again each time.
    """

    __slots__ = ("_handlers", "_infos")

    def __init__(self) -> None:
        self._infos: weakref.WeakKeyDictionary[Any, CallableInfo] = weakref.WeakKeyDictionary()
        self._handlers: weakref.WeakKeyDictionary[Any, CallableInfo] = weakref.WeakKeyDictionary()

    def get(self, target: Callable[..., Any], *, handler: bool = False) -> CallableInfo:
        """The :class:`CallableInfo` of ``target``."""
        table = self._handlers if handler else self._infos
        try:
            found = table.get(target)
        except TypeError:  # not weakly referenceable, or not hashable
            return CallableInfo(target, handler=handler)
        if found is not None:
            return found
        info = CallableInfo(target, handler=handler)
        table[target] = info
        return info


class Plan:
    """The compiled dependencies of one route (or of one ``resolve`` call)."""

    __slots__ = ("app_factories", "handler_args", "lookups", "names", "steps")

    def __init__(
        self,
        steps: tuple[Step, ...],
        names: tuple[tuple[str, int], ...],
        handler_args: tuple[tuple[str, int], ...],
        lookups: tuple[tuple[Callable[..., Any], Any], ...],
        app_factories: tuple[Callable[..., Any], ...],
    ) -> None:
        self.steps = steps
        """What to run, in order."""
        self.names = names
        """``deps`` names and the index of their values."""
        self.handler_args = handler_args
        """Keyword arguments for the handler and the index of their values."""
        self.lookups = lookups
        """Every ``(factory, replacement or None)`` consulted: the plan holds while the
        overrides still give the same answers."""
        self.app_factories = app_factories
        """The app-scoped factories the plan reads."""

    def still_valid(self, lookup: Lookup) -> bool:
        """Whether ``lookup`` gives the replacements this plan was compiled with."""
        return all(lookup(factory) is replacement for factory, replacement in self.lookups)


class Compiler:
    """Builds one :class:`Plan`; ``label`` names the route in error messages."""

    def __init__(
        self,
        infos: InfoCache,
        lookup: Lookup,
        label: str,
        deps: Mapping[str, Callable[..., Any]],
    ) -> None:
        self._infos = infos
        self._lookup = lookup
        self._label = label
        self._deps = deps
        self._steps: list[Step] = []
        self._index: dict[int, int] = {}
        self._keep: list[Any] = []
        self._lookups: dict[int, tuple[Callable[..., Any], Any]] = {}
        self._app: list[Callable[..., Any]] = []
        self._visiting: list[Callable[..., Any]] = []
        self._app_checked: set[int] = set()

    def compile(
        self, handler: CallableInfo | None, *, app_root: Callable[..., Any] | None = None
    ) -> Plan:
        """The plan for the route's ``deps`` and the ``handler``'s parameters.

        With ``app_root``, the plan creates that app-scoped factory instead (its own step
        last, the app-scoped factories it depends on before it).
        """
        if app_root is not None:
            self._visit(app_root, f"app-scoped {describe(app_root)}", root=True)
            return self._plan((), ())
        names = tuple(
            (name, self._visit(factory, f"dependency {name!r}"))
            for name, factory in self._deps.items()
        )
        args: list[tuple[str, int]] = []
        if handler is not None:
            by_name = dict(names)
            args = [(name, index) for name, index in names if handler.accepts(name)]
            for param, factory in handler.markers:
                index = self._visit(factory, f"parameter {param!r}")
                args = [(n, i) for n, i in args if n != param]
                args.append((param, index))
            for param, required in handler.named:
                if param not in by_name and required:
                    raise self._error(
                        f"the handler {handler.name} needs {param!r}, which no "
                        f"dependency provides (deps: {self._known()})"
                    )
        return self._plan(names, tuple(args))

    def _plan(self, names: tuple[tuple[str, int], ...], args: tuple[tuple[str, int], ...]) -> Plan:
        return Plan(
            tuple(self._steps),
            names,
            args,
            tuple(self._lookups.values()),
            tuple(self._app),
        )

    def _known(self) -> str:
        return ", ".join(repr(n) for n in self._deps) or "none"

    def _error(self, message: str) -> DependencyError:
        return DependencyError(f"{self._label}: {message}")

    def _visit(
        self,
        original: Callable[..., Any],
        role: str,
        *,
        app_level: bool = False,
        root: bool = False,
    ) -> int:
        factory, replacement = self._effective(original)
        known = self._index.get(id(factory))
        if known is not None:
            return known
        self._refuse_cycle(factory)
        info, scope = self._inspect(factory, original, replacement, role)
        if app_level and scope != "app":
            raise self._request_scoped_under_app(self._visiting[-1], factory)
        if scope == "app" and not root:
            # Created once for the app (see DependencyResolver); here it is only read, but
            # its own graph is checked now so that startup cannot fail or hang on it.
            self._check_app_graph(factory, info)
            if all(factory is not f for f in self._app):
                self._app.append(factory)
            return self._add_step(factory, (K_APP, factory, CONN_NONE, None, ()))
        if root:
            self._check_app_graph(factory, info)
        self._visiting.append(factory)
        args: list[tuple[str, int]] = []
        for param, dep in info.markers:
            args.append(
                (
                    param,
                    self._visit(
                        dep,
                        f"parameter {param!r} of {describe(factory)}",
                        app_level=root or app_level,
                    ),
                )
            )
        for param, required in info.named:
            provider = self._deps.get(param)
            if provider is None:
                if required:
                    raise self._error(
                        f"{describe(factory)} ({role}) needs {param!r}, which no dependency "
                        f"provides (deps: {self._known()}); mark it with Depends(...) or add "
                        "it to deps"
                    )
                continue
            args.append((param, self._visit(provider, f"dependency {param!r}")))
        self._visiting.pop()
        return self._add_step(factory, (info.kind, factory, info.conn, info.conn_name, tuple(args)))

    def _effective(self, original: Callable[..., Any]) -> tuple[Callable[..., Any], Any]:
        """``(the factory that runs, its replacement or None)``; the lookup is recorded so
        the plan can tell when the overrides changed."""
        replacement = self._lookup(original)
        self._lookups.setdefault(id(original), (original, replacement))
        self._keep.append(original)
        return (original if replacement is None else replacement), replacement

    def _refuse_cycle(self, factory: Callable[..., Any]) -> None:
        if any(factory is seen for seen in self._visiting):
            chain = [*self._visiting[self._visiting.index(factory) :], factory]
            raise self._error("dependency cycle: " + " -> ".join(describe(f) for f in chain))

    def _inspect(
        self, factory: Callable[..., Any], original: Callable[..., Any], replacement: Any, role: str
    ) -> tuple[CallableInfo, str]:
        """The factory's signature reading and its scope (an override keeps the scope of the
        factory it replaces unless it was marked itself)."""
        try:
            info = self._infos.get(factory)
        except DependencyError as exc:
            raise self._error(f"{role}: {exc}") from None
        if replacement is None or info.marked:
            return info, info.scope
        return info, options_of(original).scope

    def _add_step(self, factory: Callable[..., Any], step: Step) -> int:
        index = len(self._steps)
        self._steps.append(step)
        self._index[id(factory)] = index
        self._keep.append(factory)
        return index

    def _check_app_graph(self, factory: Callable[..., Any], info: CallableInfo) -> None:
        if id(factory) in self._app_checked:
            return
        self._check_app_factory(factory, info)
        self._visiting.append(factory)
        for param, original in info.markers:
            child, replacement = self._effective(original)
            self._refuse_cycle(child)
            role = f"parameter {param!r} of {describe(factory)}"
            child_info, scope = self._inspect(child, original, replacement, role)
            if scope != "app":
                raise self._request_scoped_under_app(factory, child)
            self._keep.append(child)
            self._check_app_graph(child, child_info)
        self._visiting.pop()
        self._app_checked.add(id(factory))

    def _request_scoped_under_app(
        self, parent: Callable[..., Any], child: Callable[..., Any]
    ) -> DependencyError:
        return self._error(
            f"the app-scoped {describe(parent)} depends on {describe(child)}, which is "
            "request-scoped; mark it @dependency(scope='app') or make the dependent "
            "request-scoped"
        )

    def _check_app_factory(self, factory: Callable[..., Any], info: CallableInfo) -> None:
        if info.conn != CONN_NONE:
            raise self._error(
                f"the app-scoped {describe(factory)} takes the request; app-scoped "
                "dependencies are created at startup, outside any request"
            )
        required = [name for name, needed in info.named if needed]
        if required:
            raise self._error(
                f"the app-scoped {describe(factory)} needs {', '.join(map(repr, required))}; "
                "app-scoped dependencies get their dependencies through Depends(...) only"
            )
