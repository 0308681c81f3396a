"""What the server commands share: the default files and the ``--pid-file`` option."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ("DEFAULT_LOG_FILE", "DEFAULT_PID_FILE", "add_pid_file", "say")

DEFAULT_PID_FILE = Path(".fastware.pid")
"""Where ``fastware serve`` records its PID (in the current directory) unless told otherwise;
``fastware stop`` and ``fastware status`` look there by default."""
DEFAULT_LOG_FILE = Path(".fastware.log")
"""Where ``fastware serve --daemon`` writes the server's output by default."""


def add_pid_file(parser: argparse.ArgumentParser, what: str) -> None:
    """Add ``--pid-file PATH`` (default :data:`DEFAULT_PID_FILE`)."""
    parser.add_argument(
        "--pid-file",
        type=Path,
        default=DEFAULT_PID_FILE,
        metavar="PATH",
        help=f"the PID file {what} (default: {DEFAULT_PID_FILE})",
    )


def say(text: str) -> None:
    """Print a line for people on stdout, at once."""
    print(text, file=sys.stdout, flush=True)
