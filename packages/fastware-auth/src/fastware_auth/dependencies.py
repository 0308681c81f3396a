"""fastware 0.6.3's module-level dependencies: ``get_current_user`` and ``require_role``.

They find the auth settings on the request's state, in this order:

1. ``request.state["auth"]``: an :class:`~fastware_auth.Auth` (put it in the lifespan
   state: ``yield {"auth": auth}``);
2. ``request.state["config"]["jwt_secret"]``: fastware 0.6.3's place for the secret.

Neither present is a setup error: :class:`~fastware_auth.exceptions.AuthConfigurationError`
naming both places (a 500, logged), never a bare ``KeyError``. New code should use the
bound dependencies of an ``Auth`` (``auth.current_user``, ``auth.require_role(...)``),
whose secret is checked when the app starts.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .auth import BEARER_SECURITY, Auth, role_dependency
from .exceptions import AuthConfigurationError

__all__ = ("auth_for", "get_current_user", "get_optional_user", "require_role")

_by_secret: dict[Any, Auth] = {}
_lock = threading.Lock()


def auth_for(connection: Any) -> Auth:
    """The :class:`Auth` for a request or WebSocket, from its state (see the module docs).

    Raises:
        AuthConfigurationError: when the state holds neither an ``Auth`` nor a secret, or
            the secret is unusable (too short).
    """
    state = connection.state
    found = state.get("auth")
    if isinstance(found, Auth):
        return found
    config = state.get("config")
    secret = config.get("jwt_secret") if isinstance(config, Mapping) else None
    if secret is None:
        raise AuthConfigurationError(
            "no auth configuration for this request: put an Auth in the lifespan state "
            "(yield {'auth': Auth(secret=...)}) or set state['config']['jwt_secret'], or use "
            "an Auth's own dependencies (auth.current_user)"
        )
    key = secret if isinstance(secret, str | bytes) else id(secret)
    auth = _by_secret.get(key)
    if auth is None:
        auth = Auth(secret)
        with _lock:
            if len(_by_secret) >= 16:
                _by_secret.clear()
            _by_secret[key] = auth
    return auth


async def get_current_user(request: Any, *, allow_query_token: bool = False) -> dict[str, Any]:
    """The verified claims of the request's token (fastware 0.6.3's dependency).

    Token sources, in order: ``Authorization: Bearer <token>``, the ``session`` cookie,
    and ``?token=`` only with ``allow_query_token=True``. Works on WebSocket routes.

    Raises:
        HTTPError: 401 ``Not authenticated`` or ``Invalid or expired token``.
        AuthConfigurationError: when no secret is configured (see the module docs).
    """
    return await auth_for(request).user_from(request, allow_query_token=allow_query_token)


get_current_user.openapi_security = BEARER_SECURITY  # type: ignore[attr-defined]


async def get_optional_user(request: Any) -> dict[str, Any] | None:
    """The verified claims of the request's token, or ``None`` without a valid one."""
    auth = auth_for(request)
    token = auth.token_from(request)
    return None if token is None else await auth.authenticate(token)


async def _user_from_state(request: Any) -> dict[str, Any]:
    return await auth_for(request).user_from(request, allow_query_token=False)


_role_deps: dict[tuple[str, ...], Callable[[Any], Awaitable[dict[str, Any]]]] = {}


def require_role(*roles: str) -> Callable[[Any], Awaitable[dict[str, Any]]]:
    """A dependency admitting users whose ``role`` is one of ``roles`` (0.6.3's, extended
    to several roles). 403 ``Role '<role>' required`` otherwise; 401 without a valid token.

    The same roles give the same function, so it can be overridden in tests.

    Raises:
        ValueError: without roles.
    """
    return role_dependency(_role_deps, roles, _user_from_state)
