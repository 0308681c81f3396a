"""Feature flags for fastware, live in every worker.

    from fastware_flags import FeatureFlags

    flags = FeatureFlags({"beta": False}, overrides_path="flags.json")

    @router.get("/beta", feature="beta")   # 404 while off
    async def beta(request): ...

    app = create_app(router, features=flags)

Defaults come from code, overrides from a store every worker shares: a JSON file (written
atomically under an OS lock) or Redis (``store="redis://..."``, with pub/sub change notices).
A change by any process is seen by every worker within ``refresh_interval`` (1 s), with no
file read per call. ``fastware flags`` lists, sets and unsets them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .flags import ENV_STORE, FeatureFlags
from .stores import FlagStore, FlagStoreError, JSONFileStore, coerce_flag, open_store

if TYPE_CHECKING:
    from .redis_store import RedisFlagStore

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
    if name == "RedisFlagStore":  # imports redis: only when asked for
        from .redis_store import RedisFlagStore

        return RedisFlagStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
