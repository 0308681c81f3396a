"""Server-sent events for fastware: broadcaster, resumable streams, Redis fan-out.

    from fastware_core import Router, create_app
    from fastware_sse import Broadcaster, sse_route

    broadcaster = Broadcaster(heartbeat_interval=15)
    broadcaster.register_event("price")

    router = Router()
    router.add_route("GET", "/events", sse_route(broadcaster))
    app = create_app(router)

    broadcaster.broadcast("price", {"symbol": "ACME", "price": 12.5})

With several workers, share the events through Redis:
``Broadcaster(broker="redis://localhost:6379/0")``. ``RedisBroker`` (and redis-py) is
imported only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .broadcaster import RESYNC_EVENT, Broadcaster, sse_route
from .brokers import Broker, Event, MemoryBroker
from .exceptions import BrokerError, EventValidationError, SSEError, UnknownEventError
from .framing import encode_payload, format_event

if TYPE_CHECKING:
    from .redis_broker import RedisBroker

__all__ = (
    "RESYNC_EVENT",
    "Broadcaster",
    "Broker",
    "BrokerError",
    "Event",
    "EventValidationError",
    "MemoryBroker",
    "RedisBroker",
    "SSEError",
    "UnknownEventError",
    "encode_payload",
    "format_event",
    "sse_route",
)


def __getattr__(name: str) -> Any:
    if name == "RedisBroker":
        from .redis_broker import RedisBroker

        return RedisBroker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
