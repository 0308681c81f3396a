"""JSON Web Tokens on PyJWT: signing keys with rotation, ``create_token`` and ``verify_token``.

Verification is strict by default: ``exp`` is required, the algorithm list is pinned to the
key's algorithm (``alg: none`` and algorithm confusion are refused), and every malformed,
forged, expired or not-yet-valid token is ``None``, never an exception. Key and setting
errors (a missing or short secret) raise :class:`~fastware_auth.exceptions.AuthConfigurationError`
when the key is made, before any token is seen.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .exceptions import AuthConfigurationError

__all__ = (
    "HMAC_ALGORITHMS",
    "KeySet",
    "SigningKey",
    "TokenVerifier",
    "create_token",
    "verify_token",
)

HMAC_ALGORITHMS: Mapping[str, int] = {"HS256": 32, "HS384": 48, "HS512": 64}
"""Supported algorithms and the shortest secret each accepts, in bytes (RFC 7518 §3.2: a key
at least as long as the hash output)."""

MAX_TOKEN_LENGTH = 8192
"""Longer tokens are refused without decoding them (a cookie cannot be longer anyway)."""

_RESERVED = frozenset({"sub", "role", "iat", "exp", "nbf", "jti", "iss", "aud"})


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One HMAC key, named by ``kid`` so that several can be valid during a rotation.

    Args:
        secret: The shared secret: at least 32 bytes for HS256 (48 for HS384, 64 for HS512),
            in UTF-8. Generate one with
            ``python -c "import secrets; print(secrets.token_urlsafe(48))"``.
        kid: The key id written into each token's header; ``None`` writes none (tokens of
            fastware 0.6.3 have none).
        algorithm: ``HS256``, ``HS384`` or ``HS512``.

    Raises:
        AuthConfigurationError: for a missing or short secret or an unknown algorithm.
    """

    secret: str | bytes
    """The shared secret."""
    kid: str | None = None
    """The key id (``kid`` header), or ``None``."""
    algorithm: str = "HS256"
    """The signing algorithm."""

    def __post_init__(self) -> None:
        minimum = HMAC_ALGORITHMS.get(self.algorithm)
        if minimum is None:
            raise AuthConfigurationError(
                f"JWT algorithm {self.algorithm!r} is not supported; use one of "
                f"{', '.join(HMAC_ALGORITHMS)}"
            )
        if self.secret is None or not isinstance(self.secret, str | bytes):
            raise AuthConfigurationError(
                "the JWT secret is missing: set it (e.g. from the JWT_SECRET environment "
                "variable) to a random string of at least 32 bytes"
            )
        length = len(self.key_bytes)
        if length < minimum:
            raise AuthConfigurationError(
                f"the JWT secret is {length} bytes long; {self.algorithm} needs at least "
                f'{minimum} (generate one with: python -c "import secrets; '
                'print(secrets.token_urlsafe(48))")'
            )
        if self.kid is not None and (not self.kid or len(self.kid) > 128):
            raise AuthConfigurationError("a key id (kid) must be 1 to 128 characters")

    @property
    def key_bytes(self) -> bytes:
        """The secret as bytes (UTF-8 for a ``str``)."""
        secret = self.secret
        return secret if isinstance(secret, bytes) else secret.encode("utf-8", "surrogatepass")

    def __repr__(self) -> str:  # never print the secret
        return f"SigningKey(kid={self.kid!r}, algorithm={self.algorithm!r})"


class KeySet:
    """The keys an app signs and verifies with: the first signs, all verify.

    Rotate by putting the new key first and keeping the old one until the tokens it signed
    have expired::

        KeySet([SigningKey(new_secret, kid="2025-02"), SigningKey(old_secret, kid="2025-01")])

    Args:
        keys: One or more :class:`SigningKey`, newest first. Key ids must be unique.

    Raises:
        AuthConfigurationError: for no keys or duplicate key ids.
    """

    __slots__ = ("_by_kid", "keys")

    keys: tuple[SigningKey, ...]
    """The keys, newest (the signing key) first."""

    def __init__(self, keys: Iterable[SigningKey]) -> None:
        self.keys = tuple(keys)
        if not self.keys:
            raise AuthConfigurationError("a KeySet needs at least one SigningKey")
        if not all(isinstance(key, SigningKey) for key in self.keys):
            raise AuthConfigurationError("a KeySet holds SigningKey objects only")
        self._by_kid: dict[str, SigningKey] = {}
        for key in self.keys:
            if key.kid is None:
                continue
            if key.kid in self._by_kid:
                raise AuthConfigurationError(f"two keys share the key id {key.kid!r}")
            self._by_kid[key.kid] = key

    @classmethod
    def coerce(cls, secret: str | bytes | SigningKey | KeySet | Sequence[SigningKey]) -> KeySet:
        """A KeySet from a secret, a key, a list of keys or a KeySet.

        Raises:
            AuthConfigurationError: as :class:`SigningKey` and :class:`KeySet` do.
        """
        if isinstance(secret, KeySet):
            return secret
        if isinstance(secret, SigningKey):
            return cls([secret])
        if isinstance(secret, str | bytes) or secret is None:
            return cls([SigningKey(secret)])
        return cls(secret)

    @property
    def signing_key(self) -> SigningKey:
        """The key new tokens are signed with."""
        return self.keys[0]

    def candidates(self, kid: Any) -> tuple[SigningKey, ...]:
        """The keys that may have signed a token whose header carries ``kid``."""
        if kid is None:
            return self.keys
        if not isinstance(kid, str):
            return ()
        key = self._by_kid.get(kid)
        return (key,) if key is not None else ()

    def __repr__(self) -> str:
        return f"KeySet({list(self.keys)!r})"


