"""Rate limiting: the 0.6.3 ``@rate_limit`` decorator (token buckets) and its backends.

``@rate_limit("5/minute")`` gives each client a bucket of 5 tokens that refills at 5 per
minute, continuously; a request takes one token, and a request that finds less than one
gets ``429 {"detail": "Rate limit exceeded"}`` with ``Retry-After`` and ``RateLimit-*``
headers (a refused request does not drain the bucket further).

Where it sits: below or above ``@router.get(...)``, either works when the app was made by
``fastware.create_app`` (or with :class:`~fastware_auth.RateLimitInjector`): the limit is
then checked *before* the route's dependencies are resolved, so a flood never opens
database connections. On a bare fastware-core app without that injector, put it below the
route decorator; the limit is then checked inside the handler call, after dependencies.

Backends: :class:`MemoryRateLimitBackend` (default; per process, bounded memory) and
:class:`~fastware_auth.RedisRateLimitBackend` (one atomic server-side script per check, so a
limit holds exactly across workers and hosts).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import ipaddress
import math
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, NamedTuple, Protocol, TypeVar, runtime_checkable

from fastware_core import HTTPError

__all__ = (
    "RATE_LIMIT_ATTRIBUTE",
    "LimitedHandler",
    "MemoryRateLimitBackend",
    "Rate",
    "RateLimit",
    "RateLimitBackend",
    "RateLimitDecision",
    "TrustedProxies",
    "parse_rate",
    "rate_limit",
)

F = TypeVar("F", bound=Callable[..., Any])

RATE_LIMIT_ATTRIBUTE = "__fastware_rate_limit__"
"""The attribute ``@rate_limit`` sets on the function it wraps and on its wrapper."""

_PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
_RATE = re.compile(r"\s*(\d+)\s*/\s*(second|minute|hour|day)s?\s*")


class Rate(NamedTuple):
    """A parsed rate: ``limit`` requests per ``period`` seconds."""

    limit: int
    """Requests allowed per period (the bucket's capacity)."""
    period: float
    """The period in seconds."""

    def __str__(self) -> str:
        for name, seconds in _PERIODS.items():
            if seconds == self.period:
                return f"{self.limit}/{name}"
        return f"{self.limit}/{self.period:g}s"


def parse_rate(rate: str | Rate) -> Rate:
    """Parse ``"N/second"``, ``"N/minute"``, ``"N/hour"`` or ``"N/day"`` (N >= 1).

    Raises:
        ValueError: for anything else.
    """
    if isinstance(rate, Rate):
        return rate
    match = _RATE.fullmatch(rate) if isinstance(rate, str) else None
    if match is None or int(match.group(1)) < 1:
        raise ValueError(
            f"Invalid rate {rate!r}: use 'N/second', 'N/minute', 'N/hour' or 'N/day' with N >= 1"
        )
    return Rate(int(match.group(1)), _PERIODS[match.group(2)])


class RateLimitDecision(NamedTuple):
    """The outcome of one check."""

    allowed: bool
    """Whether the request may proceed (a token was taken)."""
    limit: int
    """The bucket's capacity."""
    remaining: int
    """Whole tokens left after this request."""
    retry_after: float
    """Seconds until a refused client may try again (0 when allowed)."""
    reset_after: float
    """Seconds until the bucket is full again."""


@runtime_checkable
class RateLimitBackend(Protocol):
    """Where buckets live (the seam for shared backends)."""

    async def hit(self, key: str, limit: int, period: float) -> RateLimitDecision:
        """Refill ``key``'s bucket, then take one token if there is one, atomically."""
        ...


def _decision(allowed: bool, limit: int, tokens: float, rate: float) -> RateLimitDecision:
    if allowed:
        return RateLimitDecision(True, limit, int(tokens), 0.0, (limit - tokens) / rate)
    return RateLimitDecision(False, limit, 0, (1.0 - tokens) / rate, (limit - tokens) / rate)


class MemoryRateLimitBackend:
    """Token buckets in this process's memory, least recently used first.

    Memory stays bounded under a flood of distinct keys: a bucket that has refilled
    completely carries no information and is dropped, and beyond ``max_keys`` the least
    recently used bucket is dropped (that client starts full again). Under ``workers > 1``
    each worker counts separately, so a limit of N admits up to N per worker: use
    :class:`~fastware_auth.RedisRateLimitBackend` there (the server warns at startup).

    Args:
        max_keys: The most buckets kept at once.
    """

    fastware_process_local = "an in-memory rate limiter (MemoryRateLimitBackend)"
    """Tells ``fastware serve --workers N`` to warn: counters are not shared."""

    def __init__(self, max_keys: int = 100_000) -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, got {max_keys}")
        self.max_keys = max_keys
        self.buckets: dict[str, list[float]] = {}
        """key -> ``[tokens, last refill (monotonic), full again at]``, oldest first."""
        self.evicted = 0
        """How many buckets were dropped before they had refilled (because of ``max_keys``)."""
        self._lock = threading.Lock()

    def hit_now(self, key: str, limit: int, period: float) -> RateLimitDecision:
        """:meth:`hit`, synchronously (it never waits)."""
        refused = self.consume(key, limit, period)
        rate = limit / period
        if refused is not None:
            return _decision(False, limit, refused, rate)
        return _decision(True, limit, self.buckets[key][0], rate)

    def consume(self, key: str, limit: int, period: float) -> float | None:
        """Take a token from ``key``'s bucket: ``None`` when one was taken, else the tokens
        left (under 1). The fast path of :meth:`hit_now`, without building a decision."""
        now = time.monotonic()
        rate = limit / period
        buckets = self.buckets
        with self._lock:
            bucket = buckets.get(key)
            if bucket is None:
                tokens = limit - 1.0
                self._make_room(now)
                buckets[key] = [tokens, now, now + 1.0 / rate]
                return None
            tokens = bucket[0] + (now - bucket[1]) * rate
            if tokens > limit:
                tokens = float(limit)
            if tokens < 1.0:
                return tokens
            tokens -= 1.0
            del buckets[key]  # move to the end: most recently used
            bucket[0] = tokens
            bucket[1] = now
            bucket[2] = now + (limit - tokens) / rate
            buckets[key] = bucket
        return None

    def _make_room(self, now: float) -> None:
        buckets = self.buckets
        # Drop refilled buckets from the old end (two per insert keeps up with any flood).
        for _ in range(2):
            oldest = next(iter(buckets), None)
            if oldest is None or buckets[oldest][2] > now:
                break
            del buckets[oldest]
        while len(buckets) >= self.max_keys:
            del buckets[next(iter(buckets))]
            self.evicted += 1

    async def hit(self, key: str, limit: int, period: float) -> RateLimitDecision:
        """Refill ``key``'s bucket, then take one token if there is one."""
        return self.hit_now(key, limit, period)

    def clear(self) -> None:
        """Forget every bucket."""
        with self._lock:
            self.buckets.clear()


class TrustedProxies:
    """Which peers may tell the client's address through ``X-Forwarded-For``.

    The client is the rightmost address in ``X-Forwarded-For`` that is not a trusted proxy,
    and forwarded headers are read only when the direct peer is trusted: a client talking to
    the app directly cannot pick its own identity.

    Args:
        proxies: Addresses or networks (``"127.0.0.1"``, ``"10.0.0.0/8"``, ``"::1"``).

    Raises:
        ValueError: for an entry that is not an address or network.
    """

    __slots__ = ("_exact", "_networks")

    def __init__(self, proxies: Iterable[str]) -> None:
        self._exact: set[str] = set()
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for proxy in proxies:
            try:
                network = ipaddress.ip_network(proxy.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted proxy {proxy!r} is not an IP address or network"
                ) from None
            if network.num_addresses == 1:
                self._exact.add(str(network.network_address))
            else:
                self._networks.append(network)

    def __bool__(self) -> bool:
        return bool(self._exact or self._networks)

    def trusts(self, address: str) -> bool:
        """Whether ``address`` is a trusted proxy."""
        if address in self._exact:
            return True
        if not self._networks:
            return False
        parsed = _parse_ip(address)
        return parsed is not None and any(
            parsed.version == net.version and parsed in net for net in self._networks
        )

    def client(self, peer: str, forwarded: Sequence[str]) -> str:
        """The client address for a request from ``peer`` with these
        ``X-Forwarded-For`` header values."""
        if not forwarded or not self.trusts(peer):
            return peer
        hops = [hop.strip() for value in forwarded for hop in value.split(",")]
        client = peer
        for hop in reversed(hops):
            address = _hop_address(hop)
            if address is None:
                break  # garbage: stop at the last address we could trust
            client = address
            if not self.trusts(address):
                break
        return client


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _hop_address(hop: str) -> str | None:
    if hop.startswith("["):  # [v6]:port
        hop = hop[1 : hop.find("]")] if "]" in hop else ""
    elif hop.count(":") == 1:  # v4:port
        hop = hop.partition(":")[0]
    parsed = _parse_ip(hop)
    return None if parsed is None else str(parsed)


@functools.lru_cache(maxsize=4096)
def _ipv6_network(address: str, prefix: int) -> str:
    try:
        return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
    except ValueError:
        return address


def _default_key(connection: Any, proxies: TrustedProxies | None, ipv6_prefix: int | None) -> str:
    client = connection.client
    if client is None or not client[0]:
        return "unknown"
    host = str(client[0])
    if proxies:
        host = proxies.client(host, connection.headers.getlist("x-forwarded-for"))
    if ipv6_prefix is not None and ":" in host:
        return _ipv6_network(host, ipv6_prefix)
    return host


class RateLimit:
    """One limit: a rate, how clients are told apart, and where buckets live.

    Made by :func:`rate_limit`; usable directly too (``await limit.check(request)``).

    Args:
        rate: ``"N/minute"`` and the like, or a :class:`Rate`.
        key_func: ``key_func(request) -> str`` names the bucket (e.g. the user or an API
            key); by default the client's IP address (see ``trusted_proxies``), with IPv6
            addresses grouped by ``ipv6_prefix``.
        backend: Where buckets live; a new :class:`MemoryRateLimitBackend` by default.
        trusted_proxies: Proxies whose ``X-Forwarded-For`` is believed (addresses or
            networks, or a :class:`TrustedProxies`).
        ipv6_prefix: Clients in one IPv6 network of this prefix length share a bucket (one
            host usually owns a whole /64); ``None`` keys on the full address.
        name: Prefix of the bucket keys in a shared backend (default: the handler's name).
        label: What to call the limit in messages (default: ``name``).
    """

    __slots__ = (
        "_local",
        "backend",
        "ipv6_prefix",
        "key_func",
        "label",
        "name",
        "proxies",
        "rate",
    )

    def __init__(
        self,
        rate: str | Rate,
        key_func: Callable[[Any], Any] | None = None,
        *,
        backend: RateLimitBackend | None = None,
        trusted_proxies: Iterable[str] | TrustedProxies | None = None,
        ipv6_prefix: int | None = 64,
        name: str = "",
        label: str | None = None,
    ) -> None:
        self.rate = parse_rate(rate)
        self.label = label if label is not None else name
        self.key_func = key_func
        self.backend: RateLimitBackend = (
            backend if backend is not None else MemoryRateLimitBackend()
        )
        self._local = self.backend if isinstance(self.backend, MemoryRateLimitBackend) else None
        if trusted_proxies is None or isinstance(trusted_proxies, TrustedProxies):
            self.proxies = trusted_proxies
        else:
            self.proxies = TrustedProxies(trusted_proxies)
        if ipv6_prefix is not None and not 1 <= ipv6_prefix <= 128:
            raise ValueError(f"ipv6_prefix must be 1..128 or None, got {ipv6_prefix}")
        self.ipv6_prefix = ipv6_prefix
        self.name = name

    def key(self, connection: Any) -> str:
        """The bucket key for a request (or WebSocket)."""
        if self.key_func is not None:
            key = str(self.key_func(connection))
        else:
            key = _default_key(connection, self.proxies, self.ipv6_prefix)
        return f"{self.name}:{key}" if self.name else key

    async def hit(self, connection: Any) -> RateLimitDecision:
        """Take a token for this request's client; the decision, without raising."""
        local = self._local
        if local is not None:
            return local.hit_now(self.key(connection), self.rate.limit, self.rate.period)
        return await self.backend.hit(self.key(connection), self.rate.limit, self.rate.period)

    async def check(self, connection: Any) -> None:
        """Take a token, or raise the 429.

        Raises:
            HTTPError: 429 ``Rate limit exceeded`` with ``Retry-After`` and ``RateLimit-*``.
        """
        local = self._local
        if local is not None:
            decision = local.hit_now(self.key(connection), self.rate.limit, self.rate.period)
        else:
            decision = await self.backend.hit(
                self.key(connection), self.rate.limit, self.rate.period
            )
        if not decision.allowed:
            raise self.exceeded(decision)

    def _refuse(self, tokens: float) -> HTTPError:
        return self.exceeded(
            _decision(False, self.rate.limit, tokens, self.rate.limit / self.rate.period)
        )

    def exceeded(self, decision: RateLimitDecision) -> HTTPError:
        """The 429 error for a refused decision."""
        retry = max(1, math.ceil(decision.retry_after))
        return HTTPError(
            429,
            "Rate limit exceeded",
            headers=[
                ("Retry-After", str(retry)),
                ("RateLimit-Limit", str(decision.limit)),
                ("RateLimit-Remaining", "0"),
                ("RateLimit-Reset", str(max(1, math.ceil(decision.reset_after)))),
                ("RateLimit-Policy", f"{decision.limit};w={int(self.rate.period)}"),
            ],
        )

    @property
    def process_local(self) -> str | None:
        """A description when this limit counts in this process only, else ``None``."""
        marker = getattr(self.backend, "fastware_process_local", None)
        if isinstance(marker, str) and marker:
            where = f" on {self.label}" if self.label else ""
            return f"a {self.rate} rate limit{where} ({type(self.backend).__name__})"
        return None

    def __repr__(self) -> str:
        return f"RateLimit({str(self.rate)!r}, backend={type(self.backend).__name__})"


def _is_async(handler: Any) -> bool:
    target = handler
    while isinstance(target, functools.partial):
        target = target.func
    if inspect.iscoroutinefunction(target):
        return True
    call = getattr(type(target), "__call__", None)  # noqa: B004 - objects with async __call__
    return not inspect.isfunction(target) and inspect.iscoroutinefunction(call)


def _as_async(handler: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    if _is_async(handler):
        return handler

    async def call_in_thread(*args: Any, **kwargs: Any) -> Any:
        result = await asyncio.to_thread(handler, *args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    return call_in_thread


class LimitedHandler:
    """What ``@rate_limit`` records on a handler: its limits and how to call it unchecked.

    The app's injector (:class:`~fastware_auth.RateLimitInjector`) reads it at startup to
    check the limits before resolving dependencies, whichever side of the route decorator
    ``@rate_limit`` sat on.
    """

    __slots__ = ("limits", "original", "unchecked", "wrapper")

    def __init__(
        self,
        limits: tuple[RateLimit, ...],
        original: Callable[..., Any],
        unchecked: Callable[..., Awaitable[Any]],
        wrapper: Callable[..., Any],
    ) -> None:
        self.limits = limits
        """The limits, outermost decorator first."""
        self.original = original
        """The undecorated handler."""
        self.unchecked = unchecked
        """Calls the handler without checking (async, sync handlers in a thread)."""
        self.wrapper = wrapper
        """The function ``@rate_limit`` returned."""

    async def check(self, connection: Any) -> None:
        """Check every limit, in order.

        Raises:
            HTTPError: the 429 of the first limit that refuses.
        """
        for limit in self.limits:
            await limit.check(connection)

    def guard(self, call: Callable[[Any], Awaitable[Any]]) -> Callable[[Any], Awaitable[Any]]:
        """``call`` preceded by the limit checks (what the injector gives the app)."""
        limits = self.limits
        if len(limits) == 1:
            (limit,) = limits
            local = limit._local
            if local is not None:
                capacity, period = limit.rate
                key = limit.key
                refuse = limit._refuse
                consume = local.consume
                prefix = limit.ipv6_prefix
                if limit.key_func is None and not limit.proxies and not limit.name:
                    # The common case, inlined: the peer's address names the bucket.

                    async def guarded_by_address(connection: Any) -> Any:
                        client = connection.client
                        host = client[0] if client is not None and client[0] else "unknown"
                        if prefix is not None and ":" in host:
                            host = _ipv6_network(host, prefix)
                        refused = consume(host, capacity, period)
                        if refused is not None:
                            raise refuse(refused)
                        return await call(connection)

                    return guarded_by_address

                async def guarded_local(connection: Any) -> Any:
                    refused = consume(key(connection), capacity, period)
                    if refused is not None:
                        raise refuse(refused)
                    return await call(connection)

                return guarded_local

        check = self.check

        async def guarded(connection: Any) -> Any:
            await check(connection)
            return await call(connection)

        return guarded


def rate_limit(
    rate: str | Rate,
    key_func: Callable[[Any], Any] | None = None,
    *,
    backend: RateLimitBackend | None = None,
    trusted_proxies: Iterable[str] | TrustedProxies | None = None,
    ipv6_prefix: int | None = 64,
    name: str | None = None,
) -> Callable[[F], F]:
    """Limit a route handler to ``rate`` requests per client (fastware 0.6.3's decorator).

    Works below or above the route decorator when the app's injector is a
    :class:`~fastware_auth.RateLimitInjector` (``fastware.create_app`` sets one up), and
    the limit is then checked before dependencies; see the module docs. Several
    ``@rate_limit`` decorators stack (all must admit the request).

    Args:
        rate: ``"N/second"``, ``"N/minute"``, ``"N/hour"`` or ``"N/day"``.
        key_func: ``key_func(request) -> str`` names the bucket; the client IP by default.
        backend: A shared backend (Redis); each decorated handler gets its own
            in-memory buckets by default.
        trusted_proxies: Proxies whose ``X-Forwarded-For`` is believed.
        ipv6_prefix: IPv6 clients are grouped by this prefix length (``None``: no grouping).
        name: Bucket key prefix in a shared backend (default: ``module.qualname`` of the
            handler). Handlers sharing a name share their buckets.

    Raises:
        ValueError: for an invalid rate, at decoration time.
    """
    parsed = parse_rate(rate)

    def decorate(handler: F) -> F:
        if not callable(handler):
            raise TypeError(f"@rate_limit decorates a handler, got {handler!r}")
        inner = getattr(handler, RATE_LIMIT_ATTRIBUTE, None)
        stacked = isinstance(inner, LimitedHandler) and handler is inner.wrapper
        original = inner.original if stacked and inner is not None else handler
        label = f"{getattr(original, '__module__', '')}.{getattr(original, '__qualname__', '')}"
        prefix = name if name is not None else (label if backend is not None else "")
        limit = RateLimit(
            parsed,
            key_func,
            backend=backend,
            trusted_proxies=trusted_proxies,
            ipv6_prefix=ipv6_prefix,
            name=prefix,
            label=label,
        )
        unchecked = inner.unchecked if stacked and inner is not None else _as_async(handler)

        @functools.wraps(handler)
        async def wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
            await record.check(request)
            return await unchecked(request, *args, **kwargs)

        limits = (limit, *(inner.limits if stacked and inner is not None else ()))
        record = LimitedHandler(limits, original, unchecked, wrapper)
        setattr(wrapper, RATE_LIMIT_ATTRIBUTE, record)
        if isinstance(limit.backend, MemoryRateLimitBackend):
            wrapper._buckets = limit.backend.buckets  # type: ignore[attr-defined]
        for target in {id(handler): handler, id(original): original}.values():
            # Placed above the route decorator, the router holds `handler` itself: mark it,
            # so that the injector finds the limit on the registered function.
            try:
                setattr(target, RATE_LIMIT_ATTRIBUTE, record)
            except (AttributeError, TypeError):
                pass
        return wrapper  # type: ignore[return-value]

    return decorate
