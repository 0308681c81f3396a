"""Compatibility path ``fastware.websocket`` (fastware 0.6.3): WebSockets from fastware-core."""

from __future__ import annotations

from fastware_core.websocket import WebSocket, WebSocketDisconnect

__all__ = ("WebSocket", "WebSocketDisconnect")
