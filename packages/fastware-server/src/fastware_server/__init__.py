"""A managed Granian server for fastware apps.

This distribution is part of the fastware family; its features have not landed yet.
"""

from __future__ import annotations

__all__: tuple[str, ...] = ()
