"""The runtime's browser assets: JavaScript templates with ``{{TOKEN}}`` placeholders.

fastware 0.6.3's private ``fastware._assets`` helpers, kept with the same names: templates
are read through :mod:`importlib.resources` (they ship in the wheel under ``_assets/``) and
rendered by plain substitution. A placeholder left without a value is a ``KeyError``, never
a script with ``{{BUILD_ID}}`` in it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib.resources import files

__all__ = ("load_template", "render_asset")

_PLACEHOLDER = re.compile(r"\{\{([A-Z0-9_]+)\}\}")


@cache
def load_template(name: str) -> str:
    """The text of the template ``name`` (``"sw.js"`` reads ``_assets/sw.js.tmpl``).

    Raises:
        FileNotFoundError: for a template that does not exist.
    """
    resource = files(__package__ or "fastware_core").joinpath("_assets", f"{name}.tmpl")
    return resource.read_text(encoding="utf-8")


def render_asset(name: str, substitutions: Mapping[str, str]) -> str:
    """Template ``name`` with every ``{{TOKEN}}`` replaced by ``substitutions[TOKEN]``.

    Values are inserted verbatim: pass JavaScript literals (``json.dumps`` output).

    Raises:
        KeyError: naming a placeholder that has no substitution.
    """

    def replace(match: re.Match[str]) -> str:
        token = match.group(1)
        if token not in substitutions:
            raise KeyError(f"template {name!r} has no value for placeholder {token}")
        return substitutions[token]

    return _PLACEHOLDER.sub(replace, load_template(name))
