"""``DependencyResolver``: 0.6.3's API, and the engine an app runs routes through."""

from __future__ import annotations

import asyncio
import inspect
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from fastware_core import StreamResponse, WebSocketDisconnect
from fastware_core.routing import RouteEntry

from ._plan import Compiler, InfoCache, Plan
from ._run import GuardedStream, report_twice, run_steps, unwind
from ._signature import CallableInfo, describe, marker_of
from .exceptions import DependencyError
from .overrides import DependencyOverrides

__all__ = ("DependencyResolver",)

Factory = Callable[..., Any]


class DependencyResolver:
    """Resolves dependencies for an app's routes (one resolver per app).

    ``fastware.create_app`` makes one with the app's ``dependency_overrides``; a bare
    fastware-core app takes one as ``create_app(router, injector=DependencyResolver())``.

    Args:
        overrides: factory -> replacement, kept by reference (``None`` starts empty).
    """

    def __init__(self, overrides: dict[Factory, Factory] | None = None) -> None:
        self._overrides = DependencyOverrides(overrides, check=self._check_routes)
        self._infos = InfoCache()
        # Prepared routes in registration order (weakly: a recompiled app drops its old ones).
        self._routes: weakref.WeakValueDictionary[int, _RouteCall] = weakref.WeakValueDictionary()
        self._route_count = 0
        self._app = _AppScope(self)

    @property
    def overrides(self) -> DependencyOverrides:
        """Factory -> replacement; also ``with resolver.overrides({...}):`` for a block."""
        return self._overrides

    # -- 0.6.3's API ------------------------------------------------------------------------

    async def resolve(
        self, deps: Mapping[str, Factory], request: Any
    ) -> tuple[dict[str, Any], list[Any]]:
        """Resolve ``deps`` for ``request``: ``(values by name, generators to clean up)``.

        Each effective factory runs once per call, however many names ask for it. If a
        factory raises, the generators opened so far are cleaned up and the error propagates
        (so a dependency's ``HTTPError`` becomes the response).

        Raises:
            DependencyError: for dependencies that cannot be resolved.
        """
        plan = Compiler(self._infos, self._overrides.get, "resolve()", deps).compile(None)
        values, cleanups = await run_steps(plan.steps, request, self._app)
        return {name: values[index] for name, index in plan.names}, cleanups or []

    @staticmethod
    async def cleanup(cleanups: list[Any], error: BaseException | None = None) -> None:
        """Resume each generator from :meth:`resolve` once, newest first.

        ``error`` (new) is thrown in at the ``yield``. Errors inside a cleanup are logged and
        suppressed.

        Raises:
            RuntimeError: after all cleanups ran, when a generator yielded more than once.
        """
        twice = await unwind(cleanups, error)
        if twice:
            raise RuntimeError(f"Dependency generator {', '.join(twice)} must yield exactly once")

    # -- the app seam (fastware_core.injection.Injector) ------------------------------------

    def prepare(self, entry: RouteEntry, *, websocket: bool) -> Any:
        """The call for ``entry`` that resolves its dependencies, or ``None`` if it has none.

        Raises:
            DependencyError: naming the route and the factory when the graph is broken.
        """
        label = f"WebSocket {entry.path}" if websocket else f"{entry.method} {entry.path}"
        try:
            handler = self._infos.get(entry.handler, handler=True)
        except DependencyError as exc:
            raise DependencyError(f"{label}: {exc}") from None
        if entry.bound:  # parameters the app fills from the request (fastware_core.params)
            handler = handler.without(entry.bound)
        deps = entry.deps or {}
        if not deps and not handler.markers:
            return None
        route = _RouteCall(self, entry, handler, deps, label)
        self._route_count += 1
        self._routes[self._route_count] = route
        return route

    def claims_parameter(self, parameter: inspect.Parameter) -> bool:
        """Whether a handler parameter is injected here (it carries a ``Depends`` marker),
        so the app does not read it from the request."""
        return marker_of(parameter) is not None

    async def startup(self) -> None:
        """Create every app-scoped dependency the routes use, in dependency order (routes in
        registration order). If one fails, those already created are torn down."""
        try:
            for route in list(self._routes.values()):
                for factory in route.plan_for_now().app_factories:
                    await self._app.obtain(factory)
        except BaseException:
            await self._app.close()
            raise

    async def shutdown(self) -> None:
        """Tear app-scoped dependencies down, newest first, and forget them."""
        await self._app.close()

    def _compile(self, deps: Mapping[str, Factory], label: str, handler: Any) -> Plan:
        return Compiler(self._infos, self._overrides.get, label, deps).compile(handler)

    def _check_routes(self) -> None:
        for route in list(self._routes.values()):
            route.plan_for_now()


