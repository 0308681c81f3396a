"""The errors fastware-sse raises, all under :class:`fastware_core.FastwareError`."""

from __future__ import annotations

from fastware_core import FastwareError

__all__ = ("BrokerError", "EventValidationError", "SSEError", "UnknownEventError")


class SSEError(FastwareError):
    """Root of the errors raised by fastware-sse."""


class UnknownEventError(SSEError, ValueError):
    """A strict :class:`~fastware_sse.Broadcaster` was asked to send an unregistered event.

    It is a ``ValueError`` too, as in fastware 0.6.3.
    """


class EventValidationError(SSEError, ValueError):
    """A payload does not match the type its event was registered with, or cannot be
    encoded as JSON."""


class BrokerError(SSEError):
    """A broker was configured wrongly (for example an unsupported ``broker=`` URL)."""
