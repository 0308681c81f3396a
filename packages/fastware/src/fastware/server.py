"""Compatibility path ``fastware.server`` (fastware 0.6.3): the managed Granian server.

Everything comes from fastware-server; importing this module does not import Granian.
"""

from __future__ import annotations

from fastware_server import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    AlreadyRunningError,
    LoopChoice,
    NotRunningError,
    PortInUseError,
    RegistryEntry,
    ServerConfig,
    ServerError,
    ServerStatus,
    StartupError,
    TargetError,
    check_already_running,
    deregister_instance,
    ensure_port_available,
    list_instances,
    list_markers,
    read_port_file,
    register_instance,
    remove_marker,
    serve,
    serve_background,
    status,
    stop,
    stop_background,
    write_marker,
)

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
