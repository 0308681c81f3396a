"""Compatibility path ``fastware.devconfig`` (fastware 0.6.3): ``[tool.fastware.dev]``.

Everything comes from :mod:`fastware_dev.devconfig`.
"""

from __future__ import annotations

from fastware_dev.devconfig import (
    TOPOLOGIES,
    AuxService,
    BackendSpec,
    DevConfig,
    DevConfigError,
    HealthCheck,
    PreSpawnGate,
    ViteSpec,
    build_dev_config,
    find_dev_pyproject,
    load_dev_config,
)

__all__ = (
    "TOPOLOGIES",
    "AuxService",
    "BackendSpec",
    "DevConfig",
    "DevConfigError",
    "HealthCheck",
    "PreSpawnGate",
    "ViteSpec",
    "build_dev_config",
    "find_dev_pyproject",
    "load_dev_config",
)
