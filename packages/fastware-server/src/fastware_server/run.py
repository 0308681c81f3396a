"""``serve()``: run an app under Granian in this process, in a background thread, or with a
reloader.

Granian is imported only when a server starts, never by ``import fastware_server``.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, overload

from .background import serve_in_thread
from .config import LoopChoice, ServerConfig, merge_config
from .exceptions import PortInUseError, ServerError, ShutdownError, StartupError
from .plan import Claim, ServerPlan, plan_server
from .reload import run_with_reload
from .targets import check_not_importing, process_local_backends
from .worker import SHUTDOWN_FAILED, WorkerSpec, loader_for, read_report

__all__ = (
    "run_foreground",
    "run_granian",
    "serve",
    "warn_process_local",
)

logger = logging.getLogger("fastware.server")

# Granian's logging, with a timestamp on every server line (Granian's default has none);
# access lines carry their own time (see docs/server.md for the access log's format).
_LOG_CONFIG: dict[str, Any] = {
    "formatters": {
        "generic": {
            "()": "logging.Formatter",
            "fmt": "[%(asctime)s] [%(levelname)s] %(message)s",
            "datefmt": "%Y-%m-%d %H:%M:%S %z",
        },
        "access": {"()": "logging.Formatter", "fmt": "%(message)s"},
    },
}


@overload
def serve(
    target: Any,
    *,
    foreground: Literal[True],
    host: str | None = None,
    port: int | None = None,
    pid_path: str | os.PathLike[str] | None = None,
    name: str = "FASTWARE",
    pre_serve: Callable[[], object] | None = None,
    reload: bool = False,
    single_instance: bool = True,
    loop: LoopChoice = "asyncio",
    workers: int = 1,
    config: ServerConfig | None = None,
    **options: Any,
) -> None: ...


@overload
def serve(
    target: Any,
    *,
    foreground: Literal[False],
    host: str | None = None,
    port: int | None = None,
    pid_path: str | os.PathLike[str] | None = None,
    name: str = "FASTWARE",
    pre_serve: Callable[[], object] | None = None,
    reload: bool = False,
    single_instance: bool = True,
    loop: LoopChoice = "asyncio",
    workers: int = 1,
    config: ServerConfig | None = None,
    **options: Any,
) -> str: ...


@overload
def serve(
    target: Any,
    *,
    foreground: bool,
    host: str | None = None,
    port: int | None = None,
    pid_path: str | os.PathLike[str] | None = None,
    name: str = "FASTWARE",
    pre_serve: Callable[[], object] | None = None,
    reload: bool = False,
    single_instance: bool = True,
    loop: LoopChoice = "asyncio",
    workers: int = 1,
    config: ServerConfig | None = None,
    **options: Any,
) -> str | None: ...


def serve(
    target: Any,
    *,
    foreground: bool,
    host: str | None = None,
    port: int | None = None,
    pid_path: str | os.PathLike[str] | None = None,
    name: str = "FASTWARE",
    pre_serve: Callable[[], object] | None = None,
    reload: bool = False,
    single_instance: bool = True,
    loop: LoopChoice = "asyncio",
    workers: int = 1,
    config: ServerConfig | None = None,
    **options: Any,
) -> str | None:
    """Serve ``target`` with Granian.

    Host and port come from the arguments, then ``<NAME>_HOST``/``<NAME>_PORT`` (``name``
    upper-cased, other characters turned into ``_``: ``my-app`` reads ``MY_APP_PORT``), then
    ``127.0.0.1:8000``. Port 0 picks a free port. fastware apps are served over RSGI, other
    apps over ASGI (``interface=`` forces one).

    Args:
        target: The app, or ``"module:attribute"``.
        foreground: ``True`` blocks until the server stops (SIGTERM or Ctrl-C); ``False``
            serves from a thread of this process and returns the URL once the app answers
            (stop it with :func:`stop_background`).
        host: The host to bind (default ``127.0.0.1``).
        port: The port (default 8000).
        pid_path: Write this PID file (with a ``.port`` file and a registry entry next to
            it) so that :func:`stop` and :func:`status` find the server.
        name: The server's name: the environment prefix and the name in messages.
        pre_serve: Called once, synchronously, just before serving.
        reload: Restart the server when a ``.py`` file under the app directory changes
            (foreground only).
        single_instance: Refuse to start when ``pid_path`` names a live server.
        loop: The workers' event loop: ``asyncio``, ``uvloop`` or ``rloop``.
        workers: Worker processes (foreground only; a background server has one).
        config: Further Granian options; ``**options`` override its fields.
        **options: Any :class:`ServerConfig` field, e.g. ``grace=5``, ``http="2"``.

    Returns:
        The URL for a background server, ``None`` once a foreground server has stopped.

    Raises:
        AlreadyRunningError: ``pid_path`` names a live server.
        PortInUseError: the port is taken (the holder's PID is in the message).
        StartupError: the app's lifespan startup failed, or a worker died.
        ShutdownError: the server stopped, but a worker's lifespan shutdown failed.
        TargetError: ``target`` cannot be imported.
        ValueError: an impossible combination or value.
    """
    if reload and not foreground:
        raise ValueError("reload=True needs foreground=True")
    if reload:
        check_not_importing("serve(reload=True)")
    settings = merge_config(config, options)
    if not foreground:
        return serve_in_thread(
            target,
            host=host,
            port=port,
            pid_path=pid_path,
            name=name,
            pre_serve=pre_serve,
            single_instance=single_instance,
            loop=loop,
            workers=workers,
            config=settings,
        )
    plan = plan_server(
        target,
        host=host,
        port=port,
        name=name,
        pid_path=pid_path,
        single_instance=single_instance,
        loop=loop,
        workers=workers,
        config=settings,
        load=not reload,
    )
    run_foreground(plan, pre_serve=pre_serve, reload=reload)
    return None


def run_foreground(
    plan: ServerPlan, *, pre_serve: Callable[[], object] | None = None, reload: bool = False
) -> None:
    """Claim the plan's files and port, then serve until stopped (see :func:`serve`)."""
    with Claim(plan):
        if pre_serve is not None:
            pre_serve()
        if reload:
            run_with_reload(plan)
        else:
            run_granian(plan)


def warn_process_local(plan: ServerPlan) -> None:
    """Warn, naming each one, about in-memory backends that ``workers > 1`` would split."""
    if plan.workers < 2 or plan.app is None:
        return
    module = sys.modules.get(plan.ref.module) if plan.ref is not None else None
    backends = process_local_backends(plan.app, module)
    if backends:
        logger.warning(
            "%s runs %d workers, but these keep their state in one process and are not "
            "shared between workers: %s. Each worker has its own copy; use a shared backend "
            "(Redis) or workers=1.",
            plan.display,
            plan.workers,
            "; ".join(backends),
        )


def _start_method() -> str:
    # Granian uses the multiprocessing start method, falling back to spawn for others
    # (forkserver, the default on Python 3.14).
    method = multiprocessing.get_start_method()
    return method if method in ("fork", "spawn") else "spawn"


def run_granian(plan: ServerPlan) -> None:
    """Run Granian in this process until it is stopped.

    Raises:
        ShutdownError: the server stopped, but a worker's lifespan shutdown failed.
        StartupError: a worker failed (its lifespan startup, or it died); Granian exited
            with a non-zero status.
        PortInUseError: the port was taken between the check and the bind.
    """
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.http import HTTP1Settings, HTTP2Settings
    from granian.log import LogLevels
    from granian.server import Server

    cfg = plan.config
    warn_process_local(plan)
    fd, report = tempfile.mkstemp(prefix="fastware-server-", suffix=".report")
    os.close(fd)
    interface = plan.interface or "asgi"
    spec: WorkerSpec = {
        "target": plan.ref.to_json() if plan.ref is not None else None,
        "app_dir": str(Path(cfg.app_dir or os.getcwd()).resolve()),
        "interface": interface,
        "report": report,
        "grace": cfg.grace,
    }
    server = Server(
        target=plan.display,
        address=plan.bind_host if cfg.uds is None else "127.0.0.1",
        port=plan.port,
        uds=Path(cfg.uds) if cfg.uds is not None else None,
        interface=Interfaces.RSGI if interface == "rsgi" else Interfaces.ASGI,
        workers=plan.workers,
        runtime_threads=cfg.threads,
        loop=Loops(plan.loop),
        http=HTTPModes(cfg.http),
        websockets=cfg.websockets,
        backlog=cfg.backlog,
        backpressure=cfg.backpressure,
        http1_settings=HTTP1Settings(
            header_read_timeout=round(cfg.header_read_timeout * 1000), keep_alive=cfg.keep_alive
        ),
        http2_settings=HTTP2Settings(keep_alive_timeout=max(1, round(cfg.keep_alive_timeout))),
        log_level=LogLevels(cfg.log_level),
        log_dictconfig=_LOG_CONFIG,
        log_access=cfg.access_log,
        ssl_cert=Path(cfg.ssl_cert) if cfg.ssl_cert is not None else None,
        ssl_key=Path(cfg.ssl_key) if cfg.ssl_key is not None else None,
        respawn_failed_workers=cfg.respawn_failed_workers,
        workers_lifetime=cfg.workers_lifetime,
        workers_max_rss=cfg.workers_max_rss,
        # Granian waits forever for a worker when this is 0 or None.
        workers_kill_timeout=max(cfg.grace, 0.001),  # type: ignore[arg-type]
    )
    code: Any = 0
    try:
        server.serve(target_loader=loader_for(plan.app, spec, _start_method()))
    except SystemExit as exc:
        code = exc.code
    except RuntimeError as exc:
        if "Address already in use" in str(exc):
            raise PortInUseError(plan.host, plan.port, None, plan.name) from None
        raise ServerError(f"Granian failed: {str(exc).splitlines()[0]}") from None
    finally:
        reason = read_report(report)
        with contextlib.suppress(OSError):
            os.unlink(report)
    if not code and reason is not None and reason.startswith(SHUTDOWN_FAILED):
        raise ShutdownError(f"{plan.display} stopped, but its {reason}", reason)
    if code:
        if reason is not None:
            raise StartupError(f"{plan.display} did not start: {reason}", reason)
        raise StartupError(
            f"{plan.display} stopped: Granian exited with status {code} after a worker "
            "failed (its output is above)"
        )
