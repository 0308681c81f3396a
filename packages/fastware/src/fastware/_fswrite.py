"""Compatibility path ``fastware._fswrite`` (fastware 0.6.3's private helper): a file writer
that appends lines and rewrites whole files without losing or tearing data.

0.6.3 held one ``threading.Lock`` per writer, which protected one process only: two workers
appending to the same file could interleave, and a crash during ``overwrite`` left a
truncated file. This writer also takes an exclusive ``flock`` on a lock file beside the data
file (so processes take turns), appends each line with a single ``write`` on a file opened
for appending, and replaces a file by writing a temporary file beside it, ``fsync``-ing it
and renaming it over the old one, so a reader sees the old content or the new, never a mix.
POSIX only (``fcntl``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ("LockedFileWriter",)


class LockedFileWriter:
    """Append lines to, or rewrite, one file, safely across threads and processes.

    Args:
        path: The file; missing parent directories are created on the first write.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        """The file written."""
        self._lock = threading.Lock()

    def append_line(self, line: str) -> None:
        """Append ``line`` and a newline (unless it ends with one) as one write."""
        data = (line if line.endswith("\n") else line + "\n").encode("utf-8")
        with self._lock, self._file_lock():
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                view = memoryview(data)
                while view:  # a regular file takes it in one write; loop for the odd short one
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)

    def overwrite(self, text: str) -> None:
        """Replace the file's content with ``text``, atomically."""
        with self._lock, self._file_lock():
            fd, temporary = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
            )
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as file:
                    file.write(text)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        """The exclusive lock other processes writing the file take too."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path(), os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def _lock_path(self) -> Path:
        # A lock file beside the data file: ``overwrite`` replaces the data file by rename, so
        # a lock held on it would be on a file that is no longer the one at ``path``.
        return self.path.with_name(f".{self.path.name}.lock")
