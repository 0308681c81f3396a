"""The ``fastware`` command line (also ``python -m fastware``).

Commands come from the entry-point group ``fastware.cli``: each entry point names an
object with a one-line ``help``, ``configure(parser)`` and ``run(args) -> int`` (the
:class:`Command` protocol). fastware-server contributes ``serve``, ``stop`` and
``status``, fastware-flags ``flags``; this package contributes ``routes`` and ``tasks``.
Only the command that runs is imported (``--help`` loads each command object for its
one-line summary, which imports no server code). Errors are printed as one line on stderr
with a non-zero exit status; ``--traceback`` shows the whole traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import EntryPoint, PackageNotFoundError, entry_points, version
from typing import Any, NoReturn, Protocol

from fastware_core import FastwareError

__all__ = (
    "ENTRY_POINT_GROUP",
    "Command",
    "OpenAPICommand",
    "RoutesCommand",
    "TasksCommand",
    "main",
    "openapi_command",
    "routes_command",
    "tasks_command",
)

ENTRY_POINT_GROUP = "fastware.cli"
"""The entry-point group sub-packages register their commands in."""
_PROG = "fastware"


class Command(Protocol):
    """What a ``fastware.cli`` entry point must name."""

    help: str
    """One line, shown by ``fastware --help``."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Declare the command's arguments on ``parser``."""

    def run(self, args: argparse.Namespace) -> int:
        """Run the command; return the exit status. Raise errors; they are printed."""


def _version() -> str:
    try:
        return version("fastware")
    except PackageNotFoundError:  # pragma: no cover - an uninstalled tree
        return "unknown"


def _discover() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry.name, entry)
    return dict(sorted(found.items()))


def _summary(entry: EntryPoint) -> str:
    try:
        return str(entry.load().help).strip().splitlines()[0]
    except Exception as exc:
        return f"(cannot be loaded: {type(exc).__name__}: {exc})"


