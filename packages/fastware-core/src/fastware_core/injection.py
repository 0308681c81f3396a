"""The seam between the app and a dependency-injection engine.

fastware-core never imports fastware-di. An app takes any object that satisfies
:class:`Injector` (``create_app(router, injector=...)``); ``fastware.create_app`` passes
fastware-di's ``DependencyResolver`` by default. Without an injector, a route that declares
``deps`` makes ``create_app`` raise.

The app asks the injector once per route, when it compiles the router, for the callable to
await instead of the route's handler. A route without dependencies gets ``None`` back and is
called directly, so it pays nothing for dependency injection.

Typed handler parameters (:mod:`fastware_core.params`) are read by the app itself. An
injector that fills parameters by marker also has ``claims_parameter(parameter) -> bool``
(optional; :class:`ParameterClaims`), so the app leaves those to it; ``entry.bound`` tells
the injector which parameters the app fills, and ``entry.call`` already fills them when it
gets the injector's keyword values.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from .routing import RouteEntry

__all__ = ("Injector", "ParameterClaims", "RouteCall")

RouteCall = Callable[[Any], Awaitable[Any]]
"""What the app awaits for a route: ``call(request_or_websocket) -> result``."""


class Injector(Protocol):
    """A dependency-injection engine, as an app uses it (one per app)."""

    @property
    def overrides(self) -> Any:
        """The dependency overrides, exposed as ``app.dependency_overrides``."""
        ...

    def prepare(self, entry: RouteEntry, *, websocket: bool) -> RouteCall | None:
        """The call that resolves ``entry``'s dependencies and runs its handler.

        ``entry.call`` is the handler as the app would call it (sync handlers already run in
        a worker thread). Return ``None`` for a route that uses no dependencies.

        Raises:
            Exception: for a route whose dependencies cannot work (a missing name, a cycle,
                an unsupported factory signature); ``create_app`` lets it propagate.
        """
        ...

    async def startup(self) -> None:
        """Create app-scoped dependencies; the app calls it after the lifespan started."""
        ...

    async def shutdown(self) -> None:
        """Tear app-scoped dependencies down; the app calls it before the lifespan ends."""
        ...


class ParameterClaims(Protocol):
    """The optional part of an :class:`Injector` that fills handler parameters by marker."""

    def claims_parameter(self, parameter: inspect.Parameter) -> bool:
        """Whether the injector fills ``parameter`` (its annotation already evaluated)."""
        ...
