"""``fastware dev new DIR``: lay out a backend + Vite project that ``fastware dev`` runs as is.

::

    DIR/
      pyproject.toml          [tool.fastware.dev]: backend app:app on 8000, Vite on 5173
      app.py                  the backend (GET /api/hello)
      .gitignore
      frontend/
        package.json          vite as the only dependency
        vite.config.js
        index.html
        src/main.js           fetches /api/hello; accepts HMR updates of greeting.js
        src/greeting.js
"""

from __future__ import annotations

import os
import re
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from .exceptions import DevError

__all__ = ("DEFAULT_VITE_VERSION", "create_project")

DEFAULT_VITE_VERSION = "^8.0.0 || ^7.0.0"
"""The Vite versions the template's package.json accepts (Vite 7 runs on npm 10)."""
_NAMES = {"gitignore.tmpl": ".gitignore"}


def _templates(root: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    found = []
    for item in root.iterdir():
        if item.is_dir():
            found += _templates(item, f"{prefix}{item.name}/")
        elif item.name.endswith(".tmpl"):
            name = _NAMES.get(item.name, item.name[: -len(".tmpl")])
            found.append((prefix + name, item))
    return sorted(found, key=lambda pair: pair[0])


def create_project(
    directory: str | os.PathLike[str],
    *,
    name: str | None = None,
    port: int = 8000,
    vite_port: int = 5173,
    vite_version: str = DEFAULT_VITE_VERSION,
    force: bool = False,
) -> list[Path]:
    """Write the template into ``directory`` (created if needed); return the files written.

    Raises:
        DevError: ``directory`` holds files that would be overwritten (without ``force``),
            or the name is not a valid project name.
    """
    target = Path(directory)
    project = name or target.resolve().name
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", project):
        raise DevError(
            f"{project!r} is not a valid project name (letters, digits, '.', '_', '-'); pass --name"
        )
    values = {
        "name": project.lower(),
        "port": port,
        "vite_port": vite_port,
        "vite_version": vite_version,
    }
    entries = _templates(files("fastware_dev") / "_template")
    existing = [rel for rel, _ in entries if (target / rel).exists()]
    if existing and not force:
        raise DevError(
            f"{target} already has {', '.join(existing)}; choose an empty directory or pass "
            "--force to overwrite"
        )
    written = []
    for rel, template in entries:
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.read_text(encoding="utf-8").format(**values), encoding="utf-8")
        written.append(path)
    return written
