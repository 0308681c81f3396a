"""``Auth``: one object holding an app's auth settings, with its dependencies and helpers.

::

    auth = Auth(
        secret=os.environ["JWT_SECRET"],
        revocations=RedisRevocationStore(os.environ["REDIS_URL"]),
        cookies=SessionCookies(secure=True, host_prefix=True),
    )

    @router.get("/me")
    async def me(request, user: Annotated[dict, Depends(auth.current_user)]):
        return user

    @router.delete("/users/{name}", deps={"admin": auth.require_role("admin")})
    async def delete_user(request, admin): ...

Everything is checked when the ``Auth`` is made (a missing or short secret raises
:class:`~fastware_auth.exceptions.AuthConfigurationError` at import or startup, not on a
request). Dependencies work on HTTP and WebSocket routes alike.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastware_core import HTTPError, JSONResponse

from .exceptions import AuthConfigurationError, InvalidPasswordError, InvalidUsernameError
from .passwords import (
    DEFAULT_ROUNDS,
    hash_password_async,
    needs_rehash,
    password_bytes,
    verify_password_async,
)
from .revocation import MemoryRevocationStore, RevocationStore
from .sessions import SessionCookies, generate_csrf_token
from .tokens import KeySet, SigningKey, TokenVerifier, create_token
from .users import UserRecord, UserStore, normalize_username

__all__ = ("BEARER_SECURITY", "DEFAULT_TOKEN_LIFETIME", "Auth", "LoginResult", "PublicUser")

BEARER_SECURITY: dict[str, dict[str, str]] = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
}
"""The OpenAPI security scheme of the token dependencies: every dependency that needs a
signed-in user carries it as ``openapi_security`` (fastware_core.openapi reads it)."""

logger = logging.getLogger("fastware.auth")

DEFAULT_TOKEN_LIFETIME = timedelta(hours=8)
"""How long tokens made by :meth:`Auth.create_token` live unless told otherwise."""

_NOT_AUTHENTICATED = "Not authenticated"
_INVALID = "Invalid or expired token"
_CHALLENGE = (("WWW-Authenticate", "Bearer"),)

PublicUser = dict[str, Any]
"""A user record without its password hash (what login returns to the app)."""


def _public(record: UserRecord) -> PublicUser:
    return {key: value for key, value in record.items() if key != "password_hash"}


@dataclass(slots=True)
class LoginResult:
    """A successful login: the user, the new token, the CSRF token and the cookies."""

    user: PublicUser
    """The user's record, without the password hash."""
    token: str
    """The signed JWT (also in the session cookie)."""
    csrf_token: str
    """The CSRF token (also in the readable CSRF cookie)."""
    cookies: list[str] = field(default_factory=list)
    """The ``Set-Cookie`` values for both cookies."""

    def response(self, data: Any = None, status: int = 200) -> JSONResponse:
        """A JSON response that sets the cookies; the body defaults to
        ``{"user": ..., "csrf_token": ...}``."""
        body = data if data is not None else {"user": self.user, "csrf_token": self.csrf_token}
        return JSONResponse(body, status=status, cookies=list(self.cookies))


