"""Compatibility path ``fastware.di`` (fastware 0.6.3): dependency injection from fastware-di."""

from __future__ import annotations

from fastware_di import (
    Dependency,
    DependencyError,
    DependencyOverrides,
    DependencyResolver,
    Depends,
    dependency,
)

__all__ = (
    "Dependency",
    "DependencyError",
    "DependencyOverrides",
    "DependencyResolver",
    "Depends",
    "dependency",
)
