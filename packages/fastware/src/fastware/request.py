"""Compatibility path ``fastware.request`` (fastware 0.6.3): ``Request`` and ``State``."""

from __future__ import annotations

from fastware_core.datastructures import State
from fastware_core.request import Request

__all__ = ("Request", "State")
