"""Redis backends: rate limits and token revocation shared by every worker and host.

Needs the ``redis`` package (``pip install 'fastware-auth[redis]'``); it is imported when a
backend is created, never by ``import fastware_auth``.

- :class:`RedisRateLimitBackend` runs the whole token-bucket step (refill, check, take) in
  one Lua script on the server, with the server's clock, so concurrent requests through any
  number of workers and hosts see one bucket: a limit of N admits exactly N.
- :class:`RedisRevocationStore` keeps revoked token ids with an expiry equal to the token's,
  so Redis forgets them when the token would have expired anyway.
- :class:`RedisSessionBackend` stores server-side sessions for fastware-core's
  ``SessionMiddleware`` (``backend=``), one key per session expiring with it, so every worker
  and host sees the same sessions.
"""

from __future__ import annotations

import math
import time
from typing import Any

import msgspec

from fastware_core.sessions import SessionTooLargeError

from .exceptions import AuthConfigurationError
from .ratelimit import RateLimitDecision

__all__ = ("RedisRateLimitBackend", "RedisRevocationStore", "RedisSessionBackend")

# KEYS[1] bucket; ARGV[1] limit; ARGV[2] period in milliseconds. Returns {allowed, tokens}.
# Tokens travel as a string: Lua numbers in replies are truncated to integers.
_TOKEN_BUCKET = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local rate = limit / period
local state = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(state[1])
local stamp = tonumber(state[2])
if tokens == nil or stamp == nil then
  tokens = limit
else
  local elapsed = now - stamp
  if elapsed < 0 then elapsed = 0 end
  tokens = math.min(limit, tokens + elapsed * rate)
end
if tokens < 1 then
  return {0, tostring(tokens)}
end
tokens = tokens - 1
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((limit - tokens) / rate) + 1000)
return {1, tostring(tokens)}
"""


def _client(url: str | None, client: Any, max_connections: int) -> Any:
    if (url is None) == (client is None):
        raise AuthConfigurationError("pass either a Redis URL or a redis.asyncio client")
    if client is not None:
        return client
    try:
        import redis.asyncio as redis_asyncio
    except ImportError as exc:  # pragma: no cover - the extra is missing
        raise AuthConfigurationError(
            "the Redis backends need the redis package: pip install 'fastware-auth[redis]'"
        ) from exc
    assert url is not None
    # A blocking pool: under a burst, requests wait for a free connection instead of
    # failing with "Too many connections".
    pool = redis_asyncio.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=10
    )
    return redis_asyncio.Redis.from_pool(pool)  # the client owns (and closes) the pool


class RedisRateLimitBackend:
    """Token buckets in Redis, checked and consumed by one atomic server-side script.

    Args:
        url: A Redis URL (``redis://host:6379/0``); or pass ``client``.
        client: A ``redis.asyncio.Redis`` client to use instead of ``url``.
        prefix: Prefix of every key this backend writes.
        max_connections: Connections kept to Redis per process; more concurrent checks wait.

    A Redis error propagates (the request gets a 500, and the error is logged): a limiter
    that silently admitted everything while Redis is down would be no limiter.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,
        prefix: str = "fastware:rl:",
        max_connections: int = 32,
    ) -> None:
        self.client = _client(url, client, max_connections)
        self.prefix = prefix
        self._script = self.client.register_script(_TOKEN_BUCKET)

    async def hit(self, key: str, limit: int, period: float) -> RateLimitDecision:
        """Refill ``key``'s bucket, then take one token if there is one (atomically)."""
        period_ms = max(1, int(period * 1000))
        allowed, tokens_text = await self._script(keys=[self.prefix + key], args=[limit, period_ms])
        tokens = float(tokens_text)
        rate = limit / period
        if int(allowed):
            return RateLimitDecision(True, limit, int(tokens), 0.0, (limit - tokens) / rate)
        return RateLimitDecision(False, limit, 0, (1.0 - tokens) / rate, (limit - tokens) / rate)

    async def reset(self, key: str) -> None:
        """Forget ``key``'s bucket (it starts full again)."""
        await self.client.delete(self.prefix + key)

    async def aclose(self) -> None:
        """Close the client's connections."""
        await self.client.aclose()


