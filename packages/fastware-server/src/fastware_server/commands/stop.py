"""``fastware stop``: stop the server recorded in a PID file and wait until it has exited."""

from __future__ import annotations

import argparse

from ._common import add_pid_file, say

__all__ = ("StopCommand", "command")


class StopCommand:
    """``fastware stop``."""

    help = "Stop the server of a PID file: finish requests, end streams, then exit."

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Declare the arguments."""
        parser.description = (
            f"{self.help} It is killed if it is still running after the grace period."
        )
        add_pid_file(parser, "of the server to stop")
        parser.add_argument(
            "--grace",
            type=float,
            metavar="SECONDS",
            help="seconds before killing (default: the grace the server was started with)",
        )

    def run(self, args: argparse.Namespace) -> int:
        """Stop the server; exit 1 (with a message) when there was none to stop."""
        from fastware_server.control import status, stop
        from fastware_server.exceptions import NotRunningError
        from fastware_server.process import read_int_file

        try:
            readable = read_int_file(args.pid_file) is not None
        except (ValueError, OSError):
            readable = False
        if not readable:
            stop(args.pid_file)  # raises NotRunningError naming the missing or corrupt file
        found = status(args.pid_file)  # a stale file is removed here, and explained below
        if found.running:
            stop(args.pid_file, grace=args.grace)
            say(f"fastware: stopped the server of {args.pid_file} (PID {found.pid})")
            return 0
        if found.other_process is not None:
            raise NotRunningError(
                f"no server to stop: {args.pid_file} named PID {found.pid}, which is not a "
                f"fastware server but `{found.other_process}`; left it alone and removed the "
                "stale PID file"
            )
        if found.pid is not None:
            raise NotRunningError(
                f"no server to stop: PID {found.pid} of {args.pid_file} is not running (the "
                "stale PID file was removed)"
            )
        raise NotRunningError(f"no server to stop: {args.pid_file} names none")


command = StopCommand()
"""The ``stop`` command (entry point ``fastware.cli: stop``)."""
