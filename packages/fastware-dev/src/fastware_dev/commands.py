"""``fastware dev``: run, inspect and stop the dev environment of ``[tool.fastware.dev]``.

Contributed to the ``fastware`` command line through the ``fastware.cli`` entry-point group;
``python -m fastware_dev`` runs the same commands without the meta-package::

    fastware dev                      # = fastware dev run: foreground, Ctrl-C stops
    fastware dev run --daemon         # in the background, output to .fastware-dev-<app>.log
    fastware dev status [--json]
    fastware dev stop [--grace 10]
    fastware dev new DIR              # a backend + Vite project that fastware dev runs
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ("DevCommand", "command", "main")


def _grace(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds: {text}")
    return value


def _config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="the pyproject.toml (default: the one with [tool.fastware.dev] from here up)",
    )
    parser.add_argument(
        "--pid-dir",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="where the registry is kept (default: the pyproject's directory)",
    )


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--daemon",
        action=argparse.BooleanOptionalAction,
        default=argparse.SUPPRESS,
        help="run in the background; return once everything is ready (default: --no-daemon)",
    )
    parser.add_argument(
        "--grace",
        type=_grace,
        metavar="SECONDS",
        default=argparse.SUPPRESS,
        help="seconds each component gets to stop before it is killed (default 10)",
    )


class DevCommand:
    """``fastware dev``."""

    help = "Run the full-stack dev environment of [tool.fastware.dev] (Vite + backend)."

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Declare the subcommands and their arguments."""
        parser.description = f"{self.help} Without a subcommand, 'run' runs in the foreground."
        _run_options(parser)
        _config_options(parser)
        actions = parser.add_subparsers(dest="action", metavar="{run,status,stop,new}")
        run = actions.add_parser("run", help="start everything (foreground, or --daemon)")
        _run_options(run)
        _config_options(run)
        status = actions.add_parser("status", help="list the running dev environments")
        _config_options(status)
        status.add_argument("--json", action="store_true", help="print JSON")
        stop = actions.add_parser("stop", help="stop the running dev environments")
        _config_options(stop)
        stop.add_argument(
            "--grace",
            type=_grace,
            metavar="SECONDS",
            default=10.0,
            help="seconds each component gets to stop (default 10)",
        )
        stop.add_argument("--json", action="store_true", help="print JSON")
        new = actions.add_parser("new", help="create a backend + Vite project")
        new.add_argument("directory", metavar="DIR", help="where to create it")
        new.add_argument("--name", help="the project name (default: the directory's name)")
        new.add_argument("--port", type=int, default=8000, help="the backend port (8000)")
        new.add_argument("--vite-port", type=int, default=5173, help="the Vite port (5173)")
        new.add_argument("--force", action="store_true", help="overwrite existing files")

    def run(self, args: argparse.Namespace) -> int:
        """Run the chosen subcommand; return the exit status."""
        action = getattr(args, "action", None) or "run"
        if action == "new":
            return _new(args)
        from .devconfig import load_dev_config

        cfg = load_dev_config(getattr(args, "config", None))
        pid_dir = getattr(args, "pid_dir", None)
        if action == "status":
            return _status(cfg, pid_dir, args.json)
        if action == "stop":
            return _stop(cfg, pid_dir, args.grace, args.json)
        from .supervise import run_dev

        return run_dev(
            cfg,
            daemon=bool(getattr(args, "daemon", False)),
            grace_s=float(getattr(args, "grace", 10.0)),
            pid_dir=pid_dir,
        )


def _say(text: str) -> None:
    print(text, flush=True)


def _status(cfg: Any, pid_dir: str | None, as_json: bool) -> int:
    from fastware_server.registry import read_descriptor

    from .supervise import dev_pid_path, list_dev_instances

    entries = list_dev_instances(cfg, pid_dir)
    rows = []
    for entry in entries:
        descriptor = read_descriptor(dev_pid_path(cfg, pid_dir), entry.pid) or {}
        rows.append(
            {
                "name": entry.name,
                "pid": entry.pid,
                "port": entry.port,
                "state": descriptor.get("state", "running"),
                "url": descriptor.get("url"),
                "components": [
                    {"name": c.get("name"), "pid": c.get("pid")}
                    for c in descriptor.get("components") or ()
                    if isinstance(c, dict)
                ],
            }
        )
    if as_json:
        _say(json.dumps(rows))
        return 0
    if not rows:
        _say("no running fastware dev environments")
        return 0
    _say(f"{'NAME':<28}{'PID':<8}{'PORT':<6}  STATE     URL")
    for row in rows:
        _say(
            f"{row['name']:<28}{row['pid']:<8}{row['port']:<6}  {row['state']:<9} "
            f"{row['url'] or '-'}"
        )
    return 0


def _stop(cfg: Any, pid_dir: str | None, grace: float, as_json: bool) -> int:
    from .supervise import stop_dev_instances

    stopped = stop_dev_instances(cfg, pid_dir, grace_s=grace)
    if as_json:
        _say(json.dumps([{"name": e.name, "pid": e.pid, "port": e.port} for e in stopped]))
    elif not stopped:
        _say("no running fastware dev environments to stop")
    for entry in [] if as_json else stopped:
        _say(f"stopped {entry.name} (pid {entry.pid})")
    return 0


def _new(args: argparse.Namespace) -> int:
    from .new import create_project

    written = create_project(
        args.directory,
        name=args.name,
        port=args.port,
        vite_port=args.vite_port,
        force=args.force,
    )
    root = Path(args.directory)
    _say(f"created {len(written)} files in {root}")
    _say(f"next: cd {root}/frontend && npm install && cd .. && fastware dev")
    return 0


command = DevCommand()
"""The ``dev`` command (entry point ``fastware.cli: dev``)."""


def main(argv: list[str] | None = None) -> int:
    """``python -m fastware_dev``: the ``fastware dev`` commands on their own."""
    from fastware_core import FastwareError

    parser = argparse.ArgumentParser(prog="fastware dev", description=command.help)
    command.configure(parser)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return int(command.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (FastwareError, OSError, ValueError) as exc:
        print(f"fastware dev: error: {' '.join(str(exc).split())}", file=sys.stderr, flush=True)
        return 1
