"""``python -m fastware_dev run|status|stop|new``: the ``fastware dev`` commands."""

from __future__ import annotations

import sys

from .commands import main

if __name__ == "__main__":
    sys.exit(main())
