"""A batteries-included ASGI framework: msgspec JSON, a managed Granian server, SSE, DI, auth and more.

This distribution is part of the fastware family; its features have not landed yet.
"""

from __future__ import annotations

__all__: tuple[str, ...] = ()
