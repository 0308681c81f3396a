"""Working out what to serve and where, and claiming it: PID file, port file, registry.

:func:`plan_server` resolves the target, the interface and the address (explicit values,
then ``<NAME>_HOST``/``<NAME>_PORT``, then ``127.0.0.1:8000``; port 0 becomes a free
port). :class:`Claim` then checks that no other instance runs and that the port is free,
and writes the files that let ``stop`` and ``status`` find the server.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import LoopChoice, ServerConfig, resolve_address
from .control import check_already_running
from .exceptions import AlreadyRunningError, ServerError
from .instances import forget_server, record_server
from .ports import bind_address, ensure_port_available, free_port
from .probe import Endpoint
from .process import port_file_for, remove_owned_file, write_int_file
from .registry import deregister_instance, register_instance
from .targets import (
    TargetRef,
    check_app,
    choose_interface,
    import_target,
    parse_target,
    reference_for,
)

__all__ = ("Claim", "ServerPlan", "check_startable", "plan_server")

_LOOPS = {"asyncio": None, "uvloop": "uvloop", "rloop": "rloop"}
LOG_FILE_ENV = "FASTWARE_SERVER_LOG_FILE"
"""Set by ``--daemon`` for the server process: the log file its output goes to."""


@dataclass(slots=True)
class ServerPlan:
    """Everything resolved about one server before it starts."""

    display: str
    """How to name the target in messages (``hello:app``)."""
    ref: TargetRef | None
    """The app's import reference, when it has one."""
    app: Any
    """The app object, or ``None`` when it is imported elsewhere (reload, background)."""
    interface: str | None
    """``"rsgi"`` or ``"asgi"``; ``None`` until the app is imported (``auto``)."""
    host: str
    """The host as given (a name or an address)."""
    port: int
    """The port (never 0: port 0 was replaced by a free port)."""
    name: str
    """The server's name (environment prefix, messages)."""
    pid_path: Path | None
    """The PID file, or ``None`` for none."""
    single_instance: bool
    """Refuse to start when the PID file names a live server."""
    loop: LoopChoice
    """The event loop of the workers."""
    workers: int
    """How many worker processes."""
    config: ServerConfig
    """The other Granian options."""

    @property
    def endpoint(self) -> Endpoint:
        """Where the server listens, for the probe and the URL."""
        return Endpoint(
            host=self.host,
            port=self.port,
            uds=str(self.config.uds) if self.config.uds is not None else None,
            tls=self.config.ssl_cert is not None,
            http2_only=self.config.http == "2",
        )

    @property
    def url(self) -> str:
        """The URL the server answers on."""
        return self.endpoint.url

    @property
    def bind_host(self) -> str:
        """The IP address Granian binds."""
        return bind_address(self.host)


def _check_loop(loop: str) -> None:
    if loop not in _LOOPS:
        raise ValueError(f"loop must be one of {', '.join(_LOOPS)}; got {loop!r}")
    package = _LOOPS[loop]
    if package is not None and importlib.util.find_spec(package) is None:
        raise ValueError(f"loop {loop!r} needs the {package} package: pip install {package}")


def _display(target: Any, ref: TargetRef | None) -> str:
    if ref is not None:
        return str(ref)
    return str(getattr(target, "__qualname__", None) or type(target).__name__)


