"""The error-recording seam: where unhandled exceptions are reported, with their context.

fastware-core defines the :class:`ErrorRecorder` protocol and calls it; fastware-errorlog's
``ErrorLog`` implements it (``fastware.create_app`` wires one in). The call happens only on
error paths, so a request that succeeds pays nothing for it. Core calls
``recorder.record(exc, context)`` for:

- an exception a route handler (or its dependencies) raised that no exception handler
  answered, or whose exception handler raised itself: ``kind="http"``, status 500;
- an :class:`~fastware_core.exceptions.HTTPError` raised with a status of at least
  ``recorder.min_status`` (500 by default, so 4xx are not recorded unless asked):
  ``kind="http"`` with the error's status;
- an error in a streamed response's generator after the response started: ``kind="http"``
  with the status already sent;
- an exception a WebSocket handler raised that no exception handler took:
  ``kind="websocket"``, ``status_code=1011`` (the close code sent);
- a background task that crashed, from a task registry: ``kind="task"``, ``task=<name>``,
  ``status_code=0``, no method or path. Any code may report such a crash the same way:
  ``recorder.record(exc, ErrorContext(kind="task", task="mailer"))``.

``record`` runs on the event loop: it must return quickly (queue the work) and must not
raise; core logs and swallows anything it raises anyway.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = ("RECORDED_KEY", "ErrorContext", "ErrorRecorder", "record_error")

RECORDED_KEY = "fastware.error_recorded"
"""Request-state key set to the recorder that recorded this request's exception; the timing
middleware's 0.6.3 ``error_log`` then skips its own row for the same request."""

_logger = logging.getLogger("fastware")


@dataclass(slots=True, frozen=True)
class ErrorContext:
    """Where an exception happened (everything but the exception itself)."""

    kind: str
    """``"http"``, ``"websocket"`` or ``"task"``."""
    method: str = ""
    """The request method (``""`` for WebSockets and tasks)."""
    path: str = ""
    """The percent-decoded request path, without the query string."""
    status_code: int = 500
    """The HTTP status answered, the WebSocket close code (1011), or 0 for a task."""
    request_id: str = ""
    """``request.state.request_id`` when the request-id middleware gave one."""
    user: Any = None
    """``request.state.user`` (or the WebSocket's) when authentication identified a user:
    fastware-auth stores the user there; a recorder turns it into text."""
    headers: tuple[tuple[str, str], ...] = ()
    """The request headers as sent; a recorder must leave out credentials (Authorization,
    Cookie, ...)."""
    task: str = ""
    """The background task's name for ``kind="task"``."""
    detail: str = ""
    """A short description when the exception alone does not say it (e.g. an HTTPError's
    detail)."""


@runtime_checkable
class ErrorRecorder(Protocol):
    """Receives every unhandled exception, with its context (see the module docstring)."""

    min_status: int
    """The lowest HTTPError status recorded: 500 records 5xx only, 400 also 4xx."""

    def record(self, exc: BaseException, context: ErrorContext) -> object:
        """Record one exception. Called on the event loop: return quickly, never raise."""


def record_error(
    recorder: ErrorRecorder,
    exc: BaseException,
    connection: Any,
    kind: str,
    status: int,
    detail: str = "",
) -> None:
    """Report ``exc`` raised while serving ``connection`` (a Request or WebSocket).

    Builds the :class:`ErrorContext` from the connection (method, path, request id, user,
    headers), marks the request as recorded (:data:`RECORDED_KEY`) and calls the recorder,
    logging instead of raising when anything fails.
    """
    try:
        state = connection.state
        user = state.get("user")
        request_id = state.get("request_id") or ""
        context = ErrorContext(
            kind=kind,
            method=getattr(connection, "method", "") if kind == "http" else "",
            path=connection.path,
            status_code=status,
            request_id=str(request_id),
            user=user,
            headers=tuple(connection.headers.multi_items()),
            detail=detail,
        )
        state[RECORDED_KEY] = recorder
        recorder.record(exc, context)
    except Exception:
        _logger.exception("The error recorder failed to record %s", type(exc).__name__)
