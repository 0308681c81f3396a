"""User stores: the 0.6.3 ``UserStore`` base and ``JSONFileUserStore``, safe across processes.

A user record is a dict ``{"username", "password_hash", "role", "created_at"}`` (fastware
0.6.3's shape); ``created_at`` is an ISO 8601 UTC string.

Usernames are normalised before they are stored or looked up (:func:`normalize_username`):
Unicode NFKC, then case folding, so ``Ada``, ``ADA`` and the full-width ``Ada`` are one user.

Every store method blocks (file or database I/O, and bcrypt when a password is hashed); each
has an ``*_async`` twin that runs it in a worker thread, for use in handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import threading
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict

from .exceptions import InvalidUsernameError, UserExistsError, UserNotFoundError
from .passwords import DEFAULT_ROUNDS, hash_password, password_bytes

__all__ = (
    "MAX_USERNAME_LENGTH",
    "JSONFileUserStore",
    "UserRecord",
    "UserStore",
    "normalize_username",
)

MAX_USERNAME_LENGTH = 64
"""The longest username accepted, in characters after normalisation."""

_EXTRA_USERNAME_CHARACTERS = frozenset("._-@+")


class UserRecord(TypedDict):
    """One stored user, as every store returns it."""

    username: str
    """The normalised username."""
    password_hash: str
    """The bcrypt hash of the password."""
    role: str
    """The user's role (``"user"``, ``"admin"``, ...)."""
    created_at: str
    """When the user was created, ISO 8601 in UTC."""


def normalize_username(username: str) -> str:
    """The canonical form of a username: NFKC-normalised, case-folded, trimmed.

    Letters and digits of any script are allowed, plus ``. _ - @ +``; no spaces or control
    characters; 1 to 64 characters.

    Raises:
        InvalidUsernameError: for anything else (a ``ValueError``).
    """
    if not isinstance(username, str):
        raise InvalidUsernameError(f"A username must be a string, got {type(username).__name__}")
    try:
        username.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidUsernameError("The username is not valid UTF-8") from None
    name = unicodedata.normalize("NFKC", username.strip()).casefold()
    name = unicodedata.normalize("NFKC", name)  # case folding can un-normalise
    if not name:
        raise InvalidUsernameError("The username is empty")
    if len(name) > MAX_USERNAME_LENGTH:
        raise InvalidUsernameError(
            f"The username is {len(name)} characters long; at most {MAX_USERNAME_LENGTH} "
            "are allowed"
        )
    for char in name:
        if not (char.isalnum() or char in _EXTRA_USERNAME_CHARACTERS):
            raise InvalidUsernameError(
                f"The username contains {char!r}; use letters, digits and . _ - @ + only"
            )
    return name


def check_role(role: str) -> str:
    if not isinstance(role, str) or not role or len(role) > 64 or not role.isprintable():
        raise ValueError(f"A role must be 1 to 64 printable characters, got {role!r}")
    return role


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _record(username: str, password_hash: str, role: str) -> UserRecord:
    return {
        "username": username,
        "password_hash": password_hash,
        "role": role,
        "created_at": _now_iso(),
    }


def _same_user(record: Any, name: str) -> bool:
    if not isinstance(record, dict):
        return False
    stored = record.get("username")
    if not isinstance(stored, str):
        return False
    if stored == name:
        return True
    try:
        return normalize_username(stored) == name
    except InvalidUsernameError:
        return False