class Auth:
    """An app's auth configuration: keys, token rules, revocation, cookies, password cost.

    Args:
        secret: The HS256 secret (32 bytes or more), a :class:`SigningKey`, or a list of
            them / a :class:`KeySet` for key rotation (the first signs, all verify).
        issuer: Written as ``iss`` and required on verification, when set.
        audience: Written as ``aud`` and required on verification, when set.
        token_lifetime: Lifetime of new tokens (8 hours by default).
        leeway: Clock skew tolerated when checking ``exp``/``nbf``/``iat``.
        revocations: Where logouts are recorded; ``None`` means tokens cannot be revoked
            before they expire. :class:`MemoryRevocationStore` for one process,
            :class:`~fastware_auth.RedisRevocationStore` for several.
        cookies: Session and CSRF cookie settings.
        allow_query_token: Also read the token from ``?token=`` (for WebSocket or
            EventSource clients that cannot send headers). Off by default: URLs end up in
            logs.
        rounds: The bcrypt cost for passwords hashed through this object.
        token_cache_size: Verified tokens remembered (see :class:`TokenVerifier`).

    Raises:
        AuthConfigurationError: for a missing or short secret or unusable settings.
    """

    def __init__(
        self,
        secret: str | bytes | SigningKey | KeySet | Sequence[SigningKey] | None = None,
        *,
        issuer: str | None = None,
        audience: str | Sequence[str] | None = None,
        token_lifetime: timedelta | float = DEFAULT_TOKEN_LIFETIME,
        leeway: timedelta | float = 0,
        revocations: RevocationStore | None = None,
        cookies: SessionCookies | None = None,
        allow_query_token: bool = False,
        rounds: int = DEFAULT_ROUNDS,
        token_cache_size: int = 4096,
    ) -> None:
        if secret is None:
            raise AuthConfigurationError(
                "Auth(secret=...) is missing: pass the JWT secret (e.g. "
                "os.environ['JWT_SECRET']), a random string of at least 32 bytes"
            )
        self.keys = KeySet.coerce(secret)
        self.issuer = issuer
        self.audience = audience
        lifetime = (
            token_lifetime.total_seconds()
            if isinstance(token_lifetime, timedelta)
            else float(token_lifetime)
        )
        if not lifetime > 0:
            raise AuthConfigurationError(f"token_lifetime must be positive, got {token_lifetime!r}")
        self.token_lifetime = lifetime
        """Lifetime of new tokens, in seconds."""
        if revocations is not None and not isinstance(revocations, RevocationStore):
            raise AuthConfigurationError(
                f"revocations must be a RevocationStore, got {type(revocations).__name__}"
            )
        self.revocations = revocations
        self._memory_revocations = (
            revocations if isinstance(revocations, MemoryRevocationStore) else None
        )
        self.cookies = cookies if cookies is not None else SessionCookies()
        self.allow_query_token = allow_query_token
        if not isinstance(rounds, int) or not 4 <= rounds <= 31:
            raise AuthConfigurationError(f"rounds must be an integer from 4 to 31, got {rounds!r}")
        self.rounds = rounds
        self.verifier = TokenVerifier(
            self.keys,
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            cache_size=token_cache_size,
        )
        self._dummy_hash: str | None = None
        self._role_deps: dict[tuple[str, ...], Callable[[Any], Awaitable[dict[str, Any]]]] = {}
        self.current_user = self._make_current_user(allow_query_token)
        """Dependency: the verified claims of the request's token, or 401."""
        self.current_user_or_query = self._make_current_user(True)
        """Dependency: as :attr:`current_user`, also reading ``?token=``."""
        self.optional_user = self._make_optional_user()
        """Dependency: the verified claims, or ``None`` without a valid token (never 401)."""

    # -- tokens ---------------------------------------------------------------------------------

    def create_token(
        self,
        username: str,
        role: str = "user",
        *,
        claims: Mapping[str, Any] | None = None,
        lifetime: timedelta | float | None = None,
        not_before: float | None = None,
        jti: str | None = None,
    ) -> str:
        """Sign a token for ``username`` with this object's key, issuer, audience and
        lifetime (a random ``jti`` included)."""
        return create_token(
            username,
            role,
            self.keys,
            lifetime=lifetime if lifetime is not None else self.token_lifetime,
            claims=claims,
            issuer=self.issuer,
            audience=self.audience,
            not_before=not_before,
            jti=jti,
        )

    def verify_token(self, token: Any) -> dict[str, Any] | None:
        """The claims of a well-signed, current token, or ``None``. Does not consult the
        revocation store (see :meth:`authenticate`)."""
        return self.verifier.verify(token)

    async def authenticate(self, token: Any) -> dict[str, Any] | None:
        """The claims of a valid token that was not revoked, or ``None``."""
        claims = self.verifier.verify(token)
        if claims is None:
            return None
        if self.revocations is not None and await self._revoked(claims):
            return None
        return claims

    async def _revoked(self, claims: dict[str, Any]) -> bool:
        jti = claims.get("jti")
        subject = claims.get("sub")
        issued = claims.get("iat", 0)
        jti = jti if isinstance(jti, str) else None
        subject = subject if isinstance(subject, str) else None
        issued_at = float(issued) if isinstance(issued, int | float) else 0.0
        memory = self._memory_revocations
        if memory is not None:
            return memory.is_revoked_now(jti, subject, issued_at)
        assert self.revocations is not None
        return await self.revocations.is_revoked(jti, subject, issued_at)

    async def revoke(self, claims: Mapping[str, Any]) -> bool:
        """Revoke the token these claims came from, until it expires.

        Returns:
            Whether it could be revoked (a token without ``jti`` cannot be, alone).

        Raises:
            AuthConfigurationError: when this ``Auth`` has no revocation store.
        """
        store = self._store()
        jti = claims.get("jti")
        exp = claims.get("exp")
        if not isinstance(jti, str) or not isinstance(exp, int | float):
            return False
        await store.revoke(jti, float(exp))
        return True

    async def revoke_user(self, username: str) -> None:
        """Revoke every token of ``username`` issued until now ("log out everywhere").

        Tokens issued later, even within the same second, stay valid only from the next
        second on: log the user in again after a short pause if needed.

        Raises:
            AuthConfigurationError: when this ``Auth`` has no revocation store.
        """
        store = self._store()
        now = time.time()
        await store.revoke_subject(username, float(int(now)), now + self.token_lifetime + 60)

    def _store(self) -> RevocationStore:
        if self.revocations is None:
            raise AuthConfigurationError(
                "this Auth has no revocation store: pass Auth(revocations="
                "MemoryRevocationStore()) or RedisRevocationStore(url) to revoke tokens"
            )
        return self.revocations

    # -- reading the request ----------------------------------------------------------------------

    def token_from(self, connection: Any, *, allow_query_token: bool | None = None) -> str | None:
        """The token a request (or WebSocket) carries, or ``None``.

        In order: an ``Authorization: Bearer`` header; the session cookie; ``?token=`` when
        allowed. A bearer header is used even when invalid (no fallback to the cookie).
        """
        header = connection.header("authorization")
        if header is not None:
            scheme, _, value = header.partition(" ")
            if scheme.lower() == "bearer":
                return str(value).strip()
        cookie = connection.cookie(self.cookies.session_cookie)
        if cookie:
            return str(cookie)
        query_allowed = self.allow_query_token if allow_query_token is None else allow_query_token
        if query_allowed:
            value = connection.query_params.get("token")
            if value:
                return str(value)
        return None

    async def user_from(
        self, connection: Any, *, allow_query_token: bool | None = None
    ) -> dict[str, Any]:
        """The verified claims of the request's token.

        Raises:
            HTTPError: 401 ``Not authenticated`` without a token, 401 ``Invalid or expired
                token`` for a bad, expired or revoked one.
        """
        token = self.token_from(connection, allow_query_token=allow_query_token)
        if token is None:
            raise HTTPError(401, _NOT_AUTHENTICATED, headers=_CHALLENGE)
        claims = self.verifier.verify(token)
        if claims is None or (self.revocations is not None and await self._revoked(claims)):
            raise HTTPError(401, _INVALID, headers=_CHALLENGE)
        return claims

    def _make_current_user(self, allow_query: bool) -> Callable[[Any], Awaitable[dict[str, Any]]]:
        verify = self.verifier.verify
        token_from = self.token_from
        has_store = self.revocations is not None
        revoked = self._revoked

        async def current_user(request: Any) -> dict[str, Any]:
            token = token_from(request, allow_query_token=allow_query)
            if token is None:
                raise HTTPError(401, _NOT_AUTHENTICATED, headers=_CHALLENGE)
            claims = verify(token)
            if claims is None or (has_store and await revoked(claims)):
                raise HTTPError(401, _INVALID, headers=_CHALLENGE)
            return claims

        current_user.__qualname__ = "Auth.current_user"
        current_user.openapi_security = BEARER_SECURITY  # type: ignore[attr-defined]
        return current_user

    def _make_optional_user(self) -> Callable[[Any], Awaitable[dict[str, Any] | None]]:
        token_from = self.token_from
        authenticate = self.authenticate

        async def optional_user(request: Any) -> dict[str, Any] | None:
            token = token_from(request)
            return None if token is None else await authenticate(token)

        optional_user.__qualname__ = "Auth.optional_user"
        return optional_user

    def require_role(self, *roles: str) -> Callable[[Any], Awaitable[dict[str, Any]]]:
        """A dependency admitting users whose ``role`` claim is one of ``roles``.

        The same roles give the same dependency object, so it can be overridden in tests
        (``app.dependency_overrides[auth.require_role("admin")] = ...``).

        Raises:
            ValueError: without roles.
        """
        return role_dependency(self._role_deps, roles, self.user_from)

    # -- sessions and CSRF ---------------------------------------------------------------------

    def session_cookies(self, token: str, csrf_token: str | None = None) -> list[str]:
        """The ``Set-Cookie`` values for a session with this object's cookie settings."""
        return self.cookies.set(token, csrf_token or generate_csrf_token())

    def clear_session_cookies(self) -> list[str]:
        """The ``Set-Cookie`` values that end the session in the browser."""
        return self.cookies.clear()

    def csrf_middleware(self, **options: Any) -> Any:
        """A :class:`~fastware_auth.CSRFMiddleware` that exempts valid bearer tokens of this
        ``Auth`` and reads its cookie names (``options`` go to the middleware)."""
        from .csrf import CSRFMiddleware

        return CSRFMiddleware(None, auth=self, **options)

    # -- login flow ------------------------------------------------------------------------------

    async def login(self, store: UserStore, username: str, password: str) -> LoginResult | None:
        """Check a username and password; on success make a token and session cookies.

        bcrypt runs in a worker thread. An unknown user costs as much time as a wrong
        password, so response times do not reveal which usernames exist. A hash made at a
        lower cost than :attr:`rounds` is replaced after a successful login.

        Returns:
            The :class:`LoginResult`, or ``None`` for wrong credentials.

        Raises:
            HTTPError: 422 for a password that breaks the rules (over 72 bytes, not UTF-8).
        """
        _check_password(password)
        try:
            normalize_username(username)
        except InvalidUsernameError:
            record = None
        else:
            record = await store.find_user_async(username)
        if record is None:
            await verify_password_async(password, await self._dummy())
            return None
        if not await verify_password_async(password, record["password_hash"]):
            return None
        if needs_rehash(record["password_hash"], rounds=self.rounds):
            try:
                stronger = await hash_password_async(password, rounds=self.rounds)
                await store.set_password_hash_async(record["username"], stronger)
            except Exception:
                logger.exception("Could not rehash the password of %r", record["username"])
        token = self.create_token(record["username"], record["role"])
        csrf_token = generate_csrf_token()
        return LoginResult(_public(record), token, csrf_token, self.cookies.set(token, csrf_token))

    async def register(
        self,
        store: UserStore,
        username: str,
        password: str,
        role: str = "user",
        *,
        min_password_length: int = 8,
    ) -> PublicUser:
        """Create a user, with errors a client can act on.

        Raises:
            HTTPError: 422 for an invalid username or password (too short, over 72 bytes,
                not UTF-8), 409 ``User '<name>' already exists``.
        """
        from .exceptions import UserExistsError

        try:
            normalize_username(username)
        except InvalidUsernameError as exc:
            raise HTTPError(422, str(exc)) from None
        _check_password(password)
        if len(password) < min_password_length:
            raise HTTPError(
                422, f"The password must have at least {min_password_length} characters"
            )
        try:
            record = await store.create_user_async(username, password, role)
        except UserExistsError as exc:
            raise HTTPError(409, str(exc)) from None
        return _public(record)

    async def logout(self, request: Any) -> list[str]:
        """Revoke the request's token (when valid and a store is configured) and return the
        ``Set-Cookie`` values that clear the session."""
        token = self.token_from(request)
        if token is not None and self.revocations is not None:
            claims = self.verifier.verify(token)
            if claims is not None:
                await self.revoke(claims)
        return self.cookies.clear()

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await hash_password_async(
                generate_csrf_token()[:32], rounds=self.rounds
            )
        return self._dummy_hash

    # -- introspection ---------------------------------------------------------------------------

    @property
    def fastware_process_local(self) -> str | None:
        """Describes an in-memory revocation store (``fastware serve`` warns under
        ``workers > 1``), else ``None``."""
        if self._memory_revocations is not None:
            return "token revocations held in memory (Auth(revocations=MemoryRevocationStore()))"
        return None

    def __repr__(self) -> str:
        return f"Auth(keys={self.keys!r}, issuer={self.issuer!r}, audience={self.audience!r})"


