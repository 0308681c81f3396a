"""Who runs a ``once=`` background task: :class:`TaskLock`, :class:`HostLock` (once per
host, an OS file lock) and :class:`RedisLease` (once per cluster). Re-exported by
:mod:`fastware_core.tasks`, which documents them."""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path
from typing import Any, Protocol

__all__ = ("HostLock", "RedisLease", "TaskLock")


class TaskLock(Protocol):
    """Decides which process runs a ``once=`` task: only the holder of the lock runs it."""

    renew_interval: float | None
    """Seconds between :meth:`renew` calls while held; ``None`` when it never lapses."""

    async def acquire(self) -> bool:
        """Take the lock if it is free; ``True`` when this process holds it now."""
        ...

    async def renew(self) -> bool:
        """Keep holding it; ``False`` when it was lost (the task is then stopped)."""
        ...

    async def release(self) -> None:
        """Give it up (nothing when it is not held)."""
        ...


class HostLock:
    """Once per host: an exclusive ``flock`` on a file, held by one process at a time.

    The kernel releases the lock when the holding process dies (even by SIGKILL), so another
    worker takes the task over at its next attempt. Works between the processes of one host
    only (not on network file systems, where ``flock`` may not be shared); POSIX only.
    """

    renew_interval: float | None = None

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        """The lock file (created with its directory when missing; never deleted)."""
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this process holds the lock."""
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock without waiting; ``True`` when held (synchronous form)."""
        import fcntl

        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release_now(self) -> None:
        """Give the lock up (synchronous form)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the flock

    async def acquire(self) -> bool:
        """Take the lock without waiting; ``True`` when held."""
        return self.try_acquire()

    async def renew(self) -> bool:
        """A flock does not lapse: ``True`` while held."""
        return self._fd is not None

    async def release(self) -> None:
        """Give the lock up."""
        self.release_now()

    def __repr__(self) -> str:
        return f"HostLock({str(self.path)!r})"


_RENEW = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
)
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('del', KEYS[1]) else return 0 end"
)


class RedisLease:
    """Once per cluster: a lease in Redis (``SET key token NX PX ttl``), renewed while held.

    ``client`` is an async Redis client (``redis.asyncio.Redis``) or a function returning one,
    called on first use in the worker (so a client is never shared across a fork). The holder
    renews every ``ttl / 3`` seconds; when it dies, the lease lapses after at most ``ttl``
    seconds and another process takes it at its next attempt. A holder that cannot renew (Redis
    unreachable, lease expired) stops its task. Limits: a process stalled for longer than
    ``ttl`` (a stopped VM) may overlap with its successor until it notices; this is a lease,
    not a fencing token.
    """

    def __init__(self, client: Any, key: str, *, ttl: float = 15.0) -> None:
        if ttl <= 0:
            raise ValueError(f"ttl must be positive, got {ttl!r}")
        self._client_or_factory = client
        self._client: Any = None
        self.key = key
        """The Redis key of the lease."""
        self.ttl = ttl
        """Seconds the lease lives without renewal."""
        self.renew_interval: float | None = ttl / 3
        self._token: str | None = None

    @property
    def held(self) -> bool:
        """Whether this process believes it holds the lease."""
        return self._token is not None

    def _redis(self) -> Any:
        if self._client is None:
            source = self._client_or_factory
            self._client = source if hasattr(source, "set") else source()
        return self._client

    async def acquire(self) -> bool:
        """Take the lease if nobody holds it."""
        if self._token is not None:
            return await self.renew()
        token = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(8)}"
        ok = await self._redis().set(self.key, token, nx=True, px=int(self.ttl * 1000))
        if ok:
            self._token = token
            return True
        return False

    async def renew(self) -> bool:
        """Extend the lease; ``False`` (and not held any more) when it was lost."""
        token = self._token
        if token is None:
            return False
        try:
            kept = await self._redis().eval(_RENEW, 1, self.key, token, int(self.ttl * 1000))
        except BaseException:
            self._token = None
            raise
        if not kept:
            self._token = None
        return bool(kept)

    async def release(self) -> None:
        """Delete the lease if this process still holds it."""
        token, self._token = self._token, None
        if token is not None:
            await self._redis().eval(_RELEASE, 1, self.key, token)

    def __repr__(self) -> str:
        return f"RedisLease(key={self.key!r}, ttl={self.ttl})"
