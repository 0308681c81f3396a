"""ASGI type aliases, kept as plain aliases for compatibility with fastware 0.6.3."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ("ASGIApp", "Message", "Receive", "Scope", "Send")

Scope = dict[str, Any]
"""An ASGI connection scope."""

Message = MutableMapping[str, Any]
"""An ASGI event, sent or received."""

Receive = Callable[[], Awaitable[Any]]
"""The ASGI ``receive`` callable: returns an awaitable event dict."""

Send = Callable[[Any], Awaitable[None]]
"""The ASGI ``send`` callable: takes an event dict."""

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
"""Any ASGI 3 application."""
