"""Typed handler parameters: read from the request once the signature was compiled."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import Annotated, Any, Literal, TypedDict

import msgspec
import pytest

from fastware_core import (
    FastwareError,
    JSONResponse,
    Request,
    RouteDefinitionError,
    Router,
    TestClient,
    WebSocket,
    create_app,
    params,
)
from fastware_core.params import Body, Cookie, Header, Path, Query


class EchoParam(params.Param):
    """A marker of a made-up source (see the readers-table test)."""

    source = "echo"


class Item(msgspec.Struct):
    name: str
    price: float
    tags: list[str] = []


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Movie(TypedDict):
    title: str
    year: int


def test_path_query_and_struct_body_fill_the_handler(router: Router) -> None:
    @router.post("/shops/{shop_id:int}/items")
    async def add(
        shop_id: int, item: Item, limit: int = 10, q: str | None = None
    ) -> dict[str, Any]:
        return {"shop": shop_id, "item": item, "limit": limit, "q": q}

    with TestClient(create_app(router)) as client:
        answer = client.post("/shops/7/items?limit=3&q=tea", json={"name": "cup", "price": 2.5})
        assert answer.status_code == 200
        assert answer.json() == {
            "shop": 7,
            "item": {"name": "cup", "price": 2.5, "tags": []},
            "limit": 3,
            "q": "tea",
        }
        defaults = client.post("/shops/7/items", json={"name": "cup", "price": 1})
        assert defaults.json()["limit"] == 10
        assert defaults.json()["q"] is None


def test_every_problem_is_listed_with_its_location(router: Router) -> None:
    @router.post("/items/{item_id}")
    async def update(
        item_id: int,
        item: Item,
        limit: Annotated[int, Query(ge=1, le=100)],
        x_trace: Annotated[int, Header()],
    ) -> None:  # pragma: no cover - never valid here
        pass

    with TestClient(create_app(router)) as client:
        answer = client.post("/items/abc?limit=0", json={"name": 3}, headers={"x-trace": "nope"})
    assert answer.status_code == 422
    problems = answer.json()["detail"]
    assert [p["loc"] for p in problems] == [
        ["path", "item_id"],
        ["body", "name"],
        ["query", "limit"],
        ["header", "x-trace"],
    ]
    assert problems[0]["msg"] == "Expected `int`, got `str`"
    assert problems[2]["msg"] == "Expected `int` >= 1"
    assert all(p["type"] == "invalid" for p in problems)


def test_missing_values_are_reported_as_missing(router: Router) -> None:
    @router.post("/items")
    async def create(item: Item, limit: int) -> None:  # pragma: no cover
        pass

    with TestClient(create_app(router)) as client:
        no_body = client.post("/items?limit=1")
        partial = client.post("/items?limit=1", json={"name": "x"})
        no_query = client.post("/items", json={"name": "x", "price": 1})
    assert no_body.status_code == 422
    assert no_body.json()["detail"] == [
        {"loc": ["body"], "msg": "Field required", "type": "missing"}
    ]
    assert partial.json()["detail"] == [
        {"loc": ["body", "price"], "msg": "Field required", "type": "missing"}
    ]
    assert no_query.json()["detail"] == [
        {"loc": ["query", "limit"], "msg": "Field required", "type": "missing"}
    ]


def test_nested_body_errors_point_into_the_body(router: Router) -> None:
    @router.post("/many")
    async def many(items: list[Item]) -> int:  # pragma: no cover
        return len(items)

    with TestClient(create_app(router)) as client:
        answer = client.post("/many", json=[{"name": "a", "price": 1}, {"name": "b", "price": "x"}])
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", 1, "price"]


class DuckError(ValueError):
    """pydantic's ValidationError, as far as the app reads it: a ValueError with errors()."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} validation error(s)")
        self._errors = errors

    def errors(self) -> list[dict[str, Any]]:
        return self._errors


