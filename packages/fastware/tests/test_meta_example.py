"""The getting-started example (docs/examples/hello.py) works as its docstring says."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from fastware import AsyncTestClient

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "hello.py"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fastware_docs_hello", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.anyio
async def test_items_api_and_live_updates() -> None:
    example = load_example()
    async with AsyncTestClient(example.app) as client:
        assert (await client.get("/items/1")).json() == {"name": "teapot", "price": 12.0}
        assert (await client.get("/items/9")).status_code == 404
        async with client.stream("GET", "/events") as events:
            assert events.headers["content-type"] == "text/event-stream"
            lines = events.aiter_lines()
            # A stream joins the broadcast once the app starts sending it: wait for that.
            for _ in range(500):
                if example.updates.client_count:
                    break
                await asyncio.sleep(0.01)
            assert example.updates.client_count == 1
            created_task = asyncio.ensure_future(
                client.post("/items", json={"name": "lamp", "price": 19.5})
            )
            received: list[str] = []
            while not any(line.startswith("data:") for line in received):
                received.append(await asyncio.wait_for(anext(lines), 5))
            created = await created_task
        assert created.json() == {"id": 2, "item": {"name": "lamp", "price": 19.5}}
        assert "event: item" in received
        assert 'data: {"id":2,"name":"lamp","price":19.5}' in received
        listed = (await client.get("/items")).json()
        assert [item["name"] for item in listed] == ["teapot", "lamp"]


@pytest.mark.anyio
async def test_typed_routes_validate_and_the_docs_are_served() -> None:
    from openapi_spec_validator import validate

    example = load_example()
    async with AsyncTestClient(example.app) as client:
        assert (await client.get("/items?limit=1")).json() == [{"name": "teapot", "price": 12.0}]
        refused = await client.get("/items?limit=0")
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["query", "limit"]
        bad_body = await client.post("/items", json={"name": "lamp"})
        assert bad_body.json()["detail"][0]["loc"] == ["body", "price"]
        document = (await client.get("/openapi.json")).json()
        validate(document)
        assert set(document["paths"]) == {"/items", "/items/{item_id}", "/events"}
        page = await client.get("/docs")
        assert page.status_code == 200
        assert "swagger-ui-bundle.js" in page.text
