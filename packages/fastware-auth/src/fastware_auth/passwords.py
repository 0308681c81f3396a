"""Password hashing with bcrypt, and async variants that keep it off the event loop.

A bcrypt hash at cost 12 takes about a quarter of a second of CPU. Called from a handler, the
synchronous functions would stall every other request of the worker for that long: use
:func:`hash_password_async` and :func:`verify_password_async` (the login helpers and the
user stores' ``*_async`` methods do), which run bcrypt in a worker thread. bcrypt releases
the GIL while it hashes, so other requests keep being served.

The 72-byte rule: bcrypt only reads the first 72 bytes of a password, and bcrypt 5 refuses
longer ones. fastware refuses them too, with :class:`PasswordTooLongError` (a
``ValueError``), rather than silently truncating or pre-hashing: exactly 72 bytes of UTF-8 is
accepted, 73 is not. Count bytes, not characters: ``"é"`` is 2 bytes, an emoji 4.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from .exceptions import InvalidPasswordError, PasswordTooLongError

__all__ = (
    "DEFAULT_ROUNDS",
    "MAX_PASSWORD_BYTES",
    "hash_password",
    "hash_password_async",
    "needs_rehash",
    "password_bytes",
    "verify_password",
    "verify_password_async",
)

logger = logging.getLogger("fastware.auth")

MAX_PASSWORD_BYTES = 72
"""bcrypt's limit: the longest accepted password, in bytes of UTF-8."""

DEFAULT_ROUNDS = 12
"""The default bcrypt cost (2**12 iterations, about 0.25 s per hash)."""

_HASH = re.compile(r"\$2[abxy]\$(\d\d)\$[./A-Za-z0-9]{53}")


def _bcrypt() -> Any:
    import bcrypt  # imported on first use: `import fastware` must not load bcrypt

    return bcrypt


def password_bytes(plain: str | bytes) -> bytes:
    """The bytes bcrypt hashes for ``plain``: its UTF-8 encoding, checked against the rules.

    Raises:
        InvalidPasswordError: for a password that is not text, is empty, contains a NUL
            byte (bcrypt stops at the first NUL) or cannot be encoded as UTF-8 (a lone
            surrogate, as decoded from broken JSON).
        PasswordTooLongError: for more than 72 bytes.
    """
    if isinstance(plain, bytes):
        data = plain
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidPasswordError("The password is not valid UTF-8") from None
    elif isinstance(plain, str):
        try:
            data = plain.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidPasswordError("The password is not valid UTF-8") from None
    else:
        raise InvalidPasswordError(f"A password must be a string, got {type(plain).__name__}")
    if not data:
        raise InvalidPasswordError("The password is empty")
    if b"\x00" in data:
        raise InvalidPasswordError("The password contains a NUL character")
    if len(data) > MAX_PASSWORD_BYTES:
        raise PasswordTooLongError(
            f"The password is {len(data)} bytes long in UTF-8; at most {MAX_PASSWORD_BYTES} "
            "are allowed"
        )
    return data


def _check_rounds(rounds: int) -> int:
    if not isinstance(rounds, int) or not 4 <= rounds <= 31:
        raise ValueError(f"bcrypt rounds must be an integer from 4 to 31, got {rounds!r}")
    return rounds


def hash_password(plain: str | bytes, *, rounds: int = DEFAULT_ROUNDS) -> str:
    """Hash a password with bcrypt (blocking: about 0.25 s at the default cost).

    Raises:
        PasswordTooLongError: for a password over 72 bytes of UTF-8 (a ``ValueError``).
        InvalidPasswordError: for an empty or non-UTF-8 password.
        ValueError: for ``rounds`` outside 4..31.
    """
    data = password_bytes(plain)
    bcrypt = _bcrypt()
    hashed: bytes = bcrypt.hashpw(data, bcrypt.gensalt(_check_rounds(rounds)))
    return hashed.decode("ascii")


def verify_password(plain: str | bytes, hashed: str | bytes) -> bool:
    """Whether ``plain`` matches the bcrypt hash ``hashed`` (blocking).

    Never raises: a password that breaks the rules (too long, not UTF-8) cannot match, and
    a malformed stored hash is logged (without the hash) and reported as no match.
    """
    try:
        data = password_bytes(plain)
    except InvalidPasswordError:
        return False
    try:
        stored = hashed.encode("ascii") if isinstance(hashed, str) else bytes(hashed)
    except (UnicodeEncodeError, TypeError):
        logger.warning("A stored password hash is not ASCII text; treating it as no match")
        return False
    if not _HASH.fullmatch(stored.decode("ascii", "replace")):
        logger.warning("A stored password hash is not a bcrypt hash; treating it as no match")
        return False
    try:
        return bool(_bcrypt().checkpw(data, stored))
    except ValueError:
        logger.warning("bcrypt refused a stored password hash; treating it as no match")
        return False


def needs_rehash(hashed: str | bytes, *, rounds: int = DEFAULT_ROUNDS) -> bool:
    """Whether a stored hash should be replaced: its cost is below ``rounds``, or it is not
    a bcrypt hash at all. Rehash after a successful login, when the plain password is known.
    """
    text = hashed.decode("ascii", "replace") if isinstance(hashed, bytes) else str(hashed)
    match = _HASH.fullmatch(text)
    if match is None:
        return True
    return int(match.group(1)) < _check_rounds(rounds)


async def hash_password_async(plain: str | bytes, *, rounds: int = DEFAULT_ROUNDS) -> str:
    """:func:`hash_password` in a worker thread, so the event loop keeps serving.

    The password is checked before the thread starts, so rule violations raise at once.
    """
    password_bytes(plain)
    _check_rounds(rounds)
    return await asyncio.to_thread(hash_password, plain, rounds=rounds)


async def verify_password_async(plain: str | bytes, hashed: str | bytes) -> bool:
    """:func:`verify_password` in a worker thread, so the event loop keeps serving."""
    return await asyncio.to_thread(verify_password, plain, hashed)
