"""Compatibility path ``fastware.app`` (fastware 0.6.3): ``create_app`` and ``AppConfig``."""

from __future__ import annotations

from fastware_core.app import App, AppConfig, create_app

__all__ = ("App", "AppConfig", "create_app")