class UserStore:
    """Base class of user stores (fastware 0.6.3's API).

    A subclass implements :meth:`load_users` and :meth:`save_users`; the base does lookups
    and read-modify-write updates under :meth:`_locked`, which holds a per-process
    ``threading.Lock`` (subclasses add a cross-process lock). Subclasses must call
    ``super().__init__()``.

    Args:
        rounds: The bcrypt cost used for new passwords.
    """

    def __init__(self, *, rounds: int = DEFAULT_ROUNDS) -> None:
        self._lock = threading.Lock()
        self.rounds = rounds

    # -- what subclasses provide ------------------------------------------------------------

    def load_users(self) -> list[UserRecord]:
        """Every stored record."""
        raise NotImplementedError

    def save_users(self, users: list[UserRecord]) -> None:
        """Replace the stored records with ``users``."""
        raise NotImplementedError

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the store's lock for a read-modify-write (this process only, here)."""
        with self._lock:
            yield

    # -- the API ------------------------------------------------------------------------------

    def find_user(self, username: str) -> UserRecord | None:
        """The record of ``username`` (normalised), or ``None``."""
        try:
            name = normalize_username(username)
        except InvalidUsernameError:
            return None
        for record in self.load_users():
            if _same_user(record, name):
                return record
        return None

    def list_users(self) -> list[UserRecord]:
        """Every user, sorted by username."""
        return sorted(self.load_users(), key=lambda record: str(record.get("username", "")))

    def create_user(self, username: str, password: str, role: str = "user") -> UserRecord:
        """Hash ``password`` and store a new user; returns the record.

        The password is hashed before the lock is taken, so a slow hash never holds up
        other writers.

        Raises:
            UserExistsError: ``User '<name>' already exists`` (a ``ValueError``).
            InvalidUsernameError: for a username :func:`normalize_username` refuses.
            PasswordTooLongError: for a password over 72 bytes (a ``ValueError``).
            InvalidPasswordError: for an empty or non-UTF-8 password.
        """
        name = normalize_username(username)
        check_role(role)
        password_bytes(password)
        record = _record(name, hash_password(password, rounds=self.rounds), role)
        return self._insert(record)

    def add_user_record(self, record: UserRecord) -> UserRecord:
        """Store a record whose password is already hashed (imports, migrations).

        Raises:
            UserExistsError: when the username is taken.
            InvalidUsernameError: for a username :func:`normalize_username` refuses.
        """
        name = normalize_username(record["username"])
        check_role(record["role"])
        stored: UserRecord = {
            "username": name,
            "password_hash": record["password_hash"],
            "role": record["role"],
            "created_at": record.get("created_at") or _now_iso(),
        }
        return self._insert(stored)

    def _insert(self, record: UserRecord) -> UserRecord:
        name = record["username"]
        with self._locked():
            users = self.load_users()
            if any(_same_user(existing, name) for existing in users):
                raise UserExistsError(f"User '{name}' already exists")
            users.append(record)
            self.save_users(users)
        return record

    def delete_user(self, username: str) -> None:
        """Remove ``username``.

        Raises:
            UserNotFoundError: when there is no such user (a ``LookupError``).
        """
        name = self._name_or_missing(username)
        with self._locked():
            users = self.load_users()
            kept = [record for record in users if not _same_user(record, name)]
            if len(kept) == len(users):
                raise UserNotFoundError(f"User '{name}' not found")
            self.save_users(kept)

    def set_role(self, username: str, role: str) -> UserRecord:
        """Change the role of ``username``; returns the updated record.

        Raises:
            UserNotFoundError: when there is no such user.
        """
        name = self._name_or_missing(username)
        check_role(role)
        return self._update(name, {"role": role})

    def set_password(self, username: str, password: str) -> UserRecord:
        """Replace the password of ``username`` (hashed at the store's cost).

        Raises:
            UserNotFoundError: when there is no such user.
            PasswordTooLongError: for a password over 72 bytes.
        """
        name = self._name_or_missing(username)
        password_bytes(password)
        return self._update(name, {"password_hash": hash_password(password, rounds=self.rounds)})

    def set_password_hash(self, username: str, password_hash: str) -> UserRecord:
        """Store an already computed hash for ``username`` (a rehash at a higher cost).

        Raises:
            UserNotFoundError: when there is no such user.
        """
        return self._update(self._name_or_missing(username), {"password_hash": password_hash})

    def _update(self, name: str, changes: dict[str, str]) -> UserRecord:
        with self._locked():
            users = self.load_users()
            for record in users:
                if _same_user(record, name):
                    record.update(changes)  # type: ignore[typeddict-item]
                    self.save_users(users)
                    return record
        raise UserNotFoundError(f"User '{name}' not found")

    @staticmethod
    def _name_or_missing(username: str) -> str:
        try:
            return normalize_username(username)
        except InvalidUsernameError:
            raise UserNotFoundError(f"User {username!r} not found") from None

    # -- async twins ---------------------------------------------------------------------------

    async def find_user_async(self, username: str) -> UserRecord | None:
        """:meth:`find_user` in a worker thread."""
        return await asyncio.to_thread(self.find_user, username)

    async def list_users_async(self) -> list[UserRecord]:
        """:meth:`list_users` in a worker thread."""
        return await asyncio.to_thread(self.list_users)

    async def create_user_async(
        self, username: str, password: str, role: str = "user"
    ) -> UserRecord:
        """:meth:`create_user` in a worker thread (username and password checked first)."""
        normalize_username(username)
        password_bytes(password)
        return await asyncio.to_thread(self.create_user, username, password, role)

    async def delete_user_async(self, username: str) -> None:
        """:meth:`delete_user` in a worker thread."""
        await asyncio.to_thread(self.delete_user, username)

    async def set_role_async(self, username: str, role: str) -> UserRecord:
        """:meth:`set_role` in a worker thread."""
        return await asyncio.to_thread(self.set_role, username, role)

    async def set_password_hash_async(self, username: str, password_hash: str) -> UserRecord:
        """:meth:`set_password_hash` in a worker thread."""
        return await asyncio.to_thread(self.set_password_hash, username, password_hash)

    async def set_password_async(self, username: str, password: str) -> UserRecord:
        """:meth:`set_password` in a worker thread."""
        password_bytes(password)
        return await asyncio.to_thread(self.set_password, username, password)