def _jwt() -> Any:
    import jwt  # imported on first use: `import fastware` must not load PyJWT

    return jwt


def _numeric(value: datetime | float | int) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp())
    return int(value)


def _lifetime_seconds(value: timedelta | float) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if not seconds > 0:
        raise ValueError(f"a token lifetime must be positive, got {value!r}")
    return seconds


def create_token(
    username: str,
    role: str,
    secret: str | bytes | SigningKey | KeySet | Sequence[SigningKey],
    expires_hours: float = 720,
    *,
    lifetime: timedelta | float | None = None,
    claims: Mapping[str, Any] | None = None,
    issuer: str | None = None,
    audience: str | Sequence[str] | None = None,
    not_before: datetime | float | None = None,
    jti: str | None = None,
    now: float | None = None,
) -> str:
    """Sign a JWT for ``username`` with ``role``.

    The 0.6.3 call ``create_token(username, role, secret, expires_hours=720)`` works as
    before (30 days); new code should pass a shorter ``lifetime`` or use
    :meth:`fastware_auth.Auth.create_token`, whose default is 8 hours.

    Args:
        username: The ``sub`` claim.
        role: The ``role`` claim.
        secret: A secret (HS256), a :class:`SigningKey` or a :class:`KeySet` (its first key
            signs and its ``kid`` goes into the header).
        expires_hours: Lifetime in hours (fastware 0.6.3's parameter).
        lifetime: Lifetime as a ``timedelta`` or seconds; overrides ``expires_hours``.
        claims: Extra claims. The registered ones (``sub``, ``role``, ``iat``, ``exp``,
            ``nbf``, ``jti``, ``iss``, ``aud``) cannot be set this way.
        issuer: The ``iss`` claim.
        audience: The ``aud`` claim (a string or a list).
        not_before: The ``nbf`` claim: the token is refused before this time.
        jti: The token id; a random 128-bit one by default. Revocation works by ``jti``.
        now: The issue time in seconds since the epoch (tests); the current time by default.

    Returns:
        The encoded token.

    Raises:
        AuthConfigurationError: for a missing or short secret.
        ValueError: for a non-positive lifetime or a registered claim in ``claims``.
    """
    keys = KeySet.coerce(secret)
    key = keys.signing_key
    issued = int(time.time() if now is None else now)
    seconds = _lifetime_seconds(lifetime if lifetime is not None else expires_hours * 3600.0)
    payload: dict[str, Any] = {}
    if claims:
        reserved = sorted(_RESERVED.intersection(claims))
        if reserved:
            raise ValueError(
                f"claims may not set the registered claims {', '.join(reserved)}; use the "
                "keyword arguments of create_token"
            )
        payload.update(claims)
    payload["sub"] = username
    payload["role"] = role
    payload["iat"] = issued
    payload["exp"] = issued + max(1, round(seconds))
    payload["jti"] = jti if jti is not None else secrets.token_urlsafe(16)
    if not_before is not None:
        payload["nbf"] = _numeric(not_before)
    if issuer is not None:
        payload["iss"] = issuer
    if audience is not None:
        payload["aud"] = audience if isinstance(audience, str) else list(audience)
    headers = {"kid": key.kid} if key.kid is not None else None
    token: str = _jwt().encode(payload, key.key_bytes, algorithm=key.algorithm, headers=headers)
    return token


