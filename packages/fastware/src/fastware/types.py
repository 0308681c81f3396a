"""Compatibility path ``fastware.types`` (fastware 0.6.3): the ASGI aliases."""

from __future__ import annotations

from fastware_core.types import Receive, Scope, Send

__all__ = ("Receive", "Scope", "Send")
