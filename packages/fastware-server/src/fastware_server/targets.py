"""What to serve: ``"module:attribute"`` targets, references to callables, the interface.

A worker process that was *spawned* (not forked) cannot receive the app object itself: it
imports it again. So every app handed to the server is turned into an import reference
(module, attribute path and the directory to import it from) whenever it has one: module
globals, functions and classes of importable modules, and objects of the main script.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import sys
import traceback
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .exceptions import ServerError, TargetError

__all__ = (
    "IMPORTING_ENV",
    "PROCESS_LOCAL_ATTRIBUTE",
    "TargetRef",
    "check_app",
    "check_not_importing",
    "choose_interface",
    "describe_error",
    "import_target",
    "parse_target",
    "process_local_backends",
    "reference_for",
)

IMPORTING_ENV = "FASTWARE_SERVER_IMPORTING"
"""Set while a server process started by fastware-server imports its app."""


def check_not_importing(what: str) -> None:
    """Refuse to start a server process from an app being imported by one.

    Raises:
        ServerError: the call would start servers without end.
    """
    if os.environ.get(IMPORTING_ENV):
        raise ServerError(
            f"{what} was called while a server process imported the app: it would start "
            'servers without end. Put the call under `if __name__ == "__main__":`'
        )


PROCESS_LOCAL_ATTRIBUTE = "fastware_process_local"
"""A backend that keeps its state in one process (an in-memory SSE broker, an in-memory
rate limiter) has this attribute, a string describing it. With ``workers > 1`` the server
warns and names every such backend it finds in the app and its module."""


@dataclass(frozen=True, slots=True)
class TargetRef:
    """Where an app can be imported from."""

    module: str
    """The module's dotted name."""
    attribute: str = "app"
    """The dotted attribute path inside the module."""
    path: str | None = None
    """A directory to put first on ``sys.path`` before importing, if one is needed."""

    def __str__(self) -> str:
        return f"{self.module}:{self.attribute}"

    def to_json(self) -> dict[str, Any]:
        """The reference as a JSON-compatible dict."""
        return {"module": self.module, "attribute": self.attribute, "path": self.path}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TargetRef:
        """The inverse of :meth:`to_json`."""
        return cls(data["module"], data["attribute"], data.get("path"))


def _dotted(text: str) -> bool:
    return bool(text) and all(part.isidentifier() for part in text.split("."))


def parse_target(text: str) -> TargetRef:
    """Parse ``"module:attribute"`` (``"module"`` alone means ``module:app``; ``"module:"``
    with nothing after the colon is refused).

    Raises:
        TargetError: the text is not of that form.
    """
    module, colon, attribute = text.strip().partition(":")
    if colon and not attribute.strip() and _dotted(module):
        raise TargetError(
            f"invalid app {text!r}: nothing after ':'; name the app, for example {module}:app"
        )
    attribute = attribute or "app"
    if not (_dotted(module) and _dotted(attribute)):
        raise TargetError(f"invalid app {text!r}: expected MODULE:ATTRIBUTE, for example hello:app")
    return TargetRef(module, attribute)


def describe_error(exc: BaseException) -> str:
    """One line for an exception: its type, message and where user code raised it."""
    if isinstance(exc, SyntaxError):
        where = f" ({exc.filename}, line {exc.lineno})" if exc.filename else ""
        return f"SyntaxError: {exc.msg}{where}"
    message = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__
    frames = traceback.extract_tb(exc.__traceback__)
    user = [
        frame
        for frame in frames
        if "importlib" not in frame.filename and "/fastware_server/" not in frame.filename
    ]
    if user:
        text += f" ({user[-1].filename}, line {user[-1].lineno})"
    return text


def import_target(
    ref: TargetRef, app_dir: str | os.PathLike[str] | None = None, *, require_app: bool = True
) -> Any:
    """Import the app ``ref`` names.

    Args:
        ref: The module and attribute.
        app_dir: Directory put first on ``sys.path`` (default: ``ref.path``, else the current
            directory), as ``python -m`` does for the current directory.
        require_app: Refuse objects that are neither callable nor RSGI apps.

    Raises:
        TargetError: the module cannot be imported (with the reason on one line), the
            attribute is missing, or it is not an ASGI or RSGI app.
    """
    directory = str(Path(ref.path or app_dir or os.getcwd()).resolve())
    if directory not in sys.path:
        sys.path.insert(0, directory)
    try:
        module = importlib.import_module(ref.module)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (ref.module == missing or ref.module.startswith(missing + ".")):
            raise TargetError(
                f"cannot import {ref}: no module named {missing!r} in {directory} (use "
                "--app-dir or run from the app's directory)"
            ) from None
        raise TargetError(f"importing {ref.module!r} failed: {describe_error(exc)}") from None
    except Exception as exc:
        raise TargetError(f"importing {ref.module!r} failed: {describe_error(exc)}") from None
    app: Any = module
    for part in ref.attribute.split("."):
        try:
            app = getattr(app, part)
        except AttributeError:
            raise TargetError(f"cannot serve {ref}: {part!r} not found in {ref.module}") from None
    if require_app:
        check_app(app, str(ref))
    return app


