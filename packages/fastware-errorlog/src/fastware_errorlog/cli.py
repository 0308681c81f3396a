"""``fastware errors``: list, show, stats and prune an error log from the command line.

Contributed to the ``fastware`` CLI through the ``fastware.cli`` entry point ``errors``.
The database is ``--db PATH``, else ``$FASTWARE_ERROR_LOG``, else ``.fastware-errors.db``
in the current directory (where ``fastware.create_app`` writes by default).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import msgspec

from ._time import format_time, parse_duration, parse_since
from .log import DEFAULT_PATH, ErrorLog, ErrorLogError
from .records import ErrorGroup, ErrorRecord, parse_status

__all__ = ("ENV_VAR", "ErrorsCommand", "command", "default_path")

ENV_VAR = "FASTWARE_ERROR_LOG"
"""Environment variable naming the error log file (``off`` turns the default log off)."""


def default_path() -> Path:
    """``$FASTWARE_ERROR_LOG`` or :data:`~fastware_errorlog.DEFAULT_PATH`."""
    value = os.environ.get(ENV_VAR, "").strip()
    return Path(value) if value and value.lower() != "off" else DEFAULT_PATH


def _status(text: str) -> str:
    parse_status(text)  # raises ValueError with a clear message
    return text


def _since(text: str) -> float:
    return parse_since(text)


class ErrorsCommand:
    """``fastware errors list|show|stats|prune``."""

    help = "Read the error log: list (grouped or raw), show one, stats, prune (--json)."

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Declare the subcommands and their arguments."""
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument(
            "--db",
            type=Path,
            default=None,
            metavar="PATH",
            help=f"the error log (default: ${ENV_VAR} or {DEFAULT_PATH})",
        )
        common.add_argument("--json", action="store_true", help="print JSON for scripts")
        window = argparse.ArgumentParser(add_help=False)
        window.add_argument(
            "--since", type=_since, metavar="WHEN", help="24h, 7d, or an ISO date (UTC)"
        )
        window.add_argument("--until", type=_since, metavar="WHEN", help="same forms as --since")
        sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

        listing = sub.add_parser(
            "list", parents=[common, window], help="newest first, grouped by fingerprint"
        )
        listing.add_argument("--raw", action="store_true", help="one line per error, ungrouped")
        listing.add_argument("--status", type=_status, help="a code (503) or a class (5xx)")
        listing.add_argument("--path", help="only this request path")
        listing.add_argument("--fingerprint", help="only this group (implies --raw)")
        listing.add_argument("--kind", help="http, websocket, task, appended or dropped")
        listing.add_argument("--limit", type=_count, default=50, help="rows (default 50)")
        listing.add_argument("--offset", type=_count, default=0, help="skip this many")

        show = sub.add_parser("show", parents=[common], help="one error with its traceback")
        show.add_argument("id", type=_count, help="the error's id (from list)")

        stats = sub.add_parser("stats", parents=[common, window], help="counts over a window")
        stats.add_argument("--top", type=_count, default=10, help="groups to show (default 10)")

        prune = sub.add_parser("prune", parents=[common], help="delete old rows")
        prune.add_argument("--older-than", type=parse_duration, metavar="AGE", help="e.g. 30d, 12h")
        prune.add_argument("--keep", type=_count, metavar="N", help="keep the newest N rows")

    def run(self, args: argparse.Namespace) -> int:
        """Run the subcommand; errors are raised and printed as one line by ``fastware``."""
        path: Path = args.db if args.db is not None else default_path()
        if args.action == "prune" and args.older_than is None and args.keep is None:
            raise ValueError("prune needs --older-than AGE and/or --keep N")
        if not path.exists():
            raise ErrorLogError(f"no error log at {path} (pass --db PATH or set ${ENV_VAR})")
        if path.is_dir():
            raise ErrorLogError(f"{path} is a directory, not an error log")
        log = ErrorLog(path)
        action = getattr(self, f"_{args.action}")
        return int(action(log, args))

    def _list(self, log: ErrorLog, args: argparse.Namespace) -> int:
        filters: dict[str, Any] = {
            "since": args.since,
            "until": args.until,
            "status": args.status,
            "path": args.path,
            "kind": args.kind,
        }
        if args.raw or args.fingerprint:
            found = log.query(
                **filters, fingerprint=args.fingerprint, limit=args.limit, offset=args.offset
            )
            if args.json:
                _print_json([_record_json(r, traceback=False) for r in found])
            else:
                _print_records(found)
        else:
            groups = log.groups(**filters, limit=args.limit, offset=args.offset)
            if args.json:
                _print_json(msgspec.to_builtins(groups))
            else:
                _print_groups(groups)
        return 0

    def _show(self, log: ErrorLog, args: argparse.Namespace) -> int:
        record = log.get(args.id)
        if record is None:
            raise ErrorLogError(f"no error with id {args.id} in {log.path}")
        if args.json:
            _print_json(_record_json(record, traceback=True))
            return 0
        print(f"#{record.id}  {format_time(record.timestamp)}  {record.kind}  pid {record.pid}")
        where = f"{record.method} {record.path}".strip() or record.task or "-"
        print(f"{where}  ->  {record.status_code}")
        for label, value in (
            ("exception", record.exception_type),
            ("detail", record.detail),
            ("request id", record.request_id),
            ("user", record.user),
            ("task", record.task),
            ("group", record.fingerprint),
        ):
            if value:
                print(f"{label}: {value}")
        if record.headers:
            print("headers:")
            for name, value in record.headers:
                print(f"  {name}: {value}")
        if record.traceback:
            print()
            print(record.traceback.rstrip())
        return 0

    def _stats(self, log: ErrorLog, args: argparse.Namespace) -> int:
        stats = log.stats(since=args.since, until=args.until, top=args.top)
        if args.json:
            _print_json(msgspec.to_builtins(stats))
            return 0
        window = format_time(stats.since) if stats.since is not None else "the beginning"
        print(f"{stats.total} errors in {stats.groups} groups since {window}")
        if stats.by_status:
            print("by status: " + ", ".join(f"{k}: {v}" for k, v in stats.by_status.items()))
        if stats.by_kind:
            print("by kind: " + ", ".join(f"{k}: {v}" for k, v in stats.by_kind.items()))
        if stats.top:
            print()
            _print_groups(stats.top)
        return 0

    def _prune(self, log: ErrorLog, args: argparse.Namespace) -> int:
        deleted = log.prune(older_than=args.older_than, keep=args.keep)
        if args.json:
            _print_json({"deleted": deleted, "remaining": log.count()})
        else:
            print(f"deleted {deleted} errors; {log.count()} remain in {log.path}")
        return 0


