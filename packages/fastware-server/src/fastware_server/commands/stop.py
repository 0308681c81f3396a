"""``fastware stop``: stop the server recorded in a PID file and wait until it has exited."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ._common import DEFAULT_PID_FILE, add_pid_file, say

__all__ = ("StopCommand", "command")


def _elsewhere(pid_file: Path) -> str:
    """A hint naming the servers this user runs from other PID files, or ``""``."""
    from fastware_server.instances import list_servers

    others = [s for s in list_servers() if Path(s.pid_file) != pid_file.resolve()]
    if not others:
        return ""
    if len(others) == 1:
        server = others[0]
        return (
            f"; {server.app} (PID {server.pid}) runs from {server.cwd}: stop it with "
            f"fastware stop --pid-file {server.pid_file}"
        )
    return f"; {len(others)} of your servers run elsewhere: 'fastware status' lists them"


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

        logging.getLogger("fastware.server").disabled = True  # the error below says it all
        pid_file: Path = args.pid_file
        try:
            readable = read_int_file(pid_file) is not None
        except (ValueError, OSError):
            readable = False
        if not readable:
            if not pid_file.exists():
                where = "here" if pid_file == DEFAULT_PID_FILE else ""
                raise NotRunningError(
                    f"no server to stop: there is no PID file {pid_file}"
                    + (f" {where}" if where else "")
                    + _elsewhere(pid_file)
                )
            stop(pid_file)  # raises NotRunningError naming the corrupt file
        found = status(pid_file)  # a stale file is removed here, and explained below
        if found.running:
            stop(pid_file, grace=args.grace)
            say(f"fastware: stopped {found.app or 'the server'} of {pid_file} (PID {found.pid})")
            return 0
        if found.other_process is not None:
            raise NotRunningError(
                f"no server to stop: {pid_file} named PID {found.pid}, which is not a "
                f"fastware server but `{found.other_process}`; left it alone and removed the "
                "stale PID file"
            )
        if found.pid is not None:
            raise NotRunningError(
                f"no server to stop: PID {found.pid} of {pid_file} is not running (the "
                "stale PID file was removed)"
            )
        raise NotRunningError(f"no server to stop: {pid_file} names none")


command = StopCommand()
"""The ``stop`` command (entry point ``fastware.cli: stop``)."""
