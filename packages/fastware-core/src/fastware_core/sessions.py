"""Sessions: a small dict per visitor, kept in a signed (optionally encrypted) cookie, or in
a server-side store with only a signed id in the cookie.

:class:`~fastware_core.middleware.sessions.SessionMiddleware` puts a :class:`Session` in
``request.session``. This module holds the pieces it is made of: the session dict, the
cookie codec (HMAC-SHA256 signatures with key rotation, AES-GCM encryption when the
``cryptography`` package is installed, issue times for ``max_age``), the
:class:`SessionBackend` protocol for server-side stores and its embedded SQLite backend
(fastware-auth provides a Redis one for several workers).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, runtime_checkable

import msgspec

from .exceptions import FastwareError, MissingPackageError

if TYPE_CHECKING:
    import sqlite3

__all__ = (
    "ReadOnlySessionError",
    "SQLiteSessionBackend",
    "Session",
    "SessionBackend",
    "SessionCodec",
    "SessionTooLargeError",
    "WebSocketSession",
    "new_session_id",
)

_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.Decoder().decode
_MISSING: Any = object()


class SessionTooLargeError(FastwareError, ValueError):
    """The session no longer fits in its cookie (or the backend's size limit)."""


def new_session_id() -> str:
    """A fresh random session id (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _secret_bytes(secret: str | bytes) -> bytes:
    raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if len(raw) < 16:
        raise ValueError(
            "A session secret key must be at least 16 bytes; use secrets.token_hex(32)"
        )
    return raw


class SessionCodec:
    """Turns a value into a tamper-proof cookie string and back.

    The first key signs (or encrypts); every key verifies, so a key can be rotated by
    putting the new one first and dropping the old one once ``max_age`` has passed.

    Args:
        secret_keys: One secret, or several (newest first).
        encrypt: Encrypt with AES-GCM (needs ``fastware-core[encryption]``) instead of only
            signing: the client can then not read the session either.
        salt: Separates this use of the secrets from others (e.g. CSRF tokens).
    """

    __slots__ = ("_aead", "_encrypt", "_sign_keys")

    def __init__(
        self,
        secret_keys: str | bytes | Sequence[str | bytes],
        *,
        encrypt: bool = False,
        salt: str = "fastware.session",
    ) -> None:
        keys = [secret_keys] if isinstance(secret_keys, (str, bytes)) else list(secret_keys)
        if not keys:
            raise ValueError("SessionCodec needs at least one secret key")
        raw = [_secret_bytes(key) for key in keys]
        salt_bytes = salt.encode("utf-8")
        self._sign_keys = [hashlib.sha256(salt_bytes + b":sign:" + key).digest() for key in raw]
        self._encrypt = encrypt
        self._aead: list[Any] = []
        if encrypt:
            try:
                from cryptography.hazmat.primitives.ciphers.aead import AESGCM
            except ImportError:
                raise MissingPackageError(
                    "'fastware-core[encryption]'", "Encrypted sessions (encrypt=True)"
                ) from None
            self._aead = [
                AESGCM(hashlib.sha256(salt_bytes + b":encrypt:" + key).digest()) for key in raw
            ]

    def encode(self, value: Any, issued: int | None = None) -> str:
        """``value`` (anything msgspec encodes as JSON) and its issue time, signed or
        encrypted, as a cookie-safe string."""
        payload = _json_encode([int(time.time()) if issued is None else issued, value])
        if self._encrypt:
            nonce = os.urandom(12)
            return "e." + _b64(nonce + self._aead[0].encrypt(nonce, payload, b"fastware"))
        body = _b64(payload)
        mac = hmac.new(self._sign_keys[0], body.encode("ascii"), hashlib.sha256).digest()
        return body + "." + _b64(mac)

    def decode(self, token: str, max_age: float | None = None) -> tuple[Any, int] | None:
        """``(value, issued)`` from a string :meth:`encode` made, or ``None`` when it was
        tampered with, signed by an unknown key, malformed or older than ``max_age``."""
        try:
            payload = self._open(token)
            if payload is None:
                return None
            issued, value = _json_decode(payload)
        except (ValueError, TypeError, binascii.Error, msgspec.DecodeError):
            return None
        if not isinstance(issued, int):
            return None
        if max_age is not None and time.time() - issued > max_age:
            return None
        return value, issued

    def _open(self, token: str) -> bytes | None:
        if self._encrypt:
            if not token.startswith("e."):
                return None
            blob = _unb64(token[2:])
            if len(blob) < 12 + 16:
                return None
            for aead in self._aead:
                try:
                    plain: bytes = aead.decrypt(blob[:12], blob[12:], b"fastware")
                    return plain
                except Exception:  # cryptography's InvalidTag: wrong key or tampered
                    continue
            return None
        body, sep, mac_text = token.partition(".")
        if not sep or not body.isascii() or not mac_text.isascii():
            return None
        mac = _unb64(mac_text)
        raw_body = body.encode("ascii")
        for key in self._sign_keys:
            expected = hmac.new(key, raw_body, hashlib.sha256).digest()
            if hmac.compare_digest(expected, mac):
                return _unb64(body)
        return None

    def encoded_size(self, value: Any) -> int:
        """The length of :meth:`encode`'s result for ``value`` (without encoding it)."""
        size = len(_json_encode([1_000_000_000_0, value]))
        if self._encrypt:
            return 2 + _b64_len(12 + size + 16)
        return _b64_len(size) + 1 + 43


def _b64_len(size: int) -> int:
    return (size * 4 + 2) // 3


class Session(dict[str, Any]):
    """The session: a dict of JSON-serialisable values, saved when it changed.

    Changes made through the dict's own methods are tracked; after changing a nested value
    in place (``session["cart"].append(x)``) call :meth:`changed`. A change that would make
    the session larger than its limit raises :class:`SessionTooLargeError` right away,
    leaving the session as it was.
    """

    __slots__ = ("_check", "id", "issued", "modified", "renewed")

    def __init__(
        self,
        data: dict[str, Any] | None = None,
        *,
        session_id: str | None = None,
        issued: int = 0,
        check: Any = None,
    ) -> None:
        super().__init__(data or {})
        self.id = session_id
        """The server-side session id (``None`` for cookie sessions, or before one is needed)."""
        self.issued = issued
        """When the session was last written (UNIX seconds; 0 for a new session)."""
        self.modified = False
        """Whether it must be saved at the end of the request."""
        self.renewed = False
        """Whether :meth:`regenerate` gave it a new id this request."""
        self._check = check

    def changed(self) -> None:
        """Mark the session as modified (after changing a nested value in place)."""
        self._after_change(None)

    def regenerate(self) -> None:
        """Keep the data under a new id (call it when a user logs in: it defeats session
        fixation). For cookie sessions it only forces a fresh cookie."""
        self.renewed = True
        self.modified = True

    def _after_change(self, undo: Any) -> None:
        check = self._check
        if check is not None:
            try:
                check(self)
            except SessionTooLargeError:
                if undo is not None:
                    undo()
                raise
        self.modified = True

    def __setitem__(self, key: str, value: Any) -> None:
        old = dict.get(self, key, _MISSING)
        dict.__setitem__(self, key, value)
        self._after_change(lambda: self._restore(key, old))

    def _restore(self, key: str, old: Any) -> None:
        if old is _MISSING:
            dict.pop(self, key, None)
        else:
            dict.__setitem__(self, key, old)

    def __delitem__(self, key: str) -> None:
        dict.__delitem__(self, key)
        self.modified = True

    def pop(self, key: str, *default: Any) -> Any:
        """Remove ``key`` and return its value (``default`` if absent)."""
        had = key in self
        value = dict.pop(self, key, *default)
        if had:
            self.modified = True
        return value

    def popitem(self) -> tuple[str, Any]:
        """Remove and return the last pair."""
        item = dict.popitem(self)
        self.modified = True
        return item

    def setdefault(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, storing ``default`` first when it is absent."""
        if key in self:
            return dict.__getitem__(self, key)
        self[key] = default
        return default

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Update from a mapping or pairs, as ``dict.update``."""
        before = dict(self)
        dict.update(self, *args, **kwargs)

        def undo() -> None:
            dict.clear(self)
            dict.update(self, before)

        self._after_change(undo)

    def clear(self) -> None:
        """Empty the session (ends it: the cookie is deleted, a stored session removed)."""
        if self:
            dict.clear(self)
            self.modified = True

    def __ior__(self, other: Any) -> Session:  # type: ignore[override,misc]
        self.update(other)
        return self

    def __repr__(self) -> str:
        return f"Session({dict.__repr__(self)})"


class ReadOnlySessionError(FastwareError, TypeError):
    """A change to ``websocket.session`` (see :class:`WebSocketSession`)."""


class WebSocketSession(Session):
    """The session a WebSocket handler reads: the one its handshake's cookie names, which it
    cannot change.

    A WebSocket has no HTTP answer after its handshake to carry a new cookie, and a
    connection that lives for hours would overwrite, when it ends, what the visitor's HTTP
    requests stored meanwhile. Every change raises :class:`ReadOnlySessionError`; change the
    session in an HTTP route.
    """

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ReadOnlySessionError(
            "websocket.session is read-only: a WebSocket cannot send the session cookie, "
            "so change the session in an HTTP route"
        )

    __setitem__ = __delitem__ = pop = popitem = update = clear = _refuse
    changed = regenerate = _refuse

    def setdefault(self, key: str, default: Any = None) -> Any:
        """The value of ``key``; refuses to store ``default`` when it is absent."""
        if key in self:
            return dict.__getitem__(self, key)
        return self._refuse()

    def __ior__(self, other: Any) -> Session:  # type: ignore[override,misc]
        return self._refuse()


@runtime_checkable
class SessionBackend(Protocol):
    """A server-side session store: the cookie then holds only a signed session id.

    Values are the session dicts; ``max_age`` (seconds, or ``None``) is how long a stored
    session lives after it was last saved.
    """

    async def load(self, session_id: str) -> dict[str, Any] | None:
        """The stored session, or ``None`` when it does not exist or has expired."""

    async def save(self, session_id: str, data: dict[str, Any], max_age: int | None) -> None:
        """Store (replace) a session."""

    async def delete(self, session_id: str) -> None:
        """Remove a session (nothing happens when it does not exist)."""


class SQLiteSessionBackend:
    """Sessions in a SQLite file (WAL mode, busy timeout): the embedded default, shared by
    the workers of one host. Queries run in a worker thread, never on the event loop;
    expired rows are removed as they are met and, now and then, in bulk.

    Args:
        path: The database file (created with its directory when missing).
        max_size: Largest encoded session in bytes (:class:`SessionTooLargeError` beyond).
    """

    def __init__(self, path: str | Path, *, max_size: int = 1024 * 1024) -> None:
        self.path = Path(path)
        self.max_size = max_size
        self._local = threading.local()
        self._writes = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS fastware_sessions ("
                "id TEXT PRIMARY KEY, data BLOB NOT NULL, expires REAL)"
            )

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            import sqlite3  # only for apps that use this backend

            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=10000")
            self._local.conn = conn
            self._local.pid = os.getpid()
        return conn

    def _load(self, session_id: str) -> dict[str, Any] | None:
        row = (
            self._connect()
            .execute("SELECT data, expires FROM fastware_sessions WHERE id = ?", (session_id,))
            .fetchone()
        )
        if row is None:
            return None
        if row[1] is not None and row[1] < time.time():
            self._delete(session_id)
            return None
        try:
            data = _json_decode(row[0])
        except msgspec.DecodeError:
            return None
        return data if isinstance(data, dict) else None

    def _save(self, session_id: str, data: dict[str, Any], max_age: int | None) -> None:
        blob = _json_encode(data)
        if len(blob) > self.max_size:
            raise SessionTooLargeError(
                f"The session is {len(blob)} bytes; the SQLite backend's limit is {self.max_size}"
            )
        expires = None if max_age is None else time.time() + max_age
        conn = self._connect()
        conn.execute(
            "INSERT INTO fastware_sessions (id, data, expires) VALUES (?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET data = excluded.data, expires = excluded.expires",
            (session_id, blob, expires),
        )
        self._writes += 1
        if self._writes % 1000 == 0:
            conn.execute("DELETE FROM fastware_sessions WHERE expires < ?", (time.time(),))

    def _delete(self, session_id: str) -> None:
        self._connect().execute("DELETE FROM fastware_sessions WHERE id = ?", (session_id,))

    async def load(self, session_id: str) -> dict[str, Any] | None:
        """The stored session, or ``None``."""
        return await asyncio.to_thread(self._load, session_id)

    async def save(self, session_id: str, data: dict[str, Any], max_age: int | None) -> None:
        """Store a session for ``max_age`` seconds.

        Raises:
            SessionTooLargeError: past ``max_size``.
        """
        await asyncio.to_thread(self._save, session_id, data, max_age)

    async def delete(self, session_id: str) -> None:
        """Remove a session."""
        await asyncio.to_thread(self._delete, session_id)

    def ids(self) -> Iterable[str]:
        """Every stored session id (for tests and housekeeping)."""
        return [row[0] for row in self._connect().execute("SELECT id FROM fastware_sessions")]