def _count(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    return int(text)


def _record_json(record: ErrorRecord, *, traceback: bool) -> dict[str, Any]:
    data = record.to_dict()
    data["headers"] = [list(pair) for pair in record.headers]
    if not traceback:
        data.pop("traceback")
    return data


def _print_json(value: Any) -> None:
    sys.stdout.write(msgspec.json.encode(value).decode() + "\n")


def _table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())


def _print_groups(groups: list[ErrorGroup]) -> None:
    if not groups:
        print("no errors")
        return
    rows = [["COUNT", "LAST SEEN", "STATUS", "WHERE", "LATEST", "ERROR"]]
    for group in groups:
        what = group.exception_type or group.kind
        line = (group.detail.strip().splitlines() or [""])[0][:80]
        rows.append(
            [
                str(group.count),
                format_time(group.last_seen),
                str(group.status_code),
                f"{group.method} {group.path}".strip() or "-",
                f"#{group.last_id}",
                f"{what}: {line}" if line else what,
            ]
        )
    _table(rows)


def _print_records(found: list[ErrorRecord]) -> None:
    if not found:
        print("no errors")
        return
    rows = [["ID", "WHEN", "STATUS", "WHERE", "ERROR"]]
    for record in found:
        what = record.exception_type or record.kind
        line = (record.detail.strip().splitlines() or [""])[0][:80]
        rows.append(
            [
                f"#{record.id}",
                format_time(record.timestamp),
                str(record.status_code),
                f"{record.method} {record.path}".strip() or record.task or "-",
                f"{what}: {line}" if line else what,
            ]
        )
    _table(rows)


command = ErrorsCommand()
"""The ``errors`` command (entry point ``fastware.cli: errors``)."""
