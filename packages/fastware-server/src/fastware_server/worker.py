"""What runs inside each Granian worker before it serves: loading the app and reporting a
failed lifespan (startup or shutdown) back to the main process.

Granian asks a *loader* for the app in every worker. Forked workers share the main
process's memory, so the loader hands over the object already imported; spawned workers
import it again from its reference. Either way the app is prepared:

- a fastware app's ``stream_shutdown_grace`` is capped at half the server's grace, so open
  streams end and the lifespan shutdown still fits before workers are killed;
- over RSGI the app is wrapped so that a failing ``__rsgi_init__`` (the lifespan startup)
  writes its reason to a report file and ends the worker quietly; the wrapper hands
  Granian the app's own ``__rsgi__``, so requests pay nothing for it;
- over RSGI a failing ``__rsgi_del__`` (the lifespan shutdown) is reported the same way;
- over ASGI, Granian logs the message the app sent with ``lifespan.startup.failed``; a log
  handler copies it to the report file. Granian logs the message of a
  ``lifespan.shutdown.failed`` just as plainly, with nothing to tell the two apart, so a
  shutdown failure is recognised by the text fastware apps send (``lifespan shutdown
  failed: ...``); another ASGI app's failed shutdown is logged by Granian but not reported.

The report file holds one line per report (workers append); the main process reads the
first (:func:`read_report`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from .targets import TargetRef, describe_error, import_target

__all__ = (
    "WorkerSpec",
    "load_in_worker",
    "loader_for",
    "prepare_app",
    "read_report",
    "watch_asgi_lifespan",
    "write_report",
)

WorkerSpec = dict[str, Any]
"""``{"target": TargetRef JSON | None, "app_dir", "interface", "report", "grace"}``: plain
data, so that it pickles for spawned workers."""

_GRANIAN_LOGGER = "_granian"
_ASGI_STARTUP_FAILED = "ASGI lifespan startup failed"
SHUTDOWN_FAILED = "lifespan shutdown failed"
"""How a report of a failed lifespan shutdown begins (a startup failure reports
``lifespan startup failed: ...``)."""


def write_report(path: str | None, reason: str) -> None:
    """Record why a worker could not start or stop cleanly (the main process reads it after
    Granian exits). Each report is one line, appended: workers may report at once."""
    if path:
        line = " ".join(reason.split()) + "\n"
        with contextlib.suppress(OSError), open(path, "a", encoding="utf-8") as report:
            report.write(line)


def read_report(path: str | None) -> str | None:
    """The first reason a worker reported, or ``None``."""
    if not path:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return None


class _ReportingRSGI:
    """An RSGI app whose ``__rsgi_init__`` reports a failure instead of raising it."""

    def __init__(self, app: Any, report: str | None) -> None:
        self.__rsgi__: Any = getattr(app, "__rsgi__", app)
        self._init: Callable[[asyncio.AbstractEventLoop], Any] | None = getattr(
            app, "__rsgi_init__", None
        )
        self._del: Callable[[asyncio.AbstractEventLoop], Any] | None = getattr(
            app, "__rsgi_del__", None
        )
        self._report = report

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._init is None:
            return
        try:
            self._init(loop)
        except BaseException as exc:
            write_report(self._report, f"lifespan startup failed: {describe_error(exc)}")
            # The app logged the traceback; a SystemExit ends the worker without a second one.
            raise SystemExit(1) from None

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._del is None:
            return
        try:
            self._del(loop)
        except BaseException as exc:
            # The app logged the traceback; the main process exits non-zero for it.
            text = str(exc).strip()
            if text.startswith(SHUTDOWN_FAILED):  # a fastware app's LifespanError
                write_report(self._report, text.splitlines()[0])
            else:
                write_report(self._report, f"{SHUTDOWN_FAILED}: {describe_error(exc)}")


class _LifespanFailureHandler(logging.Handler):
    """Copies the reason of an ASGI lifespan startup failure from Granian's log."""

    def __init__(self, report: str | None) -> None:
        super().__init__(logging.ERROR)
        self.report = report
        self.last_message: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(SHUTDOWN_FAILED):  # what a fastware app sends
            write_report(self.report, message)
            return
        if message != _ASGI_STARTUP_FAILED:
            self.last_message = message  # the text the app sent with lifespan.startup.failed
            return
        reason = self.last_message
        if reason is None and record.exc_info and record.exc_info[1] is not None:
            reason = describe_error(record.exc_info[1])
        write_report(self.report, f"lifespan startup failed: {reason or 'no reason given'}")


def watch_asgi_lifespan(report: str | None) -> None:
    """Install the handler that reports ASGI lifespan failures (once per process)."""
    logger = logging.getLogger(_GRANIAN_LOGGER)
    for handler in logger.handlers:
        if isinstance(handler, _LifespanFailureHandler):
            handler.report = report
            return
    logger.addHandler(_LifespanFailureHandler(report))


def _cap_stream_grace(app: Any, grace: float) -> None:
    config = getattr(app, "config", None)
    current = getattr(config, "stream_shutdown_grace", None)
    if isinstance(current, int | float) and current > grace / 2:
        with contextlib.suppress(AttributeError, TypeError):
            config.stream_shutdown_grace = grace / 2  # type: ignore[union-attr]


def prepare_app(app: Any, spec: WorkerSpec) -> Any:
    """Make ``app`` ready to serve in this worker (see the module docstring)."""
    _cap_stream_grace(app, float(spec["grace"]))
    report = spec.get("report")
    if spec["interface"] == "rsgi":
        return _ReportingRSGI(app, report)
    watch_asgi_lifespan(report)
    return app


def load_in_worker(spec: WorkerSpec, target: str) -> Any:
    """The loader of spawned workers: import the app from its reference and prepare it.

    Args:
        spec: The worker spec; ``spec["target"]`` is the app's reference.
        target: Granian's name for the target (unused; Granian passes it).
    """
    try:
        app = import_target(TargetRef.from_json(spec["target"]), spec.get("app_dir"))
    except Exception as exc:
        write_report(spec.get("report"), f"cannot load {target} in a worker: {exc}")
        raise SystemExit(1) from None
    return prepare_app(app, spec)


def _load_forked(app: Any, spec: WorkerSpec, target: str) -> Any:
    return prepare_app(app, spec)


def loader_for(app: Any, spec: WorkerSpec, start_method: str) -> Callable[[str], Any]:
    """The loader Granian calls in each worker: forked workers reuse ``app``; spawned ones
    import ``spec["target"]``.

    Raises:
        ValueError: workers are spawned and ``app`` has no import reference.
    """
    if start_method == "fork" and app is not None:
        return partial(_load_forked, app, spec)
    if spec.get("target") is None:
        raise ValueError(
            "workers are started with the 'spawn' method, which imports the app again in each "
            "worker, and this app cannot be imported: serve a module-level object, or pass "
            "its 'module:attribute' string"
        )
    return partial(load_in_worker, spec)
