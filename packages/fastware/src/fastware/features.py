"""Compatibility path ``fastware.features`` (fastware 0.6.3): feature flags from fastware-flags."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastware_flags import (
    ENV_STORE,
    FeatureFlags,
    FlagStore,
    FlagStoreError,
    JSONFileStore,
    coerce_flag,
    open_store,
)

if TYPE_CHECKING:
    from fastware_flags import RedisFlagStore

__all__ = (
    "ENV_STORE",
    "FeatureFlags",
    "FlagStore",
    "FlagStoreError",
    "JSONFileStore",
    "RedisFlagStore",
    "coerce_flag",
    "open_store",
)


def __getattr__(name: str) -> Any:
    if name == "RedisFlagStore":  # imports redis-py: only on first use
        from fastware_flags import RedisFlagStore

        return RedisFlagStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
