"""Request ids: accept a well-formed incoming id or make one, store it, echo it back."""

from __future__ import annotations

import itertools
import os
import re
from contextvars import ContextVar

from fastware_core.types import ASGIApp

from .base import Answer, Connection, HookMiddleware

__all__ = ("RequestIDMiddleware", "bind_request_ids", "request_id_var")

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class _IdSource:
    """32-hex-char ids: a random per-process prefix and a counter.

    Unique across processes (the prefix is drawn again in a forked child) and far cheaper
    than reading the OS random source per request. Request ids label logs; they are not
    secrets.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.prefix = os.urandom(8).hex()
        # Starting between 2**60 and 2**61, the counter's hex form has 16 digits for the
        # next 2**62 ids without zero-padding (the cheapest formatting there is).
        start = (1 << 60) | int.from_bytes(os.urandom(7), "big")
        self._next = itertools.count(start).__next__

    def __call__(self) -> str:
        return self.prefix + hex(self._next())[2:]


new_request_id = _IdSource()
"""Return a new request id (32 lower-case hex characters)."""
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=new_request_id.reset)


class RequestIDMiddleware(HookMiddleware):
    """Give every HTTP request an id, in ``request.state.request_id`` and a response header.

    An incoming id is used only when ``trust_incoming`` is on and it is 1 to ``max_length``
    characters from ``A-Z a-z 0-9 . _ : -``; anything else (too long, spaces, quotes,
    control characters) is replaced by a fresh 32-character hex id, so clients cannot
    pollute logs or headers. The id is appended to the response headers. Logging context
    (structlog contextvars and the like) is not touched; after :func:`bind_request_ids`
    (which ``fastware.logging.configure_logging`` calls) the id is also in
    :data:`request_id_var` while the request runs.

    Args:
        app: The ASGI app to wrap (``None`` when the app drives the hooks itself).
        header_name: The request and response header carrying the id.
        trust_incoming: Reuse a valid id sent by the client (or a proxy in front).
        max_length: The longest incoming id accepted.
    """

    after_appends_only = True

    def __init__(
        self,
        app: ASGIApp | None = None,
        *,
        header_name: str = "x-request-id",
        trust_incoming: bool = True,
        max_length: int = 128,
    ) -> None:
        super().__init__(app)
        if not _TOKEN.fullmatch(header_name):
            raise ValueError(f"header_name {header_name!r} is not a valid HTTP header name")
        if max_length < 1:
            raise ValueError(f"max_length must be at least 1, got {max_length}")
        self.header_name = header_name.lower()
        self.trust_incoming = trust_incoming
        self.max_length = max_length
        self._valid = re.compile(rf"[A-Za-z0-9._:-]{{1,{max_length}}}").fullmatch

    def before(self, conn: Connection) -> Answer | None:
        """Store the request id in ``conn.state["request_id"]``."""
        incoming = conn.header(self.header_name) if self.trust_incoming else None
        if incoming is None or self._valid(incoming) is None:
            incoming = new_request_id()
        conn.state["request_id"] = incoming
        return None

    def _before_and_bind(self, conn: Connection) -> Answer | None:
        """:meth:`before`, then the id into :data:`request_id_var` (:func:`bind_request_ids`)."""
        # before()'s body again rather than a call to it: this runs on every request
        incoming = conn.header(self.header_name) if self.trust_incoming else None
        if incoming is None or self._valid(incoming) is None:
            incoming = new_request_id()
        conn.state["request_id"] = incoming
        _set_request_id(incoming)
        return None

    def after(self, conn: Connection, status: int, headers: list[tuple[str, str]]) -> None:
        """Append the id header to the response."""
        request_id = conn.state.get("request_id")
        if request_id is not None:
            headers.append((self.header_name, request_id))


request_id_var: ContextVar[str | None] = ContextVar("fastware_request_id", default=None)
"""The id of the request being handled, once :func:`bind_request_ids` turned binding on.

Each request runs in its own context (ASGI servers and both of fastware's doors give each
request its own task), so a log line reads the id of the request that wrote it; outside a
request, and while binding is off, it is ``None``.
"""
_set_request_id = request_id_var.set
_plain_before = RequestIDMiddleware.before


def bind_request_ids(enabled: bool = True) -> None:
    """Turn on (or off) setting :data:`request_id_var` for every request.

    Off by default, so an app that never asks pays nothing per request: turning it on swaps
    :class:`RequestIDMiddleware`'s ``before`` hook for one that also sets the context
    variable, for every instance, already built or not. Logging setups call it
    (``fastware.logging.configure_logging`` does) to put the id on every log line.

    Args:
        enabled: ``False`` restores the hook that only stores the id in the request state.
    """
    hook = RequestIDMiddleware._before_and_bind if enabled else _plain_before
    setattr(RequestIDMiddleware, "before", hook)  # noqa: B010 - mypy refuses a method assignment
