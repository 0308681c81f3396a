"""The file-driven dev environment: ``[tool.fastware.dev]`` in ``pyproject.toml``.

::

    [tool.fastware.dev]
    topology = "vite-first"              # or "backend-first": which one starts first

    [tool.fastware.dev.backend]
    app = "app:app"                       # or cmd = ["uvicorn", "app:app", "--port", "8001"]
    port = 8000                           # required with app, forbidden with cmd

    [tool.fastware.dev.vite]
    cmd = ["npx", "vite", "--port", "5173"]   # --strictPort is added when missing
    port = 5173
    cwd = "frontend"

Every table rejects keys it does not know, naming the ones it accepts. Errors are
:class:`~fastware_dev.exceptions.DevConfigError` with one line that starts with the file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .exceptions import DevConfigError

__all__ = (
    "TOPOLOGIES",
    "AuxService",
    "BackendSpec",
    "DevConfig",
    "DevConfigError",
    "HealthCheck",
    "PreSpawnGate",
    "ViteSpec",
    "build_dev_config",
    "find_dev_pyproject",
    "load_dev_config",
)

TOPOLOGIES = ("backend-first", "vite-first")
"""The start orders ``topology`` accepts."""
_RESERVED_NAMES = ("vite", "backend", "proxy", "dev")
_STRICT_PORT = "--strictPort"


# -- small validators ----------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_port(where: str, value: object) -> int:
    if not _is_int(value):
        raise DevConfigError(f"{where}: port must be an integer, got {value!r}")
    assert isinstance(value, int)
    if not 1 <= value <= 65535:
        raise DevConfigError(f"{where}: port must be from 1 to 65535, got {value}")
    return value


def _check_cmd(where: str, value: object) -> list[str]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(part, str) and part for part in value)
    ):
        raise DevConfigError(
            f'{where}: cmd must be a non-empty list of strings, e.g. ["npm", "run", "dev"]; '
            f"got {value!r}"
        )
    return list(value)


def _check_env(where: str, value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise DevConfigError(f'{where}: env must be a table of strings, e.g. {{ DEBUG = "1" }}')
    return dict(value)


def _check_str(where: str, key: str, value: object, *, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise DevConfigError(f"{where}: {key} must be a non-empty string, got {value!r}")
    return value


def _check_tcp(where: str, value: object) -> str:
    text = _check_str(where, "tcp", value, optional=False)
    assert text is not None
    host, sep, port = text.rpartition(":")
    if not sep or not host.strip("[]") or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise DevConfigError(
            f'{where}: tcp must be "host:port", e.g. "127.0.0.1:6379"; got {text!r}'
        )
    return text


def _check_http(where: str, value: object) -> str:
    text = _check_str(where, "http", value, optional=False)
    assert text is not None
    if not text.startswith(("http://", "https://")) or len(text.split("://", 1)[1]) == 0:
        raise DevConfigError(f"{where}: http must be an http:// or https:// URL, got {text!r}")
    return text


def _split_tcp(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def _exactly_one(where: str, values: Mapping[str, object], keys: tuple[str, ...]) -> str:
    present = [key for key in keys if values.get(key) is not None]
    if len(present) != 1:
        wanted = ", ".join(keys[:-1]) + f" or {keys[-1]}"
        found = f"got {', '.join(present)}" if present else "got none"
        raise DevConfigError(f"{where}: needs exactly one of {wanted} ({found})")
    return present[0]


def _check_keys(where: str, table: object, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(table, Mapping):
        raise DevConfigError(f"{where} must be a table, got {type(table).__name__}")
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise DevConfigError(
            f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
            f"(allowed: {', '.join(allowed)})"
        )
    return dict(table)


# -- the data classes ----------------------------------------------------------------------


@dataclass(slots=True)
class BackendSpec:
    """``[tool.fastware.dev.backend]``: the app to serve, or a command that serves it."""

    app: str | None = None
    """``"module:attribute"`` of the app; fastware dev serves it with Granian."""
    cmd: list[str] | None = None
    """Or a command that serves the backend itself (no port, no reload, no proxy)."""
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment variables."""
    cwd: str | None = None
    """Working directory, relative to the pyproject's directory."""
    host: str = "127.0.0.1"
    """The host the browser connects to (``app`` form)."""
    port: int | None = None
    """The port the browser connects to: required with ``app``, forbidden with ``cmd``."""
    reload: bool = True
    """Restart the backend when a watched ``.py`` file changes (``app`` form)."""
    watch: list[str] | None = None
    """Directories to watch for reload (default: the backend's working directory)."""
    api_prefix: str = "/api"
    """Paths under this prefix always go to the backend, never to Vite."""
    backend_prefixes: list[str] | None = None
    """More prefixes that always go to the backend (default ``/events`` and ``/ws``)."""

    def __post_init__(self) -> None:
        where = "[tool.fastware.dev.backend]"
        _exactly_one(where, {"app": self.app, "cmd": self.cmd}, ("app", "cmd"))
        self.env = _check_env(where, self.env)
        _check_str(where, "cwd", self.cwd)
        _check_str(where, "host", self.host, optional=False)
        if self.cmd is not None:
            self.cmd = _check_cmd(where, self.cmd)
            if self.port is not None:
                raise DevConfigError(
                    f"{where}: port is for the app form only; a cmd backend chooses its own "
                    'port (remove port, or use app = "module:attribute")'
                )
            if self.watch is not None:
                raise DevConfigError(f"{where}: watch is for the app form only")
            self.reload = False
        else:
            if (
                not isinstance(self.app, str)
                or ":" not in self.app
                or not all(
                    part and all(p.isidentifier() for p in part.split("."))
                    for part in self.app.split(":", 1)
                )
            ):
                raise DevConfigError(
                    f'{where}: app must be "module:attribute", e.g. "app:app"; got {self.app!r}'
                )
            if self.port is None:
                raise DevConfigError(f"{where}: port is required with app (e.g. port = 8000)")
            _check_port(where, self.port)
        if not isinstance(self.reload, bool):
            raise DevConfigError(f"{where}: reload must be true or false, got {self.reload!r}")
        if self.watch is not None and (
            not isinstance(self.watch, list)
            or not all(isinstance(item, str) and item for item in self.watch)
        ):
            raise DevConfigError(f"{where}: watch must be a list of directories")
        if not isinstance(self.api_prefix, str) or not self.api_prefix.startswith("/"):
            raise DevConfigError(
                f'{where}: api_prefix must start with "/", got {self.api_prefix!r}'
            )
        if self.backend_prefixes is not None and (
            not isinstance(self.backend_prefixes, list)
            or not all(isinstance(p, str) and p.startswith("/") for p in self.backend_prefixes)
        ):
            raise DevConfigError(f'{where}: backend_prefixes must be a list of paths ("/events")')

    @property
    def is_in_process(self) -> bool:
        """Whether fastware dev serves the app itself (``app``) rather than running ``cmd``."""
        return self.app is not None


