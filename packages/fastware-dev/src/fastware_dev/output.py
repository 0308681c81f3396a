"""One terminal for several processes: each line prefixed with its component, aligned and
coloured (when the output is a terminal and ``NO_COLOR`` is not set)."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable
from typing import TextIO

__all__ = ("Printer", "use_color")

_COLORS = ("36", "35", "33", "32", "34", "91", "96", "95", "93", "92")
_SUPERVISOR = "dev"


def use_color(stream: TextIO) -> bool:
    """Whether to colour ``stream``: a terminal, ``NO_COLOR`` unset (``FORCE_COLOR`` forces)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Printer:
    """Writes prefixed lines for named components, one whole line at a time.

    Args:
        names: The component names, to align the prefixes (more may come later).
        stream: Where to write (default: ``sys.stdout`` at the time of writing).
        color: Colour the prefixes; ``None`` decides with :func:`use_color`.
    """

    def __init__(
        self, names: Iterable[str] = (), stream: TextIO | None = None, color: bool | None = None
    ) -> None:
        self._stream = stream
        self._color = color
        self._lock = threading.Lock()
        self._codes: dict[str, str] = {}
        self._width = len(_SUPERVISOR)
        for name in names:
            self.add(name)

    @property
    def stream(self) -> TextIO:
        """The stream lines go to."""
        return self._stream if self._stream is not None else sys.stdout

    def add(self, name: str) -> None:
        """Register a component name (its colour and the prefix width)."""
        if name not in self._codes:
            self._codes[name] = _COLORS[len(self._codes) % len(_COLORS)]
            self._width = max(self._width, len(name))

    def _prefix(self, name: str) -> str:
        label = name.rjust(self._width)
        color = self._color if self._color is not None else use_color(self.stream)
        if not color:
            return f"{label} |"
        code = "1" if name == _SUPERVISOR else self._codes.get(name, "37")
        return f"\x1b[{code}m{label} |\x1b[0m"

    def line(self, name: str, text: str) -> None:
        """Write one line of ``name``'s output."""
        self.add(name)
        with self._lock:
            try:
                self.stream.write(f"{self._prefix(name)} {text}\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass  # a closed terminal must not kill the supervisor

    def say(self, text: str) -> None:
        """Write a line of the supervisor's own (prefix ``dev``)."""
        for part in text.splitlines() or [""]:
            self.line(_SUPERVISOR, part)

    def block(self, lines: Iterable[str]) -> None:
        """Write lines without a prefix (the URL block)."""
        with self._lock:
            try:
                for text in lines:
                    self.stream.write(text + "\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass
