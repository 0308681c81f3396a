"""Request: request line, headers, cookies, query, JSON bodies, state and body limits."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest

from fastware_core import Address, AsyncTestClient, Request, Router, TestClient, create_app
from fastware_core.types import ASGIApp

RawExchange = Callable[..., Awaitable[tuple[list[dict[str, Any]], int]]]

JSON = {"content-type": "application/json"}


class Item(msgspec.Struct):
    name: str
    price: int


@dataclasses.dataclass
class Point:
    x: int
    y: int


class DuckModel:
    """Quacks like a pydantic model: ``model_validate`` and ``model_dump``."""

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def model_validate(cls, data: Any) -> DuckModel:
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise ValueError("1 validation error for DuckModel: name field required")
        return cls(data["name"])

    def model_dump(self, mode: str = "python") -> dict[str, Any]:
        return {"name": self.name}


def query_client(**options: Any) -> TestClient:
    """A client for an app whose ``/q`` answers ``request.query("a", **options)``."""
    router = Router()

    @router.get("/q")
    async def q(request: Request) -> dict[str, Any]:
        return {"value": request.query("a", **options)}

    return TestClient(create_app(router), raise_server_exceptions=False)


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def body_app(**config: Any) -> ASGIApp:
    """An app with POST ``/json`` (answers ``request.json``) and POST ``/size``."""
    router = Router()

    @router.post("/json")
    async def json_body(request: Request) -> dict[str, Any]:
        return {"json": request.json}

    @router.post("/size")
    async def size(request: Request) -> dict[str, int]:
        return {"size": request.body_size}

    @router.get("/hello")
    async def hello(request: Request) -> str:
        return "hello"

    return create_app(router, **config)


# -- request line --------------------------------------------------------------------------------


def test_request_line_properties(router: Router) -> None:
    @router.get("/items")
    async def items(request: Request) -> dict[str, Any]:
        return {
            "method": request.method,
            "path": request.path,
            "url": str(request.url),
            "url_path": request.url.path,
            "url_query": request.url.query,
            "query_string": request.query_string,
            "scheme": request.scheme,
            "host": request.host,
            "client": request.client,
            "http_version": request.http_version,
        }

    with TestClient(create_app(router)) as client:
        data = client.get("/items?page=2&sort=name").json()
    assert data == {
        "method": "GET",
        "path": "/items",
        "url": "http://test/items?page=2&sort=name",
        "url_path": "/items",
        "url_query": "page=2&sort=name",
        "query_string": "page=2&sort=name",
        "scheme": "http",
        "host": "test",
        "client": ["testclient", 50000],
        "http_version": "1.1",
    }


def test_url_scheme_and_host_follow_the_request(router: Router) -> None:
    @router.get("/where")
    async def where(request: Request) -> dict[str, Any]:
        url = request.url
        return {"url": str(url), "scheme": request.scheme, "host": request.host, "port": url.port}

    with TestClient(create_app(router), base_url="https://example.com:8443") as client:
        data = client.get("/where").json()
    assert data == {
        "url": "https://example.com:8443/where",
        "scheme": "https",
        "host": "example.com:8443",
        "port": 8443,
    }


def test_url_keeps_the_percent_encoding_of_the_path(router: Router) -> None:
    @router.get("/files/{name}")
    async def file(request: Request) -> dict[str, str]:
        return {"url": str(request.url), "name": request.path_params["name"]}

    with TestClient(create_app(router)) as client:
        data = client.get("/files/my%20report").json()
    assert data == {"url": "http://test/files/my%20report", "name": "my report"}


def test_url_can_be_returned_in_a_json_response(router: Router) -> None:
    @router.get("/self")
    async def self_link(request: Request) -> dict[str, Any]:
        return {"self": request.url}

    with TestClient(create_app(router), raise_server_exceptions=False) as client:
        response = client.get("/self?page=2")
    assert response.status_code == 200
    assert response.json() == {"self": "http://test/self?page=2"}


def test_mounted_app_request_keeps_the_full_url(router: Router) -> None:
    sub = Router()

    @sub.get("/items/{item_id:int}")
    async def item(request: Request) -> dict[str, Any]:
        return {"path": request.path, "root_path": request.root_path, "url": str(request.url)}

    router.mount("/shop", create_app(sub))

    with TestClient(create_app(router)) as client:
        data = client.get("/shop/items/3?x=1").json()
    assert data == {
        "path": "/items/3",
        "root_path": "/shop",
        "url": "http://test/shop/items/3?x=1",
    }


def test_client_is_an_address(make_scope: Callable[..., dict[str, Any]]) -> None:
    request = Request(make_scope())

    assert request.client == Address("127.0.0.1", 4242)
    assert request.client.host == "127.0.0.1"
    assert request.client.port == 4242


def test_client_is_none_when_the_server_does_not_say(
    make_scope: Callable[..., dict[str, Any]],
) -> None:
    scope = make_scope()
    scope["client"] = None

    assert Request(scope).client is None


@pytest.mark.anyio
async def test_several_different_host_headers_are_a_400(
    router: Router, raw_http: RawExchange
) -> None:
    @router.get("/host")
    async def host(request: Request) -> str:
        return request.host

    app = create_app(router)
    sent, _ = await raw_http(app, "GET", "/host", headers=[(b"host", b"a.example")] * 2)
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b'"a.example"'

    sent, _ = await raw_http(
        app, "GET", "/host", headers=[(b"host", b"a.example"), (b"host", b"evil.example")]
    )
    assert sent[0]["status"] == 400
    assert sent[1]["body"] == b'{"detail":"Invalid host header"}'


def test_host_falls_back_to_the_server_address(
    make_scope: Callable[..., dict[str, Any]],
) -> None:
    assert Request(make_scope()).host == "testserver:80"


# -- headers -------------------------------------------------------------------------------------


def test_headers_are_case_insensitive(router: Router) -> None:
    @router.get("/headers")
    async def headers(request: Request) -> dict[str, Any]:
        return {
            "mapping": request.headers["X-Token"],
            "lower": request.headers.get("x-token"),
            "header": request.header("X-TOKEN"),
            "contains": "X-Token" in request.headers,
        }

    with TestClient(create_app(router)) as client:
        data = client.get("/headers", headers={"x-ToKeN": "secret"}).json()
    assert data == {"mapping": "secret", "lower": "secret", "header": "secret", "contains": True}


def test_header_gives_the_default_when_absent_and_empty_string_when_empty(
    router: Router,
) -> None:
    @router.get("/headers")
    async def headers(request: Request) -> dict[str, Any]:
        return {
            "absent": request.header("X-Missing"),
            "default": request.header("X-Missing", "fallback"),
            "empty": request.header("X-Empty", "fallback"),
        }

    with TestClient(create_app(router)) as client:
        data = client.get("/headers", headers={"X-Empty": ""}).json()
    assert data == {"absent": None, "default": "fallback", "empty": ""}


def test_repeated_headers_keep_every_value(make_scope: Callable[..., dict[str, Any]]) -> None:
    scope = make_scope(headers=[(b"x-a", b"1"), (b"x-b", b"other"), (b"x-a", b"2")])
    request = Request(scope)

    assert request.headers.getlist("X-A") == ["1", "2"]
    assert request.headers["x-a"] == "1"
    assert request.header("X-A") == "1"
    assert request.headers.getlist("x-none") == []


# -- cookies -------------------------------------------------------------------------------------


def test_cookies_are_parsed(router: Router) -> None:
    @router.get("/cookies")
    async def cookies(request: Request) -> dict[str, Any]:
        return {
            "all": request.cookies,
            "one": request.cookie("session"),
            "missing": request.cookie("nope", "dflt"),
        }

    with TestClient(create_app(router)) as client:
        data = client.get("/cookies", headers={"Cookie": 'session=abc; theme="dark"'}).json()
    assert data == {"all": {"session": "abc", "theme": "dark"}, "one": "abc", "missing": "dflt"}


def test_first_value_of_a_repeated_cookie_wins(router: Router) -> None:
    @router.get("/cookies")
    async def cookies(request: Request) -> dict[str, str]:
        return request.cookies

    with TestClient(create_app(router)) as client:
        response = client.get("/cookies", headers={"Cookie": "a=1; a=2; b=3"})
    assert response.json() == {"a": "1", "b": "3"}


def test_cookies_survive_a_malformed_cookie(router: Router) -> None:
    @router.get("/cookies")
    async def cookies(request: Request) -> dict[str, str]:
        return request.cookies

    with TestClient(create_app(router)) as client:
        response = client.get("/cookies", headers={"Cookie": 'a=1; bad; {"json"}; b=2'})
    assert response.json() == {"a": "1", "b": "2"}


def test_cookie_with_a_json_value_does_not_hide_the_others(router: Router) -> None:
    @router.get("/cookies")
    async def cookies(request: Request) -> dict[str, str]:
        return request.cookies

    with TestClient(create_app(router)) as client:
        header = 'prefs={"theme": "dark"}; session=abc; has space=1'
        response = client.get("/cookies", headers={"Cookie": header})
    assert response.json()["session"] == "abc"


# -- query ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "options", "expected"),
    [
        ("a=5", {"type_": int}, 5),
        ("a=-2.5", {"type_": float}, -2.5),
        ("a=hello", {}, "hello"),
        ("a=hello%20world", {}, "hello world"),
        ("a=x+y", {}, "x y"),
        ("a=5&a=6", {"type_": int}, 5),
        ("", {"type_": int, "default": 7}, 7),
        ("", {}, None),
        ("b=1", {"default": "dflt"}, "dflt"),
        ("a=", {}, ""),
        ("a=", {"default": "dflt"}, ""),
        ("a=", {"type_": int, "default": 3}, 3),
        ("a=", {"type_": int}, None),
        ("a=10", {"type_": int, "ge": 10, "le": 10}, 10),
        ("a=abc", {"min_length": 3, "max_length": 3}, "abc"),
    ],
)
def test_query_converts_and_defaults(query: str, options: dict[str, Any], expected: Any) -> None:
    with query_client(**options) as client:
        response = client.get(f"/q?{query}")
    assert response.status_code == 200
    assert response.json() == {"value": expected}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("false", False),
        ("1", True),
        ("0", False),
        ("yes", True),
        ("no", False),
        ("on", True),
        ("off", False),
        ("TRUE", True),
        ("False", False),
    ],
)
def test_query_bool_understands_common_spellings(raw: str, expected: bool) -> None:
    with query_client(type_=bool) as client:
        assert client.get(f"/q?a={raw}").json() == {"value": expected}


@pytest.mark.parametrize(
    ("query", "options", "fragment"),
    [
        ("a=maybe", {"type_": bool}, "maybe"),
        ("a=x", {"type_": int}, "'x'"),
        ("a=1.5", {"type_": int}, "1.5"),
        ("a=abc", {"type_": float}, "abc"),
        ("a=5", {"type_": int, "ge": 10}, "10"),
        ("a=50", {"type_": int, "le": 10}, "10"),
        ("a=0.5", {"type_": float, "ge": 1}, "1"),
        ("a=ab", {"min_length": 3}, "3"),
        ("a=abcd", {"max_length": 3}, "3"),
    ],
)
def test_query_conversion_and_constraint_failures_are_422s_naming_the_parameter(
    query: str, options: dict[str, Any], fragment: str
) -> None:
    with query_client(**options) as client:
        response = client.get(f"/q?{query}")
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "'a'" in detail
    assert fragment in detail


def test_query_default_is_not_a_fallback_for_bad_input() -> None:
    with query_client(type_=int, default=1) as client:
        assert client.get("/q?a=many").status_code == 422


def test_query_list_gives_every_value(router: Router) -> None:
    @router.get("/tags")
    async def tags(request: Request) -> dict[str, Any]:
        return {
            "tags": request.query_list("tag"),
            "ids": request.query_list("id", type_=int),
            "none": request.query_list("missing"),
        }

    with TestClient(create_app(router)) as client:
        data = client.get("/tags?tag=a&id=1&tag=b&id=2").json()
    assert data == {"tags": ["a", "b"], "ids": [1, 2], "none": []}


def test_query_list_conversion_failure_is_a_422(router: Router) -> None:
    @router.get("/ids")
    async def ids(request: Request) -> list[int]:
        return request.query_list("id", type_=int)

    with TestClient(create_app(router)) as client:
        response = client.get("/ids?id=1&id=two")
    assert response.status_code == 422
    assert "'id'" in response.json()["detail"]


def test_query_params_map_first_values_and_keep_blanks(router: Router) -> None:
    @router.get("/params")
    async def params(request: Request) -> dict[str, Any]:
        return {"params": request.query_params, "all": request.query_params.getlist("a")}

    with TestClient(create_app(router)) as client:
        data = client.get("/params?a=1&b=&a=2").json()
    assert data == {"params": {"a": "1", "b": ""}, "all": ["1", "2"]}


@pytest.mark.parametrize("query", ["a=%FF", "a=%C3%28", "%FF=1"])
def test_query_with_invalid_utf8_is_a_400_not_a_500(router: Router, query: str) -> None:
    @router.get("/q")
    async def q(request: Request) -> dict[str, Any]:
        return {"value": request.query("a")}

    with TestClient(create_app(router), raise_server_exceptions=False) as client:
        response = client.get(f"/q?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert "UTF-8" in response.json()["detail"]


def test_raw_query_string_with_invalid_utf8_bytes_is_a_400(
    make_scope: Callable[..., dict[str, Any]],
) -> None:
    from fastware_core import HTTPError

    request = Request(make_scope(query_string=b"a=\xff"))

    with pytest.raises(HTTPError) as caught:
        request.query("a")
    assert caught.value.status_code == 400


# -- JSON bodies ---------------------------------------------------------------------------------


def test_json_is_none_without_a_body() -> None:
    with TestClient(body_app()) as client:
        assert client.post("/json").json() == {"json": None}
        assert client.post("/json", content=b"").json() == {"json": None}


def test_json_decodes_the_body() -> None:
    with TestClient(body_app()) as client:
        response = client.post("/json", json={"a": [1, 2, {"b": None}]})
    assert response.json() == {"json": {"a": [1, 2, {"b": None}]}}


def test_json_null_body_is_distinct_from_no_body(router: Router) -> None:
    @router.post("/has-body")
    async def has_body(request: Request) -> dict[str, Any]:
        return {"body": request.body is not None, "json": request.json}

    with TestClient(create_app(router)) as client:
        assert client.post("/has-body", content=b"null", headers=JSON).json() == {
            "body": True,
            "json": None,
        }
        assert client.post("/has-body").json() == {"body": False, "json": None}


@pytest.mark.parametrize("body", [b'{"a":', b"{a: 1}", b"[1, 2", b"nope", b'{"a": 1} trailing'])
def test_malformed_json_is_a_400(body: bytes) -> None:
    with TestClient(body_app()) as client:
        response = client.post("/json", content=body, headers=JSON)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Invalid JSON")


@pytest.mark.parametrize("body", [b'"\xff"', b'{"a": "caf\xe9"}', b"\xff\xfe[]"])
def test_json_body_with_invalid_utf8_is_a_400(body: bytes) -> None:
    with TestClient(body_app(), raise_server_exceptions=False) as client:
        response = client.post("/json", content=body, headers=JSON)
    assert response.status_code == 400


def test_json_nested_deeper_than_256_is_a_400() -> None:
    with TestClient(body_app(), raise_server_exceptions=False) as client:
        ok = client.post("/json", content=nested(256), headers=JSON)
        too_deep = client.post("/json", content=nested(257), headers=JSON)
        hostile = client.post("/json", content=b"[" * 100_000, headers=JSON)
    assert ok.status_code == 200
    assert too_deep.status_code == 400
    assert "256" in too_deep.json()["detail"]
    assert hostile.status_code == 400


def test_max_json_depth_is_configurable() -> None:
    with TestClient(body_app(max_json_depth=3), raise_server_exceptions=False) as client:
        assert client.post("/json", content=b'{"a": [[1]]}', headers=JSON).json() == {
            "json": {"a": [[1]]}
        }
        assert client.post("/json", content=b'{"a": [[[1]]]}', headers=JSON).status_code == 400


def test_brackets_inside_json_strings_do_not_count_as_nesting() -> None:
    with TestClient(body_app(max_json_depth=2)) as client:
        response = client.post("/json", json={"text": "[[[[{{{{"})
    assert response.json() == {"json": {"text": "[[[[{{{{"}}


@pytest.mark.parametrize(
    "body", [b"1e400", b"[-1e999]", b"1" * 5000, b'{"n": ' + b"9" * 5000 + b"}"]
)
def test_json_with_out_of_range_numbers_is_a_400(body: bytes) -> None:
    with TestClient(body_app(), raise_server_exceptions=False) as client:
        response = client.post("/json", content=body, headers=JSON)
    assert response.status_code == 400


def test_json_as_decodes_into_a_struct(router: Router) -> None:
    @router.post("/items")
    async def create(request: Request) -> dict[str, Any]:
        item = request.json_as(Item)
        return {"type": type(item).__name__, "name": item.name, "price": item.price}

    with TestClient(create_app(router)) as client:
        response = client.post("/items", json={"name": "pen", "price": 3})
    assert response.json() == {"type": "Item", "name": "pen", "price": 3}


def test_json_as_decodes_into_a_dataclass(router: Router) -> None:
    @router.post("/points")
    async def create(request: Request) -> dict[str, int]:
        point = request.json_as(Point)
        return {"sum": point.x + point.y}

    with TestClient(create_app(router)) as client:
        assert client.post("/points", json={"x": 2, "y": 3}).json() == {"sum": 5}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"name": "pen", "price": "cheap"}', 422),
        (b'{"name": "pen"}', 422),
        (b"[1, 2]", 422),
        (b"", 422),
        (b'{"name": "pen", "price":', 400),
        (b"not json", 400),
    ],
)
def test_json_as_errors(router: Router, body: bytes, status: int) -> None:
    @router.post("/items")
    async def create(request: Request) -> Item:
        return request.json_as(Item)

    with TestClient(create_app(router)) as client:
        response = client.post("/items", content=body, headers=JSON)
    assert response.status_code == status
    assert isinstance(response.json()["detail"], str)


def test_json_as_validation_error_names_the_field(router: Router) -> None:
    @router.post("/items")
    async def create(request: Request) -> Item:
        return request.json_as(Item)

    with TestClient(create_app(router)) as client:
        response = client.post("/items", json={"name": "pen", "price": "cheap"})
    assert response.status_code == 422
    assert "price" in response.json()["detail"]


def test_json_as_with_a_pydantic_like_model(router: Router) -> None:
    @router.post("/duck")
    async def create(request: Request) -> dict[str, str]:
        return {"name": request.json_as(DuckModel).name}

    with TestClient(create_app(router)) as client:
        assert client.post("/duck", json={"name": "donald"}).json() == {"name": "donald"}
        invalid = client.post("/duck", json={"age": 3})
        malformed = client.post("/duck", content=b'{"name": ', headers=JSON)
    assert invalid.status_code == 422
    assert "name field required" in invalid.json()["detail"]
    assert malformed.status_code == 400


# -- state and connection ------------------------------------------------------------------------


def test_state_carries_lifespan_state_and_request_writes_do_not_leak(router: Router) -> None:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
        yield {"db": "connection"}

    @router.get("/state")
    async def state(request: Request) -> dict[str, Any]:
        seen = {
            "db": request.state.db,
            "db_item": request.state["db"],
            "visits": request.state.get("visits"),
            "has_db": "db" in request.state,
        }
        request.state.visits = 1
        request.state["db"] = "replaced for this request"
        return seen

    expected = {"db": "connection", "db_item": "connection", "visits": None, "has_db": True}
    with TestClient(create_app(router, lifespan=lifespan)) as client:
        assert client.get("/state").json() == expected
        assert client.get("/state").json() == expected


def test_state_missing_attribute_is_an_attribute_error(router: Router) -> None:
    @router.get("/state")
    async def state(request: Request) -> str:
        try:
            return str(request.state.nothing)
        except AttributeError as exc:
            return str(exc)

    with TestClient(create_app(router)) as client:
        assert "State has no attribute" in client.get("/state").json()


def test_is_disconnected_is_false_during_a_normal_request(router: Router) -> None:
    @router.post("/check")
    async def check(request: Request) -> list[bool]:
        return [await request.is_disconnected(), await request.is_disconnected()]

    with TestClient(create_app(router)) as client:
        assert client.post("/check", json={"a": 1}).json() == [False, False]
        assert client.post("/check").json() == [False, False]


@pytest.mark.anyio
async def test_the_disconnect_watcher_stops_when_the_handler_returns(router: Router) -> None:
    watchers: list[asyncio.Task[Any]] = []

    @router.get("/watch")
    async def watch(request: Request) -> bool:
        before = asyncio.all_tasks()
        disconnected = await request.is_disconnected()
        watchers.extend(asyncio.all_tasks() - before)
        return disconnected

    @router.get("/plain")
    async def plain(request: Request) -> bool:
        return False

    async with AsyncTestClient(create_app(router)) as client:
        assert (await client.get("/watch")).json() is False
        assert (await client.get("/plain")).json() is False
        assert len(watchers) == 1
        await asyncio.sleep(0)  # let the cancellation land
        assert watchers[0].cancelled()


@pytest.mark.anyio
async def test_is_disconnected_notices_a_client_that_left(
    router: Router, raw_http: RawExchange
) -> None:
    @router.post("/slow")
    async def slow(request: Request) -> bool:
        for _ in range(100):
            if await request.is_disconnected():
                return True
            await asyncio.sleep(0)
        return False

    sent, _ = await raw_http(
        create_app(router), "POST", "/slow", headers=[(b"content-length", b"2")], chunks=[b"{}"]
    )
    assert sent[1]["body"] == b"true"


@pytest.mark.anyio
async def test_request_built_by_hand(make_scope: Callable[..., dict[str, Any]]) -> None:
    scope = make_scope(
        "POST",
        "/items/3",
        headers=[
            (b"host", b"example.com"),
            (b"content-type", b"application/json"),
            (b"cookie", b"sid=xyz"),
        ],
        query_string=b"page=2&tag=a&tag=b",
    )
    request = Request(scope, {"item_id": 3}, b'{"name": "pen", "price": 2}')

    assert request.method == "POST"
    assert request.path == "/items/3"
    assert request.path_params == {"item_id": 3}
    assert request.header("Content-Type") == "application/json"
    assert request.query("page", type_=int) == 2
    assert request.query_list("tag") == ["a", "b"]
    assert request.cookie("sid") == "xyz"
    assert request.json == {"name": "pen", "price": 2}
    assert request.json_as(Item) == Item("pen", 2)
    assert request.body_size == len(b'{"name": "pen", "price": 2}')
    assert request.url == "http://example.com/items/3?page=2&tag=a&tag=b"
    assert await request.is_disconnected() is False


def test_request_built_by_hand_without_a_body(make_scope: Callable[..., dict[str, Any]]) -> None:
    request = Request(make_scope(), {}, b"")

    assert request.body is None
    assert request.body_size == 0
    assert request.json is None


def test_request_state_built_by_hand_writes_to_the_scope(
    make_scope: Callable[..., dict[str, Any]],
) -> None:
    scope = make_scope()
    scope["state"] = {"user": "ann"}
    request = Request(scope)

    assert request.state.user == "ann"
    request.state.role = "admin"
    assert scope["state"] == {"user": "ann", "role": "admin"}


# -- body limits ---------------------------------------------------------------------------------


def test_body_over_content_length_limit_is_a_413() -> None:
    with TestClient(body_app(max_body_size=10)) as client:
        response = client.post("/size", content=b"x" * 11)
        at_limit = client.post("/size", content=b"x" * 10)
    assert response.status_code == 413
    assert response.content == b'{"detail":"Request body too large"}'
    assert at_limit.json() == {"size": 10}


@pytest.mark.anyio
async def test_content_length_over_the_limit_is_refused_before_reading(
    raw_http: RawExchange,
) -> None:
    app = body_app(max_body_size=10)

    sent, receive_calls = await raw_http(
        app, "POST", "/size", headers=[(b"content-length", b"1000000")], chunks=[b"x" * 100]
    )
    assert sent[0]["status"] == 413
    assert sent[1]["body"] == b'{"detail":"Request body too large"}'
    assert receive_calls == 0


def test_default_limit_is_ten_mebibytes() -> None:
    with TestClient(body_app()) as client:
        claimed = str(10 * 1024 * 1024 + 1)
        response = client.post("/size", content=b"x", headers={"Content-Length": claimed})
    assert response.status_code == 413


def test_chunked_body_over_the_limit_is_a_413() -> None:
    with TestClient(body_app(max_body_size=10)) as client:
        response = client.post("/size", content=b"x" * 11, headers={"transfer-encoding": "chunked"})
        small = client.post("/size", content=b"x" * 5, headers={"transfer-encoding": "chunked"})
    assert response.status_code == 413
    assert response.json() == {"detail": "Request body too large"}
    assert small.json() == {"size": 5}


@pytest.mark.anyio
async def test_chunked_body_is_cut_off_when_the_chunks_pass_the_limit(
    raw_http: RawExchange,
) -> None:
    app = body_app(max_body_size=10)

    sent, _ = await raw_http(
        app,
        "POST",
        "/size",
        headers=[(b"transfer-encoding", b"chunked")],
        chunks=[b"abcd", b"efgh", b"ijkl", b"mnop"],
    )
    assert sent[0]["status"] == 413

    sent, _ = await raw_http(
        app,
        "POST",
        "/size",
        headers=[(b"transfer-encoding", b"chunked")],
        chunks=[b"abcd", b"efgh"],
    )
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b'{"size":8}'


def test_max_body_size_none_disables_the_limit() -> None:
    big = b"x" * (11 * 1024 * 1024)
    with TestClient(body_app(max_body_size=None)) as client:
        response = client.post("/size", content=big)
    assert response.json() == {"size": len(big)}


def test_get_route_that_never_reads_the_body_works() -> None:
    with TestClient(body_app(max_body_size=10)) as client:
        response = client.get("/hello")
    assert response.status_code == 200
    assert response.json() == "hello"


@pytest.mark.anyio
async def test_body_that_never_arrives_is_a_408(make_scope: Callable[..., dict[str, Any]]) -> None:
    app = body_app(body_timeout=0.05)
    sent: list[dict[str, Any]] = []
    never = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await never.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = make_scope("POST", "/size", headers=[(b"content-length", b"5")])
    await app(scope, receive, send)
    assert sent[0]["status"] == 408
    assert msgspec.json.decode(sent[1]["body"]) == {"detail": "Request body not received in time"}


@pytest.mark.parametrize(
    "headers",
    [
        [(b"content-length", b"abc")],
        [(b"content-length", b"-1")],
        [(b"content-length", b"3"), (b"content-length", b"4")],
    ],
)
@pytest.mark.anyio
async def test_invalid_content_length_is_a_400(
    raw_http: RawExchange, headers: list[tuple[bytes, bytes]]
) -> None:
    sent, _ = await raw_http(body_app(), "POST", "/size", headers=headers, chunks=[b"abc"])

    assert sent[0]["status"] == 400
    assert msgspec.json.decode(sent[1]["body"]) == {"detail": "Invalid Content-Length"}


@pytest.mark.parametrize(
    "query",
    ["", "a=1", "a=1&b=2&a=3", "a", "a=", "=x", "&&a=1&", "a==b", "=", "a&b", "x=1;y=2", "é=ü"],
)
def test_query_strings_without_escapes_parse_as_parse_qsl_does(query: str) -> None:
    from urllib.parse import parse_qsl

    from fastware_core.request import parse_query_string

    expected = parse_qsl(query, keep_blank_values=True)
    assert parse_query_string(query).multi_items() == expected
