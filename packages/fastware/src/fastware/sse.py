"""Compatibility path ``fastware.sse`` (fastware 0.6.3): server-sent events from fastware-sse."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastware_sse import (
    RESYNC_EVENT,
    Broadcaster,
    Broker,
    BrokerError,
    Event,
    EventValidationError,
    MemoryBroker,
    SSEError,
    UnknownEventError,
    encode_payload,
    format_event,
    sse_route,
)

if TYPE_CHECKING:
    from fastware_sse import RedisBroker

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
    if name == "RedisBroker":  # imports redis-py: only on first use
        from fastware_sse import RedisBroker

        return RedisBroker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
