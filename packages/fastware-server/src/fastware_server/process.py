"""Processes and the files that name them: liveness, identity, PID and port files.

A PID names a process only while that process lives; afterwards the kernel may give the
number to anything. So a PID read from a file is trusted only when the process behind it
is alive, is not a zombie, and is the one that was recorded: its start time (from
``/proc/<pid>/stat``) equals the recorded one, or, for files without a record, it started
before the file was written. A file without a record (0.6.3's bare PID, or one written by
hand) must also name a process whose command line is a server's (:func:`is_server_command`),
so that it can never lead to signalling an unrelated program.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import time
from pathlib import Path

__all__ = (
    "children_of",
    "command_line",
    "is_alive",
    "is_same_process",
    "is_server_command",
    "port_file_for",
    "process_start",
    "read_int_file",
    "read_port_file",
    "remove_owned_file",
    "send_signal",
    "wait_gone",
    "write_int_file",
)

_PROC = Path("/proc")
# A file without an identity record: a process that started more than this many seconds
# after the file was written cannot be the one the file names.
_MTIME_SLACK = 1.0


def read_int_file(path: str | os.PathLike[str]) -> int | None:
    """The decimal number in ``path``; ``None`` when the file does not exist.

    Raises:
        ValueError: the file holds something other than a positive decimal number.
    """
    try:
        text = Path(path).read_text(encoding="ascii", errors="replace").strip()
    except FileNotFoundError:
        return None
    if not text.isdigit() or int(text) <= 0:
        raise ValueError(f"{path} does not hold a number: {text[:40]!r}")
    return int(text)


def write_int_file(path: str | os.PathLike[str], value: int, *, exclusive: bool = False) -> None:
    """Write ``value`` as bare decimal text (no newline), atomically.

    Readers never see a half-written file: the text goes to a temporary file first, which is
    then renamed over ``path`` or, with ``exclusive``, linked to it.

    Raises:
        FileExistsError: ``exclusive`` is set and ``path`` exists.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes files private; PID files are for every reader
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(str(value))
        if exclusive:
            os.link(temporary, target)  # fails with FileExistsError, atomically
        else:
            os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def remove_owned_file(path: str | os.PathLike[str], value: int) -> None:
    """Delete ``path`` if it still holds ``value`` (another server may have replaced it)."""
    try:
        current = read_int_file(path)
    except (ValueError, OSError):
        return
    if current == value:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def port_file_for(pid_path: str | os.PathLike[str]) -> Path:
    """The port file that goes with a PID file: ``.app.pid`` -> ``.app.port``."""
    return Path(pid_path).with_suffix(".port")


def read_port_file(pid_path: str | os.PathLike[str]) -> int | None:
    """The port recorded next to ``pid_path``; ``None`` when missing or corrupt.

    Args:
        pid_path: The PID file; the port file is the same path with a ``.port`` suffix.
    """
    try:
        return read_int_file(port_file_for(pid_path))
    except (ValueError, OSError):
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (field 3 onwards)."""
    try:
        data = (_PROC / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may itself contain ") ".
    return data[data.rindex(")") + 2 :].split()


def process_start(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot; ``None`` without ``/proc``.

    Two processes with the same PID never have the same start time, so (PID, start)
    identifies a process for as long as the machine runs.
    """
    fields = _stat_fields(pid)
    if fields is None or len(fields) < 20:
        return None
    return int(fields[19])


def _start_epoch(pid: int) -> float | None:
    """When ``pid`` started, in seconds since the epoch (``None`` without ``/proc``)."""
    ticks = process_start(pid)
    if ticks is None:
        return None
    boot = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def _reap(pid: int) -> bool:
    """Collect ``pid`` if it is an exited child of ours; ``True`` if it was."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid


def is_alive(pid: int) -> bool:
    """Whether ``pid`` is a running process; a zombie (exited, not yet reaped) is not.

    With ``/proc`` the zombie is recognised by its state and left for its parent to reap
    (so a ``subprocess.Popen`` still gets its exit status); without ``/proc`` an exited
    child of ours is reaped instead.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, it belongs to someone else
    fields = _stat_fields(pid)
    if fields is None:
        if _PROC.is_dir():
            return (_PROC / str(pid)).exists()
        return not _reap(pid)
    return fields[0] not in ("Z", "X", "x")


def is_same_process(pid: int, start: int | None, written_at: float | None) -> bool:
    """Whether the live process ``pid`` is the one a record describes.

    Args:
        pid: The PID to check.
        start: Its start time as recorded (:func:`process_start`), if recorded.
        written_at: When the file naming it was written (``st_mtime``), used when no start
            time was recorded: a process that started later cannot be the one named.

    Returns:
        ``False`` when the PID now belongs to another process; ``True`` when it matches or
        nothing can tell (no ``/proc``).
    """
    if start is not None:
        current = process_start(pid)
        return current is None or current == start
    if written_at is not None:
        started = _start_epoch(pid)
        return started is None or started <= written_at + _MTIME_SLACK
    return True


def command_line(pid: int) -> list[str] | None:
    """The arguments ``pid`` was started with (``/proc/<pid>/cmdline``); ``None`` when they
    cannot be read (no ``/proc``, another user's process on a hardened system, gone)."""
    try:
        data = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode("utf-8", "replace") for part in data.split(b"\0") if part]


# The programs a fastware server runs as: ``fastware serve`` (the console script or
# ``python -m fastware``), the detached child (``python -m fastware_server._child``) and
# Granian itself (``granian`` or ``python -m granian``).
_SERVER_PROGRAMS = ("fastware", "granian")


def _program_name(arg: str) -> str:
    return arg.replace("\\", "/").rsplit("/", 1)[-1].split(".", 1)[0].lower()


def is_server_command(argv: list[str]) -> bool:
    """Whether a command line is one a fastware server runs as.

    The program, or for a Python interpreter the module it runs (``-m``) or its script,
    must be named after fastware or Granian. ``python app.py`` (an app that calls
    ``fastware.serve`` itself) is not recognised: its PID file carries an identity record,
    so this check is only made for files without one.
    """
    if not argv:
        return False
    program = _program_name(argv[0])
    if program.startswith(_SERVER_PROGRAMS):
        return True
    if not program.startswith("python"):
        return False
    args = iter(argv[1:])
    for arg in args:
        if arg == "-m":
            return _program_name(next(args, "")).startswith(_SERVER_PROGRAMS)
        if arg.startswith("-m"):
            return _program_name(arg[2:]).startswith(_SERVER_PROGRAMS)
        if arg.startswith("-c"):
            return False
        if arg in ("-X", "-W"):
            next(args, None)  # the option's value
        elif not arg.startswith("-"):
            return _program_name(arg).startswith(_SERVER_PROGRAMS)  # the script
    return False


def children_of(pid: int) -> list[int]:
    """The PIDs whose parent is ``pid`` (Granian's workers for its main process)."""
    children = []
    try:
        entries = os.listdir(_PROC)
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None and len(fields) > 1 and fields[1] == str(pid):
            children.append(int(entry))
    return sorted(children)


def send_signal(pid: int, signum: signal.Signals) -> bool:
    """Send ``signum`` to ``pid``; ``False`` if the process is already gone.

    Raises:
        PermissionError: the process belongs to another user.
    """
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False
    return True


def wait_gone(pid: int, timeout: float, interval: float = 0.05) -> bool:
    """Wait up to ``timeout`` seconds for ``pid`` to end; ``True`` once it has."""
    deadline = time.monotonic() + timeout
    while is_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True
