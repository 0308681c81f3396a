"""fastware-server: a managed Granian server for fastware apps (and any ASGI app).

    from fastware_server import serve

    serve("hello:app", foreground=True)                 # blocks; Ctrl-C or SIGTERM stops it
    url = serve(app, foreground=False, port=0)          # a thread of this process
    url = serve_background("hello:app", pid_path=".app.pid", port=0)   # its own process
    stop(".app.pid")                                    # graceful, then killed after the grace

fastware apps are served over Granian's RSGI interface, other apps over ASGI. A stop
(SIGTERM) finishes in-flight requests, tells open streams to end and runs the lifespan
shutdown within a grace period (10 s by default) before workers are killed. PID files are
trusted only for the process that wrote them, so a reused PID is never signalled.

Importing this package does not import Granian; starting a server does.
"""

from __future__ import annotations

from .background import stop_background
from .config import DEFAULT_HOST, DEFAULT_PORT, LoopChoice, ServerConfig
from .control import ServerStatus, check_already_running, status, stop
from .detached import serve_background
from .exceptions import (
    AlreadyRunningError,
    NotRunningError,
    PortInUseError,
    ServerError,
    ShutdownError,
    StartupError,
    TargetError,
)
from .ports import ensure_port_available
from .process import read_port_file
from .registry import (
    RegistryEntry,
    deregister_instance,
    list_instances,
    list_markers,
    register_instance,
    remove_marker,
    write_marker,
)
from .run import serve

__all__ = (
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "AlreadyRunningError",
    "LoopChoice",
    "NotRunningError",
    "PortInUseError",
    "RegistryEntry",
    "ServerConfig",
    "ServerError",
    "ServerStatus",
    "ShutdownError",
    "StartupError",
    "TargetError",
    "check_already_running",
    "deregister_instance",
    "ensure_port_available",
    "list_instances",
    "list_markers",
    "read_port_file",
    "register_instance",
    "remove_marker",
    "serve",
    "serve_background",
    "status",
    "stop",
    "stop_background",
    "write_marker",
)
