"""Request ids: accept a well-formed incoming id or make one, store it, echo it back."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from fastware_core.types import ASGIApp

from .base import Answer, Connection, HookMiddleware

__all__ = ("RequestIDMiddleware", "bind_request_ids", "request_id_var")

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


# The last two hex digits of an id: the ids of one block share everything before them.
_SUFFIXES = tuple(format(i, "02x") for i in range(256))


class _IdSource:
    """32-hex-char ids: a random per-process prefix, a block counter and a two-digit suffix.

    Unique across processes (the prefix is drawn again in a forked child) and far cheaper
    than reading the OS random source per request. Request ids label logs; they are not
    secrets. An id costs one step of C iterators (``chain`` over tuples of ids); Python runs
    once per 256 ids, to build the next block's tuple.
    """

    prefix: str
    next_id: Callable[[], str]
    """Return the next id."""
    fresh: Callable[[], str]
    """Return the next id as the id of the running request: :attr:`next_id` itself while
    binding is off (what the doors call for a request that sent no id), else a function that
    also sets :data:`request_id_var`."""
    binding: bool
    """Whether ids are also set in :data:`request_id_var` (see :func:`bind_request_ids`)."""

    def __init__(self) -> None:
        self.binding = False
        self.reset()

    def reset(self) -> None:
        """Start over with a new prefix (in a forked child)."""
        self.prefix = os.urandom(8).hex()
        self.next_id = itertools.chain.from_iterable(self._blocks()).__next__
        self.bind(self.binding)

    def bind(self, enabled: bool) -> None:
        """Turn setting :data:`request_id_var` on or off."""
        self.binding = enabled
        self.fresh = self._fresh_bound if enabled else self.next_id

    def _fresh_bound(self) -> str:
        request_id = self.next_id()
        _set_request_id(request_id)
        return request_id

    def _blocks(self) -> Iterator[tuple[str, ...]]:
        # The block counter starts between 2**52 and 2**53, so its hex form has 14 digits for
        # the next 2**55 blocks without zero-padding.
        start = (1 << 52) | (int.from_bytes(os.urandom(7), "big") >> 4)
        prefix = self.prefix
        for block in itertools.count(start):
            yield tuple(map((prefix + format(block, "x")).__add__, _SUFFIXES))


id_source = _IdSource()
"""The process's request ids (the doors call ``id_source.fresh()`` for a request that sent
no id)."""
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=id_source.reset)


def new_request_id() -> str:
    """Return a new request id (32 lower-case hex characters)."""
    return id_source.next_id()


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

    def identify(self, incoming: str | None) -> str:
        """The id of a request whose id header was ``incoming`` (``None``: not sent).

        The doors call this directly when the middleware is the app's outermost hook
        (``create_app``'s default), instead of the :meth:`before`/:meth:`after` pair.
        """
        if incoming is None or not self.trust_incoming or self._valid(incoming) is None:
            return id_source.fresh()
        if id_source.binding:
            _set_request_id(incoming)
        return incoming

    def before(self, conn: Connection) -> Answer | None:
        """Store the request id in ``conn.state["request_id"]``."""
        conn.state["request_id"] = self.identify(
            conn.header(self.header_name) if self.trust_incoming else None
        )
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


def bind_request_ids(enabled: bool = True) -> None:
    """Turn on (or off) setting :data:`request_id_var` for every request.

    Off by default, so an app that never asks pays one attribute check per request. It
    applies to every :class:`RequestIDMiddleware`, already built or not. Logging setups call
    it (``fastware.logging.configure_logging`` does) to put the id on every log line.

    Args:
        enabled: ``False`` goes back to storing the id in the request state only.
    """
    id_source.bind(enabled)