@dataclass(slots=True)
class ViteSpec:
    """``[tool.fastware.dev.vite]``: the Vite dev server."""

    cmd: list[str]
    """The command that starts Vite; ``--strictPort`` is appended when missing."""
    port: int
    """The port Vite listens on (give the same one in ``cmd`` or vite.config)."""
    cwd: str | None = None
    """Working directory, relative to the pyproject's directory (where package.json is)."""
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment variables."""
    host: str = "localhost"
    """The host the proxy reaches Vite on."""

    def __post_init__(self) -> None:
        where = "[tool.fastware.dev.vite]"
        self.cmd = _check_cmd(where, self.cmd)
        if _STRICT_PORT not in self.cmd:
            # `npm run dev --strictPort` would give the flag to npm, not to the script.
            if Path(self.cmd[0]).name == "npm" and "run" in self.cmd and "--" not in self.cmd:
                self.cmd.append("--")
            self.cmd.append(_STRICT_PORT)
        _check_port(where, self.port)
        _check_str(where, "cwd", self.cwd)
        _check_str(where, "host", self.host, optional=False)
        self.env = _check_env(where, self.env)


@dataclass(slots=True)
class HealthCheck:
    """How an aux service proves it is ready: exactly one of ``http``, ``tcp`` or ``cmd``."""

    http: str | None = None
    """Any HTTP answer from this URL within 2 s."""
    tcp: str | None = None
    """A TCP connection to ``"host:port"`` within 2 s."""
    cmd: list[str] | None = None
    """This command exits 0 within 10 s."""

    def __post_init__(self) -> None:
        where = "health"
        kind = _exactly_one(
            where, {"http": self.http, "tcp": self.tcp, "cmd": self.cmd}, ("http", "tcp", "cmd")
        )
        if kind == "http":
            _check_http(where, self.http)
        elif kind == "tcp":
            _check_tcp(where, self.tcp)
        else:
            self.cmd = _check_cmd(where, self.cmd)

    @property
    def tcp_address(self) -> tuple[str, int] | None:
        """``tcp`` as ``(host, port)``."""
        return _split_tcp(self.tcp) if self.tcp is not None else None

    def describe(self) -> str:
        """The check in a few words, for messages."""
        if self.http is not None:
            return f"an HTTP answer from {self.http}"
        if self.tcp is not None:
            return f"a TCP connection to {self.tcp}"
        return f"{' '.join(self.cmd or [])} to exit 0"


@dataclass(slots=True)
class AuxService:
    """``[[tool.fastware.dev.aux]]``: a helper process (database, worker, mock server)."""

    name: str
    """Its name, used as its output prefix."""
    cmd: list[str]
    """The command that runs it."""
    health: HealthCheck
    """How to tell it is ready."""
    timeout_s: float
    """Seconds it gets to become healthy."""
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment variables."""
    cwd: str | None = None
    """Working directory, relative to the pyproject's directory."""

    def __post_init__(self) -> None:
        where = f"[[tool.fastware.dev.aux]] {self.name!r}"
        name = _check_str("[[tool.fastware.dev.aux]]", "name", self.name, optional=False)
        assert name is not None
        if not all(ch.isalnum() or ch in "-_." for ch in name):
            raise DevConfigError(f"{where}: name may hold letters, digits, '-', '_' and '.' only")
        if name in _RESERVED_NAMES:
            raise DevConfigError(f"{where}: the name {name!r} is taken by fastware dev")
        self.cmd = _check_cmd(where, self.cmd)
        if not isinstance(self.health, HealthCheck):
            raise DevConfigError(f"{where}: health must be a table")
        if not (_is_int(self.timeout_s) or isinstance(self.timeout_s, float)) or not (
            self.timeout_s > 0
        ):
            raise DevConfigError(
                f"{where}: timeout_s must be a number above 0, got {self.timeout_s!r}"
            )
        self.timeout_s = float(self.timeout_s)
        self.env = _check_env(where, self.env)
        _check_str(where, "cwd", self.cwd)


