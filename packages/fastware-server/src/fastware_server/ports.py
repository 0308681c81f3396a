"""Ports: is one free, who holds it, and a free one to use (IPv4 and IPv6)."""

from __future__ import annotations

import errno
import ipaddress
import os
import signal
import socket
import time
from pathlib import Path

from .control import check_already_running
from .exceptions import PortInUseError, ServerError
from .process import children_of, send_signal

__all__ = (
    "bind_address",
    "ensure_port_available",
    "free_port",
    "port_holders",
    "port_is_free",
)

_PROC_NET = Path("/proc/net")
_LISTEN = "0A"
_RECLAIM_ATTEMPTS = 10
_RECLAIM_INTERVAL = 0.5


def bind_address(host: str) -> str:
    """The IP address to bind for ``host``: IP literals as they are, names resolved.

    Granian binds IP addresses only; ``localhost`` becomes ``127.0.0.1`` (or ``::1``).

    Raises:
        ServerError: the name does not resolve.
    """
    candidate = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(candidate, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ServerError(f"cannot resolve host {host!r}: {exc.strerror}") from None
    families = sorted(infos, key=lambda info: info[0] != socket.AF_INET)  # IPv4 first
    return str(families[0][4][0])


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def port_is_free(host: str, port: int) -> bool:
    """Whether a listening socket could bind ``host:port`` right now.

    Binds the address family of ``host`` (IPv6 hosts get an IPv6 probe) with
    ``SO_REUSEADDR``, as servers do, so connections in ``TIME_WAIT`` do not count.

    Raises:
        ServerError: the address cannot be bound for another reason (not a local address).
    """
    address = bind_address(host)
    with socket.socket(_family(address), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            if exc.errno == errno.EACCES:
                raise ServerError(
                    f"cannot bind {host}:{port}: permission denied (ports below 1024 need "
                    "privileges)"
                ) from None
            raise ServerError(f"cannot bind {host}:{port}: {exc.strerror}") from None
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port that nobody listens on at ``host`` right now (another process may take it)."""
    address = bind_address(host)
    with socket.socket(_family(address), socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
        return port


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (_PROC_NET / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _LISTEN:
                continue
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def port_holders(port: int) -> list[int]:
    """The PIDs with a socket listening on ``port`` (those we are allowed to see).

    Reads ``/proc/net/tcp{,6}`` and the processes' file descriptors; gives ``[]`` where
    ``/proc`` is not available. The main process comes first: a holder whose parent also
    holds the port (a worker sharing its socket) sorts after it.
    """
    inodes = _listening_inodes(port)
    if not inodes:
        return []
    wanted = {f"socket:[{inode}]" for inode in inodes}
    holders = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fd_dir = f"/proc/{entry}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") in wanted:
                    holders.append(int(entry))
                    break
            except OSError:
                continue
    workers = {child for pid in holders for child in children_of(pid)}
    return sorted(holders, key=lambda pid: (pid in workers, pid))


def _owner(pid: int) -> int:
    """``pid``, or its parent when that runs the same program (a server whose workers hold
    the socket: Granian's workers bind it, not its main process)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            data = stat.read()
        parent = int(data[data.rindex(")") + 2 :].split()[1])
        if parent > 1 and os.readlink(f"/proc/{parent}/exe") == os.readlink(f"/proc/{pid}/exe"):
            return parent
    except (OSError, ValueError, IndexError):
        pass
    return pid


def ensure_port_available(
    host: str, port: int, name: str = "server", pid_path: str | os.PathLike[str] | None = None
) -> int:
    """Return ``port`` if ``host:port`` can be bound; otherwise raise, naming the holder.

    If the port is held by the server recorded in ``pid_path`` (a previous run of the same
    server, proved by its PID file and identity record), that server is sent SIGTERM and the
    port is tried again for up to 5 seconds. Nothing whose ownership is not proved is ever
    signalled.

    Args:
        host: The host to bind (IPv4 or IPv6 address, or a name).
        port: The port to check.
        name: What is being started, for the error message.
        pid_path: The PID file of an earlier instance of this server, if any.

    Raises:
        PortInUseError: the port is taken; ``holder`` is the PID holding it when visible.
        ServerError: the address cannot be bound at all (not local, no permission).
    """
    if port_is_free(host, port):
        return port
    holders = port_holders(port)
    if pid_path is not None and holders:
        owner = check_already_running(pid_path)
        if owner is not None and owner in {*holders, *map(_owner, holders)}:
            send_signal(owner, signal.SIGTERM)
            for _ in range(_RECLAIM_ATTEMPTS):
                time.sleep(_RECLAIM_INTERVAL)
                if port_is_free(host, port):
                    return port
    raise PortInUseError(host, port, _owner(holders[0]) if holders else None, name)
