"""``fastware status``: is the server of a PID file running, and does it answer?"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from fastware_server.probe import Endpoint, answers

from ._common import add_pid_file, say

__all__ = ("NOT_RUNNING", "StatusCommand", "command")

NOT_RUNNING = 3
"""The exit status when the server does not run (0 when it does), as ``systemctl`` uses."""


def _table(header: list[str], row: list[str]) -> str:
    widths = [max(len(a), len(b)) for a, b in zip(header, row, strict=True)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in (header, row)
    )


def _endpoint(url: str) -> Endpoint:
    """The endpoint of a recorded URL (``http(s)://host:port`` or ``unix:/path``)."""
    if url.startswith("unix:"):
        return Endpoint(uds=url[len("unix:") :])
    scheme, _, rest = url.partition("://")
    host, _, port = rest.rpartition(":")
    return Endpoint(host=host.strip("[]"), port=int(port), tls=scheme == "https")


class StatusCommand:
    """``fastware status``."""

    help = "Show whether the server of a PID file runs (--json for machines)."

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Declare the arguments."""
        parser.description = f"{self.help} Exits 0 when it runs, {NOT_RUNNING} when not."
        add_pid_file(parser, "of the server")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument(
            "--health-url", metavar="URL", help="also GET this URL: healthy on 2xx/3xx"
        )

    def run(self, args: argparse.Namespace) -> int:
        """Print the status; return 0 if the server runs, :data:`NOT_RUNNING` if not."""
        from fastware_server.control import status

        found = status(args.pid_file, health_url=args.health_url)
        responding = None
        if found.running and found.url is not None:
            responding = answers(_endpoint(found.url), timeout=2.0)
        record: dict[str, Any] = {"pid_file": str(args.pid_file), **asdict(found)}
        record["responding"] = responding
        if args.json:
            say(json.dumps(record))
        else:
            yes_no = {True: "yes", False: "no", None: "-"}
            header = ["PID FILE", "STATE", "PID", "URL", "NAME", "RESPONDING"]
            row = [
                str(args.pid_file),
                "running" if found.running else "not running",
                "-" if found.pid is None else str(found.pid),
                (found.url or "-") if found.running else "-",
                (found.name or "-") if found.running else "-",
                yes_no[responding],
            ]
            if found.healthy is not None:
                header.append("HEALTHY")
                row.append(yes_no[found.healthy])
            say(_table(header, row))
            if found.other_process is not None:
                say(
                    f"fastware: {args.pid_file} named PID {found.pid}, which is not a fastware "
                    f"server but `{found.other_process}`; removed the stale PID file"
                )
        return 0 if found.running else NOT_RUNNING


command = StatusCommand()
"""The ``status`` command (entry point ``fastware.cli: status``)."""
