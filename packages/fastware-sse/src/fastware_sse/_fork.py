"""Process-bound state across ``fork``: what a forked worker must not inherit as it is.

``fastware serve`` imports the app once and forks the Granian workers from it, so a
broadcaster and a broker made at import time exist before the fork and every worker starts
with a copy of them. State that names a process (a publisher id with its sequence, an
event id prefix) or belongs to one (a lock another thread held, a connection, the parent's
event loop and clients) must be renewed in each child: objects holding such state register
here and their ``after_fork()`` runs in the child after every ``os.fork()``.
"""

from __future__ import annotations

import os
import weakref
from typing import Any

__all__ = ("renew_after_fork",)

_renewed: weakref.WeakSet[Any] = weakref.WeakSet()


def renew_after_fork(owner: Any) -> None:
    """Call ``owner.after_fork()`` in the child of every later fork (while it lives)."""
    _renewed.add(owner)


def _renew_all() -> None:
    for owner in list(_renewed):
        owner.after_fork()


if hasattr(os, "register_at_fork"):  # not on Windows, which cannot fork
    os.register_at_fork(after_in_child=_renew_all)
