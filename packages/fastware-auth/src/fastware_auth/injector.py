"""``RateLimitInjector``: checks ``@rate_limit`` before a route's dependencies run.

fastware-core asks its injector (``fastware_core.injection.Injector``) once per route, when it
compiles the router, what to await for that route. This injector wraps another one (usually
fastware-di's ``DependencyResolver``) and, for a route whose handler carries ``@rate_limit``
(on either side of the route decorator), returns a call that checks the limits first and only
then lets the inner injector resolve dependencies and call the handler. Routes without limits
are handed to the inner injector untouched, so they pay nothing.

``fastware.create_app`` installs it; with fastware-core alone::

    create_app(router, injector=RateLimitInjector(DependencyResolver()))
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastware_core import FastwareError
from fastware_core.binding import bind_parameters
from fastware_core.injection import Injector
from fastware_core.routing import RouteEntry

from .ratelimit import RATE_LIMIT_ATTRIBUTE, LimitedHandler, RateLimit

__all__ = ("RateLimitInjector",)


class RateLimitInjector:
    """An :class:`~fastware_core.injection.Injector` that checks rate limits first.

    Args:
        inner: The injector doing dependency injection, or ``None`` for an app without.
    """

    def __init__(self, inner: Injector | None = None) -> None:
        self.inner = inner
        self._limits: dict[int, RateLimit] = {}
        self._own_overrides: dict[Any, Any] = {}

    @property
    def overrides(self) -> Any:
        """The inner injector's dependency overrides (a dict when there is none)."""
        return self.inner.overrides if self.inner is not None else self._own_overrides

    def prepare(
        self, entry: RouteEntry, *, websocket: bool
    ) -> Callable[[Any], Awaitable[Any]] | None:
        """The call for ``entry``: its limits, then the inner injector's call (or the
        handler). ``None`` for a route with neither."""
        record = getattr(entry.handler, RATE_LIMIT_ATTRIBUTE, None)
        if not isinstance(record, LimitedHandler):
            return self._inner_call(entry, websocket)
        for limit in record.limits:
            self._limits[id(limit)] = limit
        # The handler without its own check; the parameters it declares (fastware_core.params)
        # are read around that call, exactly as the app would around the handler.
        bare = bind_parameters(
            entry.with_call(record.unchecked),
            websocket,
            getattr(self.inner, "claims_parameter", None),
        )
        call = self._inner_call(bare, websocket)
        return record.guard(call if call is not None else bare.call)

    def _inner_call(
        self, entry: RouteEntry, websocket: bool
    ) -> Callable[[Any], Awaitable[Any]] | None:
        if self.inner is not None:
            return self.inner.prepare(entry, websocket=websocket)
        if entry.deps:
            raise FastwareError(
                f"Route {entry.method} {entry.path} declares deps, but this app has no "
                "dependency injector: pass RateLimitInjector(DependencyResolver())"
            )
        return None

    async def startup(self) -> None:
        """Start the inner injector."""
        if self.inner is not None:
            await self.inner.startup()

    async def shutdown(self) -> None:
        """Stop the inner injector."""
        if self.inner is not None:
            await self.inner.shutdown()

    @property
    def limits(self) -> list[RateLimit]:
        """Every rate limit of the routes prepared so far."""
        return list(self._limits.values())

    @property
    def fastware_process_local(self) -> str | None:
        """Describes the in-memory rate limits (``fastware serve`` warns about them under
        ``workers > 1``), else ``None``."""
        local = [text for text in (limit.process_local for limit in self._limits.values()) if text]
        if not local:
            return None
        shown = ", ".join(sorted(set(local))[:5])
        more = f" and {len(local) - 5} more" if len(local) > 5 else ""
        return f"in-memory rate limits: {shown}{more}"

    def __getattr__(self, name: str) -> Any:
        # Anything else an app or a tool asks of the injector (fastware-di's API) is the
        # inner injector's.
        inner = self.__dict__.get("inner")
        if inner is None:
            raise AttributeError(name)
        return getattr(inner, name)
