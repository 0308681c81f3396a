"""The instance registry and presence markers (the file formats of fastware 0.6.3).

Next to a PID file, the directory ``.fastware-registry/`` holds one descriptor per running
server, ``<pid>.json`` (``{"pid", "port", "name"}``), and presence markers
``<kind>--<pid>--<marker_id>.marker`` that other tools (the dev environment) use. Readers
prune entries whose process is gone. Descriptors written by this release also record the
process's start time, its host and its shutdown grace, which ``stop`` and ``status`` use to
recognise the process; readers of the 0.6.3 format ignore the extra keys.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .process import is_alive, is_same_process, process_start

__all__ = (
    "RegistryEntry",
    "deregister_instance",
    "list_instances",
    "list_markers",
    "read_descriptor",
    "register_instance",
    "registry_dir",
    "remove_marker",
    "write_marker",
)

_REGISTRY = ".fastware-registry"


@dataclass(slots=True)
class RegistryEntry:
    """One running server, as its registry descriptor records it."""

    pid: int
    """The server's main process."""
    port: int
    """The port it listens on (0 for a Unix socket)."""
    name: str
    """The name it was started with."""


def registry_dir(pid_path: str | os.PathLike[str]) -> Path:
    """The registry directory for a PID file: ``<its directory>/.fastware-registry``."""
    return Path(pid_path).parent / _REGISTRY


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, separators=(",", ":"))
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; a corrupt file is deleted and gives ``None``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict):
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    return data


def register_instance(
    pid_path: str | os.PathLike[str],
    port: int,
    name: str,
    **details: Any,
) -> Path:
    """Record this process as a running server in the registry next to ``pid_path``.

    Writes ``<registry>/<pid>.json`` as ``{"pid", "port", "name", ...}`` with this process's
    start time, and removes it when the interpreter exits.

    Args:
        pid_path: The server's PID file (only its directory is used).
        port: The port the server listens on.
        name: The server's name.
        **details: Extra JSON-serialisable fields (``host``, ``scheme``, ``grace``...).

    Returns:
        The descriptor's path.
    """
    pid = os.getpid()
    path = registry_dir(pid_path) / f"{pid}.json"
    record = {"pid": pid, "port": port, "name": name, "start": process_start(pid), **details}
    _write_json(path, record)
    atexit.register(deregister_instance, pid_path, pid)
    return path


def deregister_instance(pid_path: str | os.PathLike[str], pid: int | None = None) -> None:
    """Delete the descriptor of ``pid`` (default: this process); a missing one is fine."""
    number = os.getpid() if pid is None else pid
    with contextlib.suppress(FileNotFoundError):
        (registry_dir(pid_path) / f"{number}.json").unlink()


def read_descriptor(pid_path: str | os.PathLike[str], pid: int) -> dict[str, Any] | None:
    """The raw descriptor of ``pid`` next to ``pid_path``, or ``None``."""
    return _read_json(registry_dir(pid_path) / f"{pid}.json")


def _record_is_live(pid: Any, record: dict[str, Any], path: Path) -> bool:
    """Whether ``pid`` runs and is the process that wrote ``record`` (markers carry no
    start time, so for them the file's age decides)."""
    if not isinstance(pid, int) or not is_alive(pid):
        return False
    start = record.get("start")
    try:
        written = path.stat().st_mtime
    except OSError:
        written = None
    return is_same_process(pid, start if isinstance(start, int) else None, written)


def list_instances(pid_path: str | os.PathLike[str]) -> list[RegistryEntry]:
    """The servers registered next to ``pid_path``, sorted by PID.

    Corrupt descriptors and those whose process is gone (or whose PID now belongs to
    another process) are deleted and left out.
    """
    entries = []
    directory = registry_dir(pid_path)
    for path in sorted(directory.glob("*.json")):
        record = _read_json(path)
        if record is None:
            continue
        pid, port, name = record.get("pid"), record.get("port"), record.get("name")
        if not (isinstance(port, int) and isinstance(name, str)) or not _record_is_live(
            pid, record, path
        ):
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        assert isinstance(pid, int)
        entries.append(RegistryEntry(pid=pid, port=port, name=name))
    return sorted(entries, key=lambda entry: entry.pid)


def _check_marker_part(label: str, value: str) -> None:
    if not value or "/" in value or "--" in value or value.startswith("."):
        raise ValueError(f"marker {label} must be non-empty, without '/' or '--': {value!r}")


def _marker_path(pid_path: str | os.PathLike[str], kind: str, pid: int, marker_id: str) -> Path:
    _check_marker_part("kind", kind)
    _check_marker_part("id", marker_id)
    return registry_dir(pid_path) / f"{kind}--{pid}--{marker_id}.marker"


def write_marker(
    pid_path: str | os.PathLike[str],
    kind: str,
    marker_id: str,
    *,
    fields: dict[str, Any] | None = None,
) -> Path:
    """Write a presence marker for this process: ``<kind>--<pid>--<marker_id>.marker``.

    The file holds JSON ``{"pid", "marker_id", "kind", **fields}``.

    Raises:
        ValueError: ``kind`` or ``marker_id`` is empty or contains ``/`` or ``--``.
    """
    pid = os.getpid()
    path = _marker_path(pid_path, kind, pid, marker_id)
    _write_json(path, {"pid": pid, "marker_id": marker_id, "kind": kind, **(fields or {})})
    return path


def list_markers(
    pid_path: str | os.PathLike[str], kind: str, *, prune_dead: bool = True
) -> list[dict[str, Any]]:
    """The markers of ``kind``, sorted by ``(pid, marker_id)``.

    Corrupt markers are deleted. With ``prune_dead``, so are markers whose process is gone.
    """
    _check_marker_part("kind", kind)
    markers = []
    for path in registry_dir(pid_path).glob(f"{kind}--*--*.marker"):
        record = _read_json(path)
        if record is None:
            continue
        pid = record.get("pid")
        if not isinstance(pid, int) or not isinstance(record.get("marker_id"), str):
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        if prune_dead and not _record_is_live(pid, record, path):
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        markers.append(record)
    return sorted(markers, key=lambda record: (record["pid"], record["marker_id"]))


def remove_marker(
    pid_path: str | os.PathLike[str], kind: str, marker_id: str, *, pid: int | None = None
) -> None:
    """Delete one marker (of this process unless ``pid`` is given); a missing one is fine."""
    path = _marker_path(pid_path, kind, os.getpid() if pid is None else pid, marker_id)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
