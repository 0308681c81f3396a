"""``fastware.create_app``: fastware-core's app with the family wired in.

Also the compatibility path ``fastware.app`` (fastware 0.6.3) for ``create_app`` and
``AppConfig``. The wiring:

- dependency injection: every app gets its own fastware-di ``DependencyResolver`` holding the
  app's ``dependency_overrides`` by reference, inside fastware-auth's ``RateLimitInjector``,
  so ``@rate_limit`` works on either side of the route decorator and is checked before
  dependencies run;
- the error log: every app records its unhandled exceptions in a fastware-errorlog
  ``ErrorLog`` (``.fastware-errors.db`` in the current directory unless told otherwise),
  closed (flushed) at lifespan shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
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

    Every unhandled exception (HTTP, WebSocket, streams) is recorded with its traceback in
    an :class:`fastware_errorlog.ErrorLog`; ``error_log`` chooses it:

    - not given (or ``None``): ``$FASTWARE_ERROR_LOG`` or ``.fastware-errors.db`` in the
      current directory (``FASTWARE_ERROR_LOG=off`` turns it off);
    - a path: an ``ErrorLog`` on that file;
    - an ``ErrorLog`` (or any ``ErrorRecorder``): that one;
    - ``False``: no error log;
    - any other object with 0.6.3's ``append(...)``: used as in 0.6.3 (5xx rows, no
      tracebacks), with no default log.

    An explicit ``error_recorder`` is left alone. The log the app uses is
    ``app.config.error_recorder``; it is closed (its queue written) at lifespan shutdown.

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
    _wire_error_log(config, kwargs)
    _wire_vite_proxy(config, kwargs)
    return create_core_app(router, config, **kwargs)


def _wire_vite_proxy(config: AppConfig | None, kwargs: dict[str, Any]) -> None:
    """0.6.3's ``vite_dev_port``/``vite_backend_prefixes``: fastware-dev's ``ViteDevProxy``
    becomes the outermost user middleware (inside the built-in hooks: trusted hosts, CORS,
    request ids and timing also see proxied requests), honouring ``api_prefix``."""
    port = _setting(config, kwargs, "vite_dev_port")
    if port is None:
        return
    from fastware_dev.proxy import ViteDevProxy

    prefixes = _setting(config, kwargs, "vite_backend_prefixes")
    api_prefix = _setting(config, kwargs, "api_prefix")
    if _setting(config, kwargs, "sw_mode") == "cache":
        logging.getLogger("fastware").warning(
            "sw_mode='cache' with vite_dev_port: a caching service worker serves stale dev "
            "assets; use sw_mode='off' or 'reset' while developing"
        )

    def vite_proxy(app: Any) -> Any:
        return ViteDevProxy(
            app,
            vite_port=port,
            api_prefix=api_prefix if api_prefix is not None else "/api",
            backend_prefixes=prefixes,
        )

    kwargs["vite_dev_port"] = kwargs["vite_backend_prefixes"] = None
    kwargs["middleware"] = [vite_proxy, *(_setting(config, kwargs, "middleware") or ())]


def _setting(config: AppConfig | None, kwargs: dict[str, Any], name: str) -> Any:
    if name in kwargs:
        return kwargs[name]
    return getattr(config, name) if config is not None else None


def _wire_error_log(config: AppConfig | None, kwargs: dict[str, Any]) -> None:
    from fastware_core.recording import ErrorRecorder

    if _setting(config, kwargs, "error_recorder") is not None:
        return
    chosen = _setting(config, kwargs, "error_log")
    if chosen is False:
        kwargs["error_log"] = None
        return
    if chosen is not None and not isinstance(chosen, str | os.PathLike):
        if isinstance(chosen, ErrorRecorder):
            kwargs["error_recorder"] = chosen
            kwargs["lifespan"] = _closing(_setting(config, kwargs, "lifespan"), chosen)
        return  # a 0.6.3 sink: kept as it is
    from fastware_errorlog import ErrorLog
    from fastware_errorlog.cli import ENV_VAR, default_path

    if chosen is None:
        if os.environ.get(ENV_VAR, "").strip().lower() == "off":
            return
        chosen = default_path()
    log = ErrorLog(chosen)
    kwargs["error_log"] = kwargs["error_recorder"] = log
    kwargs["lifespan"] = _closing(_setting(config, kwargs, "lifespan"), log)


Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]


def _closing(lifespan: Lifespan | None, log: Any) -> Lifespan:
    """``lifespan`` (or none) followed by closing ``log`` in a thread at shutdown."""

    @asynccontextmanager
    async def with_error_log(app: Any) -> AsyncIterator[Any]:
        try:
            if lifespan is None:
                yield None
            else:
                async with lifespan(app) as value:
                    yield value
        finally:
            close = getattr(log, "close", None)
            if close is not None:
                await asyncio.to_thread(close)

    return with_error_log