@contextlib.contextmanager
def _os_lock(path: Path) -> Iterator[None]:
    """An exclusive OS lock on ``path`` (created if missing), held across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.name == "nt":  # pragma: no cover - Windows
            import msvcrt

            while True:
                try:
                    msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # type: ignore[attr-defined,unused-ignore]
                    break
                except OSError:
                    continue
            try:
                yield
            finally:
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined,unused-ignore]
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class JSONFileUserStore(UserStore):
    """Users in one JSON file: a list of records, indented by 2, with a trailing newline.

    Every write is a read-modify-write under an exclusive OS file lock (``<path>.lock``,
    ``flock``), and the new file replaces the old one atomically (temp file in the same
    directory, fsync, ``os.replace``), so several workers or processes creating users at
    once never lose one, and readers never see a half-written file. Fine for tens to a few
    thousands of users; :class:`~fastware_auth.SQLiteUserStore` scales further.

    Args:
        path: The JSON file; a missing file is an empty store.
        rounds: The bcrypt cost used for new passwords.
    """

    def __init__(self, path: str | os.PathLike[str], *, rounds: int = DEFAULT_ROUNDS) -> None:
        super().__init__(rounds=rounds)
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def load_users(self) -> list[UserRecord]:
        """Every record (``[]`` when the file does not exist).

        Raises:
            ValueError: when the file is not a JSON list (it is never overwritten then).
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        data = json.loads(text)
        if not isinstance(data, list):
            raise ValueError(f"{self.path} does not hold a JSON list of users")
        return data

    def save_users(self, users: list[UserRecord]) -> None:
        """Write ``users`` atomically (temp file, fsync, ``os.replace``)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(users, handle, indent=2, ensure_ascii=False)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock, _os_lock(self.lock_path):
            yield

    def __repr__(self) -> str:
        return f"JSONFileUserStore({str(self.path)!r})"
