"""``fastware status``: is the server of a PID file running, and does it answer?

Without ``--pid-file``, and with no ``.fastware.pid`` in the current directory, it lists
every server this user runs, wherever it was started (the per-user list of
:mod:`fastware_server.instances`).
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastware_server.probe import Endpoint, answers

from ._common import DEFAULT_PID_FILE, say

__all__ = ("NOT_RUNNING", "StatusCommand", "command")

NOT_RUNNING = 3
"""The exit status when the server does not run (0 when it does), as ``systemctl`` uses."""
_YES_NO = {True: "yes", False: "no", None: "-"}


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(line[i]) for line in (header, *rows)) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in (header, *rows)
    )


def _endpoint(url: str) -> Endpoint:
    """The endpoint of a recorded URL (``http(s)://host:port`` or ``unix:/path``)."""
    if url.startswith("unix:"):
        return Endpoint(uds=url[len("unix:") :])
    scheme, _, rest = url.partition("://")
    host, _, port = rest.rpartition(":")
    return Endpoint(host=host.strip("[]"), port=int(port), tls=scheme == "https")


def _responding(url: str | None) -> bool | None:
    return answers(_endpoint(url), timeout=2.0) if url is not None else None


class StatusCommand:
    """``fastware status``."""

    help = "Show whether a server runs and answers: one PID file's, or all of yours."

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Declare the arguments."""
        parser.description = (
            f"{self.help} With no --pid-file it reads {DEFAULT_PID_FILE} in the current "
            "directory; when there is none there, it lists every server you started, from "
            f"any directory. Exits 0 when a server runs, {NOT_RUNNING} when none does. "
            "'responding' says whether the server answers HTTP at all; 'healthy' is only "
            "known (true or false) when you name a URL to check with --health-url, and is "
            "null otherwise."
        )
        parser.add_argument(
            "--pid-file",
            type=Path,
            metavar="PATH",
            help=f"the PID file of the server (default: {DEFAULT_PID_FILE} if it exists, "
            "else list all your servers)",
        )
        parser.add_argument(
            "--all", action="store_true", help="list every server you run, from any directory"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument(
            "--health-url",
            metavar="URL",
            help="also GET this URL (e.g. http://127.0.0.1:8000/health): healthy on 2xx/3xx",
        )

    def run(self, args: argparse.Namespace) -> int:
        """Print the status; return 0 if a server runs, :data:`NOT_RUNNING` if not."""
        # The command explains a stale PID file itself, in one line.
        logging.getLogger("fastware.server").disabled = True
        if args.all or (args.pid_file is None and not DEFAULT_PID_FILE.exists()):
            return self._list(args)
        return self._one(args, args.pid_file or DEFAULT_PID_FILE)

    def _one(self, args: argparse.Namespace, pid_file: Path) -> int:
        from fastware_server.control import status

        found = status(pid_file, health_url=args.health_url)
        responding = _responding(found.url) if found.running else None
        record: dict[str, Any] = {"pid_file": str(pid_file), **asdict(found)}
        record["responding"] = responding
        record["health_url"] = args.health_url
        if args.json:
            say(json.dumps(record))
            return 0 if found.running else NOT_RUNNING
        header = ["PID FILE", "STATE", "PID", "URL", "APP", "RESPONDING"]
        row = [
            str(pid_file),
            "running" if found.running else "not running",
            "-" if found.pid is None else str(found.pid),
            (found.url or "-") if found.running else "-",
            (found.app or found.name or "-") if found.running else "-",
            _YES_NO[responding],
        ]
        if found.healthy is not None:
            header.append("HEALTHY")
            row.append(_YES_NO[found.healthy])
        say(_table(header, [row]))
        if found.other_process is not None:
            say(
                f"fastware: {pid_file} named PID {found.pid}, which is not a fastware "
                f"server but `{found.other_process}`; left it alone and removed the stale PID "
                "file"
            )
        return 0 if found.running else NOT_RUNNING

    def _list(self, args: argparse.Namespace) -> int:
        from fastware_server.control import status
        from fastware_server.instances import list_servers, servers_dir

        records: list[dict[str, Any]] = []
        for server in list_servers():
            found = status(server.pid_file, health_url=args.health_url)
            if not found.running:
                continue
            record = {**asdict(server), "running": True, "healthy": found.healthy}
            record["responding"] = _responding(server.url)
            record["health_url"] = args.health_url
            records.append(record)
        if args.json:
            say(json.dumps({"running": bool(records), "servers": records}))
        elif not records:
            say(
                f"fastware: no server is running (no {DEFAULT_PID_FILE} here, and none of "
                f"yours is listed in {servers_dir()})"
            )
        else:
            header = ["APP", "PID", "URL", "RESPONDING", "PID FILE"]
            if args.health_url is not None:
                header.insert(4, "HEALTHY")
            rows = []
            for record in records:
                row = [
                    record["app"],
                    str(record["pid"]),
                    record["url"],
                    _YES_NO[record["responding"]],
                    record["pid_file"],
                ]
                if args.health_url is not None:
                    row.insert(4, _YES_NO[record["healthy"]])
                rows.append(row)
            say(_table(header, rows))
        return 0 if records else NOT_RUNNING


command = StatusCommand()
"""The ``status`` command (entry point ``fastware.cli: status``)."""
