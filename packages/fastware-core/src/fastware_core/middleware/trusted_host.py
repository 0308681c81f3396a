"""Host header validation (against DNS rebinding and Host-header poisoning)."""

from __future__ import annotations

from collections.abc import Sequence

from fastware_core.types import ASGIApp

from .base import Answer, Connection, HookMiddleware, error_answer, redirect_url

__all__ = ("TrustedHostMiddleware", "split_host")

_INVALID = error_answer(400, "Invalid host header")


def split_host(value: str) -> tuple[str, str] | None:
    """Split a Host header into ``(host, port)``: host lower-cased, port ``""`` when absent.

    IPv6 literals lose their brackets (``[::1]:8000`` gives ``("::1", "8000")``) and a
    trailing dot is dropped. Returns ``None`` for a malformed value.
    """
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        host, rest = value[1:end], value[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port = rest[1:]
    else:
        host, colon, port = value.partition(":")
        if colon and not port:
            return None
    if port and not port.isdigit():
        return None
    host = host.rstrip(".").lower()
    if not host:
        return None
    return host, port


class TrustedHostMiddleware(HookMiddleware):
    """Reject requests whose Host header is not one of ``allowed_hosts``.

    The port is ignored and names compare case-insensitively, so ``"example.com"`` allows
    ``Example.com:8443``; IPv6 entries are written with or without brackets (``"::1"`` or
    ``"[::1]"``). ``"*.example.com"`` allows every subdomain at any depth
    (``api.example.com``, ``a.b.example.com``) but **not** ``example.com`` itself: list the
    apex separately. ``["*"]`` turns the check off.

    A request without a Host header, or with several different ones, is rejected. A
    rejection is a 400 ``{"detail":"Invalid host header"}`` for HTTP and a close with 1008
    for a WebSocket handshake. With ``www_redirect``, a request for ``example.com`` when only
    ``www.example.com`` is allowed is redirected there (307) instead.

    Args:
        app: The ASGI app to wrap (``None`` when the app drives the hooks itself).
        allowed_hosts: Host names, ``*.domain`` patterns, or ``["*"]``.
        www_redirect: Redirect an apex host to its allowed ``www.`` form.
    """

    applies_to_websocket = True

    def __init__(
        self,
        app: ASGIApp | None = None,
        *,
        allowed_hosts: Sequence[str],
        www_redirect: bool = False,
    ) -> None:
        super().__init__(app)
        if isinstance(allowed_hosts, str):
            raise TypeError("allowed_hosts must be a list of host names, not a string")
        names: set[str] = set()
        suffixes: list[str] = []
        self.allow_any = False
        for entry in allowed_hosts:
            entry = entry.strip().lower().rstrip(".")
            if entry == "*":
                self.allow_any = True
            elif entry.startswith("*."):
                suffixes.append(entry[1:])
            elif entry.startswith("*"):
                raise ValueError(
                    f"Host pattern {entry!r} is not supported; use '*.example.com' or '*'"
                )
            else:
                names.add(entry[1:-1] if entry.startswith("[") and entry.endswith("]") else entry)
        self.allowed_names = frozenset(names)
        self.allowed_suffixes = tuple(suffixes)
        self.www_redirect = www_redirect

    def is_allowed_host(self, host: str) -> bool:
        """Whether ``host`` (lower case, without port or brackets) is allowed."""
        return (
            self.allow_any
            or host in self.allowed_names
            or (bool(self.allowed_suffixes) and host.endswith(self.allowed_suffixes))
        )

    def before(self, conn: Connection) -> Answer | None:
        """Reject (or redirect) a request for a host that is not allowed."""
        if self.allow_any:
            return None
        values = conn.header_list("host")
        if not values:
            return _INVALID
        first = values[0]
        if len(values) > 1:
            for other in values[1:]:
                if other.strip().lower() != first.strip().lower():
                    return _INVALID
        parts = split_host(first)
        if parts is None:
            return _INVALID
        host, port = parts
        if self.is_allowed_host(host):
            return None
        if self.www_redirect and conn.type == "http" and self.is_allowed_host("www." + host):
            location = redirect_url(conn.scheme, "www." + host, port, conn.path, conn.query_string)
            return 307, "", b"", [("location", location)]
        return _INVALID
