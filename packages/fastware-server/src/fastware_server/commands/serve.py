"""``fastware serve MODULE:APP``: serve an app with Granian (foreground, reload or daemon)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from ._common import DEFAULT_LOG_FILE, DEFAULT_PID_FILE, say

__all__ = ("ServeCommand", "command")


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds: {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


class ServeCommand:
    """``fastware serve``."""

    help = "Serve an app with Granian (RSGI for fastware apps, ASGI for others)."

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Declare the arguments."""
        parser.description = (
            f"{self.help} Host and port default to <NAME>_HOST/<NAME>_PORT, then "
            "127.0.0.1:8000. The PID file lets 'fastware stop' and 'fastware status' find "
            "the server."
        )
        parser.add_argument("target", metavar="MODULE:APP", help="the app, e.g. hello:app")
        where = parser.add_argument_group("address")
        where.add_argument("--host", help="host to bind (default 127.0.0.1)")
        where.add_argument("--port", type=int, help="port (default 8000; 0 picks a free one)")
        where.add_argument("--uds", metavar="PATH", help="listen on a Unix socket instead")
        where.add_argument("--name", default="FASTWARE", help="server name (env prefix)")
        run = parser.add_argument_group("process")
        run.add_argument("--workers", type=_count, default=1, help="worker processes")
        run.add_argument("--threads", type=_count, default=1, help="Granian threads per worker")
        run.add_argument("--loop", choices=("asyncio", "uvloop", "rloop"), default="asyncio")
        run.add_argument("--interface", choices=("auto", "rsgi", "asgi"), default="auto")
        run.add_argument("--app-dir", metavar="DIR", help="import the app from DIR (default .)")
        run.add_argument("--reload", action="store_true", help="restart when a .py file changes")
        run.add_argument(
            "--daemon", action="store_true", help="run in the background; return once it answers"
        )
        run.add_argument(
            "--pid-file",
            type=Path,
            default=DEFAULT_PID_FILE,
            metavar="PATH",
            help=f"where to record the PID (default: {DEFAULT_PID_FILE})",
        )
        run.add_argument("--no-pid-file", action="store_true", help="write no PID file")
        run.add_argument(
            "--log-file",
            type=Path,
            metavar="PATH",
            help=f"--daemon: where its output goes (default: the PID file with .log, "
            f"{DEFAULT_LOG_FILE})",
        )
        run.add_argument(
            "--grace",
            type=_seconds,
            default=10.0,
            help="seconds a stop gives requests and streams before killing (default 10)",
        )
        run.add_argument(
            "--startup-timeout",
            type=_seconds,
            default=30.0,
            help="--daemon: seconds to wait for the first answer (default 30)",
        )
        http = parser.add_argument_group("HTTP")
        http.add_argument("--http", choices=("auto", "1", "2"), default="auto")
        http.add_argument("--ssl-cert", metavar="PEM", help="TLS certificate")
        http.add_argument("--ssl-key", metavar="PEM", help="TLS private key")
        http.add_argument("--backlog", type=_count, default=1024)
        http.add_argument(
            "--backpressure",
            type=_count,
            default=None,
            help="requests (and open streams) per worker at once (default: backlog / workers)",
        )
        http.add_argument("--no-keep-alive", action="store_true", help="close after each request")
        http.add_argument("--keep-alive-timeout", type=_seconds, default=20.0, help="HTTP/2")
        http.add_argument("--header-read-timeout", type=_seconds, default=30.0, help="HTTP/1.1")
        http.add_argument("--no-websockets", action="store_true")
        ops = parser.add_argument_group("operations")
        ops.add_argument("--workers-lifetime", type=int, metavar="SECONDS", help="respawn after")
        ops.add_argument("--workers-max-rss", type=int, metavar="MIB", help="respawn above")
        ops.add_argument("--respawn-failed-workers", action="store_true")
        ops.add_argument("--access-log", action="store_true", help="one log line per request")
        ops.add_argument(
            "--log-level",
            choices=("critical", "error", "warning", "info", "debug"),
            default="info",
        )

    def _options(self, args: argparse.Namespace) -> dict[str, Any]:
        return {
            "interface": args.interface,
            "threads": args.threads,
            "http": args.http,
            "ssl_cert": args.ssl_cert,
            "ssl_key": args.ssl_key,
            "backlog": args.backlog,
            "backpressure": args.backpressure,
            "keep_alive": not args.no_keep_alive,
            "keep_alive_timeout": args.keep_alive_timeout,
            "header_read_timeout": args.header_read_timeout,
            "workers_lifetime": args.workers_lifetime,
            "workers_max_rss": args.workers_max_rss,
            "respawn_failed_workers": args.respawn_failed_workers,
            "access_log": args.access_log,
            "uds": args.uds,
            "grace": args.grace,
            "startup_timeout": args.startup_timeout,
            "log_level": args.log_level,
            "app_dir": args.app_dir,
            "websockets": not args.no_websockets,
        }

    def run(self, args: argparse.Namespace) -> int:
        """Serve until stopped (or, with ``--daemon``, until the server answers)."""
        from fastware_server.config import merge_config
        from fastware_server.plan import plan_server

        if args.daemon and args.reload:
            raise ValueError("--daemon and --reload do not go together")
        if args.daemon and args.no_pid_file:
            raise ValueError("--daemon needs a PID file: 'fastware stop' finds the server by it")
        pid_path = None if args.no_pid_file else args.pid_file
        plan = plan_server(
            args.target,
            host=args.host,
            port=args.port,
            name=args.name,
            pid_path=pid_path,
            single_instance=True,
            loop=args.loop,
            workers=args.workers,
            config=merge_config(None, self._options(args)),
            load=not (args.reload or args.daemon),
            allow_main=False,
        )
        workers = f"{plan.workers} worker{'s' if plan.workers > 1 else ''}"
        if args.daemon:
            from fastware_server.detached import launch_detached

            log = args.log_file or args.pid_file.with_suffix(".log")
            server = launch_detached(plan, log)
            say(
                f"fastware: serving {plan.display} on {plan.url} in the background "
                f"(PID {server.pid}, {workers}, log {log}); stop it with: fastware stop"
                + ("" if pid_path == DEFAULT_PID_FILE else f" --pid-file {pid_path}")
            )
            return 0
        from fastware_server.run import run_foreground

        how = "with reload" if args.reload else f"over {(plan.interface or 'asgi').upper()}"

        def announce() -> None:  # once the PID file is written and the port checked
            say(
                f"fastware: serving {plan.display} on {plan.url} {how}, {workers} "
                f"(PID {os.getpid()}); press Ctrl-C to stop"
            )

        run_foreground(plan, pre_serve=announce, reload=args.reload)
        return 0


command = ServeCommand()
"""The ``serve`` command (entry point ``fastware.cli: serve``)."""
