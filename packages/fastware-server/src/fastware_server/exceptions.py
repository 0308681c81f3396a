"""The errors fastware-server raises.

Each one is a :class:`~fastware_core.FastwareError` and also inherits the built-in category
fastware 0.6.3 used (``RuntimeError``, ``ValueError``, ``FileNotFoundError``), so code written
for 0.6.3 keeps catching them.
"""

from __future__ import annotations

from pathlib import Path

from fastware_core import FastwareError

__all__ = (
    "AlreadyRunningError",
    "NotRunningError",
    "PortInUseError",
    "ServerError",
    "ShutdownError",
    "StartupError",
    "TargetError",
)


class ServerError(FastwareError):
    """Root of the fastware-server errors."""


class PortInUseError(ServerError, RuntimeError):
    """The port is taken by another process.

    Args:
        host: The host the server was to bind.
        port: The port that is taken.
        holder: The PID of the process holding the port, when it could be found.
        name: What was being started (used in the message).
    """

    host: str
    """The host the server was to bind."""
    port: int
    """The port that is taken."""
    holder: int | None
    """The PID listening on the port, or ``None`` when it is not visible to us."""

    def __init__(self, host: str, port: int, holder: int | None = None, name: str = "") -> None:
        self.host = host
        self.port = port
        self.holder = holder
        who = f" by PID {holder}" if holder is not None else ""
        super().__init__(
            f"port {port} on {host} is already in use{who}; stop that process or choose "
            "another port (--port)"
        )


class AlreadyRunningError(ServerError, RuntimeError):
    """A server recorded in the same PID file is still running.

    Args:
        pid: The PID of the running server.
        pid_path: The PID file that records it.
        name: The server's name (used in the message).
    """

    pid: int
    """The PID of the server that runs."""
    pid_path: Path
    """The PID file naming it."""

    def __init__(self, pid: int, pid_path: Path, name: str = "the server") -> None:
        self.pid = pid
        self.pid_path = pid_path
        who = "a fastware server" if name in ("", "FASTWARE", "the server") else name
        super().__init__(
            f"{who} is already running (PID {pid}, PID file {pid_path}); stop it first "
            f"(fastware stop --pid-file {pid_path})"
        )


class NotRunningError(ServerError, FileNotFoundError):
    """There is no server to stop: no PID file, or one that names no live server."""


class StartupError(ServerError, RuntimeError):
    """The server did not start: its lifespan failed, a worker died or it never answered.

    Args:
        message: What went wrong, for people.
        reason: The underlying cause (an exception's text) when known.
    """

    reason: str | None
    """The underlying cause, e.g. ``"RuntimeError: the database is unreachable"``."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        self.reason = reason
        super().__init__(message)


class ShutdownError(ServerError, RuntimeError):
    """The server stopped, but a worker's lifespan shutdown failed (its cleanup did not
    finish): ``serve`` raises it once Granian has exited, so the process exits non-zero.

    Args:
        message: What went wrong, for people.
        reason: The underlying cause as the worker reported it.
    """

    reason: str
    """The failure, e.g. ``"lifespan shutdown failed: the pool could not be closed"``."""

    def __init__(self, message: str, reason: str) -> None:
        self.reason = reason
        super().__init__(message)


class TargetError(ServerError, ValueError):
    """The app to serve cannot be found or imported (``"module:attribute"``)."""
