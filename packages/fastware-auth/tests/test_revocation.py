"""Token revocation: memory and Redis stores, by token and by user."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from fastware_auth import (
    Auth,
    AuthConfigurationError,
    MemoryRevocationStore,
    RedisRevocationStore,
    RevocationStore,
)

SECRET = "test-secret-0123456789-abcdefghijklmnop"


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[RevocationStore]:
    if request.param == "memory":
        yield MemoryRevocationStore()
        return
    redis_store = RedisRevocationStore(redis_url, prefix=f"test:{uuid.uuid4().hex}:")
    yield redis_store
    await redis_store.aclose()


@pytest.mark.anyio
async def test_revoke_by_id(store: RevocationStore) -> None:
    now = time.time()
    assert not await store.is_revoked("a", "ada", now)
    await store.revoke("a", now + 60)
    assert await store.is_revoked("a", "ada", now)
    assert not await store.is_revoked("b", "ada", now)
    assert not await store.is_revoked(None, None, now)


@pytest.mark.anyio
async def test_entries_expire_with_the_token(store: RevocationStore) -> None:
    now = time.time()
    await store.revoke("short", now + 0.3)
    await store.revoke("gone", now - 5)  # already expired: nothing stored
    assert await store.is_revoked("short", None, now)
    assert not await store.is_revoked("gone", None, now)
    await asyncio.sleep(0.5)
    assert not await store.is_revoked("short", None, now)


@pytest.mark.anyio
async def test_revoke_every_token_of_a_user(store: RevocationStore) -> None:
    now = time.time()
    await store.revoke_subject("ada", now, now + 60)
    assert await store.is_revoked(None, "ada", now - 100)
    assert await store.is_revoked("any", "ada", now)
    assert not await store.is_revoked(None, "ada", now + 10)  # issued afterwards
    assert not await store.is_revoked(None, "bob", now - 100)
    await store.revoke_subject("ada", now - 1000, now + 60)  # an older cut-off never wins
    assert await store.is_revoked(None, "ada", now - 100)


def test_memory_store_drops_expired_entries() -> None:
    import anyio

    store = MemoryRevocationStore()

    async def fill() -> None:
        for n in range(100):
            await store.revoke(f"t{n}", time.time() + 0.05)
        await asyncio.sleep(0.1)
        await store.revoke("last", time.time() + 60)

    anyio.run(fill)
    assert len(store) == 1
    assert MemoryRevocationStore.fastware_process_local


@pytest.mark.anyio
async def test_auth_revoke_and_revoke_user() -> None:
    store = MemoryRevocationStore()
    auth = Auth(SECRET, revocations=store)
    token = auth.create_token("ada", "user")
    claims = auth.verify_token(token)
    assert claims is not None
    assert await auth.authenticate(token) is not None
    assert await auth.revoke(claims)
    assert await auth.authenticate(token) is None
    assert auth.verify_token(token) is not None  # the signature is still fine
    other = auth.create_token("bob", "user")
    await auth.revoke_user("bob")
    assert await auth.authenticate(other) is None
    assert auth.fastware_process_local is not None


@pytest.mark.anyio
async def test_revoking_without_a_store_is_a_clear_error() -> None:
    auth = Auth(SECRET)
    claims = auth.verify_token(auth.create_token("ada", "user"))
    assert claims is not None
    with pytest.raises(AuthConfigurationError, match="revocation store"):
        await auth.revoke(claims)
    assert auth.fastware_process_local is None


def test_a_non_store_is_refused() -> None:
    with pytest.raises(AuthConfigurationError, match="RevocationStore"):
        Auth(SECRET, revocations=object())  # type: ignore[arg-type]
