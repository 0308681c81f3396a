"""Compatibility path ``fastware.routing`` (fastware 0.6.3): the router from fastware-core."""

from __future__ import annotations

from fastware_core.routing import ParsedSegment, Router

__all__ = ("ParsedSegment", "Router")
