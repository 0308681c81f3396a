"""TOML configuration files with environment overrides (``fastware.config``).

    from fastware.config import load_config

    class Database(msgspec.Struct):
        url: str
        pool_size: int = 5

    class Settings(msgspec.Struct):
        debug: bool = False
        database: Database

    settings = load_config("config.toml", Settings)

:func:`load_config` reads a TOML file, lays environment variables over it and, given a
schema, validates the result: a msgspec ``Struct`` (or anything ``msgspec.convert``
accepts: dataclasses, ``TypedDict``...) or a pydantic model.

Environment variables: ``FASTWARE__`` followed by the keys, separated by double
underscores, set one value: ``FASTWARE__DEBUG=true`` sets ``debug``,
``FASTWARE__DATABASE__POOL_SIZE=20`` sets ``database.pool_size``. Keys match case-blind, a
``-`` in a key matches ``_``; a key the file lacks is added (lower-case), tables included.
Where the file has a string, the variable's text is used as it is; where it has another
type, the text is read as a TOML value (``8080``, ``true``, ``["a", "b"]``,
``{ x = 1 }``) and kept as text if it is not one. A key the file lacks gets the text when a
schema is given (the schema converts it: ``"20"`` to ``20``), or else its TOML value.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, overload

import msgspec

from fastware_core import FastwareError

__all__ = ("DEFAULT_ENV_PREFIX", "ConfigError", "ConfigSyntaxError", "load_config")

DEFAULT_ENV_PREFIX = "FASTWARE__"
"""The prefix of the environment variables :func:`load_config` reads by default."""

T = TypeVar("T")

_MSGSPEC_LOCATION = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING_FIELD = re.compile(r"missing required field `(?P<field>[^`]+)`")


class ConfigError(FastwareError, ValueError):
    """A configuration value is wrong: the message names the file and the key (and the
    environment variable when one set it).

    Args:
        message: The whole message.
        path: The configuration file.
        key: The dotted key (``database.pool_size``, ``hosts[2]``); ``""`` for the file.
        variable: The environment variable that set the value, if one did.
    """

    def __init__(
        self, message: str, path: Path, key: str = "", variable: str | None = None
    ) -> None:
        super().__init__(message)
        self.path = path
        """The configuration file."""
        self.key = key
        """The dotted key of the (first) wrong value."""
        self.variable = variable
        """The environment variable that set it, or ``None`` when the file did."""


class ConfigSyntaxError(ConfigError, tomllib.TOMLDecodeError):
    """The file is not valid TOML (a :class:`tomllib.TOMLDecodeError`, as in fastware
    0.6.3, whose message also names the file)."""

    def __init__(self, message: str, path: Path) -> None:
        ValueError.__init__(self, message)  # not TOMLDecodeError's (msg, doc, pos) form
        self.path = path
        self.key = ""
        self.variable = None


@overload
def load_config(
    path: str | os.PathLike[str],
    schema: None = None,
    *,
    env_prefix: str | None = DEFAULT_ENV_PREFIX,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]: ...


@overload
def load_config(
    path: str | os.PathLike[str],
    schema: type[T],
    *,
    env_prefix: str | None = DEFAULT_ENV_PREFIX,
    environ: Mapping[str, str] | None = None,
) -> T: ...


def load_config(
    path: str | os.PathLike[str],
    schema: Any = None,
    *,
    env_prefix: str | None = DEFAULT_ENV_PREFIX,
    environ: Mapping[str, str] | None = None,
) -> Any:
    """Read a TOML file, apply environment overrides and validate it against ``schema``.

    Args:
        path: The TOML file.
        schema: ``None`` for the plain dict; a msgspec ``Struct`` (or any type
            ``msgspec.convert`` takes, converting in lax mode so ``"20"`` becomes ``20``);
            or a pydantic model (``schema.model_validate``).
        env_prefix: The prefix of the variables that override values (see the module
            docs); ``None`` reads no variables.
        environ: The variables to read; ``os.environ`` by default.

    Returns:
        The dict, or the schema's instance.

    Raises:
        FileNotFoundError: There is no file at ``path``.
        ConfigSyntaxError: The file is not TOML (also a ``tomllib.TOMLDecodeError``).
        ConfigError: A value does not fit the schema, or a variable cannot be applied; the
            message names the file, the key and the variable.
    """
    file = Path(path)
    with file.open("rb") as stream:
        try:
            data = tomllib.load(stream)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigSyntaxError(f"{file}: not valid TOML: {exc}", file) from None
    sources: dict[str, str] = {}
    if env_prefix:
        variables = os.environ if environ is None else environ
        for name in sorted(variables):
            if name.startswith(env_prefix) and len(name) > len(env_prefix):
                key = _apply(data, file, name, name[len(env_prefix) :], variables[name], schema)
                sources[key] = name
    if schema is None:
        return data
    if callable(getattr(schema, "model_validate", None)):
        return _validate_pydantic(schema, data, file, sources)
    try:
        return msgspec.convert(data, schema, strict=False)
    except msgspec.ValidationError as exc:
        raise _msgspec_error(str(exc), file, sources) from None


def _normal(key: str) -> str:
    return key.upper().replace("-", "_")


def _apply(data: dict[str, Any], file: Path, name: str, rest: str, text: str, schema: Any) -> str:
    """Set the value variable ``name`` gives; return its dotted key."""
    parts = rest.split("__")
    if any(not part for part in parts):
        raise ConfigError(
            f"{file}: environment variable {name} has an empty key between its double "
            "underscores; write FASTWARE__TABLE__KEY",
            file,
            variable=name,
        )
    table = data
    keys: list[str] = []
    for index, part in enumerate(parts):
        key = next((k for k in table if _normal(k) == part.upper()), part.lower())
        keys.append(key)
        if index == len(parts) - 1:
            break
        inner = table.setdefault(key, {})
        if not isinstance(inner, dict):
            dotted = ".".join(keys)
            raise ConfigError(
                f"{file}: {dotted}: environment variable {name} sets a key inside it, but "
                f"it is a {_toml_type(inner)}, not a table",
                file,
                dotted,
                name,
            )
        table = inner
    last = keys[-1]
    current = table.get(last)
    if isinstance(current, str) or (last not in table and schema is not None):
        table[last] = text
    else:
        table[last] = _toml_value(text)
    return ".".join(keys)


def _toml_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    return "string" if isinstance(value, str) else type(value).__name__


def _where(file: Path, key: str, sources: Mapping[str, str]) -> tuple[str, str | None]:
    """``"file: key"`` plus the variable that set ``key`` or a table above it."""
    variable = None
    for dotted, name in sources.items():
        if key == dotted or key.startswith((dotted + ".", dotted + "[")):
            variable = name
    prefix = f"{file}: {key}" if key else f"{file}"
    return prefix, variable


def _msgspec_error(text: str, file: Path, sources: Mapping[str, str]) -> ConfigError:
    match = _MSGSPEC_LOCATION.match(text)
    message, location = (match["message"], match["path"] or "") if match else (text, "")
    key = location.lstrip(".")
    missing = _MISSING_FIELD.search(message)
    if missing:
        key = f"{key}.{missing['field']}" if key else missing["field"]
    prefix, variable = _where(file, key, sources)
    suffix = f" (set by environment variable {variable})" if variable else ""
    return ConfigError(f"{prefix}: {message}{suffix}", file, key, variable)


def _validate_pydantic(
    schema: Any, data: dict[str, Any], file: Path, sources: Mapping[str, str]
) -> Any:
    try:
        return schema.model_validate(data)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        errors = getattr(exc, "errors", None)
        if not callable(errors):
            raise
        lines: list[str] = []
        first: tuple[str, str | None] | None = None
        for error in errors():
            key = ""
            for part in error.get("loc", ()):
                key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else part)
            prefix, variable = _where(file, key, sources)
            suffix = f" (set by environment variable {variable})" if variable else ""
            lines.append(f"{prefix}: {error.get('msg', 'invalid')}{suffix}")
            first = first or (key, variable)
        key, variable = first or ("", None)
        raise ConfigError("; ".join(lines), file, key, variable) from None
