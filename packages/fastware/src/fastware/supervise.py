"""Compatibility path ``fastware.supervise`` (fastware 0.6.3): running the dev environment.

Everything comes from :mod:`fastware_dev.supervise`; importing this module does not import
Granian.
"""

from __future__ import annotations

from fastware_dev.supervise import (
    ComponentDied,
    DevProcess,
    DevRunError,
    PortCollisionError,
    PreSpawnGateError,
    ReadinessError,
    SWModeConflictError,
    check_sw_mode,
    dev_log_path,
    dev_pid_path,
    list_dev_instances,
    resolve_backend_sw_mode,
    run_dev,
    run_gates,
    stop_dev_instances,
    supervise_loop,
    teardown,
)

__all__ = (
    "ComponentDied",
    "DevProcess",
    "DevRunError",
    "PortCollisionError",
    "PreSpawnGateError",
    "ReadinessError",
    "SWModeConflictError",
    "check_sw_mode",
    "dev_log_path",
    "dev_pid_path",
    "list_dev_instances",
    "resolve_backend_sw_mode",
    "run_dev",
    "run_gates",
    "stop_dev_instances",
    "supervise_loop",
    "teardown",
)
