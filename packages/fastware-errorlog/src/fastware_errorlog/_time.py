"""Time windows as people type them: ``90s``, ``30m``, ``24h``, ``7d``, an ISO date or time."""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ("format_time", "parse_duration", "parse_since")

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str) -> float:
    """``"90s"``, ``"30m"``, ``"24h"``, ``"7d"``, ``"2w"`` (or plain seconds) in seconds.

    Raises:
        ValueError: for anything else, with an example of what works.
    """
    value = text.strip().lower()
    number, unit = (value[:-1], value[-1]) if value[-1:] in _UNITS else (value, "s")
    try:
        amount = float(number)
    except ValueError:
        amount = -1.0
    if not number or amount < 0 or amount != amount or amount == float("inf"):
        raise ValueError(f"{text!r} is not a duration; use e.g. 90s, 30m, 24h or 7d")
    return amount * _UNITS[unit]


def parse_since(text: str, now: float | None = None) -> float:
    """A window start: a duration back from now (``24h``) or an ISO date/time (UTC unless it
    says otherwise). Returns epoch seconds.

    Raises:
        ValueError: for anything else.
    """
    current = time.time() if now is None else now
    try:
        return current - parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (24h, 7d) nor an ISO date (2025-01-31T12:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def format_time(timestamp: float) -> str:
    """Epoch seconds as ``2025-01-31 12:00:00Z``."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
