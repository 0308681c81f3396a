"""Flag overrides in Redis, shared by every worker on every host (``fastware-flags[redis]``).

The overrides are a Redis hash (flag name -> ``"1"``/``"0"``). A write sets one field and
publishes on a channel in one transaction. Each process keeps a copy in memory, kept current
by a background thread that subscribes to the channel and re-reads the hash after every
notification and every reconnect, so reading a flag never touches the network. The thread is
started lazily in each process (after a fork, the child starts its own).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from fastware_core import MissingPackageError

from .stores import FlagStoreError, parse_overrides

__all__ = ("RedisFlagStore",)

_log = logging.getLogger("fastware.flags")
_CONNECT_TIMEOUT = 2.0
_MAX_RETRY = 5.0


def _import_redis() -> Any:
    try:
        import redis
    except ImportError:  # pragma: no cover - the extra is installed where it is used
        raise MissingPackageError("fastware-flags[redis]", "the Redis flag store") from None
    return redis


def _public_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class RedisFlagStore:
    """Overrides in the Redis hash ``key``, change notices on ``channel``.

    Args:
        url: a redis-py URL (``redis://host:6379/0``).
        key: the hash holding the overrides.
        channel: the pub/sub channel for change notices (default ``<key>:changed``).
        initial_timeout: seconds to wait, at construction, for the first read; on timeout
            (Redis down) the store starts empty, reports the error and keeps retrying.
    """

    def __init__(
        self,
        url: str,
        *,
        key: str = "fastware:flags",
        channel: str | None = None,
        initial_timeout: float = _CONNECT_TIMEOUT,
    ) -> None:
        self._redis = _import_redis()
        self.url = url
        self.key = key
        """The Redis hash of the overrides."""
        self.channel = channel or f"{key}:changed"
        """The channel every write publishes on."""
        self._values: dict[str, bool] = {}
        self._version = 0  # bumped by the listener for every fresh read
        self._seen_version = -1
        self._error: str | None = None
        self._lock = threading.Lock()
        self._pid = -1
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._first_read = threading.Event()
        self._writer: Any = None
        self._writer_pid = -1
        self._ensure_listener()
        self._first_read.wait(initial_timeout)

    @classmethod
    def from_url(cls, url: str) -> RedisFlagStore:
        """A store from ``redis://...?key=NAME&channel=NAME`` (the query names are removed
        before the URL reaches redis-py)."""
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        key = query.pop("key", ["fastware:flags"])[-1]
        channel = query.pop("channel", [None])[-1]
        rest = urlencode({name: values[-1] for name, values in query.items()})
        plain = urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment))
        return cls(plain, key=key, channel=channel)

    @property
    def description(self) -> str:
        """``redis <url without password> key <key>``."""
        return f"redis {_public_url(self.url)} key {self.key}"

    # -- reading -----------------------------------------------------------------------------

    def _ensure_listener(self) -> None:
        pid = os.getpid()
        if self._pid == pid and self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._pid == pid and self._thread is not None and self._thread.is_alive():
                return
            self._pid = pid
            self._stop = threading.Event()
            self._first_read = threading.Event()
            self._thread = threading.Thread(
                target=self._listen, name="fastware-flags-redis", daemon=True
            )
            self._thread.start()

    def changed(self) -> bool:
        """Whether the listener read new overrides since the last :meth:`load` (and start
        the listener in this process if it does not run)."""
        self._ensure_listener()
        return self._version != self._seen_version

    def load(self) -> dict[str, bool]:
        """The overrides as last read from Redis (from memory).

        Raises:
            FlagStoreError: when Redis is unreachable or the hash holds malformed values.
        """
        self._ensure_listener()
        self._seen_version = self._version
        error = self._error
        if error is not None:
            raise FlagStoreError(error)
        return dict(self._values)

    def _client(self) -> Any:
        return self._redis.Redis.from_url(
            self.url,
            socket_connect_timeout=_CONNECT_TIMEOUT,
            socket_timeout=10.0,
            health_check_interval=10,
        )

    def _fetch(self, client: Any) -> None:
        raw = client.hgetall(self.key)
        decoded: dict[str, Any] = {}
        for name, value in raw.items():
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            flag = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
            decoded[flag] = {"1": True, "0": False}.get(text, text)
        try:
            values = parse_overrides(decoded, self.description)
        except FlagStoreError as exc:
            self._fail(str(exc))
            return
        self._values = values
        self._error = None
        self._version += 1
        self._first_read.set()

    def _fail(self, message: str) -> None:
        if message != self._error:
            self._error = message
            self._version += 1
        self._first_read.set()

    def _listen(self) -> None:
        redis = self._redis
        stop = self._stop
        delay = 0.2
        while not stop.is_set():
            client = pubsub = None
            try:
                client = self._client()
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                self._fetch(client)  # after subscribing: no change slips between the two
                delay = 0.2
                while not stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._fetch(client)
            except (redis.RedisError, OSError) as exc:
                self._fail(f"{self.description} is unreachable: {exc}")
                _log.warning("Flag store %s: %s; retrying in %.1f s", self.description, exc, delay)
                stop.wait(delay)
                delay = min(delay * 2, _MAX_RETRY)
            finally:
                for closable in (pubsub, client):
                    if closable is not None:
                        try:
                            closable.close()
                        except Exception:  # pragma: no cover - closing a broken socket
                            pass

    # -- writing -----------------------------------------------------------------------------

    def update(self, name: str, value: bool | None) -> dict[str, bool]:
        """Set or remove one field and publish the change, in one transaction."""
        redis = self._redis
        if self._writer is None or self._writer_pid != os.getpid():
            self._writer = self._client()
            self._writer_pid = os.getpid()
        try:
            pipe = self._writer.pipeline(transaction=True)
            if value is None:
                pipe.hdel(self.key, name)
            else:
                pipe.hset(self.key, name, "1" if value else "0")
            pipe.publish(self.channel, name)
            pipe.hgetall(self.key)
            results = pipe.execute()
        except (redis.RedisError, OSError) as exc:
            raise FlagStoreError(f"cannot write to {self.description}: {exc}") from None
        raw = results[-1]
        decoded = {
            (k.decode() if isinstance(k, bytes) else str(k)): (
                {"1": True, "0": False}.get(v.decode() if isinstance(v, bytes) else str(v))
            )
            for k, v in raw.items()
        }
        return {k: v for k, v in decoded.items() if v is not None}

    def close(self) -> None:
        """Stop the listener and close the writer's connection."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(3)
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # pragma: no cover
                pass
            self._writer = None

    def __repr__(self) -> str:
        return f"RedisFlagStore({_public_url(self.url)!r}, key={self.key!r})"
