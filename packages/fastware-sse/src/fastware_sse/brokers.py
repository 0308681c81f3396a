"""The broker seam: who numbers events, keeps the replay backlog and fans them out.

A :class:`Broker` receives every event a :class:`~fastware_sse.Broadcaster` publishes, gives
it an id, keeps a bounded backlog for clients that reconnect, and hands each event back to
the broadcaster of every process that should deliver it. :class:`MemoryBroker` does this
inside one process; :class:`~fastware_sse.RedisBroker` across processes and hosts.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import msgspec

from ._fork import renew_after_fork

__all__ = ("Broker", "Deliver", "Event", "MemoryBroker")


class Event(msgspec.Struct, frozen=True, gc=False):
    """One published event, as a broker stores and delivers it."""

    id: str
    """The id the broker gave it, sent as the ``id:`` field."""
    event: str
    """The event type."""
    data: str
    """The payload, already encoded as text."""


Deliver = Callable[[Event], None]
"""The callback a broker calls, on the event loop's thread, for every event to deliver."""


@runtime_checkable
class Broker(Protocol):
    """What a :class:`~fastware_sse.Broadcaster` needs from a broker.

    The broadcaster calls :meth:`start` and :meth:`publish` on the event loop's thread
    (``publish`` also before ``start``, from any thread while no loop is serving), and awaits
    :meth:`replay`, :meth:`latest_id`, :meth:`wait_ready` and :meth:`close` in that loop.
    """

    def start(self, deliver: Deliver) -> None:
        """Begin delivering events to ``deliver``, in a running event loop (may start tasks).

        Called again, with a new loop, when the broadcaster moves to another loop.
        """
        ...

    def publish(self, event: str, data: str) -> None:
        """Number and store an event, and arrange for it to be delivered. Never blocks."""
        ...

    async def wait_ready(self) -> None:
        """Return once events published from now on will reach ``deliver`` (the
        broadcaster bounds the wait with ``ready_timeout``)."""
        ...

    async def replay(self, last_event_id: str) -> list[Event] | None:
        """The events after ``last_event_id``, oldest first; ``None`` when that id is unknown
        (from another broker, or older than the backlog)."""
        ...

    async def latest_id(self) -> str | None:
        """The id of the newest event in the backlog, ``None`` when it is empty."""
        ...

    async def close(self) -> None:
        """Stop delivering and release connections; :meth:`start` may be called again."""
        ...


class MemoryBroker:
    """The default broker: events are numbered, kept and delivered in this process only.

    Ids are ``<prefix>-<n>``: a random prefix per broker and per process (a forked worker
    draws its own) and a counter, so an id from an earlier process (a browser reconnecting
    after a restart), from another worker or from another broadcaster is recognised as
    unknown, and the client gets a ``resync`` event.

    Under ``workers > 1`` each worker has its own broker, and a broadcast reaches only the
    clients of the worker that made it: fastware-server warns about that at startup (this
    class carries the ``fastware_process_local`` marker). Use
    :class:`~fastware_sse.RedisBroker` there.

    Args:
        backlog_size: How many recent events are kept for clients that reconnect.
    """

    __slots__ = (
        "__weakref__",
        "_backlog",
        "_counter",
        "_deliver",
        "_lock",
        "_prefix",
        "backlog_size",
    )

    def __init__(self, backlog_size: int = 1024) -> None:
        if backlog_size < 0:
            raise ValueError(f"backlog_size must be 0 or more, got {backlog_size}")
        self.backlog_size = backlog_size
        """How many recent events are kept for replay."""
        self._backlog: deque[Event] = deque(maxlen=backlog_size)
        self._counter = 0
        self._prefix = secrets.token_hex(4)
        self._deliver: Deliver | None = None
        self._lock = threading.Lock()
        renew_after_fork(self)

    def after_fork(self) -> None:
        """In a forked child: number events under a new prefix (the fork hook calls it)."""
        # Each forked worker numbers its own events: ids of the parent's prefix (the events
        # it kept) are no longer resumable here, and the other workers' ids never were.
        self._lock = threading.Lock()
        self._prefix = secrets.token_hex(4)
        self._deliver = None

    @property
    def fastware_process_local(self) -> str:
        """Tells fastware-server that this backend holds its state in one process."""
        return "the in-memory SSE broker (fastware_sse.MemoryBroker)"

    def start(self, deliver: Deliver) -> None:
        """Deliver every event published from now on to ``deliver``."""
        self._deliver = deliver

    def publish(self, event: str, data: str) -> None:
        """Number and store the event, then deliver it at once."""
        with self._lock:
            self._counter += 1
            item = Event(f"{self._prefix}-{self._counter}", event, data)
            self._backlog.append(item)
        deliver = self._deliver
        if deliver is not None:
            deliver(item)

    async def wait_ready(self) -> None:
        """Always ready: delivery is immediate."""

    def _number(self, event_id: str) -> int | None:
        prefix, _, number = event_id.rpartition("-")
        if prefix != self._prefix or not number.isdigit() or not number.isascii():
            return None
        return int(number)

    async def replay(self, last_event_id: str) -> list[Event] | None:
        """The kept events after ``last_event_id``, or ``None`` when it is unknown or older
        than the backlog."""
        number = self._number(last_event_id)
        with self._lock:
            if number is None or number > self._counter:
                return None
            missed = self._counter - number
            if missed == 0:
                return []
            if missed > len(self._backlog):
                return None
            return list(self._backlog)[-missed:]

    async def latest_id(self) -> str | None:
        """The id of the newest kept event."""
        with self._lock:
            return self._backlog[-1].id if self._backlog else None

    async def close(self) -> None:
        """Stop delivering; the backlog is kept, so a later :meth:`start` resumes."""
        self._deliver = None
