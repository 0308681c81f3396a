"""Feature gates: the seam between the app and a feature-flag source.

fastware-core never imports fastware-flags. Routes name a flag (``@router.get("/beta",
feature="beta")``) and background tasks name one (``registry.register(..., feature="beta")``);
the app asks any object that satisfies :class:`FlagSource` (``create_app(router,
features=flags)``) whether it is on. fastware-flags' ``FeatureFlags`` is one.

A route's gate is installed when the app compiles its router: the gated route's call is
wrapped once, so an ungated route pays nothing per request and a gated one pays one
``enabled(name)`` call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from .exceptions import FastwareError, HTTPError
from .routing import CompiledRouter, RouteEntry

__all__ = ("FlagSource", "gate_routes")


@runtime_checkable
class FlagSource(Protocol):
    """Anything that says whether a feature flag is on (fastware-flags' ``FeatureFlags``).

    ``enabled`` is called for every request to a gated route and must be cheap: no I/O per
    call (``FeatureFlags`` answers from memory and notices changes within a bounded time).
    """

    def enabled(self, name: str) -> bool:
        """Whether flag ``name`` is on (``False`` for a name it does not know)."""
        ...


_NOT_FOUND = "Not found"


def _gated_http(
    call: Callable[..., Any], enabled: Callable[[str], bool], names: tuple[str, ...]
) -> Any:
    # A plain function returning the handler's awaitable: no extra coroutine frame when on.
    if len(names) == 1:
        (name,) = names

        def gated(request: Any) -> Any:
            if enabled(name):
                return call(request)
            raise HTTPError(404, _NOT_FOUND)

    else:

        def gated(request: Any) -> Any:
            if all(enabled(name) for name in names):
                return call(request)
            raise HTTPError(404, _NOT_FOUND)

    gated.__wrapped__ = call  # type: ignore[attr-defined]
    return gated


def _gated_websocket(
    call: Callable[..., Any], enabled: Callable[[str], bool], names: tuple[str, ...]
) -> Any:
    def gated(websocket: Any) -> Any:
        if all(enabled(name) for name in names):
            return call(websocket)
        return websocket.deny(404, _NOT_FOUND)

    gated.__wrapped__ = call  # type: ignore[attr-defined]
    return gated


def _always_off(name: str) -> bool:
    return False


def gate_routes(
    compiled: CompiledRouter,
    features: FlagSource | None,
    *,
    strict: bool = True,
    logger: logging.Logger | None = None,
) -> CompiledRouter:
    """``compiled`` with every route that names a ``feature`` wrapped in its gate.

    Without a flag source a gated route is an error: raised when ``strict`` (at
    ``create_app``), otherwise logged, and the route stays off (a route added later must not
    break unrelated requests).

    Raises:
        FastwareError: for a gated route when the app has no flag source and ``strict``.
    """

    def transform(entry: RouteEntry, websocket: bool) -> RouteEntry:
        names = entry.features
        if not names:
            return entry
        enabled = features.enabled if features is not None else _always_off
        if features is None:
            kind = "WebSocket" if websocket else entry.method
            flags = ", ".join(map(repr, names))
            error = FastwareError(
                f"Route {kind} {entry.path} is gated on feature {flags}, but this app has no "
                "flag source: pass create_app(..., features=FeatureFlags(...))"
            )
            if strict:
                raise error
            (logger or logging.getLogger("fastware")).error("%s; it answers 404", error)
        wrap = _gated_websocket if websocket else _gated_http
        return entry.with_call(wrap(entry.call, enabled, names))

    return compiled.transformed(transform)
