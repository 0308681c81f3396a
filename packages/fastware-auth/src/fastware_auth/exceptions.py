"""The fastware-auth error tree: every error is a ``FastwareError``.

Errors a caller may want to catch by category also inherit a built-in exception, so code
written for fastware 0.6.3 (``except ValueError``, ``except LookupError``) keeps working.
"""

from __future__ import annotations

from fastware_core import FastwareError

__all__ = (
    "AuthConfigurationError",
    "AuthError",
    "InvalidPasswordError",
    "InvalidUsernameError",
    "PasswordTooLongError",
    "UserExistsError",
    "UserNotFoundError",
)


class AuthError(FastwareError):
    """Root of the errors raised by fastware-auth."""


class AuthConfigurationError(AuthError, ValueError):
    """The auth setup is unusable: a missing or too-short secret, an unknown algorithm, a
    cookie setting that browsers would refuse. Raised when the setting is made, so a broken
    deployment fails at startup rather than on the first request."""


class InvalidPasswordError(AuthError, ValueError):
    """A password that cannot be hashed or checked: not encodable as UTF-8, empty, or too
    short for the policy in force."""


class PasswordTooLongError(InvalidPasswordError):
    """A password longer than bcrypt's 72-byte limit (counted in UTF-8).

    fastware rejects such passwords instead of silently truncating or pre-hashing them; the
    login and registration helpers turn this into a 422.
    """


class InvalidUsernameError(AuthError, ValueError):
    """A username that is empty, too long, or holds characters usernames may not have."""


class UserExistsError(AuthError, ValueError):
    """``create_user`` for a username (after normalisation) that is already taken."""


class UserNotFoundError(AuthError, LookupError):
    """``delete_user`` or ``set_role`` for a username that is not in the store."""
