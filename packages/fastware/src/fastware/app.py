"""``fastware.create_app``: fastware-core's app with the family wired in.

Also the compatibility path ``fastware.app`` (fastware 0.6.3) for ``create_app`` and
``AppConfig``. The wiring: every app gets its own fastware-di ``DependencyResolver`` holding
the app's ``dependency_overrides`` by reference, inside fastware-auth's
``RateLimitInjector``, so ``@rate_limit`` works on either side of the route decorator and is
checked before dependencies run.
"""

from __future__ import annotations

from typing import Any

from fastware_core.app import App, AppConfig
from fastware_core.app import create_app as create_core_app
from fastware_core.routing import Router

__all__ = ("App", "AppConfig", "create_app")


def create_app(router: Router, config: AppConfig | None = None, **kwargs: Any) -> App:
    """Build the application for ``router`` with every installed fastware package wired in.

    Settings come from ``AppConfig()`` defaults, then ``config``, then ``kwargs``, exactly as
    in :func:`fastware_core.create_app`. Unless an ``injector`` is given, the app gets a new
    :class:`fastware_di.DependencyResolver` over ``dependency_overrides`` (kept by
    reference), so routes may declare dependencies. The injector (given or made) is wrapped
    in :class:`fastware_auth.RateLimitInjector`, which checks ``@rate_limit`` first.

    Raises:
        TypeError: for a keyword that is not an ``AppConfig`` field.
        fastware_di.DependencyError: for a route whose dependencies cannot work (a missing
            name, a cycle, a factory with an unsupported signature), naming both.
    """
    injector = kwargs.get("injector", config.injector if config is not None else None)
    if injector is None:
        from fastware_di import DependencyResolver

        overrides = kwargs.get(
            "dependency_overrides", config.dependency_overrides if config is not None else None
        )
        if overrides is None:
            overrides = {}
            kwargs["dependency_overrides"] = overrides
        injector = DependencyResolver(overrides)
    from fastware_auth.injector import RateLimitInjector

    if not isinstance(injector, RateLimitInjector):
        injector = RateLimitInjector(injector)
    kwargs["injector"] = injector
    return create_core_app(router, config, **kwargs)
