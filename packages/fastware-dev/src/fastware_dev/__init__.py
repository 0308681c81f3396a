"""fastware-dev: a full-stack dev loop with Vite, HMR and backend reload.

    fastware dev new myapp && cd myapp/frontend && npm install && cd .. && fastware dev

- :class:`ViteDevProxy` serves the backend and a Vite dev server from one origin: backend
  paths and the app's answers go to the browser, everything the app does not serve (404) and
  Vite's HMR WebSocket go to Vite, streamed both ways.
- ``[tool.fastware.dev]`` in pyproject.toml (:mod:`fastware_dev.devconfig`) describes the
  environment; :func:`run_dev` (``fastware dev``) runs it: pre-spawn gates, aux services
  with health checks, Vite and the backend in topology order, backend reload on ``.py``
  changes, output of every component with a prefix, everything stopped together.
- :func:`dev` is the 0.6.3 one-call version for a script.

Importing this package imports neither httpx nor websockets nor Granian.
"""

from __future__ import annotations

from .dev import dev
from .devconfig import (
    AuxService,
    BackendSpec,
    DevConfig,
    HealthCheck,
    PreSpawnGate,
    ViteSpec,
    build_dev_config,
    find_dev_pyproject,
    load_dev_config,
)
from .exceptions import (
    ComponentDied,
    DevConfigError,
    DevError,
    DevRunError,
    PortCollisionError,
    PreSpawnGateError,
    ReadinessError,
    SWModeConflictError,
)
from .forward import BackendForwarder
from .new import create_project
from .proxy import DEFAULT_BACKEND_PREFIXES, ViteDevProxy
from .supervise import (
    DevProcess,
    dev_log_path,
    dev_pid_path,
    list_dev_instances,
    resolve_backend_sw_mode,
    run_dev,
    stop_dev_instances,
)

__all__ = (
    "DEFAULT_BACKEND_PREFIXES",
    "AuxService",
    "BackendForwarder",
    "BackendSpec",
    "ComponentDied",
    "DevConfig",
    "DevConfigError",
    "DevError",
    "DevProcess",
    "DevRunError",
    "HealthCheck",
    "PortCollisionError",
    "PreSpawnGate",
    "PreSpawnGateError",
    "ReadinessError",
    "SWModeConflictError",
    "ViteDevProxy",
    "ViteSpec",
    "build_dev_config",
    "create_project",
    "dev",
    "dev_log_path",
    "dev_pid_path",
    "find_dev_pyproject",
    "list_dev_instances",
    "load_dev_config",
    "resolve_backend_sw_mode",
    "run_dev",
    "stop_dev_instances",
)
