"""Is the server answering? A small HTTP probe over TCP, TLS or a Unix socket.

A server counts as ready when one of its workers answers HTTP. Granian binds the socket
before its workers run the lifespan startup, so a connection alone proves nothing; an answer
comes only from a worker that has started and accepts. The probe sends a request line that
is not HTTP (:data:`PROBE_REQUEST`): Granian's HTTP parser answers it with its own
``400 Bad Request`` without calling the app, so the probe never reaches a route (the user's
or one the user did not write), never runs the app's middleware and never appears in the
access log as user traffic. Any bytes back count (other servers, such as Python's
``http.server``, answer such a line without a status line); a listener that accepts and says
nothing does not. For an HTTP/2-only server the probe sends the connection preface and waits
for the server's first frame.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = (
    "PROBE_REQUEST",
    "Endpoint",
    "answers",
    "wait_until_answering",
)

PROBE_REQUEST = b"FASTWARE-READINESS-PROBE\r\n\r\n"
"""What the readiness probe sends: not a valid HTTP request line, so the server's HTTP layer
answers ``400`` itself and the app never sees it (fastware 0.6.3 sent ``GET /health``, which
showed up in the access log as ``GET /health 404`` and ran the app's middleware)."""
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a server listens and how to talk to it."""

    host: str = "127.0.0.1"
    """The host it binds (a wildcard address is probed on loopback)."""
    port: int = 8000
    """The TCP port."""
    uds: str | None = None
    """A Unix socket path, used instead of host and port."""
    tls: bool = False
    """Whether it speaks HTTPS."""
    http2_only: bool = False
    """Whether it speaks HTTP/2 only."""

    @property
    def url(self) -> str:
        """``http://host:port`` (IPv6 in brackets), ``https://...``, or ``unix:/path``."""
        if self.uds is not None:
            return f"unix:{self.uds}"
        scheme = "https" if self.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    @property
    def probe_host(self) -> str:
        """The address to connect to: loopback for a wildcard bind."""
        return _WILDCARDS.get(self.host, self.host)


def _connect(endpoint: Endpoint, timeout: float) -> socket.socket:
    if endpoint.uds is not None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(endpoint.uds)
        except BaseException:
            sock.close()
            raise
        return sock
    return socket.create_connection((endpoint.probe_host, endpoint.port), timeout=timeout)


def answers(endpoint: Endpoint, timeout: float = 1.0) -> bool:
    """Whether the server at ``endpoint`` answers a request within ``timeout`` seconds."""
    try:
        sock = _connect(endpoint, timeout)
    except OSError:
        return False
    try:
        if endpoint.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            context.set_alpn_protocols(["h2"] if endpoint.http2_only else ["http/1.1"])
            sock = context.wrap_socket(sock)
        if endpoint.http2_only:
            sock.sendall(_H2_PREFACE)
            return len(_read(sock, 9)) >= 9  # the server's SETTINGS frame header
        sock.sendall(PROBE_REQUEST)
        # Granian (and Node, behind Vite) answer "HTTP/1.1 400"; Python's http.server answers
        # a line that is not HTTP/1.x without a status line. Any answer is a live listener.
        return len(_read(sock, 1)) == 1
    except (OSError, ssl.SSLError):
        return False
    finally:
        sock.close()


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def wait_until_answering(
    endpoint: Endpoint,
    timeout: float,
    still_starting: Callable[[], bool] = lambda: True,
    interval: float = 0.05,
) -> bool:
    """Poll until the server answers (``True``), stops starting or ``timeout`` passes.

    Args:
        endpoint: Where the server listens.
        timeout: Seconds to wait at most.
        still_starting: Called between attempts; returning false (the process died) stops
            the wait early.
        interval: Seconds between attempts.
    """
    deadline = time.monotonic() + timeout
    while True:
        if answers(endpoint, timeout=min(1.0, max(0.1, deadline - time.monotonic()))):
            return True
        if not still_starting() or time.monotonic() >= deadline:
            return False
        time.sleep(interval)
