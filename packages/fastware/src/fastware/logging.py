"""Structured logging for fastware apps (``fastware.logging``, the ``logging`` extra).

:func:`configure_logging` sets up structlog and the standard library's ``logging`` to print
one format, JSON or console, on one stream: structlog's loggers, fastware's own loggers
(``fastware``, ``fastware.server``, ...), Granian's (``_granian``, ``granian.access``) and
every library's records all go through the same processors and renderer. While a request
runs, every line carries its ``request_id`` (the one in the ``x-request-id`` header).

    from fastware.logging import configure_logging, get_logger

    configure_logging(level="INFO")          # at module level of the app module
    log = get_logger("billing", tenant="acme")
    log.info("invoice sent", invoice=42)

structlog is imported when a function here is first called, never by ``import
fastware.logging``; without it they raise :class:`~fastware_core.MissingPackageError`
(an ``ImportError``) naming ``pip install 'fastware[logging]'``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, MutableMapping
from typing import IO, TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from structlog.typing import Processor

__all__ = ("configure_logging", "get_logger", "init_sentry")

_GRANIAN_LOGGERS = ("_granian", "granian.access")
_EXTRA_HINT = "fastware[logging]"


def _require_structlog(feature: str) -> Any:
    try:
        import structlog
    except ModuleNotFoundError as exc:
        if exc.name != "structlog":
            raise
        from ._extras import missing_extra

        raise missing_extra(
            "structlog",
            f"{feature} needs structlog, which is not installed: pip install '{_EXTRA_HINT}'",
        ) from None
    return structlog


def _add_request_id(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Add the current request's id (``request_id``) unless the line already has one."""
    request_id = _request_id_get()
    if request_id is not None and "request_id" not in event_dict:
        event_dict["request_id"] = request_id
    return event_dict


def _request_id_get() -> str | None:  # replaced by the context variable's getter on setup
    return None


def _json_dumps(obj: Any, **_: Any) -> str:
    return msgspec.json.encode(obj, enc_hook=repr).decode()


class _FollowRootLogger(logging.Logger):
    """Granian's loggers once :func:`configure_logging` ran: no handlers of their own and
    always propagating, so their records (and those of the ``_granian.*`` children that
    Granian's Rust side logs to) reach the root handler. Granian reconfigures its loggers
    with ``logging.config.dictConfig`` in the serving process and again in each worker,
    sometimes after the app was imported; these properties ignore that."""

    @property
    def handlers(self) -> list[logging.Handler]:
        return []

    @handlers.setter
    def handlers(self, value: list[logging.Handler]) -> None:
        pass

    @property
    def propagate(self) -> bool:
        return True

    @propagate.setter
    def propagate(self, value: bool) -> None:
        pass


