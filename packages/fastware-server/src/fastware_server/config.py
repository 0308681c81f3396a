"""Server settings: :class:`ServerConfig`, the address rules and the Granian options they map to."""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

__all__ = (
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "HTTPChoice",
    "InterfaceChoice",
    "LoopChoice",
    "ServerConfig",
    "env_prefix",
    "merge_config",
    "resolve_address",
)

LoopChoice = Literal["asyncio", "uvloop", "rloop"]
"""The event loop of each worker (Granian's ``auto`` is left out on purpose)."""
InterfaceChoice = Literal["auto", "rsgi", "asgi"]
"""``auto``: RSGI for apps that implement it (fastware apps), ASGI for anything else."""
HTTPChoice = Literal["auto", "1", "2"]
"""HTTP versions served: both, HTTP/1.1 only or HTTP/2 only."""

DEFAULT_HOST = "127.0.0.1"
"""The host served when neither an argument nor ``<NAME>_HOST`` gives one."""
DEFAULT_PORT = 8000
"""The port served when neither an argument nor ``<NAME>_PORT`` gives one."""

_LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
_MIN_LIFETIME = 60  # Granian refuses shorter worker lifetimes


@dataclass(slots=True)
class ServerConfig:
    """Granian options beyond the address, the workers and the loop.

    Every field can also be passed to :func:`~fastware_server.serve` and
    :func:`~fastware_server.serve_background` as a keyword. Granian enforces no request-body
    size limit and no body-read timeout: the app does (``AppConfig.max_body_size`` and
    ``body_timeout`` for fastware apps).
    """

    interface: InterfaceChoice = "auto"
    """``auto`` serves fastware apps (anything with ``__rsgi__``) over RSGI, others over ASGI."""
    threads: int = 1
    """Granian runtime threads per worker (network I/O; Python code runs on one thread)."""
    http: HTTPChoice = "auto"
    """``auto`` (HTTP/1.1 and HTTP/2), ``"1"`` or ``"2"`` only."""
    ssl_cert: str | Path | None = None
    """TLS certificate (PEM); with ``ssl_key`` the server speaks HTTPS."""
    ssl_key: str | Path | None = None
    """TLS private key (PEM)."""
    backlog: int = 1024
    """Connections the kernel queues before accepting (Granian's minimum is 128)."""
    backpressure: int | None = None
    """Requests one worker handles at once (each open stream, e.g. an SSE client, is one);
    ``None`` keeps Granian's default, ``backlog // workers``. Raise it for many SSE clients."""
    keep_alive: bool = True
    """Keep HTTP/1.1 connections open between requests."""
    keep_alive_timeout: float = 20.0
    """HTTP/2: seconds to wait for a keep-alive ping's answer before closing."""
    header_read_timeout: float = 30.0
    """HTTP/1.1: seconds a client gets to send the request headers."""
    workers_lifetime: int | None = None
    """Respawn each worker after this many seconds (at least 60)."""
    workers_max_rss: int | None = None
    """Respawn a worker whose resident memory exceeds this many MiB (checked every 30 s)."""
    respawn_failed_workers: bool = False
    """Start a new worker when one dies, instead of stopping the server."""
    access_log: bool = False
    """Log one line per request (Granian's access log)."""
    uds: str | Path | None = None
    """Listen on this Unix domain socket instead of host and port."""
    grace: float = 10.0
    """Seconds a stop (SIGTERM) gives in-flight requests, open streams and the lifespan
    shutdown before workers are killed."""
    startup_timeout: float = 30.0
    """Seconds a background server gets to answer its first request."""
    log_level: str = "info"
    """Granian's log level: critical, error, warning, info or debug."""
    app_dir: str | Path | None = None
    """Directory put first on ``sys.path`` before importing a ``"module:attribute"`` target
    (default: the current directory)."""
    websockets: bool = True
    """Accept WebSocket upgrades."""

    def validate(self) -> None:
        """Check every field.

        Raises:
            ValueError: naming the first field with an impossible value.
        """
        _choice("interface", self.interface, ("auto", "rsgi", "asgi"))
        _choice("http", self.http, ("auto", "1", "2"))
        _choice("log_level", self.log_level, _LOG_LEVELS)
        _positive("threads", self.threads)
        _positive("backlog", self.backlog)
        if self.backpressure is not None:
            _positive("backpressure", self.backpressure)
        _positive("keep_alive_timeout", self.keep_alive_timeout)
        _positive("header_read_timeout", self.header_read_timeout)
        _positive("startup_timeout", self.startup_timeout)
        if self.grace < 0:
            raise ValueError(f"grace must be 0 or more seconds, got {self.grace}")
        if self.workers_lifetime is not None and self.workers_lifetime < _MIN_LIFETIME:
            raise ValueError(
                f"workers_lifetime must be at least {_MIN_LIFETIME} seconds (Granian's "
                f"minimum), got {self.workers_lifetime}"
            )
        if self.workers_max_rss is not None:
            _positive("workers_max_rss", self.workers_max_rss)
        if (self.ssl_cert is None) != (self.ssl_key is None):
            raise ValueError("ssl_cert and ssl_key go together: give both or neither")
        for label in ("ssl_cert", "ssl_key"):
            value = getattr(self, label)
            if value is not None and not Path(value).is_file():
                raise ValueError(f"{label}: no such file {value}")

    def to_json(self) -> dict[str, Any]:
        """The fields as JSON-compatible values (paths as strings)."""
        return {
            key: str(value) if isinstance(value, Path) else value
            for key, value in asdict(self).items()
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServerConfig:
        """The inverse of :meth:`to_json`."""
        return cls(**data)


def merge_config(config: ServerConfig | None, overrides: dict[str, Any]) -> ServerConfig:
    """``config`` (or the defaults) with ``overrides`` applied, validated.

    Raises:
        TypeError: a keyword is not a :class:`ServerConfig` field.
        ValueError: a value is impossible.
    """
    known = {field.name for field in fields(ServerConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(f"unexpected keyword arguments: {', '.join(unknown)}")
    merged = replace(config if config is not None else ServerConfig(), **overrides)
    merged.validate()
    return merged


def _choice(label: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{label} must be one of {', '.join(allowed)}; got {value!r}")


def _positive(label: str, value: float) -> None:
    if value <= 0:
        raise ValueError(f"{label} must be positive, got {value}")


def env_prefix(name: str) -> str:
    """The environment-variable prefix for a server name: ``my-app`` -> ``MY_APP``.

    Characters that cannot appear in a shell variable become ``_``; a leading digit gets a
    ``_`` in front; an empty name gives ``FASTWARE``.
    """
    prefix = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper()
    if not prefix:
        return "FASTWARE"
    return f"_{prefix}" if prefix[0].isdigit() else prefix


def resolve_address(host: str | None, port: int | None, name: str = "FASTWARE") -> tuple[str, int]:
    """The host and port to serve: explicit values, then ``<NAME>_HOST``/``<NAME>_PORT``,
    then ``127.0.0.1:8000``.

    Raises:
        ValueError: the port (given or from the environment) is not an integer in 0-65535.
    """
    prefix = env_prefix(name)
    if host is None:
        host = os.environ.get(f"{prefix}_HOST") or DEFAULT_HOST
    if port is None:
        text = os.environ.get(f"{prefix}_PORT")
        if text:
            try:
                port = int(text)
            except ValueError:
                raise ValueError(f"{prefix}_PORT must be a port number, got {text!r}") from None
        else:
            port = DEFAULT_PORT
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an integer from 0 to 65535, got {port!r}")
    return host, port