class DuckItem:
    """A pydantic-like body model: ``model_validate`` and ``model_json_schema``, no msgspec."""

    def __init__(self, name: str, price: float) -> None:
        self.name, self.price = name, price

    @classmethod
    def model_validate(cls, data: Any) -> DuckItem:
        if not isinstance(data, dict):
            raise DuckError([{"loc": (), "msg": "Input should be an object", "type": "model"}])
        if "name" not in data:
            raise DuckError([{"loc": ("name",), "msg": "Field required", "type": "missing"}])
        if not isinstance(data.get("price"), int | float):
            raise DuckError(
                [{"loc": ("price",), "msg": "Input should be a number", "type": "float_type"}]
            )
        return cls(data["name"], float(data["price"]))

    @classmethod
    def model_json_schema(cls, ref_template: str = "#/$defs/{model}") -> dict[str, Any]:
        return {
            "title": "DuckItem",
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "price": {"type": "number"},
                "tag": {"$ref": ref_template.format(model="DuckTag")},
            },
            "required": ["name", "price"],
            "$defs": {"DuckTag": {"type": "string"}},
        }


def test_a_pydantic_model_validates_the_json_body(router: Router) -> None:
    @router.post("/items")
    async def create(item: DuckItem) -> dict[str, Any]:
        return {"name": item.name, "price": item.price}

    @router.post("/maybe")
    async def maybe(item: DuckItem | None = None) -> bool:
        return item is None

    with TestClient(create_app(router)) as client:
        good = client.post("/items", json={"name": "pen", "price": 2})
        unnamed = client.post("/items", json={"price": 2})
        unpriced = client.post("/items", json={"name": "pen", "price": "two"})
        listed = client.post("/items", json=[1, 2])
        malformed = client.post(
            "/items", content=b'{"name": ', headers={"content-type": "application/json"}
        )
        text = client.post(
            "/items", content=b'{"name": "pen"}', headers={"content-type": "text/plain"}
        )
        empty = client.post("/items")
        none = client.post("/maybe")
    assert good.json() == {"name": "pen", "price": 2.0}
    assert unnamed.status_code == 422
    assert unnamed.json()["detail"] == [
        {"loc": ["body", "name"], "msg": "Field required", "type": "missing"}
    ]
    assert unpriced.json()["detail"] == [
        {"loc": ["body", "price"], "msg": "Input should be a number", "type": "invalid"}
    ]
    assert listed.status_code == 422
    assert listed.json()["detail"][0]["loc"] == ["body"]
    assert malformed.status_code == 400
    assert text.status_code == 415
    assert empty.status_code == 422
    assert empty.json()["detail"] == [{"loc": ["body"], "msg": "Field required", "type": "missing"}]
    assert none.json() is True


def test_a_pydantic_form_model_is_refused_at_create_app(router: Router) -> None:
    @router.post("/items")
    async def create(item: Annotated[DuckItem, params.Form()]) -> str:  # pragma: no cover
        return item.name

    with pytest.raises(RouteDefinitionError, match="pydantic model read from a form"):
        create_app(router)


def test_a_list_of_pydantic_models_validates_each_item(router: Router) -> None:
    @router.post("/items")
    async def create(items: list[DuckItem]) -> list[str]:
        return [item.name for item in items]

    with TestClient(create_app(router)) as client:
        good = client.post("/items", json=[{"name": "a", "price": 1}, {"name": "b", "price": 2}])
        second = client.post("/items", json=[{"name": "a", "price": 1}, {"price": 2}])
        single = client.post("/items", json={"name": "a", "price": 1})
    assert good.json() == ["a", "b"]
    assert second.json()["detail"] == [
        {"loc": ["body", 1, "name"], "msg": "Field required", "type": "missing"}
    ]
    assert single.json()["detail"] == [
        {"loc": ["body"], "msg": "Input should be a valid list", "type": "invalid"}
    ]


def test_other_containers_of_pydantic_models_are_refused_at_create_app(router: Router) -> None:
    @router.post("/items")
    async def create(items: dict[str, DuckItem]) -> int:  # pragma: no cover
        return len(items)

    with pytest.raises(RouteDefinitionError, match="container other than a list"):
        create_app(router)