class TokenVerifier:
    """Verifies tokens for one key set and one set of claim rules, with a cache.

    Decoding a JWT with PyJWT costs about 30 µs; a verified token is remembered (up to
    ``cache_size`` of them), so the next request with the same token only re-checks
    ``exp`` and ``nbf`` against the clock. Tokens that fail are never cached.

    Args:
        keys: What :meth:`KeySet.coerce` accepts.
        issuer: Required ``iss`` value, if set.
        audience: Accepted ``aud`` value(s), if set; the token must then carry ``aud``.
        leeway: Seconds of clock skew tolerated for ``exp``, ``nbf`` and ``iat``.
        require: Claims that must be present (``exp`` is always required).
        cache_size: How many verified tokens to remember (0 turns the cache off).

    Raises:
        AuthConfigurationError: for an unusable key.
    """

    __slots__ = (
        "_cache",
        "_lock",
        "audience",
        "cache_size",
        "issuer",
        "keys",
        "leeway",
        "require",
    )

    def __init__(
        self,
        keys: str | bytes | SigningKey | KeySet | Sequence[SigningKey],
        *,
        issuer: str | None = None,
        audience: str | Sequence[str] | None = None,
        leeway: float | timedelta = 0,
        require: Iterable[str] = (),
        cache_size: int = 4096,
    ) -> None:
        self.keys = KeySet.coerce(keys)
        self.issuer = issuer
        self.audience: str | list[str] | None = (
            audience if audience is None or isinstance(audience, str) else list(audience)
        )
        self.leeway = leeway.total_seconds() if isinstance(leeway, timedelta) else float(leeway)
        if self.leeway < 0:
            raise AuthConfigurationError(f"leeway must not be negative, got {leeway!r}")
        self.require = ["exp", *(claim for claim in require if claim != "exp")]
        if cache_size < 0:
            raise AuthConfigurationError(f"cache_size must not be negative, got {cache_size}")
        self.cache_size = cache_size
        # token -> (claims, exp, nbf or None); insertion-ordered, oldest evicted first
        self._cache: dict[str, tuple[dict[str, Any], float, float | None]] = {}
        self._lock = threading.Lock()

    def verify(self, token: Any) -> dict[str, Any] | None:
        """The token's claims if it is valid now, else ``None``. Never raises for a token."""
        if not isinstance(token, str):
            return None
        clock = time.time()
        hit = self._cache.get(token)
        if hit is not None:
            claims, expires, not_before = hit
            leeway = self.leeway
            if clock >= expires + leeway:
                self._cache.pop(token, None)
                return None
            if not_before is not None and clock < not_before - leeway:
                return None
            return dict(claims)
        if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            return None
        decoded = self._decode(token)
        if decoded is None:
            return None
        if self.cache_size:
            self._remember(token, decoded)
        return dict(decoded)

    def _decode(self, token: str) -> dict[str, Any] | None:
        jwt = _jwt()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        except Exception:  # PyJWT lets a few malformed inputs escape (e.g. odd padding)
            return None
        if not isinstance(header, dict):
            return None
        for key in self.keys.candidates(header.get("kid")):
            if header.get("alg") != key.algorithm:
                continue
            try:
                claims = jwt.decode(
                    token,
                    key.key_bytes,
                    algorithms=[key.algorithm],
                    issuer=self.issuer,
                    audience=self.audience,
                    leeway=self.leeway,
                    options={"require": self.require, "verify_aud": self.audience is not None},
                )
            except jwt.InvalidSignatureError:
                continue  # maybe another key without a kid
            except (jwt.PyJWTError, ValueError, TypeError, OverflowError):
                # InvalidKeyError is not an InvalidTokenError; bad claim types can raise
                # TypeError/ValueError/OverflowError from inside PyJWT.
                return None
            if not isinstance(claims, dict) or not _numeric_claims_ok(claims):
                return None
            return claims
        return None

    def _remember(self, token: str, claims: dict[str, Any]) -> None:
        nbf = claims.get("nbf")
        entry = (claims, float(claims["exp"]), None if nbf is None else float(nbf))
        with self._lock:
            cache = self._cache
            while len(cache) >= self.cache_size:
                try:
                    del cache[next(iter(cache))]
                except (StopIteration, KeyError, RuntimeError):
                    break
            cache[token] = entry

    def clear(self) -> None:
        """Forget every cached token."""
        with self._lock:
            self._cache.clear()


def _numeric_claims_ok(claims: dict[str, Any]) -> bool:
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return False
    return True


_legacy: dict[tuple[Any, ...], TokenVerifier] = {}
_legacy_lock = threading.Lock()


def _legacy_verifier(
    secret: Any, issuer: str | None, audience: Any, leeway: float | timedelta
) -> TokenVerifier:
    audience_key = audience if audience is None or isinstance(audience, str) else tuple(audience)
    secret_key = secret if isinstance(secret, str | bytes | KeySet | SigningKey) else id(secret)
    cache_key = (secret_key, issuer, audience_key, leeway)
    verifier = _legacy.get(cache_key)
    if verifier is None:
        verifier = TokenVerifier(secret, issuer=issuer, audience=audience, leeway=leeway)
        with _legacy_lock:
            if len(_legacy) >= 64:  # secrets are few; bound it anyway
                _legacy.clear()
            _legacy[cache_key] = verifier
    return verifier


def verify_token(
    token: str,
    secret: str | bytes | SigningKey | KeySet | Sequence[SigningKey],
    *,
    issuer: str | None = None,
    audience: str | Sequence[str] | None = None,
    leeway: float | timedelta = 0,
) -> dict[str, Any] | None:
    """The claims of a valid token, or ``None`` (fastware 0.6.3's signature).

    Stricter than 0.6.3: ``exp`` is required, the algorithm is pinned to the key's, and no
    malformed input raises. ``issuer`` and ``audience`` are checked when given.

    Raises:
        AuthConfigurationError: for a missing or short secret (a setup error, raised for
            every token alike).
    """
    return _legacy_verifier(secret, issuer, audience, leeway).verify(token)