def _help(commands: dict[str, EntryPoint]) -> str:
    width = max((len(name) for name in commands), default=0)
    lines = [
        f"usage: {_PROG} [--version] [--traceback] COMMAND [ARGS...]",
        "",
        "Serve and inspect fastware apps.",
        "",
        "commands:",
        *(f"  {name.ljust(width)}  {_summary(entry)}" for name, entry in commands.items()),
        "",
        "options:",
        "  -h, --help     show this help and exit",
        "  -V, --version  print the fastware version and exit",
        "  --traceback    on errors, show the traceback instead of one line",
        "",
        f"Run '{_PROG} COMMAND --help' for a command's options.",
    ]
    return "\n".join(lines)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, FastwareError | OSError | ValueError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text} (run with --traceback for details)"


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line naming ``--help`` instead of the whole usage."""

    def error(self, message: str) -> NoReturn:
        text = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {text} (try '{self.prog} --help')\n")


def _fail(prog: str, message: str, status: int = 1) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fastware`` command line; return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    show_traceback = False
    while args and args[0].startswith("-"):
        option = args.pop(0)
        if option in ("-h", "--help"):
            print(_help(_discover()))
            return 0
        if option in ("-V", "--version"):
            print(f"{_PROG} {_version()}")
            return 0
        if option == "--traceback":
            show_traceback = True
            continue
        return _fail(_PROG, f"unknown option {option} (try '{_PROG} --help')", 2)
    commands = _discover()
    if not args:
        print(_help(commands), file=sys.stderr)
        return 2
    name = args.pop(0)
    if name == "help":
        if not args:
            print(_help(commands))
            return 0
        name, args = args[0], ["--help"]
    entry = commands.get(name)
    if entry is None:
        known = ", ".join(commands) or "none installed"
        return _fail(
            _PROG, f"unknown command {name!r} (commands: {known}; try '{_PROG} --help')", 2
        )
    prog = f"{_PROG} {name}"
    try:
        command: Command = entry.load()
    except Exception as exc:
        if show_traceback:
            raise
        return _fail(prog, f"cannot load the command from {entry.value}: {_one_line(exc)}")
    parser = _Parser(prog=prog, description=command.help)
    command.configure(parser)
    options = parser.parse_args(args)
    try:
        return int(command.run(options) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if show_traceback:
            raise
        return _fail(prog, _one_line(exc))


# -- fastware routes ---------------------------------------------------------------------------


def _callable_name(function: Any) -> str:
    module = getattr(function, "__module__", None)
    name = getattr(function, "__qualname__", None) or repr(function)
    return f"{module}.{name}" if module else str(name)


def _dependencies(entry: Any) -> list[str]:
    from fastware_di import DependencyError, injected_parameters

    found = [f"{key}={_callable_name(value)}" for key, value in (entry.deps or {}).items()]
    try:
        marked = injected_parameters(entry.handler)
    except DependencyError:  # an app without fastware-di's resolver may hold such a route
        marked = []
    found += [f"{name}={_callable_name(factory)}" for name, factory in marked]
    return found


def _routes_table(app: Any) -> list[tuple[str, str, str, list[str], list[str]]]:
    """``(method, path, handler, feature flags, dependencies)`` per route and mount."""
    router = app if callable(getattr(app, "compile", None)) else getattr(app, "router", None)
    if router is None or not callable(getattr(router, "compile", None)):
        raise ValueError(f"{type(app).__name__} is not a fastware app or router")
    compiled = router.compile()
    rows = []
    for entry in compiled.entries:
        handler = _callable_name(entry.handler)
        rows.append((entry.method, entry.path, handler, list(entry.features), _dependencies(entry)))
    for entry in compiled.ws.entries if compiled.ws is not None else ():
        handler = _callable_name(entry.handler)
        rows.append(("WS", entry.path, handler, list(entry.features), _dependencies(entry)))
    for prefix, mounted in compiled.mounts_with_root():
        rows.append(("MOUNT", f"{prefix}/*", _callable_name(type(mounted)), [], []))
    return rows


class RoutesCommand:
    """``fastware routes MODULE:APP``."""

    help = (
        "List an app's routes: method, path, handler, feature flags and dependencies "
        "(--json for machines)."
    )

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Declare the arguments."""
        parser.add_argument(
            "target", metavar="MODULE:APP", help="the app (or a Router), e.g. hello:app"
        )
        parser.add_argument("--app-dir", metavar="DIR", help="import the app from DIR")
        parser.add_argument(
            "--json",
            action="store_true",
            help='print one JSON object: {"app", "routes": [{"method", "path", "handler", '
            '"features", "dependencies"}]}',
        )

    def run(self, args: argparse.Namespace) -> int:
        """Print the table (or the JSON)."""
        import json

        from fastware_server.targets import import_target, parse_target

        app = import_target(parse_target(args.target), args.app_dir, require_app=False)
        table = _routes_table(app)
        if args.json:
            routes = [
                {
                    "method": method,
                    "path": path,
                    "handler": handler,
                    "features": flags,
                    "dependencies": deps,
                }
                for method, path, handler, flags, deps in table
            ]
            print(json.dumps({"app": args.target, "routes": routes}))
            return 0
        rows = [("METHOD", "PATH", "HANDLER", "FEATURES", "DEPENDENCIES")]
        rows += [
            (m, p, h, ",".join(flags) or "-", ", ".join(deps) or "-")
            for m, p, h, flags, deps in table
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            print("  ".join([*cells, row[4]]).rstrip())
        return 0


routes_command = RoutesCommand()
"""The ``routes`` command (entry point ``fastware.cli: routes``)."""


# -- fastware openapi -------------------------------------------------------------------------


class OpenAPICommand:
    """``fastware openapi MODULE:APP``."""

    help = "Print an app's OpenAPI 3.1 document (JSON) or write it to a file."

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Declare the arguments."""
        parser.add_argument("target", metavar="MODULE:APP", help="the app, e.g. hello:app")
        parser.add_argument("--app-dir", metavar="DIR", help="import the app from DIR")
        parser.add_argument("--indent", type=int, default=2, help="spaces per level (0: compact)")
        parser.add_argument("--output", "-o", metavar="FILE", help="write to FILE, not stdout")

    def run(self, args: argparse.Namespace) -> int:
        """Build the document and print (or write) it."""
        import json
        from pathlib import Path

        from fastware_server.targets import import_target, parse_target

        if args.indent < 0:
            raise ValueError(f"--indent must be 0 or more, not {args.indent}")
        app = import_target(parse_target(args.target), args.app_dir, require_app=False)
        build = getattr(app, "openapi", None)
        if not callable(build):
            raise ValueError(
                f"{args.target} is a {type(app).__name__}, not a fastware app (create_app(...))"
            )
        document = build()
        text = json.dumps(document, indent=args.indent or None, ensure_ascii=False)
        if args.output:
            Path(args.output).write_text(text + "\n", encoding="utf-8")
        else:
            print(text)
        return 0


openapi_command = OpenAPICommand()
"""The ``openapi`` command (entry point ``fastware.cli: openapi``)."""


# -- fastware tasks ----------------------------------------------------------------------------


class TasksCommand:
    """``fastware tasks --status-dir DIR``."""

    help = "Show the background tasks of running workers (--json for machines)."

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Declare the arguments."""
        parser.description = (
            f"{self.help} Each worker publishes its tasks there when its TaskRegistry has "
            "status_dir=DIR."
        )
        parser.add_argument(
            "--status-dir", required=True, metavar="DIR", help="the registry's status_dir"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def run(self, args: argparse.Namespace) -> int:
        """Print one row per task per worker; exit 1 when the directory does not exist."""
        import json
        from pathlib import Path

        from fastware_core.tasks import read_status_dir

        directory = Path(args.status_dir)
        if not directory.is_dir():
            raise FastwareError(f"{directory} is not a directory (the registry's status_dir)")
        records = read_status_dir(directory)
        rows = [
            {**task, "registry": record.get("registry")}
            for record in records
            for task in record.get("tasks", [])
        ]
        if args.json:
            print(json.dumps({"status_dir": str(directory), "tasks": rows}))
            return 0
        if not rows:
            print(f"no running workers publish tasks in {directory}")
            return 0
        table = [("PID", "TASK", "STATE", "ONCE", "FEATURE", "RESTARTS", "ERROR")]
        table += [
            (
                str(row.get("pid")),
                str(row.get("name")),
                str(row.get("state")),
                str(row.get("once")),
                str(row.get("feature") or "-"),
                str(row.get("restarts")),
                str(row.get("error") or "-"),
            )
            for row in rows
        ]
        widths = [max(len(row[i]) for row in table) for i in range(6)]
        for line in table:
            cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
            print("  ".join([*cells, line[6]]).rstrip())
        return 0


tasks_command = TasksCommand()
"""The ``tasks`` command (entry point ``fastware.cli: tasks``)."""