class Plain:
    """A class msgspec has no decoder for."""


class Holder(msgspec.Struct):
    name: str
    extra: list[Plain] = []


def test_a_body_holding_a_plain_class_is_refused_at_create_app(router: Router) -> None:
    # msgspec builds a decoder for it, which then refuses every request (422)
    @router.post("/holders")
    async def create(holder: Holder) -> str:  # pragma: no cover
        return holder.name

    with pytest.raises(RouteDefinitionError, match="Plain is a plain class"):
        create_app(router)


class Wrapper(msgspec.Struct):
    item: DuckItem


def test_a_body_holding_a_pydantic_model_is_refused_at_create_app(router: Router) -> None:
    @router.post("/wrapped")
    async def create(body: Wrapper) -> str:  # pragma: no cover
        return body.item.name

    with pytest.raises(RouteDefinitionError, match="holds pydantic model DuckItem in a container"):
        create_app(router)


def test_an_unresolvable_first_annotation_gets_the_request_and_a_warning(
    router: Router, caplog: pytest.LogCaptureFixture
) -> None:
    @router.get("/a")
    async def a(body: NotImportedAnywhere) -> str:  # type: ignore[name-defined]  # noqa: F821
        return type(body).__name__

    @router.get("/b")
    async def b(request: OnlyForTypeCheckersRequest) -> str:  # type: ignore[name-defined]  # noqa: F821
        return type(request).__name__

    with caplog.at_level(logging.WARNING, logger="fastware"):
        app = create_app(router)
    warned = [r.getMessage() for r in caplog.records if "cannot evaluate" in r.getMessage()]
    assert len(warned) == 1
    assert "parameter 'body' of" in warned[0]
    assert "receives the request, as in fastware 0.6.3" in warned[0]
    with TestClient(app) as client:
        assert client.get("/a").json() == "Request"
        assert client.get("/b").json() == "Request"


def test_malformed_json_is_400_and_a_non_json_body_is_415(router: Router) -> None:
    @router.post("/items")
    async def create(item: Item) -> str:  # pragma: no cover
        return item.name

    with TestClient(create_app(router, max_json_depth=8)) as client:
        malformed = client.post(
            "/items", content=b'{"name": ', headers={"content-type": "application/json"}
        )
        form = client.post("/items", content=b"name=x", headers={"content-type": "text/plain"})
        bare = client.post("/items", content=b'{"name": "x", "price": 1}')
        deep = client.post(
            "/items", content=b"[" * 50 + b"]" * 50, headers={"content-type": "application/json"}
        )
        binary = client.post(
            "/items", content=b'{"name": "\xff"}', headers={"content-type": "application/json"}
        )
    assert malformed.status_code == 400
    assert malformed.json()["detail"].startswith("Invalid JSON")
    assert form.status_code == 415
    assert bare.status_code == 415
    assert deep.status_code == 400
    assert "deeper" in deep.json()["detail"]
    assert binary.status_code == 400


def test_dataclass_typeddict_and_optional_bodies(router: Router) -> None:
    @router.post("/point")
    async def point(p: Point) -> int:
        return p.x + p.y

    @router.post("/movie")
    async def movie(m: Movie) -> str:
        return f"{m['title']} ({m['year']})"

    @router.post("/maybe")
    async def maybe(item: Item | None = None) -> bool:
        return item is None

    @router.post("/raw")
    async def raw(data: Annotated[dict[str, int], Body()]) -> int:
        return sum(data.values())

    with TestClient(create_app(router)) as client:
        assert client.post("/point", json={"x": 2, "y": 3}).json() == 5
        assert client.post("/movie", json={"title": "M", "year": 1931}).json() == "M (1931)"
        assert client.post("/maybe").json() is True
        assert client.post("/maybe", json={"name": "a", "price": 1}).json() is False
        assert client.post("/raw", json={"a": 1, "b": 2}).json() == 3
        assert client.post("/raw", json={"a": "x"}).status_code == 422


