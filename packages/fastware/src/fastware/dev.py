"""Compatibility path ``fastware.dev`` (fastware 0.6.3): ``dev()`` and ``ViteDevProxy``.

Everything comes from fastware-dev; importing this module imports neither Granian nor
httpx nor websockets.
"""

from __future__ import annotations

from fastware_dev import DEFAULT_BACKEND_PREFIXES, ViteDevProxy, create_project, dev

__all__ = ("DEFAULT_BACKEND_PREFIXES", "ViteDevProxy", "create_project", "dev")
