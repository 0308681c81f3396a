"""Dev mode for fastware: Vite proxy, process supervision, reload.

This distribution is part of the fastware family; its features have not landed yet.
"""

from __future__ import annotations

__all__: tuple[str, ...] = ()
