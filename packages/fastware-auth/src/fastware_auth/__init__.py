"""fastware-auth: JWT, passwords, user stores, CSRF, session cookies and rate limits.

::

    import os
    from typing import Annotated

    from fastware import Depends, Router, create_app
    from fastware_auth import Auth, CSRFMiddleware, SQLiteUserStore, rate_limit

    auth = Auth(secret=os.environ["JWT_SECRET"])
    users = SQLiteUserStore("users.db")
    router = Router()

    @router.post("/login")
    @rate_limit("5/minute")
    async def login(request):
        body = request.json
        result = await auth.login(users, body["username"], body["password"])
        if result is None:
            raise HTTPError(401, "Wrong username or password")
        return result.response()

    @router.get("/me")
    async def me(request, user: Annotated[dict, Depends(auth.current_user)]):
        return user

    app = create_app(router, middleware=[auth.csrf_middleware(exempt_paths=["/login"])])

``import fastware_auth`` does not import PyJWT, bcrypt or redis: each is imported when first
needed. See docs/auth.md.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .auth import DEFAULT_TOKEN_LIFETIME, Auth, LoginResult
from .csrf import CSRFMiddleware
from .dependencies import auth_for, get_current_user, get_optional_user, require_role
from .exceptions import (
    AuthConfigurationError,
    AuthError,
    InvalidPasswordError,
    InvalidUsernameError,
    PasswordTooLongError,
    UserExistsError,
    UserNotFoundError,
)
from .injector import RateLimitInjector
from .passwords import (
    MAX_PASSWORD_BYTES,
    hash_password,
    hash_password_async,
    needs_rehash,
    verify_password,
    verify_password_async,
)
from .ratelimit import (
    MemoryRateLimitBackend,
    Rate,
    RateLimit,
    RateLimitBackend,
    RateLimitDecision,
    TrustedProxies,
    parse_rate,
    rate_limit,
)
from .redis_backends import RedisRateLimitBackend, RedisRevocationStore, RedisSessionBackend
from .revocation import MemoryRevocationStore, RevocationStore
from .sessions import (
    SessionCookies,
    clear_session_cookies,
    generate_csrf_token,
    set_session_cookies,
)
from .sqlite_store import SQLiteUserStore
from .tokens import KeySet, SigningKey, TokenVerifier, create_token, verify_token
from .users import JSONFileUserStore, UserRecord, UserStore, normalize_username

try:
    __version__ = version("fastware-auth")
except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0.0.0"

__all__ = (
    "DEFAULT_TOKEN_LIFETIME",
    "MAX_PASSWORD_BYTES",
    "Auth",
    "AuthConfigurationError",
    "AuthError",
    "CSRFMiddleware",
    "InvalidPasswordError",
    "InvalidUsernameError",
    "JSONFileUserStore",
    "KeySet",
    "LoginResult",
    "MemoryRateLimitBackend",
    "MemoryRevocationStore",
    "PasswordTooLongError",
    "Rate",
    "RateLimit",
    "RateLimitBackend",
    "RateLimitDecision",
    "RateLimitInjector",
    "RedisRateLimitBackend",
    "RedisRevocationStore",
    "RedisSessionBackend",
    "RevocationStore",
    "SQLiteUserStore",
    "SessionCookies",
    "SigningKey",
    "TokenVerifier",
    "TrustedProxies",
    "UserExistsError",
    "UserNotFoundError",
    "UserRecord",
    "UserStore",
    "__version__",
    "auth_for",
    "clear_session_cookies",
    "create_token",
    "generate_csrf_token",
    "get_current_user",
    "get_optional_user",
    "hash_password",
    "hash_password_async",
    "needs_rehash",
    "normalize_username",
    "parse_rate",
    "rate_limit",
    "require_role",
    "set_session_cookies",
    "verify_password",
    "verify_password_async",
    "verify_token",
)
