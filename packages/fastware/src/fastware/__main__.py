"""``python -m fastware`` and the ``fastware`` console script."""

from __future__ import annotations

import sys

from fastware.cli import main

__all__ = ("main",)

if __name__ == "__main__":
    sys.exit(main())
