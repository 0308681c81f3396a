"""An importable name for apps that fastware dev builds at run time.

``fastware_dev._devapp:app`` is built from the JSON in the ``FASTWARE_DEV_APP`` environment
variable, so that Granian workers started with "spawn" (which import the app again) get the
same object: either the user's app wrapped in ``ViteDevProxy`` (``dev()``), or the dev front
(``fastware dev``).
"""

from __future__ import annotations

import json
import os
from typing import Any

ENV = "FASTWARE_DEV_APP"
_built: dict[str, Any] = {}


def build(spec: dict[str, Any]) -> Any:
    """The app a spec describes."""
    if spec.get("backend") is not None:
        from .forward import front_app

        return front_app(spec)
    from fastware_server.targets import import_target, parse_target

    from .proxy import ViteDevProxy

    app = import_target(parse_target(spec["target"]), spec.get("app_dir"))
    return ViteDevProxy(
        app,
        vite_port=spec["vite_port"],
        vite_host=spec.get("vite_host", "localhost"),
        api_prefix=spec.get("api_prefix", "/api"),
        backend_prefixes=spec.get("backend_prefixes"),
        vite_hint=spec.get("vite_hint", "npm run dev"),
    )


def __getattr__(name: str) -> Any:
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if "app" not in _built:
        text = os.environ.get(ENV)
        if not text:
            raise AttributeError(f"{__name__}.app needs the {ENV} environment variable")
        _built["app"] = build(json.loads(text))
    return _built["app"]
