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
        where.add_argument(
            "--host", help="the address to listen on (default 127.0.0.1; 0.0.0.0 for every one)"
        )
        where.add_argument(
            "--port", type=int, help="the TCP port (default 8000; 0 picks a free one)"
        )
        where.add_argument(
            "--uds", metavar="PATH", help="listen on this Unix socket instead of host and port"
        )
        where.add_argument(
            "--name",
            default="FASTWARE",
            help="the prefix of the environment variables read for the address: "
            "<NAME>_HOST and <NAME>_PORT (default FASTWARE)",
        )
        run = parser.add_argument_group("process")
        run.add_argument(
            "--workers",
            type=_count,
            default=1,
            help="worker processes, each running the app (default 1)",
        )
        run.add_argument(
            "--threads",
            type=_count,
            default=1,
            help="Granian's network threads per worker; your Python code runs on one (default 1)",
        )
        run.add_argument(
            "--loop",
            choices=("asyncio", "uvloop", "rloop"),
            default="asyncio",
            help="the event loop each worker runs: asyncio (the standard library's, "
            "the default), uvloop (faster; pip install uvloop) or rloop (Granian's, "
            "experimental)",
        )
        run.add_argument(
            "--interface",
            choices=("auto", "rsgi", "asgi"),
            default="auto",
            help="how Granian calls the app: auto (RSGI for fastware apps, ASGI for any "
            "other app; the default), rsgi (Granian's faster interface) or asgi",
        )
        run.add_argument(
            "--app-dir", metavar="DIR", help="import the app from DIR (default: the current one)"
        )
        run.add_argument(
            "--reload", action="store_true", help="restart when a .py file under DIR changes"
        )
        run.add_argument(
            "--daemon",
            action="store_true",
            help="run in the background and return once the app answers (see --log-file)",
        )
        run.add_argument(
            "--pid-file",
            type=Path,
            default=DEFAULT_PID_FILE,
            metavar="PATH",
            help=f"where to record the PID, for 'fastware stop' and 'fastware status' "
            f"(default: {DEFAULT_PID_FILE})",
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
            metavar="SECONDS",
            help="on stop, seconds open requests and streams get before the workers are "
            "killed (default 10)",
        )
        run.add_argument(
            "--startup-timeout",
            type=_seconds,
            default=30.0,
            metavar="SECONDS",
            help="--daemon: seconds to wait for the app to answer (default 30)",
        )
        http = parser.add_argument_group("HTTP")
        http.add_argument(
            "--http",
            choices=("auto", "1", "2"),
            default="auto",
            help="HTTP versions to speak: auto (HTTP/1.1, and HTTP/2 for clients that ask; "
            "the default), 1 (HTTP/1.1 only) or 2 (HTTP/2 only)",
        )
        http.add_argument(
            "--ssl-cert", metavar="PEM", help="TLS certificate file: serve HTTPS (with --ssl-key)"
        )
        http.add_argument("--ssl-key", metavar="PEM", help="TLS private key file")
        http.add_argument(
            "--backlog",
            type=_count,
            default=1024,
            metavar="N",
            help="connections the operating system queues while all workers are busy "
            "(default 1024)",
        )
        http.add_argument(
            "--backpressure",
            type=_count,
            default=None,
            metavar="N",
            help="requests (and open streams, e.g. SSE clients) one worker handles at once "
            "(default: backlog / workers)",
        )
        http.add_argument(
            "--no-keep-alive",
            action="store_true",
            help="close each HTTP/1.1 connection after one request",
        )
        http.add_argument(
            "--keep-alive-timeout",
            type=_seconds,
            default=20.0,
            metavar="SECONDS",
            help="HTTP/2: close a connection whose client does not answer a keep-alive ping "
            "within this many seconds (default 20)",
        )
        http.add_argument(
            "--header-read-timeout",
            type=_seconds,
            default=30.0,
            metavar="SECONDS",
            help="HTTP/1.1: seconds a client gets to send its request headers (default 30)",
        )
        http.add_argument(
            "--no-websockets", action="store_true", help="refuse WebSocket connections"
        )
        ops = parser.add_argument_group("operations")
        ops.add_argument(
            "--workers-lifetime",
            type=int,
            metavar="SECONDS",
            help="replace each worker after this many seconds (at least 60)",
        )
        ops.add_argument(
            "--workers-max-rss",
            type=int,
            metavar="MIB",
            help="replace a worker whose memory grows above this many MiB",
        )
        ops.add_argument(
            "--respawn-failed-workers",
            action="store_true",
            help="start a new worker when one dies, instead of stopping the server",
        )
        ops.add_argument(
            "--access-log",
            action="store_true",
            help='log one line per request: [time] client - "METHOD path protocol" status ms',
        )
        ops.add_argument(
            "--log-level",
            choices=("critical", "error", "warning", "info", "debug"),
            default="info",
            help="the least important server messages shown (default info)",
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
            stop_command = "fastware stop" + (
                "" if pid_path == DEFAULT_PID_FILE else f" --pid-file {pid_path}"
            )
            say(
                f"fastware: serving {plan.display} on {plan.url} in the background "
                f"(PID {server.pid}, {workers}, log {log}); stop it with: {stop_command}"
            )
            return 0
        from fastware_server.run import run_foreground

        def announce() -> None:  # once the PID file is written and the port checked
            say(
                startup_block(
                    plan,
                    pid=os.getpid(),
                    reload=args.reload,
                    pid_path=pid_path,
                    app_dir=args.app_dir,
                )
            )

        run_foreground(plan, pre_serve=announce, reload=args.reload)
        return 0


def startup_block(
    plan: Any, *, pid: int, reload: bool, pid_path: Path | None, app_dir: str | None
) -> str:
    """What ``fastware serve`` prints before serving: one line, then one fact per line."""
    interface = (plan.interface or "auto").upper()
    if interface == "AUTO":
        interface = "RSGI for fastware apps, else ASGI (decided when the app is imported)"
    stop = "Ctrl-C, or 'fastware stop" + (
        "'" if pid_path in (None, DEFAULT_PID_FILE) else f" --pid-file {pid_path}'"
    )
    rows = [
        ("app", plan.display + (f" (from {app_dir})" if app_dir else "")),
        ("url", plan.url),
        ("interface", interface),
        ("workers", f"{plan.workers} (main PID {pid})"),
        ("reload", "on: restarts when a .py file changes" if reload else "off"),
        ("PID file", str(pid_path) if pid_path is not None else "none"),
        ("stop", stop if pid_path is not None else "Ctrl-C"),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"fastware: serving {plan.display} on {plan.url}"]
    lines += [f"  {label.ljust(width)}  {value}" for label, value in rows]
    return "\n".join(lines)


command = ServeCommand()
"""The ``serve`` command (entry point ``fastware.cli: serve``)."""
