"""Background servers: ``serve(..., foreground=False)`` and ``stop_background``.

A background server runs Granian's embedded server on an event loop in a thread of this
process, so the app object is shared with the caller. ``serve`` returns once the app
answers. ``stop_background`` stops it from any thread, safely (the stop runs on the
server's own loop), and returns once the thread has finished: in-flight requests
completed, open streams told to end, the lifespan shut down.

For a fastware app (RSGI) the lifespan runs here, around the embedded server: Granian's
embedded server calls ``__rsgi_init__`` on a running loop, where a synchronous startup
cannot run.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import gc
import importlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from .config import LoopChoice, ServerConfig
from .exceptions import StartupError
from .plan import Claim, ServerPlan, plan_server
from .probe import wait_until_answering
from .targets import describe_error
from .worker import read_report, watch_asgi_lifespan

__all__ = ("BackgroundServer", "register_background", "serve_in_thread", "stop_background")

logger = logging.getLogger("fastware.server")
_RUNNING: dict[str, BackgroundServer] = {}
_LOCK = threading.Lock()
_JOIN_MARGIN = 5.0
_GRANIAN_LOGGERS = ("_granian", "granian.access")
_EXPERIMENTAL = "Embedded server is experimental!"


class BackgroundServer(Protocol):
    """Something :func:`stop_background` can stop."""

    def stop(self) -> None:
        """Stop the server and wait until it is gone."""


def register_background(url: str, server: BackgroundServer) -> None:
    """Track ``server`` under ``url`` for :func:`stop_background`."""
    with _LOCK:
        _RUNNING[url] = server


def stop_background(url: str) -> None:
    """Stop the background server serving ``url`` and wait until it has stopped.

    Works for servers started by ``serve(..., foreground=False)`` and by
    :func:`serve_background`.

    Raises:
        KeyError: no background server of this process serves ``url``.
    """
    with _LOCK:
        server = _RUNNING.pop(url)
    server.stop()


def _stop_all() -> None:
    with _LOCK:
        servers = [s for s in _RUNNING.values() if isinstance(s, _ThreadServer)]
        _RUNNING.clear()
    for server in servers:
        server.stop()


atexit.register(_stop_all)


class _NoExperimentalWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _EXPERIMENTAL


def _route_granian_logs() -> None:
    # Granian's constructor points its loggers at stdout; inside someone else's process
    # they should follow that process's logging setup instead.
    for name in _GRANIAN_LOGGERS:
        granian_logger = logging.getLogger(name)
        for handler in list(granian_logger.handlers):
            granian_logger.removeHandler(handler)
        granian_logger.propagate = True
        if not any(isinstance(f, _NoExperimentalWarning) for f in granian_logger.filters):
            granian_logger.addFilter(_NoExperimentalWarning())


class _EmbeddedRSGI:
    """A fastware app's RSGI door without ``__rsgi_init__``/``__rsgi_del__`` (run here)."""

    def __init__(self, app: Any) -> None:
        self.__rsgi__: Any = app.__rsgi__


def _loop_factory(loop: LoopChoice) -> Callable[[], asyncio.AbstractEventLoop]:
    if loop == "asyncio":
        return asyncio.new_event_loop
    module = importlib.import_module(loop)  # uvloop and rloop both offer new_event_loop
    factory: Callable[[], asyncio.AbstractEventLoop] = module.new_event_loop
    return factory


