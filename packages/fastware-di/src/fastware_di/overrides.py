"""Dependency overrides: a mapping kept by reference, and temporary layers for tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

__all__ = ("DependencyOverrides",)

Factory = Callable[..., Any]


class DependencyOverrides(MutableMapping[Factory, Factory]):
    """Factory -> replacement factory.

    Reads and writes go to the dict given at construction (``AppConfig.dependency_overrides``),
    kept by reference as in 0.6.3, so changing that dict later takes effect. Calling the
    object pushes a temporary layer for the length of a ``with`` block::

        with app.dependency_overrides({get_db: fake_db}):
            ...

    Layers win over the base dict, the innermost first, and are checked when entered: a
    replacement that breaks a route's dependencies raises there, not in a request.

    Args:
        base: The dict reads and writes go to (a new one when ``None``).
        check: Called after a layer is pushed (the resolver checks its routes); what it
            raises leaves the ``with`` block before it starts.
    """

    __slots__ = ("_base", "_check", "_layers")

    def __init__(
        self,
        base: dict[Factory, Factory] | None = None,
        check: Callable[[], None] | None = None,
    ) -> None:
        self._base: dict[Factory, Factory] = base if base is not None else {}
        self._layers: list[dict[Factory, Factory]] = []
        self._check = check

    @property
    def base(self) -> dict[Factory, Factory]:
        """The dict given at construction (the app's ``dependency_overrides``)."""
        return self._base

    @property
    def layers(self) -> list[dict[Factory, Factory]]:
        """The layers in force, innermost last: the live list, which a caller reading it
        once (to see cheaply whether any override is in force) keeps seeing change."""
        return self._layers

    def get(self, key: Factory, default: Any = None) -> Any:
        """The replacement for ``key`` (layers first, innermost winning), or ``default``."""
        for layer in reversed(self._layers):
            found = layer.get(key)
            if found is not None:
                return found
        return self._base.get(key, default)

    def __getitem__(self, key: Factory) -> Factory:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        result: Factory = found
        return result

    def __setitem__(self, key: Factory, value: Factory) -> None:
        if not callable(value):
            raise TypeError(f"an override must be callable, got {value!r}")
        self._base[key] = value

    def __delitem__(self, key: Factory) -> None:
        if key in self._base:
            del self._base[key]
        elif any(key in layer for layer in self._layers):
            raise KeyError(f"{key!r} is overridden by an active with-block; it ends with it")
        else:
            raise KeyError(key)

    def clear(self) -> None:
        """Remove every override assigned to the base dict (active with-blocks stay)."""
        self._base.clear()

    def __iter__(self) -> Iterator[Factory]:
        seen: set[int] = set()
        for mapping in (*reversed(self._layers), self._base):
            for key in mapping:
                if id(key) not in seen:
                    seen.add(id(key))
                    yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return bool(self._base) or bool(self._layers)

    def __repr__(self) -> str:
        return f"DependencyOverrides({dict(self.items())!r})"

    def __call__(self, overrides: Mapping[Factory, Factory]) -> _Layer:
        """A context manager applying ``overrides`` on top of the others for its block."""
        for value in overrides.values():
            if not callable(value):
                raise TypeError(f"an override must be callable, got {value!r}")
        return _Layer(self, dict(overrides))

    @contextmanager
    def _pushed(self, layer: dict[Factory, Factory]) -> Iterator[None]:
        self._layers.append(layer)
        try:
            if self._check is not None:
                self._check()
            yield
        finally:
            for index in range(len(self._layers) - 1, -1, -1):
                if self._layers[index] is layer:
                    del self._layers[index]
                    break


class _Layer:
    """``with overrides({...}):``; also usable as ``async with``, and re-entrant."""

    __slots__ = ("_contexts", "_layer", "_owner")

    def __init__(self, owner: DependencyOverrides, layer: dict[Factory, Factory]) -> None:
        self._owner = owner
        self._layer = layer
        self._contexts: list[Any] = []

    def __enter__(self) -> DependencyOverrides:
        context = self._owner._pushed(self._layer)
        context.__enter__()
        self._contexts.append(context)
        return self._owner

    def __exit__(self, *exc_info: Any) -> None:
        self._contexts.pop().__exit__(*exc_info)

    async def __aenter__(self) -> DependencyOverrides:
        return self.__enter__()

    async def __aexit__(self, *exc_info: Any) -> None:
        self.__exit__(*exc_info)
