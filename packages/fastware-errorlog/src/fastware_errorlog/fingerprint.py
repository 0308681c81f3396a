"""Fingerprints: which errors are "the same error".

A fingerprint is a short hash of the exception's type and the frames of its traceback that
belong to the application, each frame as ``(file, function)``: line numbers are left out, so
editing code above a failing line keeps its group. Frames in the standard library,
in installed packages (``site-packages``) and in fastware itself do not belong to the app;
when no frame does, all frames count. Rows without an exception (0.6.3's ``append``) are
grouped by status, method and path.
"""

from __future__ import annotations

import hashlib
import os
import sys
import sysconfig
from collections.abc import Iterable

__all__ = ("app_frames", "fingerprint", "fingerprint_request", "is_app_file")

_LIBRARY_DIRS = tuple(
    os.path.normcase(os.path.realpath(p)) + os.sep
    for p in {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    if p
)
_FASTWARE_DIRS: tuple[str, ...] | None = None


def _fastware_dirs() -> tuple[str, ...]:
    # fastware's own packages live outside site-packages in a workspace checkout.
    global _FASTWARE_DIRS
    if _FASTWARE_DIRS is None:
        found = set()
        for name, module in list(sys.modules.items()):
            if name.partition(".")[0] in _FASTWARE_PACKAGES and "." not in name:
                file = getattr(module, "__file__", None)
                if file:
                    found.add(os.path.normcase(os.path.dirname(os.path.realpath(file))) + os.sep)
        _FASTWARE_DIRS = tuple(found)
    return _FASTWARE_DIRS


_FASTWARE_PACKAGES = frozenset(
    {
        "fastware",
        "fastware_core",
        "fastware_di",
        "fastware_sse",
        "fastware_auth",
        "fastware_server",
        "fastware_flags",
        "fastware_errorlog",
        "fastware_dev",
    }
)


def is_app_file(filename: str) -> bool:
    """Whether a traceback frame's file belongs to the application."""
    if filename.startswith("<"):
        return False  # <frozen ...>, <string>
    real = os.path.normcase(os.path.realpath(filename))
    if "site-packages" in real or "dist-packages" in real:
        return False
    return not real.startswith(_LIBRARY_DIRS) and not real.startswith(_fastware_dirs())


def _short(filename: str) -> str:
    # The last two path parts: stable across checkouts and deploy directories.
    parts = filename.replace("\\", "/").split("/")
    return "/".join(parts[-2:])


def app_frames(frames: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The ``(file, function)`` pairs of ``frames`` (``(file, function)`` pairs, outermost
    first) that make a fingerprint (see the module docstring)."""
    every = list(frames)
    mine = [(_short(file), name) for file, name in every if is_app_file(file)]
    return mine or [(_short(file), name) for file, name in every]


def fingerprint(exception_type: str, frames: Iterable[tuple[str, str]]) -> str:
    """The fingerprint of an exception of ``exception_type`` raised through ``frames``."""
    digest = hashlib.sha256(exception_type.encode())
    for file, name in app_frames(frames):
        digest.update(b"\0" + file.encode("utf-8", "backslashreplace"))
        digest.update(b"\0" + name.encode("utf-8", "backslashreplace"))
    return digest.hexdigest()[:16]


def fingerprint_request(status_code: int, method: str, path: str) -> str:
    """The fingerprint of a row without an exception."""
    text = f"{status_code}\0{method}\0{path}"
    return hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()[:16]