class _ThreadServer:
    """Granian's embedded server on its own loop in a daemon thread."""

    def __init__(self, plan: ServerPlan, claim: Claim) -> None:
        self.plan = plan
        self.claim = claim
        self.failure: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._stopping = False
        fd, self._report = tempfile.mkstemp(prefix="fastware-server-", suffix=".report")
        os.close(fd)
        self._thread = threading.Thread(
            target=self._run, name=f"fastware-server {plan.url}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        ready = wait_until_answering(
            self.plan.endpoint, self.plan.config.startup_timeout, self._thread.is_alive
        )
        reason = self.failure or read_report(self._report)
        with contextlib.suppress(OSError):
            os.unlink(self._report)
        if ready:
            return
        self.stop()
        if reason is not None:
            raise StartupError(f"{self.plan.display} did not start: {reason}", reason)
        raise StartupError(
            f"{self.plan.display} did not answer on {self.plan.url} within "
            f"{self.plan.config.startup_timeout:g} s"
        )

    def _run(self) -> None:
        try:
            with asyncio.Runner(loop_factory=_loop_factory(self.plan.loop)) as runner:
                runner.run(self._main())
        except BaseException as exc:
            self.failure = self.failure or describe_error(exc)
            logger.error("Background server %s failed: %s", self.plan.url, self.failure)

    async def _main(self) -> None:
        from granian.constants import HTTPModes, Interfaces
        from granian.http import HTTP1Settings, HTTP2Settings
        from granian.server.embed import Server

        self._loop = asyncio.get_running_loop()
        plan, cfg, app = self.plan, self.plan.config, self.plan.app
        native = plan.interface == "rsgi" and callable(getattr(app, "startup", None))
        if native:
            try:
                await app.startup()
            except BaseException as exc:
                self.failure = f"lifespan startup failed: {describe_error(exc)}"
                return
        target = _EmbeddedRSGI(app) if native else app
        server = Server(
            target,
            address=plan.bind_host if cfg.uds is None else "127.0.0.1",
            port=plan.port,
            uds=None if cfg.uds is None else Path(cfg.uds),
            interface=Interfaces.RSGI if plan.interface == "rsgi" else Interfaces.ASGI,
            runtime_threads=cfg.threads,
            http=HTTPModes(cfg.http),
            websockets=cfg.websockets,
            backlog=cfg.backlog,
            backpressure=cfg.backpressure,
            http1_settings=HTTP1Settings(
                header_read_timeout=round(cfg.header_read_timeout * 1000),
                keep_alive=cfg.keep_alive,
            ),
            http2_settings=HTTP2Settings(keep_alive_timeout=max(1, round(cfg.keep_alive_timeout))),
            log_access=cfg.access_log,
            ssl_cert=None if cfg.ssl_cert is None else Path(cfg.ssl_cert),
            ssl_key=None if cfg.ssl_key is None else Path(cfg.ssl_key),
        )
        server.workers_kill_timeout = max(cfg.grace, 0.001)  # type: ignore[assignment]
        _route_granian_logs()
        watch_asgi_lifespan(self._report)
        self._server = server
        try:
            if not self._stopping:
                await server.serve()
        except TimeoutError:
            logger.warning(
                "%s: requests still running %.1f s after the stop were cancelled",
                plan.url,
                cfg.grace,
            )
        finally:
            self._server = None
            if native:
                try:
                    await app.shutdown()
                except Exception:
                    logger.exception("Lifespan shutdown of %s failed", plan.display)

    def _begin_stop(self) -> None:
        self._stopping = True
        begin_shutdown = getattr(self.plan.app, "begin_shutdown", None)
        if callable(begin_shutdown):
            begin_shutdown(self.plan.config.grace / 2)  # open streams: end now
        if self._server is not None:
            self._server.stop()

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and self._thread.is_alive():
            try:
                loop.call_soon_threadsafe(self._begin_stop)
            except RuntimeError:
                pass  # the loop already closed
        if self._thread.ident is not None:
            self._thread.join(self.plan.config.grace + _JOIN_MARGIN)
        self._loop = None
        # Granian's embedded server leaves reference cycles holding its Rust objects; freed
        # while the interpreter is shutting down they panic (measured: 8 exits in 40), so
        # free them now.
        gc.collect()
        self.claim.release()


def serve_in_thread(
    target: Any,
    *,
    host: str | None,
    port: int | None,
    pid_path: Any,
    name: str,
    pre_serve: Callable[[], object] | None,
    single_instance: bool,
    loop: LoopChoice,
    workers: int,
    config: ServerConfig,
) -> str:
    """Start a background server (``serve(..., foreground=False)``); return its URL once
    the app answers.

    Raises:
        ValueError: ``workers`` is not 1 (a background server is one thread of this
            process; use :func:`serve_background` for worker processes).
    """
    if workers != 1:
        raise ValueError(
            "serve(foreground=False) runs one server in a thread of this process, so workers "
            "must be 1; use serve_background() for several worker processes"
        )
    plan = plan_server(
        target,
        host=host,
        port=port,
        name=name,
        pid_path=pid_path,
        single_instance=single_instance,
        loop=loop,
        workers=1,
        config=config,
    )
    claim = Claim(plan)
    claim.acquire()
    try:
        if pre_serve is not None:
            pre_serve()
        server = _ThreadServer(plan, claim)
        server.start()
    except BaseException:
        claim.release()
        raise
    register_background(plan.url, server)
    return plan.url
