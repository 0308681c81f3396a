"""Where flag overrides live: the :class:`FlagStore` protocol and the JSON file store.

A store holds the overrides (flag name -> bool) that every worker shares. The JSON file
(:class:`JSONFileStore`) is the embedded default; ``RedisFlagStore``
(:mod:`fastware_flags.redis_store`) shares overrides between hosts. :func:`open_store` picks
one from a configuration string, so switching is a setting, not a code change.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

from fastware_core import FastwareError

__all__ = (
    "FlagStore",
    "FlagStoreError",
    "JSONFileStore",
    "coerce_flag",
    "open_store",
    "parse_overrides",
)

_TRUE = frozenset({"1", "true", "on", "yes"})
_FALSE = frozenset({"0", "false", "off", "no"})


class FlagStoreError(FastwareError):
    """A flag store could not be read or written (the message names the store and why)."""


@runtime_checkable
class FlagStore(Protocol):
    """Shared storage of flag overrides, as :class:`~fastware_flags.FeatureFlags` uses it."""

    @property
    def description(self) -> str:
        """Where the overrides live, for logs and ``status`` (never a password)."""
        ...

    def load(self) -> dict[str, bool]:
        """The overrides as stored now.

        Raises:
            FlagStoreError: when they cannot be read or are malformed.
        """
        ...

    def changed(self) -> bool:
        """Whether :meth:`load` may return something new; called at most once per refresh
        interval, so it must be cheap (a ``stat``, a counter) and never block on a network."""
        ...

    def update(self, name: str, value: bool | None) -> dict[str, bool]:
        """Set (``True``/``False``) or remove (``None``) one override atomically, keeping
        every other one (also those other processes wrote meanwhile).

        Returns:
            The overrides after the change.

        Raises:
            FlagStoreError: when the store cannot be written, or holds malformed data that
                the write would destroy.
        """
        ...

    def close(self) -> None:
        """Release connections and threads (the store is not used afterwards)."""
        ...


def coerce_flag(value: Any, what: str = "a flag value") -> bool:
    """``value`` as a bool: a bool, 0/1, or one of true/false, on/off, yes/no, 1/0.

    Raises:
        TypeError: for anything else, naming it.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise TypeError(
        f"{what} must be a bool (or one of true/false, on/off, yes/no, 1/0), not {value!r}"
    )


def check_name(name: Any) -> str:
    """A flag name: a non-empty str without control characters.

    Raises:
        TypeError: for a non-str.
        ValueError: for an empty name or one with control characters.
    """
    if not isinstance(name, str):
        raise TypeError(f"a flag name must be a str, not {type(name).__name__}")
    if not name.strip() or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ValueError(f"invalid flag name {name!r}: it must be non-empty and printable")
    return name


def parse_overrides(data: Any, source: str) -> dict[str, bool]:
    """Validate decoded overrides: an object of flag name -> bool (0/1 accepted).

    Raises:
        FlagStoreError: naming ``source`` and the first problem.
    """
    if not isinstance(data, dict):
        raise FlagStoreError(
            f"{source}: the overrides must be a JSON object of flag name -> true/false, "
            f"not {type(data).__name__}"
        )
    out: dict[str, bool] = {}
    for name, value in data.items():
        if isinstance(value, bool) or (type(value) is int and value in (0, 1)):
            out[name] = bool(value)
        else:
            raise FlagStoreError(f"{source}: flag {name!r} has {value!r}, not true or false")
    return out


class JSONFileStore:
    """Overrides in a JSON file: ``{"beta": true}``, indented by 2 with a trailing newline
    (0.6.3's format).

    Writes take an exclusive OS lock on ``<file>.lock`` (so writers in several processes
    queue up), re-read the file under it, apply the one change, write a temp file in the same
    directory, ``fsync`` it and rename it over the file: readers see the old file or the new
    one, never a torn one. A missing file means no overrides. Changes (also hand edits) are
    noticed through ``stat``. POSIX only (``fcntl``).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        """The overrides file."""
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        """The lock file writers hold (created next to it, never deleted)."""
        self._signature: tuple[int, ...] | None = None
        self._seen = False

    @property
    def description(self) -> str:
        """``file <path>``."""
        return f"file {self.path}"

    def _stat(self) -> tuple[int, ...] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:  # e.g. a parent directory lost its permissions
            return (-1, exc.errno or 0)
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)

    def changed(self) -> bool:
        """Whether the file changed (by ``stat``) since the last :meth:`load`."""
        return not self._seen or self._stat() != self._signature

    def load(self) -> dict[str, bool]:
        """Read and validate the file (``{}`` when it does not exist)."""
        self._signature = self._stat()
        self._seen = True
        return self._read()

    def _read(self) -> dict[str, bool]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except IsADirectoryError:
            raise FlagStoreError(
                f"{self.path} is a directory, not a JSON file of flag overrides"
            ) from None
        except OSError as exc:
            raise FlagStoreError(f"{self.path} cannot be read: {exc.strerror or exc}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FlagStoreError(f"{self.path} is not UTF-8 text ({exc.reason})") from None
        if not text.strip():
            raise FlagStoreError(f"{self.path} is empty (write {{}} for no overrides)")
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise FlagStoreError(f"{self.path} is not valid JSON ({exc})") from None
        return parse_overrides(data, str(self.path))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        import fcntl

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise FlagStoreError(
                f"cannot lock {self.lock_path} to write flag overrides: {exc.strerror or exc}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def update(self, name: str, value: bool | None) -> dict[str, bool]:
        """Set or remove one override under the lock, atomically (see the class docstring)."""
        with self._locked():
            current = self._read()
            if value is None:
                current.pop(name, None)
            else:
                current[name] = value
            self._write(current)
            self._signature = self._stat()
            self._seen = True
            return current

    def _write(self, overrides: Mapping[str, bool]) -> None:
        text = json.dumps(dict(overrides), indent=2, ensure_ascii=False) + "\n"
        directory = self.path.parent
        try:
            fd, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
        except OSError as exc:
            raise FlagStoreError(
                f"cannot write flag overrides in {directory}: {exc.strerror or exc}"
            ) from None
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(text.encode("utf-8"))
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temp, 0o644)
            os.replace(temp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise FlagStoreError(
                f"cannot write flag overrides to {self.path}: {exc.strerror or exc}"
            ) from None
        with contextlib.suppress(OSError):  # make the rename durable too
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"JSONFileStore({str(self.path)!r})"


def open_store(spec: str | os.PathLike[str]) -> FlagStore:
    """The store a configuration string names.

    - a path, or ``file:///abs/path.json``: a :class:`JSONFileStore`;
    - ``redis://[:password@]host:port/db?key=NAME&channel=NAME`` (or ``rediss://``): a
      :class:`~fastware_flags.redis_store.RedisFlagStore` (needs ``fastware-flags[redis]``).

    Raises:
        ValueError: for an empty string or an unknown scheme.
    """
    text = os.fspath(spec)
    if not text.strip():
        raise ValueError("a flag store must be a path or a URL, not an empty string")
    scheme = urlsplit(text).scheme.lower() if "://" in text else ""
    if scheme in ("redis", "rediss", "unix"):
        from .redis_store import RedisFlagStore

        return RedisFlagStore.from_url(text)
    if scheme == "file":
        return JSONFileStore(unquote(urlsplit(text).path))
    if scheme:
        raise ValueError(f"unknown flag store {text!r}: use a file path, file:// or redis://")
    return JSONFileStore(text)
