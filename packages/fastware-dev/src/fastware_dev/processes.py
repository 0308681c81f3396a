"""Child processes of the dev environment: each in its own process group, its output read
line by line (never a pipe that nobody reads) and kept for error reports."""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from fastware_server.process import process_start

from .exceptions import DevRunError
from .output import Printer

__all__ = ("KEEP_LINES", "DevProcess", "group_alive", "kill_group", "teardown")

KEEP_LINES = 40
"""How many of a process's last output lines are kept for error reports."""
_KILL_WAIT = 5.0


def group_alive(pgid: int) -> bool:
    """Whether any process of process group ``pgid`` still runs (zombies aside)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # killpg succeeds while a zombie member is unreaped: look for a live member.
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            data = Path(f"/proc/{entry}/stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        fields = data[data.rindex(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


def kill_group(pgid: int, signum: int) -> None:
    """Send ``signum`` to process group ``pgid``; a gone group is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


class DevProcess:
    """A component of the dev environment.

    Args:
        name: The component's name (its output prefix).
        cmd: The command and its arguments (no shell).
        cwd: Working directory.
        env: Variables set over ``os.environ``.
        grace_s: Seconds :meth:`stop` waits after SIGTERM before SIGKILL.
        printer: Where its output lines go (default: a printer on stdout).
    """

    def __init__(
        self,
        name: str,
        cmd: Sequence[str],
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        grace_s: float = 10.0,
        printer: Printer | None = None,
    ) -> None:
        self.name = name
        self.cmd = list(cmd)
        self.cwd = Path(cwd) if cwd is not None else None
        self.env = dict(env or {})
        self.grace_s = grace_s
        self.printer = printer if printer is not None else Printer([name])
        self.printer.add(name)
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._lines: collections.deque[str] = collections.deque(maxlen=KEEP_LINES)
        self.start_time: int | None = None
        """The process's start time (``/proc`` clock ticks), its identity with the PID."""

    @property
    def pid(self) -> int | None:
        """The PID (also the process group id), or ``None`` before :meth:`start`."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Start the process in a new session, its stdout and stderr read by a thread.

        Raises:
            DevRunError: the command does not exist or cannot be run.
        """
        if self.cwd is not None and not self.cwd.is_dir():
            raise DevRunError(f"{self.name}: the working directory {self.cwd} does not exist")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        try:
            self._proc = subprocess.Popen(
                self.cmd,
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except FileNotFoundError:
            raise DevRunError(
                f"{self.name}: command not found: {self.cmd[0]} (is it installed and on PATH?)"
            ) from None
        except PermissionError:
            raise DevRunError(f"{self.name}: {self.cmd[0]} is not executable") from None
        except OSError as exc:
            raise DevRunError(f"{self.name}: cannot run {self.cmd[0]}: {exc.strerror}") from None
        self.start_time = process_start(self._proc.pid)
        assert self._proc.stdout is not None
        self._reader = threading.Thread(
            target=self._read,
            args=(self._proc.stdout,),
            name=f"fastware-dev-{self.name}",
            daemon=True,
        )
        self._reader.start()

    def _read(self, stream: IO[bytes]) -> None:
        with stream:
            for raw in iter(stream.readline, b""):
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                text = text.rsplit("\r", 1)[-1]  # progress bars redraw with \r
                self._lines.append(text)
                self.printer.line(self.name, text)

    def output(self) -> list[str]:
        """The last output lines (at most :data:`KEEP_LINES`), oldest first."""
        return list(self._lines)

    def is_running(self) -> bool:
        """Whether the process has not exited."""
        return self._proc is not None and self._proc.poll() is None

    def returncode(self) -> int | None:
        """The exit status once it exited (negative: the signal that killed it)."""
        return self._proc.poll() if self._proc is not None else None

    def wait_output(self, timeout: float = 2.0) -> None:
        """Wait (a little) until the output of an exited process has been read."""
        if self._reader is not None:
            self._reader.join(timeout)

    def forward_signal(self, signum: int) -> None:
        """Send ``signum`` to the process's group."""
        if self._proc is not None:
            kill_group(self._proc.pid, signum)

    def stop(self, grace_s: float | None = None) -> None:
        """SIGTERM the group, wait the grace period, then SIGKILL what is left of it."""
        proc = self._proc
        if proc is None:
            return
        grace = self.grace_s if grace_s is None else grace_s
        pgid = proc.pid
        if proc.poll() is None or group_alive(pgid):
            kill_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if proc.poll() is not None and not group_alive(pgid):
                break
            time.sleep(0.05)
        else:
            kill_group(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(_KILL_WAIT)
        if group_alive(pgid):  # members that ignored SIGTERM after the leader exited
            kill_group(pgid, signal.SIGKILL)
        self.wait_output()


def teardown(components: Sequence[DevProcess], grace_s: float) -> None:
    """Stop ``components`` in reverse order, each within ``grace_s`` seconds."""
    for component in reversed(components):
        component.stop(grace_s)
