"""Compatibility path ``fastware._assets`` (fastware 0.6.3's private helper): the runtime's
JavaScript templates, from fastware-core."""

from __future__ import annotations

from fastware_core._assets import load_template, render_asset

__all__ = ("load_template", "render_asset")