class RedisRevocationStore:
    """Revoked tokens in Redis, shared by every worker and host.

    Each revoked ``jti`` is a key that expires with its token; a per-user cut-off is a key
    that expires when the last token it covers would have. One round trip per check
    (``MGET`` of both keys).

    Args:
        url: A Redis URL; or pass ``client``.
        client: A ``redis.asyncio.Redis`` client to use instead of ``url``.
        prefix: Prefix of every key this store writes.
        max_connections: Connections kept to Redis per process; more concurrent checks wait.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,
        prefix: str = "fastware:revoked:",
        max_connections: int = 32,
    ) -> None:
        self.client = _client(url, client, max_connections)
        self.prefix = prefix

    async def revoke(self, jti: str, expires_at: float) -> None:
        """Revoke ``jti`` until ``expires_at`` (epoch seconds)."""
        ttl = math.ceil((float(expires_at) - time.time()) * 1000)
        if ttl <= 0:
            return  # already expired: nothing to remember
        await self.client.set(f"{self.prefix}jti:{jti}", b"1", px=ttl)

    async def revoke_subject(self, subject: str, issued_before: float, until: float) -> None:
        """Revoke every token of ``subject`` issued at or before ``issued_before``."""
        ttl = math.ceil((float(until) - time.time()) * 1000)
        if ttl <= 0:
            return
        key = f"{self.prefix}sub:{subject}"
        # Keep the later cut-off if two revocations race (a Lua max would be exact; a cut-off
        # moves forward only, so SET with GET and a retry is enough).
        cutoff = repr(float(issued_before))
        previous = await self.client.set(key, cutoff, px=ttl, get=True)
        if previous is not None and float(previous) > float(issued_before):
            await self.client.set(key, previous, px=ttl)

    async def is_revoked(self, jti: str | None, subject: str | None, issued_at: float) -> bool:
        """Whether the token is revoked (by id, or by its subject's cut-off)."""
        keys = [
            f"{self.prefix}jti:{jti}" if jti is not None else f"{self.prefix}jti:",
            f"{self.prefix}sub:{subject}" if subject is not None else f"{self.prefix}sub:",
        ]
        by_id, cutoff = await self.client.mget(keys)
        if jti is not None and by_id is not None:
            return True
        return subject is not None and cutoff is not None and issued_at <= float(cutoff)

    async def aclose(self) -> None:
        """Close the client's connections."""
        await self.client.aclose()


class RedisSessionBackend:
    """Server-side sessions in Redis for ``SessionMiddleware(backend=...)``: one key per
    session (JSON), expiring ``max_age`` seconds after it was last saved, shared by every
    worker and host.

    Args:
        url: A Redis URL; or pass ``client``.
        client: A ``redis.asyncio.Redis`` client to use instead of ``url``.
        prefix: Prefix of every key this backend writes.
        max_size: Largest encoded session in bytes (``SessionTooLargeError`` beyond).
        max_connections: Connections kept to Redis per process; more concurrent calls wait.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,
        prefix: str = "fastware:session:",
        max_size: int = 1024 * 1024,
        max_connections: int = 32,
    ) -> None:
        self.client = _client(url, client, max_connections)
        self.prefix = prefix
        self.max_size = max_size

    async def load(self, session_id: str) -> dict[str, Any] | None:
        """The stored session, or ``None`` when it does not exist, expired or is unreadable."""
        raw = await self.client.get(self.prefix + session_id)
        if raw is None:
            return None
        try:
            data = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            return None
        return data if isinstance(data, dict) else None

    async def save(self, session_id: str, data: dict[str, Any], max_age: int | None) -> None:
        """Store a session for ``max_age`` seconds (``None``: until deleted).

        Raises:
            SessionTooLargeError: past ``max_size``.
        """
        blob = msgspec.json.encode(data)
        if len(blob) > self.max_size:
            raise SessionTooLargeError(
                f"The session is {len(blob)} bytes; the Redis backend's limit is {self.max_size}"
            )
        await self.client.set(self.prefix + session_id, blob, ex=max_age)

    async def delete(self, session_id: str) -> None:
        """Remove a session."""
        await self.client.delete(self.prefix + session_id)

    async def aclose(self) -> None:
        """Close the client's connections."""
        await self.client.aclose()
