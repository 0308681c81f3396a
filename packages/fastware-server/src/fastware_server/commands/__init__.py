"""The ``fastware serve``, ``fastware stop`` and ``fastware status`` commands.

Each module holds one command object, registered in the ``fastware.cli`` entry-point
group; the ``fastware`` script (the fastware meta-package) imports only the one it runs.
A command has a one-line ``help``, ``configure(parser)`` to declare its arguments and
``run(args)`` returning the exit status; errors are raised and printed by the script.
"""

from __future__ import annotations

__all__: tuple[str, ...] = ()