def test_lists_aliases_markers_as_defaults_headers_and_cookies(router: Router) -> None:
    @router.get("/search")
    async def search(
        tags: list[str] = [],  # noqa: B006 - never mutated
        ids: Annotated[list[int], Query(alias="id")] = [],  # noqa: B006
        page: int = Query(1, ge=1),
        sort: Literal["asc", "desc"] = "asc",
        user_agent: Annotated[str | None, Header()] = None,
        session: Annotated[str | None, Cookie()] = None,
        flag: bool = False,
    ) -> dict[str, Any]:
        return {
            "tags": tags,
            "ids": ids,
            "page": page,
            "sort": sort,
            "ua": user_agent,
            "session": session,
            "flag": flag,
        }

    with TestClient(create_app(router)) as client:
        answer = client.get(
            "/search?tags=a&tags=b&id=1&id=2&page=2&sort=desc&flag=yes",
            headers={"user-agent": "probe", "cookie": "session=s1"},
        )
        assert answer.json() == {
            "tags": ["a", "b"],
            "ids": [1, 2],
            "page": 2,
            "sort": "desc",
            "ua": "probe",
            "session": "s1",
            "flag": True,
        }
        blank = client.get("/search?page=")  # blank counts as absent for non-str types
        assert blank.json()["page"] == 1
        bad = client.get("/search?id=1&id=x&sort=up&page=0")
        assert bad.status_code == 422
        assert [p["loc"] for p in bad.json()["detail"]] == [
            ["query", "id", 1],
            ["query", "page"],
            ["query", "sort"],
        ]


def test_request_first_handlers_are_called_exactly_as_before(router: Router) -> None:
    @router.get("/plain/{name}")
    async def plain(request: Request) -> dict[str, str]:
        return {"name": request.path_params["name"]}

    @router.get("/untyped")
    async def untyped(req):  # type: ignore[no-untyped-def]
        return {"path": req.path}

    app = create_app(router)
    compiled = app._compile()
    assert compiled.lookup("GET", "/plain/x")[0].call is plain  # type: ignore[index]
    assert compiled.lookup("GET", "/untyped")[0].call is untyped  # type: ignore[index]
    with TestClient(app) as client:
        assert client.get("/plain/x").json() == {"name": "x"}
        assert client.get("/untyped").json() == {"path": "/untyped"}


def test_request_and_typed_parameters_together(router: Router) -> None:
    @router.get("/mixed/{user_id:int}")
    async def mixed(request: Request, user_id: int, q: str = "x") -> dict[str, Any]:
        return {"id": user_id, "q": q, "path": request.path}

    @router.get("/by-keyword")
    async def by_keyword(q: str, *, request: Request) -> dict[str, Any]:
        return {"q": q, "method": request.method}

    @router.get("/nothing")
    async def nothing() -> str:
        return "none"

    with TestClient(create_app(router)) as client:
        assert client.get("/mixed/4?q=y").json() == {"id": 4, "q": "y", "path": "/mixed/4"}
        assert client.get("/mixed/4").json()["q"] == "x"
        assert client.get("/by-keyword?q=z").json() == {"q": "z", "method": "GET"}
        assert client.get("/nothing").json() == "none"


def test_sync_typed_handlers_run_in_a_thread(router: Router) -> None:
    import threading

    main = threading.get_ident()

    @router.get("/sync/{n:int}")
    def sync(n: int, times: int = 2) -> dict[str, Any]:
        return {"value": n * times, "thread": threading.get_ident() != main}

    with TestClient(create_app(router)) as client:
        assert client.get("/sync/4?times=3").json() == {"value": 12, "thread": True}