def plan_server(
    target: Any,
    *,
    host: str | None,
    port: int | None,
    name: str,
    pid_path: str | os.PathLike[str] | None,
    single_instance: bool,
    loop: LoopChoice,
    workers: int,
    config: ServerConfig,
    load: bool = True,
    allow_main: bool = True,
) -> ServerPlan:
    """Resolve ``target`` and the address.

    Args:
        target: ``"module:attribute"`` or the app object.
        host: The host, or ``None`` for ``<NAME>_HOST`` or ``127.0.0.1``.
        port: The port, or ``None`` for ``<NAME>_PORT`` or 8000; 0 for any free port.
        name: The server's name.
        pid_path: The PID file, if any.
        single_instance: Refuse to start next to a live server of the same PID file.
        loop: The event loop.
        workers: How many worker processes (at least 1).
        config: The other options.
        load: Import a string target now (to pick the interface and fail early).
        allow_main: Whether an object of the main script may be referred to by file name.

    Raises:
        TargetError: the target cannot be imported or is not an app.
        ValueError: a setting is impossible.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer of at least 1, got {workers!r}")
    _check_loop(loop)
    host, port = resolve_address(host, port, name)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # "[::1]", as in URLs
    app: Any = None
    if isinstance(target, str):
        ref: TargetRef | None = parse_target(target)
        if load:
            assert ref is not None
            app = import_target(ref, config.app_dir)
    else:
        looks_like_app = callable(target) or hasattr(target, "__rsgi__")
        ref = reference_for(target, allow_main=allow_main) if looks_like_app else None
        check_app(target, _display(target, ref))
        app = target
    if app is not None:
        interface: str | None = choose_interface(app, config.interface)
    else:
        interface = None if config.interface == "auto" else config.interface
    if config.uds is None and port == 0:
        port = free_port(host)
    return ServerPlan(
        display=_display(target, ref),
        ref=ref,
        app=app,
        interface=interface,
        host=host,
        port=port,
        name=name,
        pid_path=Path(pid_path) if pid_path is not None else None,
        single_instance=single_instance,
        loop=loop,
        workers=workers,
        config=config,
    )


def _check_socket_file(path: str) -> None:
    if not os.path.exists(path):
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # nobody listens: a leftover of a server that was killed
            return
    raise ServerError(f"the Unix socket {path} is in use by another server")


def check_startable(plan: ServerPlan) -> None:
    """Refuse a plan whose server already runs or whose address is taken.

    Raises:
        AlreadyRunningError: the PID file names a live server (with ``single_instance``).
        PortInUseError: the port is taken.
    """
    path = plan.pid_path
    if path is not None and plan.single_instance:
        running = check_already_running(path)
        if running is not None:
            raise AlreadyRunningError(running, path, plan.name)
    if plan.config.uds is not None:
        _check_socket_file(str(plan.config.uds))
    else:
        ensure_port_available(plan.host, plan.port, plan.name, pid_path=path)


class Claim:
    """This process's claim on a plan's PID file, port file and registry entry."""

    def __init__(self, plan: ServerPlan) -> None:
        self.plan = plan
        self._pid: int | None = None

    def acquire(self) -> None:
        """Check for a running instance and a free port, then write the files.

        Raises:
            AlreadyRunningError: the PID file names a live server (with ``single_instance``).
            PortInUseError: the port is taken.
        """
        plan = self.plan
        path = plan.pid_path
        check_startable(plan)
        if path is None:
            return
        pid = os.getpid()
        try:
            write_int_file(path, pid, exclusive=plan.single_instance)
        except FileExistsError:
            raise AlreadyRunningError(check_already_running(path) or 0, path, plan.name) from None
        self._pid = pid
        atexit.register(self.release)
        write_int_file(port_file_for(path), plan.port)
        register_instance(
            path,
            plan.port,
            plan.name,
            host=plan.host,
            url=plan.url,
            grace=plan.config.grace,
            target=plan.display,
            workers=plan.workers,
        )
        # The per-user list, so that `fastware status` finds it from any directory.
        record_server(path, plan.display, plan.url, os.environ.get(LOG_FILE_ENV))

    def release(self) -> None:
        """Remove the files this process wrote (only if they still name it)."""
        path, pid = self.plan.pid_path, self._pid
        if path is None or pid is None or pid != os.getpid():
            return  # nothing written, or a forked child that inherited the claim
        self._pid = None
        deregister_instance(path, pid)
        forget_server(pid)
        if path.exists():
            remove_owned_file(path, pid)
            if not path.exists():
                with contextlib.suppress(FileNotFoundError):
                    port_file_for(path).unlink()

    def __enter__(self) -> Claim:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
