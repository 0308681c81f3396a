"""The error for an optional extra (``fastware[logging]``, ``fastware[mcp]``...) not installed."""

from __future__ import annotations

from fastware_core import MissingPackageError

__all__ = ("missing_extra",)


def missing_extra(distribution: str, message: str) -> MissingPackageError:
    """A :class:`~fastware_core.MissingPackageError` for ``distribution`` whose message is
    ``message`` (which names the extra to install rather than the bare distribution)."""
    error = MissingPackageError(distribution, message)
    error.msg = message
    error.args = (message,)
    return error
