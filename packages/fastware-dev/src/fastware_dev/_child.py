"""``python -m fastware_dev._child backend|front SPEC``: see :mod:`fastware_dev._run`."""

from __future__ import annotations

import sys

from fastware_dev._run import main

if __name__ == "__main__":
    sys.exit(main())
