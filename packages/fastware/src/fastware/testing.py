"""Compatibility path ``fastware.testing`` (fastware 0.6.3): the in-process test clients."""

from __future__ import annotations

from fastware_core.testing import AsyncTestClient, TestClient

__all__ = ("AsyncTestClient", "TestClient")