def _with_article(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def check_app(app: Any, display: str) -> None:
    """Refuse what is not an ASGI or RSGI app, at startup rather than with a 500 per request.

    An app implements ``__rsgi__`` (every fastware app does), or is a callable taking
    ``(scope, receive, send)``: an ``async def`` function or an object whose ``__call__``
    takes them. A class is refused (it would be instantiated per request), and so is a
    callable that cannot take three arguments.

    Raises:
        TargetError: one line naming what ``display`` is and what to serve instead.
    """
    if hasattr(app, "__rsgi__") and not isinstance(app, type):
        return
    hint = "serve the app object, e.g. app = create_app(router) and then MODULE:app"
    if isinstance(app, type):
        raise TargetError(
            f"cannot serve {display}: it is the class {app.__name__}, not an app; {hint}"
        )
    if isinstance(app, types.ModuleType):
        raise TargetError(
            f"cannot serve {display}: it is the module {app.__name__}, not an app; name the "
            f"app inside it, e.g. {app.__name__}:app"
        )
    if not callable(app):
        raise TargetError(
            f"cannot serve {display}: it is {_with_article(type(app).__name__)}, not an app; {hint}"
        )
    try:
        signature = inspect.signature(app)
    except (TypeError, ValueError):
        return  # a callable without a signature (a C extension): let the server try it
    try:
        signature.bind(object(), object(), object())
    except TypeError:
        kind = "function" if inspect.isroutine(app) else type(app).__name__
        raise TargetError(
            f"cannot serve {display}: it is {_with_article(kind)} taking {signature}, but an "
            f"ASGI app takes (scope, receive, send); {hint}"
        ) from None


def _module_root(module: types.ModuleType, name: str) -> str | None:
    """The ``sys.path`` entry ``module`` was imported from, checked against its dotted name."""
    file = getattr(module, "__file__", None)
    if not file:
        return None
    path = Path(file).resolve()
    # The file's path without ".py" ends with the name's parts; a package's __init__.py
    # stands for its directory.
    trail = path.parent if path.stem == "__init__" else path.with_suffix("")
    for part in reversed(name.split(".")):
        if trail.name != part:
            return None
        trail = trail.parent
    return str(trail)


def _resolves_to(module: types.ModuleType, attribute: str, obj: Any) -> bool:
    value: Any = module
    for part in attribute.split("."):
        value = getattr(value, part, None)
        if value is None:
            return False
    return value is obj


def _global_name(module: types.ModuleType, obj: Any) -> str | None:
    with contextlib.suppress(Exception):
        for key, value in vars(module).items():
            if value is obj and key.isidentifier():
                return key
    return None


def reference_for(obj: Any, *, allow_main: bool = True) -> TargetRef | None:
    """An import reference that yields ``obj`` again, or ``None`` if it has none.

    Functions and classes use their ``__module__`` and ``__qualname__`` (lambdas and
    functions defined inside functions have none). Other objects (a fastware ``App``) are
    looked up among the globals of the modules loaded. An object of the main script is
    referred to by the script's file name, unless ``allow_main`` is false.
    """
    candidates: list[tuple[str, str]] = []
    qualname = getattr(obj, "__qualname__", None)
    owner = getattr(obj, "__module__", None)
    if (
        isinstance(qualname, str)
        and isinstance(owner, str)
        and "<" not in qualname
        and isinstance(obj, types.FunctionType | type)
    ):
        candidates.append((owner, qualname))
    if not candidates:
        for name, module in list(sys.modules.items()):
            if module is None or name == "__mp_main__":
                continue
            key = _global_name(module, obj)
            if key is not None:
                candidates.append((name, key))
        candidates.sort(key=lambda item: item[0] == "__main__")  # importable modules first
    references = []
    for name, attribute in candidates:
        owner_module = sys.modules.get(name)
        if owner_module is None or not _resolves_to(owner_module, attribute, obj):
            continue
        if name == "__main__":
            file = getattr(owner_module, "__file__", None)
            if allow_main and file and file.endswith(".py"):
                script = Path(file).resolve()
                references.append(TargetRef(script.stem, attribute, str(script.parent)))
            continue
        references.append(TargetRef(name, attribute, _module_root(owner_module, name)))
    # Prefer a module whose file sits where its name says (importable from that root).
    references.sort(key=lambda ref: ref.path is None)
    return references[0] if references else None


def choose_interface(app: Any, requested: str = "auto") -> str:
    """``"rsgi"`` or ``"asgi"``: ``auto`` picks RSGI for apps that implement it."""
    if requested in ("rsgi", "asgi"):
        return requested
    return "rsgi" if hasattr(app, "__rsgi__") else "asgi"


def _process_local(value: Any) -> str | None:
    if isinstance(value, (types.ModuleType, type)) or inspect.isroutine(value):
        return None
    try:
        marker = inspect.getattr_static(value, PROCESS_LOCAL_ATTRIBUTE, None)
        if isinstance(marker, property):
            marker = getattr(value, PROCESS_LOCAL_ATTRIBUTE, None)
    except Exception:
        return None
    return marker if isinstance(marker, str) and marker else None


def process_local_backends(app: Any, module: types.ModuleType | None = None) -> list[str]:
    """Describe every process-local backend found in ``app``'s attributes and ``module``'s
    globals (objects with a :data:`PROCESS_LOCAL_ATTRIBUTE` string), without duplicates."""
    found: dict[int, str] = {}
    places: list[Any] = [app]
    with contextlib.suppress(TypeError):
        places.extend(vars(app).values())
    if module is not None:
        places.extend(vars(module).values())
    for value in places:
        description = _process_local(value)
        if description is not None:
            found.setdefault(id(value), description)
    return sorted(set(found.values()))
