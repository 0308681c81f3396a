"""The server process of ``serve_background``, ``--daemon`` and the reloader.

Run as ``python -m fastware_server._child [--detach] NAME`` with the spec (JSON) on stdin;
``NAME`` (the target) is there for ``ps`` only. With ``--detach`` it
forks: the parent prints the server's PID and exits at once, the child starts a new
session and serves with its output on the inherited stderr (the log file). A failure is
printed as one ``fastware-server: error: ...`` line and exits with status 1.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence

from fastware_server.config import ServerConfig
from fastware_server.detached import ERROR_PREFIX
from fastware_server.exceptions import StartupError
from fastware_server.run import serve
from fastware_server.targets import IMPORTING_ENV, TargetRef, import_target


def _detach() -> None:
    pid = os.fork()  # a fresh, single-threaded interpreter: forking is safe here
    if pid:
        os.write(1, f"{pid}\n".encode("ascii"))
        os._exit(0)
    os.setsid()
    os.dup2(2, 1)  # stdout to the log too; this also closes our end of the launcher's pipe


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the spec given on the command line; return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    spec = json.loads(sys.stdin.read())
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    if args and args[0] == "--detach":
        _detach()
    ref = TargetRef.from_json(spec["target"])
    if ref.path is not None and ref.path not in sys.path:
        sys.path.insert(0, ref.path)
    try:
        # A module that starts a server when imported (no `if __name__ == "__main__":`)
        # would start servers without end; serve() refuses while this is set.
        os.environ[IMPORTING_ENV] = "1"
        try:
            import_target(ref, spec["config"].get("app_dir"))
        finally:
            del os.environ[IMPORTING_ENV]
        serve(
            str(ref),
            foreground=True,
            host=spec["host"],
            port=spec["port"],
            pid_path=spec["pid_path"],
            name=spec["name"],
            single_instance=spec["single_instance"],
            loop=spec["loop"],
            workers=spec["workers"],
            config=ServerConfig.from_json(spec["config"]),
        )
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # The launcher says "<app> did not start: <this line>": a StartupError's own message
        # already begins so, and only its reason is printed.
        text = exc.reason if isinstance(exc, StartupError) and exc.reason else str(exc)
        message = " ".join(text.split()) or type(exc).__name__
        print(f"{ERROR_PREFIX}{message}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
