"""The OpenAPI 3.1 document, checked with a real validator, and the docs page."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import pytest
from openapi_spec_validator import validate

from fastware_core import App, Request, Router, TestClient, create_app
from fastware_core import openapi as openapi_module
from fastware_core.injection import RouteCall
from fastware_core.params import Cookie, Header, Query
from fastware_core.routing import RouteEntry


class Owner(msgspec.Struct):
    name: str
    email: str | None = None


class Pet(msgspec.Struct):
    name: str
    owner: Owner
    age: Annotated[int, msgspec.Meta(ge=0)] = 0


class Problem(msgspec.Struct):
    detail: str


def bearer_user(request: Request) -> str:  # pragma: no cover - documented, never run here
    return "user"


bearer_user.openapi_security = {  # type: ignore[attr-defined]
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
}


class CallingInjector:
    """The smallest injector: each dependency is ``factory(request)``."""

    def __init__(self) -> None:
        self.overrides: dict[Any, Any] = {}

    def prepare(self, entry: RouteEntry, *, websocket: bool) -> RouteCall | None:
        deps = entry.deps
        if not deps:
            return None
        call = entry.call

        async def with_deps(conn: Any) -> Any:
            return await call(conn, **{name: f(conn) for name, f in deps.items()})

        return with_deps

    async def startup(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


def make_app(router: Router, **config: Any) -> App:
    return create_app(router, injector=CallingInjector(), **config)


def pet_router() -> Router:
    router = Router()

    @router.get("/pets/{pet_id:int}", tags=["pets"], responses={404: Problem})
    async def get_pet(pet_id: int, verbose: bool = False) -> Pet:
        """Fetch one pet.

        The pet's owner comes along.
        """
        return Pet("rex", Owner("ann"))

    @router.post("/pets", status_code=201, tags=["pets"], deps={"user": bearer_user})
    async def create_pet(
        request: Request,
        pet: Pet,
        user: str,
        dry_run: Annotated[bool, Query(description="Only validate")] = False,
        x_request_source: Annotated[str | None, Header()] = None,
        session: Annotated[str | None, Cookie()] = None,
    ) -> Pet:
        return pet

    @router.put("/pets/{pet_id:int}", deprecated=True, summary="Replace a pet")
    async def replace_pet(pet_id: int, pet: Pet) -> Pet:
        return pet

    @router.get("/legacy/{name}/{rest:path}")
    async def legacy(request: Request) -> dict[str, Any]:
        return {}

    @router.get("/hidden", include_in_schema=False)
    async def hidden(request: Request) -> dict[str, Any]:  # pragma: no cover
        return {}

    @router.delete("/pets/{pet_id:int}", status_code=204)
    async def delete_pet(pet_id: int) -> None:
        return None

    @router.ws("/ws")
    async def ws(websocket: Any) -> None:  # pragma: no cover
        pass

    return router


def test_the_document_validates_against_openapi_3_1() -> None:
    document = make_app(pet_router(), title="Pets", version="2.0.0").openapi()
    validate(document)  # raises on any violation of the 3.1 specification
    assert document["openapi"] == "3.1.0"
    assert document["info"] == {"title": "Pets", "version": "2.0.0"}
    assert set(document["paths"]) == {"/pets/{pet_id}", "/pets", "/legacy/{name}/{rest}"}


class Cage:
    """A pydantic-like model: the document takes its schema from ``model_json_schema``."""

    @classmethod
    def model_validate(cls, data: Any) -> Cage:  # pragma: no cover - documented only
        return cls()

    @classmethod
    def model_json_schema(cls, ref_template: str = "#/$defs/{model}") -> dict[str, Any]:
        return {
            "title": "Cage",
            "type": "object",
            "properties": {"size": {"$ref": ref_template.format(model="Size")}},
            "required": ["size"],
            "$defs": {"Size": {"enum": ["s", "m", "l"], "type": "string"}},
        }


def test_pydantic_models_are_components_with_their_own_definitions() -> None:
    router = Router()

    @router.post("/cages")
    async def build(cage: Cage) -> Cage:  # pragma: no cover - documented only
        return cage

    document = make_app(router).openapi()
    validate(document)
    operation = document["paths"]["/cages"]["post"]
    ref = {"$ref": "#/components/schemas/Cage"}
    assert operation["requestBody"]["content"]["application/json"]["schema"] == ref
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == ref
    schemas = document["components"]["schemas"]
    assert schemas["Cage"]["properties"]["size"] == {"$ref": "#/components/schemas/Size"}
    assert "$defs" not in schemas["Cage"]
    assert schemas["Size"] == {"enum": ["s", "m", "l"], "type": "string"}


def test_operations_carry_parameters_bodies_responses_and_docstrings() -> None:
    document = make_app(pet_router()).openapi()
    get_pet = document["paths"]["/pets/{pet_id}"]["get"]
    assert get_pet["summary"] == "Fetch one pet."
    assert get_pet["description"] == "The pet's owner comes along."
    assert get_pet["tags"] == ["pets"]
    assert get_pet["parameters"] == [
        {"name": "pet_id", "in": "path", "required": True, "schema": {"type": "integer"}},
        {
            "name": "verbose",
            "in": "query",
            "required": False,
            "schema": {"type": "boolean", "default": False},
        },
    ]
    ok = get_pet["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/Pet"}
    assert get_pet["responses"]["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
    assert get_pet["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ValidationError"
    }

    create = document["paths"]["/pets"]["post"]
    assert "201" in create["responses"]
    assert create["requestBody"]["required"] is True
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Pet"
    }
    by_name = {p["name"]: p for p in create["parameters"]}
    assert set(by_name) == {"dry_run", "x-request-source", "session"}  # not `user`: a dep
    assert by_name["dry_run"]["description"] == "Only validate"
    assert by_name["x-request-source"]["in"] == "header"
    assert by_name["session"]["in"] == "cookie"

    replace = document["paths"]["/pets/{pet_id}"]["put"]
    assert replace["deprecated"] is True
    assert replace["summary"] == "Replace a pet"
    delete = document["paths"]["/pets/{pet_id}"]["delete"]
    assert delete["responses"]["204"] == {"description": "No Content"}


def test_components_are_generated_once_and_shared() -> None:
    document = make_app(pet_router()).openapi()
    schemas = document["components"]["schemas"]
    assert set(schemas) == {"Owner", "Pet", "Problem", "ValidationError"}
    assert schemas["Pet"]["properties"]["owner"] == {"$ref": "#/components/schemas/Owner"}
    assert schemas["Pet"]["properties"]["age"]["minimum"] == 0


def test_undeclared_path_parameters_are_documented_from_their_converters() -> None:
    document = make_app(pet_router()).openapi()
    legacy = document["paths"]["/legacy/{name}/{rest}"]["get"]
    assert [(p["name"], p["schema"]) for p in legacy["parameters"]] == [
        ("name", {"type": "string"}),
        ("rest", {"type": "string"}),
    ]
    assert legacy["summary"] == "Legacy"


def test_security_schemes_come_from_dependencies() -> None:
    document = make_app(pet_router()).openapi()
    assert document["components"]["securitySchemes"] == {
        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }
    assert document["paths"]["/pets"]["post"]["security"] == [{"bearerAuth": []}]
    assert "security" not in document["paths"]["/pets/{pet_id}"]["get"]


def test_operation_ids_are_unique() -> None:
    router = Router()

    async def same(request: Request) -> None:  # pragma: no cover
        pass

    router.add_route("GET", "/a", same)
    router.add_route("POST", "/a", same)
    router.add_route("GET", "/b", same, operation_id="custom")
    document = create_app(router).openapi()
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)) == 3
    assert "custom" in ids
    validate(document)


def test_the_app_serves_the_document_and_the_docs_page() -> None:
    app = make_app(pet_router(), title="Pets <&>")
    with TestClient(app) as client:
        spec = client.get("/openapi.json")
        assert spec.status_code == 200
        assert spec.headers["content-type"] == "application/json"
        assert spec.json() == app.openapi()
        page = client.get("/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "Pets &lt;&amp;&gt;" in page.text  # the title is escaped
        assert "/docs/swagger-ui-bundle.js" in page.text
        assert "http://" not in page.text  # no CDN
        assert "https://" not in page.text
        script = client.get("/docs/swagger-ui-bundle.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        assert len(script.content) > 100_000
        assert "max-age" in script.headers["cache-control"]
        css = client.get("/docs/swagger-ui.css")
        assert css.headers["content-type"].startswith("text/css")
        init = client.get("/docs/init.js")
        assert '"/openapi.json"' in init.text
        assert client.get("/docs/../../etc/passwd").status_code == 404
        assert client.get("/docs/index.html").status_code == 404
        assert client.head("/openapi.json").status_code == 200


def test_paths_are_configurable_and_can_be_switched_off() -> None:
    moved = make_app(pet_router(), openapi_path="/api/schema.json", docs_path="/api/docs")
    off = make_app(pet_router(), openapi_path=None, docs_path=None)
    no_page = make_app(pet_router(), docs_path=None)
    with TestClient(moved) as client:
        assert client.get("/api/schema.json").status_code == 200
        assert client.get("/openapi.json").status_code == 404
        assert '"/api/schema.json"' in client.get("/api/docs/init.js").text
    with TestClient(off) as client:
        assert client.get("/openapi.json").status_code == 404
        assert client.get("/docs").status_code == 404
    assert off.openapi()["openapi"] == "3.1.0"  # still built on request
    with TestClient(no_page) as client:
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/docs").status_code == 404


def test_a_user_route_at_the_docs_path_wins() -> None:
    router = Router()

    @router.get("/docs")
    async def my_docs(request: Request) -> dict[str, str]:
        return {"mine": "yes"}

    with TestClient(create_app(router)) as client:
        assert client.get("/docs").json() == {"mine": "yes"}
        assert client.get("/openapi.json").status_code == 200


def test_without_the_assets_package_the_page_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(openapi_module, "swagger_ui_directory", lambda: None)
    with TestClient(make_app(pet_router())) as client:
        page = client.get("/docs")
        assert page.status_code == 501
        assert "fastware-core[docs]" in page.json()["detail"]
        assert client.get("/docs/swagger-ui.css").status_code == 501


def test_the_document_follows_routes_added_later() -> None:
    router = pet_router()
    app = make_app(router)
    with TestClient(app) as client:
        assert "/late" not in client.get("/openapi.json").json()["paths"]

        @router.get("/late")
        async def late(limit: int = 5) -> list[int]:
            return [limit]

        assert "/late" in client.get("/openapi.json").json()["paths"]
        assert client.get("/late?limit=2").json() == [2]


def test_a_broken_late_route_is_left_out_of_the_document() -> None:
    class Opaque:
        pass

    router = pet_router()
    app = make_app(router)

    async def broken(request: Request, thing: Opaque) -> None:  # pragma: no cover
        pass

    router.add_route("GET", "/broken", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        spec = client.get("/openapi.json")
        assert spec.status_code == 200
        assert "/broken" not in spec.json()["paths"]
        assert client.get("/broken").status_code == 500