def test_path_parameters_convert_to_the_declared_type(router: Router) -> None:
    @router.get("/files/{file_id}")
    async def by_uuid(file_id: uuid.UUID) -> str:
        return file_id.hex

    @router.get("/kinds/{kind}")
    async def by_kind(kind: Literal["a", "b"]) -> str:
        return kind

    @router.get("/ids/{ident:int}")
    async def by_int(ident: Annotated[int, Path(ge=10)]) -> int:
        return ident

    with TestClient(create_app(router)) as client:
        ident = uuid.uuid4()
        assert client.get(f"/files/{ident}").json() == ident.hex
        assert client.get("/files/nope").status_code == 422
        assert client.get("/kinds/b").json() == "b"
        assert client.get("/kinds/c").status_code == 422
        assert client.get("/ids/12").json() == 12
        assert client.get("/ids/3").json()["detail"][0]["loc"] == ["path", "ident"]


def test_status_code_applies_to_data_not_to_responses(router: Router) -> None:
    @router.post("/things", status_code=201)
    async def create(item: Item) -> Item:
        return item

    @router.delete("/things/{n:int}", status_code=204)
    async def delete(n: int) -> None:
        return None

    @router.post("/conflict", status_code=201)
    async def conflict(request: Request) -> JSONResponse:
        return JSONResponse({"detail": "exists"}, 409)

    with TestClient(create_app(router)) as client:
        created = client.post("/things", json={"name": "a", "price": 1})
        assert created.status_code == 201
        assert created.json()["name"] == "a"
        deleted = client.delete("/things/3")
        assert deleted.status_code == 204
        assert deleted.content == b""
        assert client.post("/conflict").status_code == 409


@pytest.mark.parametrize(
    ("path", "signature", "message"),
    [
        ("/x", "async def h(thing: Opaque): ...", "'thing'.*not a scalar"),
        ("/x", "async def h(a: Item, b: Item): ...", "'b'.*second body"),
        ("/x/{n:int}", "async def h(n: int = 3): ...", "'n'.*cannot have a default"),
        ("/x", "async def h(n: Annotated[int, Path()]): ...", "'n'.*path parameter 'n'"),
        ("/x", "async def h(request, n: int, /): ...", "'n'.*positional-only"),
        ("/x", "async def h(a: Request, b: Request): ...", "'b'.*second Request"),
        ("/x", "async def h(request, b: Nowhere): ...", "'b'.*cannot evaluate"),
    ],
)
def test_signatures_the_app_cannot_fill_fail_at_create_app(
    router: Router, path: str, signature: str, message: str
) -> None:
    class Opaque:
        pass

    namespace: dict[str, Any] = {
        "Opaque": Opaque,
        "Item": Item,
        "Annotated": Annotated,
        "Path": Path,
        "Request": Request,
    }
    exec("from __future__ import annotations\n" + signature, namespace)
    router.add_route("GET", path, namespace["h"])
    with pytest.raises(RouteDefinitionError, match=f"GET {path}.*{message}"):
        create_app(router)


def test_websocket_routes_take_typed_parameters_but_no_body(router: Router) -> None:
    @router.ws("/rooms/{room}")
    async def room(websocket: WebSocket, room: str, token: str, limit: int = 5) -> None:
        await websocket.accept()
        await websocket.send_json({"room": room, "token": token, "limit": limit})

    with (
        TestClient(create_app(router)) as client,
        client.websocket_connect("/rooms/lobby?token=t&limit=2") as socket,
    ):
        assert socket.receive_json() == {"room": "lobby", "token": "t", "limit": 2}

    other = Router()

    @other.ws("/body")
    async def with_body(websocket: WebSocket, item: Item) -> None:  # pragma: no cover
        pass

    with pytest.raises(RouteDefinitionError, match=r"WebSocket /body.*'item'.*body"):
        create_app(other)


def test_a_broken_route_added_later_answers_500_and_names_the_parameter(router: Router) -> None:
    class Opaque:
        pass

    app = create_app(router)

    async def late(request: Request, thing: Opaque) -> None:  # pragma: no cover
        pass

    router.add_route("GET", "/late", late)
    with TestClient(app, raise_server_exceptions=False) as quiet:
        assert quiet.get("/late").status_code == 500


