"""Small data structures shared by requests, responses and the test client."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple
from urllib.parse import SplitResult, urlsplit

__all__ = ("URL", "Address", "Headers", "QueryParams", "State")


class Address(NamedTuple):
    """The network address of a peer: ``(host, port)``."""

    host: str
    """The IP address or host name."""
    port: int
    """The TCP port (0 when unknown)."""


class Headers(Mapping[str, str]):
    """A read-only, case-insensitive multi-mapping of HTTP headers.

    Indexing returns the first value for a name; :meth:`getlist` returns all of them in
    order; :meth:`multi_items` returns every ``(name, value)`` pair with names lower-cased.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._items: list[tuple[str, str]] = [(k.lower(), v) for k, v in pairs]

    def __getitem__(self, name: str) -> str:
        key = name.lower()
        for k, v in self._items:
            if k == key:
                return v
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower()
        return any(k == key for k, _ in self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(k for k, _ in self._items))

    def __len__(self) -> int:
        return len({k for k, _ in self._items})

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return sorted(self._items) == sorted(other._items)
        if isinstance(other, Mapping):
            return dict(self.items()) == {str(k).lower(): v for k, v in other.items()}
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def from_asgi(cls, raw: Iterable[tuple[bytes, bytes]]) -> Headers:
        """Headers from an ASGI ``headers`` list (byte pairs, decoded as latin-1)."""
        return cls((bytes(k).decode("latin-1"), bytes(v).decode("latin-1")) for k, v in raw)

    def getlist(self, name: str) -> list[str]:
        """Every value sent for ``name``, in order (empty when absent)."""
        key = name.lower()
        return [v for k, v in self._items if k == key]

    get_all = getlist

    def multi_items(self) -> list[tuple[str, str]]:
        """Every ``(name, value)`` pair, duplicates included."""
        return list(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


class QueryParams(dict[str, str]):
    """Query parameters: a ``dict`` of the first value per key, plus :meth:`getlist`."""

    __slots__ = ("_multi",)

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        multi = list(pairs)
        super().__init__()
        for k, v in multi:
            self.setdefault(k, v)
        self._multi = multi

    def getlist(self, name: str) -> list[str]:
        """Every value given for ``name``, in order (empty when absent)."""
        return [v for k, v in self._multi if k == name]

    def multi_items(self) -> list[tuple[str, str]]:
        """Every ``(name, value)`` pair in order, repeated keys included."""
        return list(self._multi)


class State:
    """Attribute and item access over a shared dict (it is not copied).

    ``state.user``, ``state["user"]``, ``state.get("user")``, ``"user" in state`` and
    assignment by attribute or item all work on the same dict.
    """

    __slots__ = ("_data",)

    _data: dict[str, Any]

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        object.__setattr__(self, "_data", {} if data is None else data)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"State has no attribute {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._data[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self._data[name]
        except KeyError:
            raise AttributeError(f"State has no attribute {name!r}") from None

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = value

    def __delitem__(self, key: str) -> None:
        del self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str, default: Any = None) -> Any:
        """The value for ``key``, or ``default``."""
        return self._data.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        """The underlying dict itself (not a copy)."""
        return self._data

    def __repr__(self) -> str:
        return f"State({self._data!r})"


class URL(str):
    """A URL string with its parts as attributes (``scheme``, ``netloc``, ``path``, ...)."""

    __slots__ = ()

    @property
    def _parts(self) -> SplitResult:
        return urlsplit(self)

    @property
    def scheme(self) -> str:
        """``http``, ``https``, ..."""
        return self._parts.scheme

    @property
    def netloc(self) -> str:
        """``host[:port]``."""
        return self._parts.netloc

    @property
    def hostname(self) -> str | None:
        """The host, lower-cased, without the port."""
        return self._parts.hostname

    @property
    def port(self) -> int | None:
        """The explicit port, if any."""
        return self._parts.port

    @property
    def path(self) -> str:
        """The path, percent-encoded."""
        return self._parts.path

    @property
    def query(self) -> str:
        """The raw query string, without ``?``."""
        return self._parts.query