@dataclass(slots=True)
class PreSpawnGate:
    """``[[tool.fastware.dev.pre_spawn]]``: a condition checked before anything starts."""

    message: str
    """What to tell the developer when the gate fails (e.g. "run npm install first")."""
    cmd: list[str] | None = None
    """A command that must exit 0 within 15 s (run from the pyproject's directory)."""
    http: str | None = None
    """A URL that must answer within 2 s."""
    tcp: str | None = None
    """``"host:port"`` that must accept a connection within 2 s."""
    file: str | None = None
    """A path (relative to the pyproject's directory) that must exist."""

    def __post_init__(self) -> None:
        where = "[[tool.fastware.dev.pre_spawn]]"
        _check_str(where, "message", self.message, optional=False)
        kind = _exactly_one(
            where,
            {"cmd": self.cmd, "http": self.http, "tcp": self.tcp, "file": self.file},
            ("cmd", "http", "tcp", "file"),
        )
        if kind == "cmd":
            self.cmd = _check_cmd(where, self.cmd)
        elif kind == "http":
            _check_http(where, self.http)
        elif kind == "tcp":
            _check_tcp(where, self.tcp)
        else:
            _check_str(where, "file", self.file, optional=False)

    @property
    def tcp_address(self) -> tuple[str, int] | None:
        """``tcp`` as ``(host, port)``."""
        return _split_tcp(self.tcp) if self.tcp is not None else None