@pytest.mark.asgi_only  # over RSGI an unhandled error is a 500, as under Granian
def test_the_late_broken_route_error_names_the_parameter(router: Router) -> None:
    class Opaque:
        pass

    app = create_app(router)

    async def late(request: Request, thing: Opaque) -> None:  # pragma: no cover
        pass

    router.add_route("GET", "/late", late)
    with TestClient(app) as client, pytest.raises(FastwareError, match="'thing'"):
        client.get("/late")


def test_included_routers_keep_their_prefix_parameters(router: Router) -> None:
    inner = Router()

    @inner.get("/users/{user_id:int}")
    async def user(org: str, user_id: int, verbose: bool = False) -> dict[str, Any]:
        return {"org": org, "user": user_id, "verbose": verbose}

    router.include_router(inner, prefix="/orgs/{org}")
    with TestClient(create_app(router)) as client:
        assert client.get("/orgs/acme/users/3?verbose=1").json() == {
            "org": "acme",
            "user": 3,
            "verbose": True,
        }


def test_a_new_async_source_plugs_in_through_the_readers_table(
    router: Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    # How a Form source is added: a marker, a reader builder, the source marked async.
    def build(param: params.DeclaredParameter) -> Any:
        async def read(conn: Any) -> Any:
            value = conn.headers.get(param.key)
            if value is None:
                raise params.InvalidParameter(["echo", param.key], "Field required", "missing")
            return value.upper()

        return read

    monkeypatch.setitem(params.READERS, "echo", build)
    monkeypatch.setattr(params, "ASYNC_SOURCES", frozenset({"echo"}))

    @router.get("/echo")
    async def echo(shout: Annotated[str, EchoParam()], n: int = 1) -> str:
        return shout * n

    with TestClient(create_app(router)) as client:
        assert client.get("/echo?n=2", headers={"shout": "hi"}).json() == "HIHI"
        missing = client.get("/echo")
        assert missing.status_code == 422
        assert missing.json()["detail"][0]["loc"] == ["echo", "shout"]


def test_mutable_defaults_are_fresh_for_every_request(router: Router) -> None:
    @router.get("/tags")
    async def tags(tags: list[str] = []) -> list[str]:  # noqa: B006 - the point of the test
        tags.append("x")
        return tags

    with TestClient(create_app(router)) as client:
        assert client.get("/tags").json() == ["x"]
        assert client.get("/tags").json() == ["x"]
        assert client.get("/tags?tags=a").json() == ["a", "x"]


class Out(msgspec.Struct):
    id: int
    name: str


def test_validate_response_converts_results_to_the_return_annotation(router: Router) -> None:
    @router.get("/good", validate_response=True)
    async def good(request: Request) -> Out:
        return {"id": 1, "name": "a", "secret": "dropped"}  # type: ignore[return-value]

    @router.get("/bad/{n:int}", validate_response=True, status_code=201)
    async def bad(n: int) -> Out:
        return {"id": "nope"}  # type: ignore[return-value]

    with TestClient(create_app(router), raise_server_exceptions=False) as client:
        assert client.get("/good").json() == {"id": 1, "name": "a"}
        refused = client.get("/bad/1")
        assert refused.status_code == 500
        assert "declared type" in refused.json()["detail"]


def test_validate_response_needs_a_return_annotation(router: Router) -> None:
    @router.get("/x", validate_response=True)
    async def x(request: Request):  # type: ignore[no-untyped-def]
        return {}

    with pytest.raises(RouteDefinitionError, match=r"GET /x.*return annotation"):
        create_app(router)


@pytest.mark.asgi_only  # Granian's RSGI WebSocket sends no close code before accept (a 403)
def test_a_websocket_refused_for_its_parameters_says_why_in_the_close_reason(
    router: Router,
) -> None:
    from fastware_core import WebSocketDisconnect

    @router.ws("/feed")
    async def feed(websocket: WebSocket, since: int) -> None:  # pragma: no cover
        await websocket.accept()

    with (
        TestClient(create_app(router)) as client,
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect("/feed?since=soon") as socket,
    ):
        socket.receive_text()
    assert closed.value.code == 1008
    assert closed.value.reason == "query.since: Expected `int`, got `str`"
