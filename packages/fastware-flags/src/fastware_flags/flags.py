"""``FeatureFlags``: defaults in code, overrides in a shared store, live in every worker."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from fastware_core import HTTPError

from .stores import FlagStore, FlagStoreError, check_name, coerce_flag, open_store

__all__ = ("ENV_STORE", "FeatureFlags")

ENV_STORE = "FASTWARE_FLAGS_STORE"
"""Environment variable naming the store (a path or ``redis://...``) when the code names none."""

_log = logging.getLogger("fastware.flags")


class FeatureFlags:
    """Feature flags: ``defaults`` from code, overrides from a store every worker shares.

    Args:
        defaults: flag name -> bool (copied; values are coerced, see :meth:`set_override`).
        overrides_path: the JSON overrides file (fastware 0.6.3); same as
            ``store=JSONFileStore(path)``.
        store: a :class:`~fastware_flags.stores.FlagStore`, or a string for
            :func:`~fastware_flags.stores.open_store` (a path or ``redis://...``). With
            neither, the ``FASTWARE_FLAGS_STORE`` environment variable is used when set.
        refresh_interval: at most this many seconds pass between a change in the store (by
            any process, or a hand edit of the file) and :meth:`enabled` seeing it. The check
            is a ``stat`` of the file (or a counter for Redis), made by the first call after
            the interval; there is no per-call I/O.

    A store that cannot be read, or holds malformed data, never turns every flag off: the
    last good overrides stay in force, a warning names the store and the error, and
    :meth:`status` reports it until a good read.
    """

    def __init__(
        self,
        defaults: Mapping[str, Any] | None = None,
        overrides_path: str | os.PathLike[str] | None = None,
        *,
        store: FlagStore | str | os.PathLike[str] | None = None,
        refresh_interval: float = 1.0,
    ) -> None:
        if refresh_interval < 0:
            raise ValueError(f"refresh_interval must be >= 0, got {refresh_interval!r}")
        if overrides_path is not None and store is not None:
            raise ValueError("give overrides_path or store, not both")
        self._defaults = {
            check_name(name): coerce_flag(value, f"the default of flag {name!r}")
            for name, value in (defaults or {}).items()
        }
        spec = store if store is not None else overrides_path
        if spec is None:
            spec = os.environ.get(ENV_STORE) or None
        self._store: FlagStore | None = (
            spec if spec is None or isinstance(spec, FlagStore) else open_store(spec)
        )
        self.refresh_interval = refresh_interval
        """Seconds between checks of the store for changes."""
        self._overrides: dict[str, bool] = {}
        self._error: str | None = None
        self._loaded_at: float | None = None
        self._next_check = 0.0
        self._lock = threading.Lock()
        if self._store is not None:
            self.reload()

    # -- reading -------------------------------------------------------------------------------

    def enabled(self, name: str) -> bool:
        """Whether flag ``name`` is on: its override, else its default, else ``False``."""
        if time.monotonic() >= self._next_check:
            self._refresh()
        value = self._overrides.get(name)
        if value is None:
            return self._defaults.get(name, False)
        return value

    def _maybe_refresh(self) -> None:
        if time.monotonic() >= self._next_check:
            self._refresh()

    def _refresh(self) -> None:
        if not self._lock.acquire(blocking=False):
            return  # another thread is refreshing; the current values are fine meanwhile
        try:
            self._next_check = time.monotonic() + self.refresh_interval
            store = self._store
            if store is not None and store.changed():
                self._load(store)
        finally:
            self._lock.release()

    def _load(self, store: FlagStore) -> None:
        try:
            overrides = store.load()
        except FlagStoreError as exc:
            message = str(exc)
            if message != self._error:
                kept = ", ".join(f"{k}={v}" for k, v in sorted(self._overrides.items()))
                _log.warning(
                    "Feature flags: %s; keeping the last good overrides (%s)",
                    message,
                    kept or "none",
                )
            self._error = message
            return
        if self._error is not None:
            _log.info("Feature flags: %s is readable again", store.description)
        self._overrides = overrides
        self._error = None
        self._loaded_at = time.time()

    def all_flags(self, *, include_overrides: bool = False) -> dict[str, bool]:
        """The effective value of every flag in ``defaults``; with ``include_overrides``,
        also of flags that exist only as overrides."""
        self._maybe_refresh()
        names = list(self._defaults)
        if include_overrides:
            names += [name for name in self._overrides if name not in self._defaults]
        return {name: self.enabled(name) for name in names}

    def describe(self) -> list[dict[str, Any]]:
        """Every known flag (defaults and overrides), sorted: ``name``, ``enabled``,
        ``source`` (``override`` or ``default``), ``default`` and ``override`` (``None``
        where there is none)."""
        self._maybe_refresh()
        out = []
        for name in sorted({*self._defaults, *self._overrides}):
            override = self._overrides.get(name)
            default = self._defaults.get(name)
            out.append(
                {
                    "name": name,
                    "enabled": override if override is not None else bool(default),
                    "source": "override" if override is not None else "default",
                    "default": default,
                    "override": override,
                }
            )
        return out

    def status(self) -> dict[str, Any]:
        """The state of the store: ``store`` (where), ``ok``, ``error`` (the last read
        error, kept until a good read), ``loaded_at`` (epoch seconds of the last good read),
        ``overrides`` (how many) and ``refresh_interval``."""
        self._maybe_refresh()
        store = self._store
        return {
            "store": store.description if store is not None else None,
            "ok": self._error is None,
            "error": self._error,
            "loaded_at": self._loaded_at,
            "overrides": len(self._overrides),
            "refresh_interval": self.refresh_interval,
        }

    @property
    def store(self) -> FlagStore | None:
        """The overrides store (``None``: overrides live in memory only)."""
        return self._store

    @property
    def defaults(self) -> dict[str, bool]:
        """A copy of the defaults."""
        return dict(self._defaults)

    # -- writing -------------------------------------------------------------------------------

    def set_override(self, name: str, value: Any) -> None:
        """Override flag ``name`` in the store, seen by every worker within
        ``refresh_interval``; ``None`` removes the override.

        The write is atomic and keeps every other override, also those another process
        wrote meanwhile. It blocks briefly (a file lock and an ``fsync``, or one Redis round
        trip): from async code, ``await asyncio.to_thread(flags.set_override, ...)``.

        Raises:
            TypeError: for a value that is not a bool (true/false, on/off, yes/no and 1/0
                are accepted), or a name that is not a str.
            ValueError: for an empty name.
            RuntimeError: when no store is configured (as in 0.6.3).
            FlagStoreError: when the store cannot be written, or holds malformed data that
                the write would destroy (fix the file first).
        """
        check_name(name)
        flag = None if value is None else coerce_flag(value, f"the value of flag {name!r}")
        store = self._store
        if store is None:
            raise RuntimeError(
                "no overrides store is configured: pass overrides_path= or store= "
                f"(or set {ENV_STORE})"
            )
        with self._lock:
            self._overrides = store.update(name, flag)
            self._error = None
            self._loaded_at = time.time()

    def remove_override(self, name: str) -> None:
        """Remove the override of ``name`` (its default applies again); see
        :meth:`set_override` for errors."""
        self.set_override(name, None)

    def reload(self) -> None:
        """Read the store now (a bad read keeps the last good overrides, see the class)."""
        store = self._store
        if store is None:
            return
        with self._lock:
            self._next_check = time.monotonic() + self.refresh_interval
            self._load(store)

    def close(self) -> None:
        """Release the store's connections and threads."""
        if self._store is not None:
            self._store.close()

    # -- route gating through fastware-di ------------------------------------------------------

    def require(self, name: str) -> Callable[[], bool]:
        """A dependency that answers 404 while flag ``name`` is off.

        Use it with fastware-di: ``deps={"beta": flags.require("beta")}`` or
        ``Annotated[bool, Depends(flags.require("beta"))]``. (The route option
        ``feature="beta"`` does the same without dependency injection, and also refuses
        WebSocket handshakes with 404; a dependency's 404 closes a WebSocket with 1008.)
        """
        check_name(name)
        enabled = self.enabled

        def require_feature() -> bool:
            if not enabled(name):
                raise HTTPError(404, "Not found")
            return True

        require_feature.__qualname__ = f"require_feature[{name}]"
        return require_feature

    def __repr__(self) -> str:
        store = self._store.description if self._store is not None else "no store"
        return f"<FeatureFlags {len(self._defaults)} defaults, {store}>"
