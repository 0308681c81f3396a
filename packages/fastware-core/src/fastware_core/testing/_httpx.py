"""What 0.6.3's test suites pass to httpx and get back from it, for the test clients.

0.6.3's ``async with AsyncTestClient(app) as client`` gave an ``httpx.AsyncClient``, so its
users' tests may hand the client httpx objects: an ``httpx.Timeout``, an ``httpx.Auth`` (or
a function auth), and expect ``httpx.HTTPStatusError`` from ``raise_for_status()``. The
test clients do not need httpx; these helpers import it only when such an object shows up,
which means it is installed.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._responses import _ResponseBase

__all__ = (
    "AuthArg",
    "HeadersArg",
    "as_httpx_auth",
    "auth_headers",
    "httpx_request",
    "httpx_response",
    "status_error",
    "timeout_seconds",
    "with_basic_auth",
)

HeadersArg = Mapping[str, str] | Sequence[tuple[str, str]]
"""Request headers: a mapping, or ``(name, value)`` pairs that may repeat a name."""

AuthArg = tuple[str, str] | Callable[[Any], Any] | Any
"""``(user, password)``, an ``httpx.Auth`` or a function taking and returning a request."""


def timeout_seconds(timeout: Any) -> float | None:
    """Seconds for ``timeout=``: a number, ``None``, or an ``httpx.Timeout`` (its largest
    phase, since one bound covers the whole in-process exchange)."""
    if timeout is None or isinstance(timeout, int | float):
        return timeout
    if not hasattr(timeout, "read"):
        raise TypeError(f"timeout must be seconds, None or an httpx.Timeout, got {timeout!r}")
    phases = [getattr(timeout, name, None) for name in ("connect", "read", "write", "pool")]
    known = [float(value) for value in phases if value is not None]
    return max(known) if known else None


def with_basic_auth(headers: HeadersArg | None, auth: tuple[str, str]) -> list[tuple[str, str]]:
    """``headers`` with an HTTP Basic ``Authorization`` for ``auth=(user, password)`` (as
    httpx sends it), unless they carry an ``Authorization`` already."""
    pairs = list(headers.items() if isinstance(headers, Mapping) else headers or ())
    if any(name.lower() == "authorization" for name, _ in pairs):
        return pairs
    user, password = auth
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return [*pairs, ("Authorization", f"Basic {token}")]


def auth_headers(before: set[tuple[str, str]], sent: Any) -> list[tuple[str, str]]:
    """The headers of ``sent`` (a request an auth flow yielded) that were not among
    ``before`` (the request's headers before the flow ran), as pairs."""
    return [pair for pair in sent.headers.multi_items() if pair not in before]


def httpx_request(method: str, url: str, headers: list[tuple[str, str]], content: bytes) -> Any:
    """An ``httpx.Request`` carrying what the test client is about to send."""
    import httpx

    return httpx.Request(method, url, headers=headers, content=content)


def httpx_response(response: _ResponseBase, request: Any) -> Any:
    """``response`` as an ``httpx.Response`` (for auth flows and status errors)."""
    import httpx

    return httpx.Response(
        response.status_code,
        headers=response.headers.multi_items(),
        content=response.content,
        request=request,
    )


def as_httpx_auth(auth: Any) -> Any:
    """``auth`` as an ``httpx.Auth``: a function auth is wrapped as httpx does."""
    try:
        import httpx
    except ImportError:
        raise TypeError(
            "auth must be (user, password) where httpx is not installed (auth objects and "
            f"functions work on httpx requests), got {type(auth).__name__}"
        ) from None

    if isinstance(auth, httpx.Auth):
        return auth
    if callable(auth):
        return _function_auth(httpx)(auth)
    raise TypeError(
        f"auth must be (user, password), an httpx.Auth or a function, got {type(auth).__name__}"
    )


@cache
def _function_auth(httpx: Any) -> Any:
    class FunctionAuth(httpx.Auth):  # type: ignore[misc]
        """A function taking and returning the request, as an ``httpx.Auth``."""

        def __init__(self, func: Callable[[Any], Any]) -> None:
            self._func = func

        def auth_flow(self, request: Any) -> Any:
            yield self._func(request)

    return FunctionAuth


class StatusError(RuntimeError):
    """The error ``raise_for_status()`` raises where httpx is not installed."""

    def __init__(self, message: str, *, request: Any, response: Any) -> None:
        super().__init__(message)
        self.request = request
        self.response = response


@cache
def _httpx_status_error() -> Callable[..., Exception]:
    import httpx

    class HTTPStatusError(httpx.HTTPStatusError, RuntimeError):
        """``httpx.HTTPStatusError``, and a ``RuntimeError`` as before."""

    return HTTPStatusError


_KINDS = {1: "Informational response", 3: "Redirect response", 4: "Client error", 5: "Server error"}


def status_error(response: _ResponseBase) -> Exception:
    """The error ``raise_for_status()`` raises for ``response``: an
    ``httpx.HTTPStatusError`` (also a ``RuntimeError``), worded as httpx words it."""
    kind = _KINDS.get(response.status_code // 100, "Invalid status code")
    message = (
        f"{kind} '{response.status_code} {response.reason_phrase}' for {response.method} "
        f"url '{response.url}'"
    )
    if response.has_redirect_location:
        message += f"\nRedirect location: '{response.headers['location']}'"
    try:
        error_class = _httpx_status_error()
    except ImportError:
        return StatusError(message, request=None, response=response)
    sent = response.request
    request = httpx_request(sent.method, str(sent.url), sent.headers.multi_items(), sent.content)
    return error_class(message, request=request, response=httpx_response(response, request))