def _level_number(level: int | str) -> int:
    if isinstance(level, bool):
        raise TypeError("level must be a logging level name or number, not a bool")
    if isinstance(level, int):
        return level
    number = logging.getLevelNamesMapping().get(level.upper())
    if number is None:
        names = ", ".join(("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
        raise ValueError(f"unknown logging level {level!r}; use one of {names} or a number")
    return number


def configure_logging(
    *,
    json_output: bool | None = None,
    level: int | str = "INFO",
    stream: IO[str] | None = None,
) -> None:
    """Set up structlog and the standard library's ``logging`` to print one format.

    Processors, in order: structlog's context variables, the request id, the level, the
    logger name, an ISO 8601 UTC timestamp, the call site (module, function, line), stack
    info, exceptions (formatted into ``exception`` for JSON; the console renderer prints
    them itself), unicode decoding, then the JSON renderer (msgspec) or the console one.

    The root logger gets one handler with that renderer (replacing the handlers it had, as
    ``logging.basicConfig(force=True)`` would) and ``level``; structlog's loggers log
    through it, so every line has one format and one stream. Granian's loggers, which do not
    propagate, are routed to it too. Request ids are bound for every request
    (:func:`fastware_core.middleware.bind_request_ids`). Calling it again replaces the
    setup; loggers cache their configuration on first use, as in fastware 0.6.3.

    Call it at module level of the module holding your app, so each server worker process
    (Granian spawns them) sets it up when it imports the app.

    Args:
        json_output: ``True`` for JSON lines, ``False`` for the console renderer, ``None``
            for JSON whenever the stream is not a terminal.
        level: The lowest level printed, by name (``"debug"``, ``"INFO"``) or number.
        stream: Where lines go; ``sys.stderr`` (looked up at call time) by default.

    Raises:
        MissingPackageError: structlog is not installed (``pip install 'fastware[logging]'``).
        ValueError: ``level`` is not a level name.
    """
    structlog = _require_structlog("fastware.logging.configure_logging")
    from fastware_core.middleware import bind_request_ids, request_id_var

    global _request_id_get
    _request_id_get = request_id_var.get
    number = _level_number(level)
    out = sys.stderr if stream is None else stream
    if json_output is None:
        isatty = getattr(out, "isatty", None)
        json_output = not (callable(isatty) and isatty())

    processors = structlog.processors
    callsite = processors.CallsiteParameter
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        # a standard-library record's ``extra`` fields (the access log's, say) join the line
        structlog.stdlib.ExtraAdder(),
        _add_request_id,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        processors.TimeStamper(fmt="iso", utc=True),
        processors.CallsiteParameterAdder(
            [callsite.MODULE, callsite.FUNC_NAME, callsite.LINENO],
            additional_ignores=["fastware.logging"],
        ),
        processors.StackInfoRenderer(),
    ]
    renderer: Processor
    rendering: list[Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if json_output:
        rendering += [processors.format_exc_info, processors.UnicodeDecoder()]
        renderer = processors.JSONRenderer(serializer=_json_dumps)
    else:
        rendering.append(processors.UnicodeDecoder())
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared, processors=[*rendering, renderer]
    )

    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(number)
    for name in _GRANIAN_LOGGERS:
        _route_to_root(logging.getLogger(name))

    structlog.reset_defaults()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=structlog.stdlib.LoggerFactory(),
        context_class=dict,
        cache_logger_on_first_use=True,
    )
    bind_request_ids()


def _route_to_root(logger: logging.Logger) -> None:
    if type(logger) is logging.Logger:
        logger.__class__ = _FollowRootLogger


def get_logger(component: str | None = None, **initial_binds: Any) -> Any:
    """A structlog logger, with ``component`` bound when given.

    Args:
        component: A name for the part of the app logging (``"billing"``); bound as the
            ``component`` key of every line.
        **initial_binds: More key-value pairs bound on every line.

    Raises:
        MissingPackageError: structlog is not installed.
    """
    structlog = _require_structlog("fastware.logging.get_logger")
    if component is not None:
        initial_binds["component"] = component
    return structlog.get_logger(**initial_binds)


def _drop_client_errors(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    """Sentry's ``before_send``: drop events whose exception is a 4xx ``HTTPError``."""
    exc_info = hint.get("exc_info")
    if exc_info:
        from fastware_core import HTTPError

        error = exc_info[1]
        if isinstance(error, HTTPError) and 400 <= error.status_code < 500:
            return None
    return event


def init_sentry(dsn: str | None, **kwargs: Any) -> None:
    """Start Sentry error reporting; 4xx :class:`~fastware_core.HTTPError`\\ s are not sent.

    Calls ``sentry_sdk.init(dsn=dsn, before_send=..., **kwargs)``. A ``before_send`` of
    your own in ``kwargs`` runs after fastware's filter, on the events it keeps.

    Args:
        dsn: The project's DSN. ``None`` or ``""`` turns reporting off (and then a missing
            sentry-sdk is not an error).
        **kwargs: Anything ``sentry_sdk.init`` takes (``environment=``, ``release=``,
            ``traces_sample_rate=``...).

    Raises:
        MissingPackageError: a DSN was given but sentry-sdk is not installed
            (``pip install 'fastware[sentry]'``); fastware 0.6.3 silently did nothing.
    """
    try:
        import sentry_sdk
    except ModuleNotFoundError as exc:
        if exc.name != "sentry_sdk":
            raise
        if not dsn:
            return
        from ._extras import missing_extra

        raise missing_extra(
            "sentry-sdk",
            "fastware.logging.init_sentry was given a DSN, but sentry-sdk is not installed: "
            "pip install 'fastware[sentry]'",
        ) from None
    own: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any] | None] | None
    own = kwargs.pop("before_send", None)
    before_send: Any = _drop_client_errors  # sentry_sdk types events as its own TypedDict
    if own is not None:
        user_hook = own

        def chained(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
            kept = _drop_client_errors(event, hint)
            return None if kept is None else user_hook(kept, hint)

        before_send = chained

    sentry_sdk.init(dsn=dsn, before_send=before_send, **kwargs)
