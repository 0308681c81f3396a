"""Real pydantic models as typed JSON bodies: validation, 422 locations and OpenAPI."""

from __future__ import annotations

import pydantic
import pytest
from openapi_spec_validator import validate

from fastware import Router, TestClient, create_app


class Tag(pydantic.BaseModel):
    label: str


class Item(pydantic.BaseModel):
    name: str = pydantic.Field(min_length=1)
    price: float = pydantic.Field(gt=0)
    tags: list[Tag] = []


def item_router() -> Router:
    router = Router()

    @router.post("/items/{shop:int}")
    async def create(shop: int, item: Item) -> Item:
        return item.model_copy(update={"name": f"{shop}:{item.name}"})

    return router


@pytest.mark.parametrize("door", ["asgi", "rsgi"])
def test_a_pydantic_body_is_validated_and_returned(door: str) -> None:
    with TestClient(create_app(item_router()), door=door) as client:
        good = client.post("/items/3", json={"name": "pen", "price": 2, "tags": [{"label": "a"}]})
        free = client.post("/items/3", json={"name": "pen", "price": 0})
        nested = client.post("/items/3", json={"name": "pen", "price": 1, "tags": [{}]})
        missing = client.post("/items/3", json={"price": 1})
    assert good.status_code == 200
    assert good.json() == {"name": "3:pen", "price": 2.0, "tags": [{"label": "a"}]}
    assert free.status_code == 422
    assert free.json()["detail"][0]["loc"] == ["body", "price"]
    assert free.json()["detail"][0]["msg"] == "Input should be greater than 0"
    assert nested.json()["detail"] == [
        {"loc": ["body", "tags", 0, "label"], "msg": "Field required", "type": "missing"}
    ]
    assert missing.json()["detail"] == [
        {"loc": ["body", "name"], "msg": "Field required", "type": "missing"}
    ]


@pytest.mark.parametrize("door", ["asgi", "rsgi"])
def test_a_list_of_pydantic_models_is_validated_item_by_item(door: str) -> None:
    router = Router()

    @router.post("/tags")
    async def tags(items: list[Tag]) -> list[Tag]:
        return items

    with TestClient(create_app(router), door=door) as client:
        good = client.post("/tags", json=[{"label": "a"}, {"label": "b"}])
        bad = client.post("/tags", json=[{"label": "a"}, {"label": 3}])
    assert good.json() == [{"label": "a"}, {"label": "b"}]
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", 1, "label"]
    document = create_app(router).openapi()
    validate(document)
    body = document["paths"]["/tags"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}}


def test_pydantic_bodies_and_answers_are_documented() -> None:
    document = create_app(item_router()).openapi()
    validate(document)
    operation = document["paths"]["/items/{shop}"]["post"]
    ref = {"$ref": "#/components/schemas/Item"}
    assert operation["requestBody"]["content"]["application/json"]["schema"] == ref
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == ref
    schemas = document["components"]["schemas"]
    assert schemas["Item"]["properties"]["price"]["exclusiveMinimum"] == 0
    assert schemas["Item"]["properties"]["tags"]["items"] == {"$ref": "#/components/schemas/Tag"}
    assert schemas["Tag"]["required"] == ["label"]
