"""RedisSessionBackend behind fastware-core's SessionMiddleware, against a real redis-server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from fastware_auth import RedisSessionBackend
from fastware_core import AsyncTestClient, Request, Router, create_app
from fastware_core.middleware import SessionMiddleware
from fastware_core.sessions import SessionBackend, SessionTooLargeError

SECRET = "redis-session-secret-0123456789"


@pytest.fixture
async def backend(redis_url: str) -> AsyncIterator[RedisSessionBackend]:
    store = RedisSessionBackend(redis_url, prefix=f"test:{uuid.uuid4().hex}:")
    yield store
    await store.aclose()


def app_for(backend: RedisSessionBackend, **options: Any) -> Any:
    router = Router()

    async def add(request: Request) -> dict[str, Any]:
        items = request.session.setdefault("items", [])
        items.append(request.query_params["item"])
        request.session.changed()
        return dict(request.session)

    async def show(request: Request) -> dict[str, Any]:
        return dict(request.session)

    async def logout(request: Request) -> dict[str, Any]:
        request.session.clear()
        return {}

    router.get("/add")(add)
    router.get("/show")(show)
    router.get("/logout")(logout)
    middleware = SessionMiddleware(secret_key=SECRET, backend=backend, **options)
    return create_app(router, middleware=[middleware])


def test_the_backend_satisfies_core_s_protocol() -> None:
    assert isinstance(RedisSessionBackend(client=object()), SessionBackend)


@pytest.mark.anyio
async def test_sessions_live_in_redis_with_their_max_age(backend: RedisSessionBackend) -> None:
    async with AsyncTestClient(app_for(backend, max_age=300)) as client:
        await client.get("/add", params={"item": "a"})
        response = await client.get("/add", params={"item": "b"})
        assert response.json() == {"items": ["a", "b"]}
        keys = await backend.client.keys(backend.prefix + "*")
        assert len(keys) == 1
        assert 290 < await backend.client.ttl(keys[0]) <= 300
        assert (await client.get("/show")).json() == {"items": ["a", "b"]}
        await client.get("/logout")
        assert await backend.client.keys(backend.prefix + "*") == []
        assert (await client.get("/show")).json() == {}


@pytest.mark.anyio
async def test_a_session_deleted_in_redis_is_an_empty_session(
    backend: RedisSessionBackend,
) -> None:
    async with AsyncTestClient(app_for(backend)) as client:
        await client.get("/add", params={"item": "a"})
        for key in await backend.client.keys(backend.prefix + "*"):
            await backend.client.delete(key)
        response = await client.get("/show")
        assert response.json() == {}
        assert "Max-Age=0" in response.headers["set-cookie"]


@pytest.mark.anyio
async def test_oversized_and_unreadable_sessions(backend: RedisSessionBackend) -> None:
    small = RedisSessionBackend(client=backend.client, prefix=backend.prefix, max_size=50)
    with pytest.raises(SessionTooLargeError, match="limit is 50"):
        await small.save("x", {"blob": "y" * 100}, 60)
    await backend.client.set(backend.prefix + "junk", b"not json")
    assert await backend.load("junk") is None
    await backend.client.set(backend.prefix + "list", b"[1,2]")
    assert await backend.load("list") is None
