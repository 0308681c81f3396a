"""The processes ``fastware dev`` starts for an ``app`` backend.

``python -m fastware_dev._child backend SPEC``: import the app (printing the whole traceback
when that fails) and serve it with Granian on the internal port; restarted on every change.

``python -m fastware_dev._child front SPEC``: serve the dev front (``ViteDevProxy`` over a
forwarder to the backend) on the public port; it runs as long as the dev environment.

``SPEC`` is JSON. Exit statuses: 0 stopped, 1 failed (the reason is the last line printed),
3 the app uses ``sw_mode="cache"``.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

SW_MODE_CONFLICT = 3
"""The exit status of a backend whose app uses ``sw_mode="cache"``."""
ERROR_PREFIX = "fastware dev: error: "
"""How these processes print the reason they stopped."""


def _fail(message: str) -> int:
    print(ERROR_PREFIX + " ".join(message.split()), file=sys.stderr, flush=True)
    return 1


def _print_user_traceback(exc: BaseException) -> None:
    """The traceback without the frames of importlib and of this module."""
    shown = traceback.TracebackException.from_exception(exc)
    shown.stack = traceback.StackSummary.from_list(
        [
            frame
            for frame in shown.stack
            if "importlib" not in frame.filename and not frame.filename.endswith("_run.py")
        ]
    )
    print("".join(shown.format()), end="", file=sys.stderr, flush=True)


def _import_app(target: str, app_dir: str) -> Any:
    from fastware_server.targets import IMPORTING_ENV

    if app_dir not in sys.path:
        sys.path.insert(0, app_dir)
    module_name, _, attribute = target.partition(":")
    os.environ[IMPORTING_ENV] = "1"  # an app that calls serve() when imported is refused
    try:
        value: Any = importlib.import_module(module_name)
    finally:
        del os.environ[IMPORTING_ENV]
    for part in (attribute or "app").split("."):
        value = getattr(value, part)
    return value


def run_backend(spec: dict[str, Any]) -> int:
    """Serve the user's app (see the module docstring)."""
    from fastware_server import serve
    from fastware_server.targets import describe_error

    target = spec["target"]
    try:
        app = _import_app(target, spec["app_dir"])
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            return 130
        _print_user_traceback(exc)
        return _fail(f"the backend {target} failed to import: {describe_error(exc)}")
    if getattr(app, "fastware_sw_mode", None) == "cache":
        _fail(
            f'{target} uses sw_mode="cache": its service worker would serve stale code in dev. '
            'Use sw_mode="off" (or "reset") while developing'
        )
        return SW_MODE_CONFLICT
    try:
        serve(
            target,
            foreground=True,
            host=spec["host"],
            port=spec["port"],
            name=spec.get("name", "FASTWARE"),
            single_instance=False,
            app_dir=spec["app_dir"],
            grace=spec.get("grace", 2.0),
            log_level=spec.get("log_level", "warning"),
        )
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        return _fail(str(exc))
    return 0


def run_front(spec: dict[str, Any]) -> int:
    """Serve the dev front (see the module docstring)."""
    from fastware_server import serve

    from ._devapp import ENV

    os.environ[ENV] = json.dumps(spec)
    try:
        serve(
            "fastware_dev._devapp:app",
            foreground=True,
            host=spec["host"],
            port=spec["port"],
            name=spec.get("name", "FASTWARE"),
            single_instance=False,
            grace=spec.get("grace", 2.0),
            interface="asgi",
            log_level=spec.get("log_level", "warning"),
        )
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        return _fail(str(exc))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fastware_dev._run backend|front SPEC``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] not in ("backend", "front"):
        return _fail("usage: python -m fastware_dev._child backend|front SPEC_JSON")
    spec = json.loads(args[1])
    return run_backend(spec) if args[0] == "backend" else run_front(spec)


if __name__ == "__main__":
    sys.exit(main())