class _RouteCall:
    """What the app awaits for a route with dependencies: ``await call(request)``."""

    __slots__ = (
        "__weakref__",
        "_base",
        "_call",
        "_deps",
        "_handler",
        "_label",
        "_layers",
        "_overridden",
        "_plan",
        "_resolver",
    )

    def __init__(
        self,
        resolver: DependencyResolver,
        entry: RouteEntry,
        handler: CallableInfo,
        deps: Mapping[str, Factory],
        label: str,
    ) -> None:
        self._resolver = resolver
        self._call = entry.call
        self._deps = dict(deps)
        self._label = label
        self._handler = handler
        overrides = resolver._overrides
        self._base = overrides.base
        self._layers = overrides.layers
        # Compiled without overrides: the common case, and what registration must validate.
        self._plan = Compiler(resolver._infos, _no_override, label, self._deps).compile(
            self._handler
        )
        self._overridden: Plan | None = None
        if overrides:
            self.plan_for_now()

    def plan_for_now(self) -> Plan:
        """The plan under the overrides in force now (compiled again when they changed)."""
        if not (self._base or self._layers):
            return self._plan
        lookup = self._resolver._overrides.get
        plan = self._overridden
        if plan is None or not plan.still_valid(lookup):
            plan = self._overridden = self._resolver._compile(
                self._deps, self._label, self._handler
            )
        return plan

    async def __call__(self, conn: Any) -> Any:
        plan = self._plan if not (self._base or self._layers) else self.plan_for_now()
        values, cleanups = await run_steps(plan.steps, conn, self._resolver._app)
        kwargs = {name: values[index] for name, index in plan.handler_args}
        if cleanups is None:
            return await self._call(conn, **kwargs)
        try:
            result = await self._call(conn, **kwargs)
        except WebSocketDisconnect:
            report_twice(await unwind(cleanups, None))  # a websocket's normal end
            raise
        except BaseException as exc:
            report_twice(await unwind(cleanups, exc))
            raise
        if isinstance(result, StreamResponse):
            result.generator = GuardedStream(result.generator, cleanups)
        else:
            report_twice(await unwind(cleanups, None))
        return result

    def __repr__(self) -> str:
        return f"<dependencies of {self._label}>"


def _no_override(factory: Factory) -> None:
    return None


class _AppScope:
    """App-scoped values: created once, shared, torn down in reverse order of creation."""

    def __init__(self, resolver: DependencyResolver) -> None:
        self._resolver = resolver
        self.values: dict[int, Any] = {}
        self._keep: list[Any] = []
        self._cleanups: list[Any] = []
        self._pending: dict[int, asyncio.Future[Any]] = {}

    async def obtain(self, factory: Factory) -> Any:
        key = id(factory)
        if key in self.values:
            return self.values[key]
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            plan = Compiler(
                self._resolver._infos,
                self._resolver._overrides.get,
                f"app scope of {describe(factory)}",
                {},
            ).compile(None, app_root=factory)
            values, cleanups = await run_steps(plan.steps, None, self)
            value = values[-1]
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must
            raise
        finally:
            del self._pending[key]
        if cleanups:
            self._cleanups.extend(cleanups)
        self.values[key] = value
        self._keep.append(factory)
        future.set_result(value)
        return value

    async def close(self) -> None:
        cleanups, self._cleanups = self._cleanups, []
        self.values.clear()
        self._keep.clear()
        if cleanups:
            report_twice(await unwind(cleanups, None))