@dataclass(slots=True)
class DevConfig:
    """The whole ``[tool.fastware.dev]`` table."""

    topology: str
    """``"backend-first"`` or ``"vite-first"``."""
    backend: BackendSpec
    """The backend."""
    vite: ViteSpec
    """The Vite dev server."""
    pre_spawn: list[PreSpawnGate] = field(default_factory=list)
    """Gates checked, in order, before anything starts."""
    aux: list[AuxService] = field(default_factory=list)
    """Helper services started, in order, before Vite and the backend."""
    source_path: Path | None = None
    """The pyproject.toml the table came from."""
    app_name: str = "app"
    """``[project].name``, else the name of the pyproject's directory."""

    def __post_init__(self) -> None:
        if self.topology not in TOPOLOGIES:
            raise DevConfigError(
                f'[tool.fastware.dev]: topology must be "backend-first" or "vite-first", '
                f"got {self.topology!r}"
            )
        names = [service.name for service in self.aux]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise DevConfigError(
                "[[tool.fastware.dev.aux]]: names must be unique; repeated: "
                + ", ".join(duplicates)
            )
        if self.backend.port is not None and self.backend.port == self.vite.port:
            raise DevConfigError(
                f"[tool.fastware.dev]: backend and vite both use port {self.vite.port}; give "
                "them different ports"
            )

    @property
    def base_dir(self) -> Path:
        """The pyproject's directory (the current directory without a source file)."""
        if self.source_path is not None:
            return self.source_path.resolve().parent
        return Path.cwd()

    def resolve_cwd(self, cwd: str | None) -> Path:
        """``cwd`` relative to :attr:`base_dir` (``base_dir`` itself for ``None``)."""
        if cwd is None:
            return self.base_dir
        return (self.base_dir / cwd).resolve()

    @property
    def env_name(self) -> str:
        """The dev environment's registry name: ``<app_name>-dev``."""
        return f"{self.app_name}-dev"


# -- building from TOML --------------------------------------------------------------------

_TOP_KEYS = ("topology", "backend", "vite", "pre_spawn", "aux")
_BACKEND_KEYS = (
    "app",
    "cmd",
    "env",
    "cwd",
    "host",
    "port",
    "reload",
    "watch",
    "api_prefix",
    "backend_prefixes",
)
_VITE_KEYS = ("cmd", "port", "cwd", "env", "host")
_GATE_KEYS = ("message", "cmd", "http", "tcp", "file")
_AUX_KEYS = ("name", "cmd", "health", "timeout_s", "env", "cwd")
_HEALTH_KEYS = ("http", "tcp", "cmd")


def _array_of_tables(where: str, value: object) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise DevConfigError(f"{where} must be an array of tables ([[{where.strip('[]')}]])")
    return value


def _build(table: object) -> DevConfig:
    top = _check_keys("[tool.fastware.dev]", table, _TOP_KEYS)
    for key in ("topology", "backend", "vite"):
        if key not in top:
            raise DevConfigError(f"[tool.fastware.dev]: {key} is required")
    backend = BackendSpec(
        **_check_keys("[tool.fastware.dev.backend]", top["backend"], _BACKEND_KEYS)
    )
    vite_table = _check_keys("[tool.fastware.dev.vite]", top["vite"], _VITE_KEYS)
    for key in ("cmd", "port"):
        if key not in vite_table:
            raise DevConfigError(f"[tool.fastware.dev.vite]: {key} is required")
    vite = ViteSpec(**vite_table)
    gates = [
        PreSpawnGate(**_gate_table(item))
        for item in _array_of_tables("[[tool.fastware.dev.pre_spawn]]", top.get("pre_spawn"))
    ]
    aux = [_aux(item) for item in _array_of_tables("[[tool.fastware.dev.aux]]", top.get("aux"))]
    return DevConfig(topology=top["topology"], backend=backend, vite=vite, pre_spawn=gates, aux=aux)


def _gate_table(item: object) -> dict[str, Any]:
    values = _check_keys("[[tool.fastware.dev.pre_spawn]]", item, _GATE_KEYS)
    if "message" not in values:
        raise DevConfigError("[[tool.fastware.dev.pre_spawn]]: message is required")
    return values


