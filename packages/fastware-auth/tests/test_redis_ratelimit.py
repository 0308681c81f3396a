"""The Redis rate-limit backend against a real redis-server: exact under concurrency."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import pytest

from fastware_auth import RateLimit, RedisRateLimitBackend


@pytest.fixture
async def backend(redis_url: str) -> AsyncIterator[RedisRateLimitBackend]:
    redis_backend = RedisRateLimitBackend(redis_url, prefix=f"test:{uuid.uuid4().hex}:")
    yield redis_backend
    await redis_backend.aclose()


@pytest.mark.anyio
async def test_token_bucket_in_redis(backend: RedisRateLimitBackend) -> None:
    decisions = [await backend.hit("k", 3, 60.0) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert decisions[0].remaining == 2
    assert decisions[3].retry_after == pytest.approx(20.0, abs=0.5)
    await backend.reset("k")
    assert (await backend.hit("k", 3, 60.0)).allowed


@pytest.mark.anyio
async def test_refill_uses_the_server_clock(backend: RedisRateLimitBackend) -> None:
    for _ in range(2):
        assert (await backend.hit("fast", 2, 0.4)).allowed
    assert not (await backend.hit("fast", 2, 0.4)).allowed
    await asyncio.sleep(0.25)  # 0.2 s refills one token
    assert (await backend.hit("fast", 2, 0.4)).allowed


@pytest.mark.anyio
async def test_keys_expire_once_full_again(backend: RedisRateLimitBackend) -> None:
    await backend.hit("ttl", 5, 2.0)
    ttl = await backend.client.pttl(backend.prefix + "ttl")
    assert 0 < ttl <= 1400  # (5 - 4) / 2.5 per s = 0.4 s, plus a second of slack


@pytest.mark.anyio
async def test_concurrent_hits_admit_exactly_the_limit(backend: RedisRateLimitBackend) -> None:
    results = await asyncio.gather(*(backend.hit("burst", 25, 3600.0) for _ in range(300)))
    assert sum(d.allowed for d in results) == 25


_HAMMER = """
import asyncio, sys
from fastware_auth import RedisRateLimitBackend

async def run() -> int:
    backend = RedisRateLimitBackend(sys.argv[1], prefix=sys.argv[2])
    try:
        results = await asyncio.gather(*(backend.hit("shared", 40, 3600.0) for _ in range(100)))
    finally:
        await backend.aclose()
    return sum(d.allowed for d in results)

print(asyncio.run(run()))
"""


def test_processes_share_one_exact_limit(redis_url: str) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _HAMMER, redis_url, prefix], stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    counts = [int(worker.communicate(timeout=60)[0]) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0, 0]
    assert sum(counts) == 40


@pytest.mark.anyio
async def test_rate_limit_with_a_shared_backend_prefixes_keys(
    backend: RedisRateLimitBackend,
) -> None:
    class Peer:
        client = ("198.51.100.3", 1)

    first = RateLimit("1/minute", backend=backend, name="a")
    second = RateLimit("1/minute", backend=backend, name="b")
    assert (await first.hit(Peer())).allowed
    assert (await second.hit(Peer())).allowed  # separate buckets
    assert not (await first.hit(Peer())).allowed
    assert first.process_local is None