def _check_password(password: Any) -> None:
    try:
        password_bytes(password)
    except InvalidPasswordError as exc:
        raise HTTPError(422, str(exc)) from None


def _role_message(roles: tuple[str, ...]) -> str:
    if len(roles) == 1:
        return f"Role '{roles[0]}' required"
    return "One of the roles " + ", ".join(f"'{role}'" for role in roles) + " required"


def role_dependency(
    cache: dict[tuple[str, ...], Callable[[Any], Awaitable[dict[str, Any]]]],
    roles: tuple[str, ...],
    user_from: Callable[[Any], Awaitable[dict[str, Any]]],
) -> Callable[[Any], Awaitable[dict[str, Any]]]:
    if not roles or not all(isinstance(role, str) and role for role in roles):
        raise ValueError("require_role() needs one or more role names")
    found = cache.get(roles)
    if found is not None:
        return found
    allowed = frozenset(roles)
    message = _role_message(roles)

    async def require_role(request: Any) -> dict[str, Any]:
        claims = await user_from(request)
        role = claims.get("role")
        if isinstance(role, str) and role in allowed:
            return claims
        extra = claims.get("roles")
        if isinstance(extra, list) and any(isinstance(r, str) and r in allowed for r in extra):
            return claims
        raise HTTPError(403, message)

    require_role.__qualname__ = f"require_role({', '.join(map(repr, roles))})"
    require_role.openapi_security = BEARER_SECURITY  # type: ignore[attr-defined]
    cache[roles] = require_role
    return require_role