def _aux(item: object) -> AuxService:
    values = _check_keys("[[tool.fastware.dev.aux]]", item, _AUX_KEYS)
    for key in ("name", "cmd", "health", "timeout_s"):
        if key not in values:
            raise DevConfigError(f"[[tool.fastware.dev.aux]]: {key} is required")
    where = f"[[tool.fastware.dev.aux]] {values['name']!r}: health"
    try:
        values["health"] = HealthCheck(**_check_keys(where, values["health"], _HEALTH_KEYS))
    except DevConfigError as exc:
        text = str(exc)
        if not text.startswith(where):  # HealthCheck names itself "health"
            text = f"{where}: {text.removeprefix('health: ')}"
        raise DevConfigError(text) from None
    return AuxService(**values)


def build_dev_config(
    table: Mapping[str, Any], *, source_path: Path | None = None, app_name: str = "app"
) -> DevConfig:
    """Validate a ``[tool.fastware.dev]`` table and build the :class:`DevConfig`.

    Raises:
        DevConfigError: the first problem, prefixed with ``source_path`` when given.
    """
    try:
        config = _build(table)
    except DevConfigError as exc:
        if source_path is None:
            raise
        raise DevConfigError(f"{source_path}: {exc}") from None
    except TypeError as exc:  # a wrong value shape the checks above did not name
        where = f"{source_path}: " if source_path is not None else ""
        raise DevConfigError(f"{where}[tool.fastware.dev]: {exc}") from None
    config.source_path = source_path
    config.app_name = app_name
    return config


def _read_toml(path: Path) -> dict[str, Any] | None:
    """The parsed file; ``None`` for a file that is not TOML and does not mention the table."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DevConfigError(f"{path}: cannot be read: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        if "tool.fastware.dev" in text or "[tool.fastware" in text:
            raise DevConfigError(f"{path}: not valid TOML: {exc}") from None
        return None


def _dev_table(data: Mapping[str, Any]) -> object:
    tool = data.get("tool")
    if not isinstance(tool, Mapping):
        return None
    fastware = tool.get("fastware")
    if not isinstance(fastware, Mapping):
        return None
    return fastware.get("dev")


def find_dev_pyproject(start: str | os.PathLike[str] | None = None) -> Path:
    """The one ``pyproject.toml`` with a ``[tool.fastware.dev]`` table, from ``start`` up.

    Every directory from ``start`` (default: the current directory) up to ``/`` is
    searched. A ``start`` that is a file is taken as the pyproject itself.

    Raises:
        DevConfigError: none was found, or several were (nested projects), listing them.
    """
    origin = Path(start) if start is not None else Path.cwd()
    if origin.is_file():
        data = _read_toml(origin)
        if data is None or _dev_table(data) is None:
            raise DevConfigError(f"{origin}: has no [tool.fastware.dev] table")
        return origin
    found = []
    for directory in [origin.resolve(), *origin.resolve().parents]:
        candidate = directory / "pyproject.toml"
        if not candidate.is_file():
            continue
        data = _read_toml(candidate)
        if data is not None and _dev_table(data) is not None:
            found.append(candidate)
    if not found:
        raise DevConfigError(
            f"no pyproject.toml with a [tool.fastware.dev] table in {origin.resolve()} or any "
            "directory above it; add one (see docs/dev.md) or run 'fastware dev new DIR'"
        )
    if len(found) > 1:
        raise DevConfigError(
            "nested [tool.fastware.dev] tables: "
            + ", ".join(str(path) for path in found)
            + "; keep only one, or pass --config PATH"
        )
    return found[0]


def load_dev_config(start: str | os.PathLike[str] | None = None) -> DevConfig:
    """Find (see :func:`find_dev_pyproject`) and validate the dev configuration.

    Raises:
        DevConfigError: no table, nested tables, or a problem in the table.
    """
    path = find_dev_pyproject(start)
    data = _read_toml(path) or {}
    table = _dev_table(data)
    if not isinstance(table, Mapping):
        raise DevConfigError(f"{path}: [tool.fastware.dev] must be a table")
    project = data.get("project")
    name = project.get("name") if isinstance(project, Mapping) else None
    app_name = name if isinstance(name, str) and name else path.resolve().parent.name
    return build_dev_config(table, source_path=path, app_name=app_name)
