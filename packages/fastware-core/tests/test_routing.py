"""Router: registration, converters, precedence, sub-routers and mounts."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from fastware_core import FastwareError, Request, Router, TestClient, TextResponse, create_app
from fastware_core.types import Receive, Scope, Send


async def echo_params(request: Request) -> dict[str, Any]:
    return {"params": request.path_params}


def named(name: str) -> Callable[[Request], Any]:
    """A handler answering its own name and the path parameters."""

    async def handler(request: Request) -> dict[str, Any]:
        return {"handler": name, "params": request.path_params}

    return handler


async def scope_echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """A bare ASGI app answering the path and root_path it was given."""
    if scope["type"] != "http":
        return
    body = msgspec.json.encode({"path": scope["path"], "root_path": scope["root_path"]})
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


# -- registration ------------------------------------------------------------------------------


def test_verb_decorators_return_the_function_unchanged(router: Router) -> None:
    async def handler(request: Request) -> str:
        return request.method

    decorators = [router.get, router.post, router.put, router.patch, router.delete]
    decorators += [router.head, router.options]
    for index, decorator in enumerate(decorators):
        assert decorator(f"/verb/{index}")(handler) is handler


def test_each_verb_decorator_registers_its_method(router: Router) -> None:
    @router.get("/r")
    async def get(request: Request) -> str:
        return "get"

    @router.post("/r")
    async def post(request: Request) -> str:
        return "post"

    @router.put("/r")
    async def put(request: Request) -> str:
        return "put"

    @router.patch("/r")
    async def patch(request: Request) -> str:
        return "patch"

    @router.delete("/r")
    async def delete(request: Request) -> str:
        return "delete"

    @router.options("/r")
    async def options(request: Request) -> str:
        return "options"

    with TestClient(create_app(router)) as client:
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]:
            response = client.request(method, "/r")
            assert response.status_code == 200
            assert response.json() == method.lower()


def test_head_decorator_overrides_the_answer_derived_from_get(router: Router) -> None:
    @router.get("/doc")
    async def get(request: Request) -> dict[str, str]:
        return {"body": "from get"}

    @router.head("/doc")
    async def head(request: Request) -> TextResponse:
        return TextResponse("", headers={"X-From": "head"})

    with TestClient(create_app(router)) as client:
        response = client.head("/doc")
    assert response.status_code == 200
    assert response.headers["x-from"] == "head"
    assert response.content == b""


def test_route_registers_several_methods(router: Router) -> None:
    @router.route("/things", methods=["GET", "POST"])
    async def things(request: Request) -> str:
        return request.method

    with TestClient(create_app(router)) as client:
        assert client.get("/things").json() == "GET"
        assert client.post("/things").json() == "POST"
        rejected = client.put("/things")
    assert rejected.status_code == 405
    assert rejected.headers["allow"] == "GET, HEAD, POST"


def test_add_route_normalises_a_lower_case_method(router: Router) -> None:
    router.add_route("get", "/health", named("health"))
    router.add_route(" post ", "/health", named("create"))

    with TestClient(create_app(router)) as client:
        assert client.get("/health").json()["handler"] == "health"
        assert client.post("/health").json()["handler"] == "create"


@pytest.mark.parametrize("method", ["", "GE T", "GE\r\nT", "G(ET)", "GÉT"])
def test_add_route_rejects_an_invalid_method(router: Router, method: str) -> None:
    with pytest.raises(ValueError, match="Invalid HTTP method"):
        router.add_route(method, "/x", named("x"))


def test_custom_method_routes_are_served(router: Router) -> None:
    router.add_route("PURGE", "/cache", named("purge"))

    with TestClient(create_app(router)) as client:
        response = client.request("PURGE", "/cache")
    assert response.status_code == 200
    assert response.json()["handler"] == "purge"


@pytest.mark.parametrize("pattern", ["/items/{id:bogus}", "/items/{id:regex}", "/{x:Int}"])
def test_unknown_converter_raises_at_registration(router: Router, pattern: str) -> None:
    with pytest.raises(ValueError, match="Unknown path parameter type"):
        router.add_route("GET", pattern, echo_params)
    with pytest.raises(ValueError, match="Unknown path parameter type"):
        router.get(pattern)(echo_params)
    assert router.routes == []


def test_unknown_converter_error_is_a_fastware_error(router: Router) -> None:
    with pytest.raises(FastwareError):
        router.add_route("GET", "/items/{id:bogus}", echo_params)


@pytest.mark.parametrize("pattern", ["/files/{name}.txt", "/a/{x}{y}", "/a/b{x}"])
def test_segment_mixing_text_and_parameter_is_refused(router: Router, pattern: str) -> None:
    with pytest.raises(ValueError, match=re.escape(pattern)):
        router.add_route("GET", pattern, echo_params)


def test_repeated_parameter_name_is_refused(router: Router) -> None:
    with pytest.raises(ValueError, match="repeated"):
        router.add_route("GET", "/a/{x}/b/{x:int}", echo_params)


# -- converters ----------------------------------------------------------------------------------


def test_str_parameter_is_the_default(router: Router) -> None:
    router.add_route("GET", "/users/{name}", echo_params)
    router.add_route("GET", "/teams/{name:str}", echo_params)

    assert router.match("GET", "/users/alice") == (echo_params, {"name": "alice"})
    assert router.match("GET", "/teams/red") == (echo_params, {"name": "red"})


def test_parameter_never_matches_an_empty_segment(router: Router) -> None:
    router.add_route("GET", "/users/{name}/posts", echo_params)

    assert router.match("GET", "/users//posts") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("42", 42), ("-3", -3), ("007", 7), ("0", 0)],
)
def test_int_converter_converts_ascii_digits_with_an_optional_minus(
    router: Router, raw: str, expected: int
) -> None:
    router.add_route("GET", "/items/{id:int}", echo_params)

    found = router.match("GET", f"/items/{raw}")
    assert found is not None
    assert found[1] == {"id": expected}
    assert type(found[1]["id"]) is int
    with TestClient(create_app(router)) as client:
        assert client.get(f"/items/{raw}").json() == {"params": {"id": expected}}


@pytest.mark.parametrize(
    "raw",
    # int() would take "+5", "1_000", " 7", "\u0661" (Arabic-Indic one) and "\uff17"
    # (fullwidth 7): a route parameter takes plain ASCII digits only.
    [
        *("abc", "1.5", "1__0", "_1", "1_", "\u0661", "\uff17", "0x10", "5a"),
        *("+5", "1_000", " 7", "--1", "-", "1" * 4301),
    ],
)
def test_int_converter_rejects_what_is_not_an_ascii_integer(router: Router, raw: str) -> None:
    router.add_route("GET", "/items/{id:int}", echo_params)

    assert router.match("GET", f"/items/{raw}") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1.5", 1.5), ("-2e3", -2000.0), ("3", 3.0), (".5", 0.5), ("-0.25", -0.25), ("1e+2", 100.0)],
)
def test_float_converter_converts(router: Router, raw: str, expected: float) -> None:
    router.add_route("GET", "/price/{value:float}", echo_params)

    found = router.match("GET", f"/price/{raw}")
    assert found is not None
    assert found[1] == {"value": expected}
    assert type(found[1]["value"]) is float


@pytest.mark.parametrize(
    "raw", ["abc", "nan", "inf", "1e999", "1.2.3", "1,5", "+0.25", "1_0.5", "\u0661.5", "1e"]
)
def test_float_converter_rejects_non_finite_and_malformed_values(router: Router, raw: str) -> None:
    router.add_route("GET", "/price/{value:float}", echo_params)

    assert router.match("GET", f"/price/{raw}") is None


def test_uuid_converter_gives_a_uuid(router: Router) -> None:
    router.add_route("GET", "/orders/{order_id:uuid}", echo_params)
    order_id = uuid.uuid4()

    found = router.match("GET", f"/orders/{order_id}")
    assert found is not None
    assert found[1] == {"order_id": order_id}
    assert isinstance(found[1]["order_id"], uuid.UUID)
    with TestClient(create_app(router)) as client:
        assert client.get(f"/orders/{order_id}").json() == {"params": {"order_id": str(order_id)}}
        assert client.get("/orders/not-a-uuid").status_code == 404
        assert client.get(f"/orders/{order_id.hex}").status_code == 404


def test_path_converter_is_greedy(router: Router) -> None:
    router.add_route("GET", "/files/{p:path}", echo_params)

    assert router.match("GET", "/files/a/b/c.txt") == (echo_params, {"p": "a/b/c.txt"})
    assert router.match("GET", "/files/a") == (echo_params, {"p": "a"})


def test_path_converter_needs_at_least_one_segment(router: Router) -> None:
    router.add_route("GET", "/files/{p:path}", echo_params)

    assert router.match("GET", "/files") is None
    assert router.match("GET", "/files/") is None
    with TestClient(create_app(router)) as client:
        assert client.get("/files/").status_code == 404


def test_path_converter_with_a_suffix(router: Router) -> None:
    router.add_route("GET", "/files/{p:path}/raw", echo_params)

    assert router.match("GET", "/files/a/b/raw") == (echo_params, {"p": "a/b"})
    assert router.match("GET", "/files/a/raw") == (echo_params, {"p": "a"})
    assert router.match("GET", "/files/raw") is None
    assert router.match("GET", "/files/a/b") is None
    with TestClient(create_app(router)) as client:
        assert client.get("/files/docs/2024/raw").json() == {"params": {"p": "docs/2024"}}


def test_path_converter_suffix_may_hold_typed_parameters(router: Router) -> None:
    router.add_route("GET", "/repo/{p:path}/line/{n:int}", echo_params)

    assert router.match("GET", "/repo/src/app.py/line/12") == (
        echo_params,
        {"p": "src/app.py", "n": 12},
    )
    assert router.match("GET", "/repo/src/app.py/line/twelve") is None


# -- precedence ----------------------------------------------------------------------------------


@pytest.mark.parametrize("literal_first", [True, False])
def test_literal_beats_parameter_regardless_of_order(router: Router, literal_first: bool) -> None:
    if literal_first:
        router.add_route("GET", "/users/me", named("me"))
        router.add_route("GET", "/users/{name}", named("by-name"))
    else:
        router.add_route("GET", "/users/{name}", named("by-name"))
        router.add_route("GET", "/users/me", named("me"))

    with TestClient(create_app(router)) as client:
        assert client.get("/users/me").json() == {"handler": "me", "params": {}}
        assert client.get("/users/bob").json() == {
            "handler": "by-name",
            "params": {"name": "bob"},
        }


def test_int_parameter_beats_str_parameter_at_the_same_position(router: Router) -> None:
    router.add_route("GET", "/items/{slug}", named("slug"))
    router.add_route("GET", "/items/{item_id:int}", named("id"))

    with TestClient(create_app(router)) as client:
        assert client.get("/items/5").json() == {"handler": "id", "params": {"item_id": 5}}
        assert client.get("/items/abc").json() == {
            "handler": "slug",
            "params": {"slug": "abc"},
        }


def test_path_parameter_comes_after_single_segment_parameters(router: Router) -> None:
    router.add_route("GET", "/docs/{rest:path}", named("rest"))
    router.add_route("GET", "/docs/{page}", named("page"))

    with TestClient(create_app(router)) as client:
        assert client.get("/docs/intro").json()["handler"] == "page"
        assert client.get("/docs/guide/intro").json() == {
            "handler": "rest",
            "params": {"rest": "guide/intro"},
        }


def test_conversion_failure_falls_through_to_the_next_candidate(router: Router) -> None:
    router.add_route("GET", "/files/{file_id:int}", named("by-id"))
    router.add_route("GET", "/files/{p:path}", named("by-path"))

    with TestClient(create_app(router)) as client:
        assert client.get("/files/7").json() == {"handler": "by-id", "params": {"file_id": 7}}
        assert client.get("/files/readme").json() == {
            "handler": "by-path",
            "params": {"p": "readme"},
        }


def test_a_dead_end_deeper_down_falls_back_to_another_branch(router: Router) -> None:
    router.add_route("GET", "/a/{x:int}/b", named("int-b"))
    router.add_route("GET", "/a/{y}/c", named("str-c"))

    with TestClient(create_app(router)) as client:
        assert client.get("/a/5/b").json() == {"handler": "int-b", "params": {"x": 5}}
        assert client.get("/a/5/c").json() == {"handler": "str-c", "params": {"y": "5"}}
        assert client.get("/a/x/b").status_code == 404


def test_literal_dead_end_falls_back_to_a_parameter(router: Router) -> None:
    router.add_route("GET", "/users/me/settings", named("settings"))
    router.add_route("GET", "/users/{name}/posts", named("posts"))

    with TestClient(create_app(router)) as client:
        assert client.get("/users/me/posts").json() == {
            "handler": "posts",
            "params": {"name": "me"},
        }


def test_static_path_with_another_method_falls_back_to_a_parameter_route(
    router: Router,
) -> None:
    router.add_route("GET", "/users/me", named("me"))
    router.add_route("DELETE", "/users/{name}", named("delete"))

    with TestClient(create_app(router)) as client:
        assert client.delete("/users/me").json() == {
            "handler": "delete",
            "params": {"name": "me"},
        }


def test_405_lists_methods_of_literal_and_parameter_routes_alike(router: Router) -> None:
    router.add_route("GET", "/users/me", named("me"))
    router.add_route("DELETE", "/users/{name}", named("delete"))

    assert router.allowed_methods("/users/me") == {"DELETE", "GET", "HEAD"}
    with TestClient(create_app(router)) as client:
        response = client.put("/users/me")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, HEAD"


def test_trailing_slash_is_not_significant(router: Router) -> None:
    router.add_route("GET", "/users", named("users"))
    router.add_route("GET", "/teams/", named("teams"))
    router.add_route("GET", "/", named("root"))

    with TestClient(create_app(router)) as client:
        assert client.get("/users/").json()["handler"] == "users"
        assert client.get("/users").json()["handler"] == "users"
        assert client.get("/teams").json()["handler"] == "teams"
        assert client.get("/").json()["handler"] == "root"


# -- lookup API ----------------------------------------------------------------------------------


def test_match_returns_handler_and_converted_params(router: Router) -> None:
    router.add_route("GET", "/items/{item_id:int}", echo_params)

    assert router.match("GET", "/items/3") == (echo_params, {"item_id": 3})
    assert router.match("POST", "/items/3") is None
    assert router.match("GET", "/nothing") is None


def test_match_falls_back_from_head_to_get(router: Router) -> None:
    router.add_route("GET", "/items/{item_id:int}", echo_params)
    router.add_route("GET", "/static", echo_params)

    assert router.match("HEAD", "/items/3") == (echo_params, {"item_id": 3})
    assert router.match("HEAD", "/static") == (echo_params, {})


def test_allowed_methods_include_head_where_get_is(router: Router) -> None:
    router.add_route("GET", "/items/{item_id:int}", echo_params)
    router.add_route("POST", "/items/{item_id:int}", echo_params)
    router.add_route("PUT", "/plain", echo_params)

    assert router.allowed_methods("/items/1") == {"GET", "HEAD", "POST"}
    assert router.allowed_methods("/plain") == {"PUT"}
    assert router.allowed_methods("/items/abc") == set()
    assert router.allowed_methods("/nothing") == set()


def test_match_with_deps_gives_deps_and_response_model(router: Router) -> None:
    class Out(msgspec.Struct):
        id: int

    router.add_route("GET", "/items/{item_id:int}", echo_params, response_model=Out)

    assert router._match_with_deps("GET", "/items/9") == (echo_params, {"item_id": 9}, {}, Out)
    assert router._match_with_deps("GET", "/other") is None


def test_a_route_among_a_thousand_decoys_is_found(router: Router) -> None:
    for index in range(1000):
        router.add_route("GET", f"/decoy{index}/{{item_id:int}}", named(f"decoy{index}"))
        router.add_route("POST", f"/items/{index}/edit", named(f"edit{index}"))
    router.add_route("GET", "/items/{item_id:int}/edit", named("target"))

    found = router.match("GET", "/items/500/edit")
    assert found is not None
    assert found[1] == {"item_id": 500}
    with TestClient(create_app(router)) as client:
        assert client.get("/items/500/edit").json() == {
            "handler": "target",
            "params": {"item_id": 500},
        }
        assert client.post("/items/500/edit").json()["handler"] == "edit500"
        assert client.get("/decoy999/1").json()["handler"] == "decoy999"


# -- include_router ------------------------------------------------------------------------------


def test_include_router_places_routes_under_the_prefix(router: Router) -> None:
    users = Router()
    users.add_route("GET", "/", named("list"))
    users.add_route("GET", "/{user_id:int}", named("one"))
    router.include_router(users, prefix="/users")

    with TestClient(create_app(router)) as client:
        assert client.get("/users").json()["handler"] == "list"
        assert client.get("/users/").json()["handler"] == "list"
        assert client.get("/users/4").json() == {"handler": "one", "params": {"user_id": 4}}
        assert client.get("/4").status_code == 404


def test_include_router_prefix_may_hold_parameters(router: Router) -> None:
    members = Router()
    members.add_route("GET", "/members/{member_id:int}", named("member"))
    router.include_router(members, prefix="/orgs/{org:int}")

    with TestClient(create_app(router)) as client:
        assert client.get("/orgs/7/members/3").json() == {
            "handler": "member",
            "params": {"org": 7, "member_id": 3},
        }
        assert client.get("/orgs/acme/members/3").status_code == 404


def test_include_router_without_prefix(router: Router) -> None:
    other = Router()
    other.add_route("GET", "/ping", named("ping"))
    router.include_router(other)

    assert router.match("GET", "/ping") is not None


def test_include_router_merges_deps_with_route_deps_winning(router: Router) -> None:
    def router_db() -> str:
        return "router-db"

    def route_db() -> str:
        return "route-db"

    def user() -> str:
        return "user"

    sub = Router()
    sub.add_route("GET", "/items", echo_params, deps={"db": route_db})
    sub.add_route("GET", "/plain", echo_params)
    router.include_router(sub, prefix="/api", deps={"db": router_db, "user": user})

    found = router._match_with_deps("GET", "/api/items")
    assert found is not None
    assert found[2] == {"db": route_db, "user": user}
    plain = router._match_with_deps("GET", "/api/plain")
    assert plain is not None
    assert plain[2] == {"db": router_db, "user": user}


def test_routes_with_deps_are_refused_until_dependency_injection_exists(router: Router) -> None:
    router.add_route("GET", "/items", echo_params, deps={"db": lambda: None})

    with pytest.raises(FastwareError, match="deps"):
        create_app(router)


def test_include_router_serves_routes_added_later(router: Router) -> None:
    sub = Router()
    router.include_router(sub, prefix="/api")
    app = create_app(router)
    sub.add_route("GET", "/late", named("late"))

    with TestClient(app) as client:
        assert client.get("/api/late").json()["handler"] == "late"
        sub.add_route("GET", "/later", named("later"))
        assert client.get("/api/later").json()["handler"] == "later"


def test_include_router_keeps_mounts_including_later_ones(router: Router) -> None:
    sub = Router()
    sub.mount("/legacy", scope_echo_app)
    router.include_router(sub, prefix="/api")
    sub.mount("/old", scope_echo_app)

    with TestClient(create_app(router)) as client:
        assert client.get("/api/legacy/x").json() == {"path": "/x", "root_path": "/api/legacy"}
        assert client.get("/api/old/y/z").json() == {"path": "/y/z", "root_path": "/api/old"}


def test_include_router_refuses_to_include_itself(router: Router) -> None:
    sub = Router()
    sub.include_router(router)

    with pytest.raises(ValueError, match="include itself"):
        router.include_router(sub)
    with pytest.raises(ValueError, match="include itself"):
        router.include_router(router)


# -- mounts --------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/legacy", "legacy", "/legacy/", "legacy//"])
def test_mount_normalises_the_prefix(router: Router, prefix: str) -> None:
    router.mount(prefix, scope_echo_app)

    assert router.mounts == [("/legacy", scope_echo_app)]
    with TestClient(create_app(router)) as client:
        assert client.get("/legacy/page").json() == {"path": "/page", "root_path": "/legacy"}


def test_mount_matches_only_at_a_slash_boundary(router: Router) -> None:
    router.mount("/legacy", scope_echo_app)

    with TestClient(create_app(router)) as client:
        assert client.get("/legacy").json() == {"path": "/", "root_path": "/legacy"}
        assert client.get("/legacy/").json() == {"path": "/", "root_path": "/legacy"}
        assert client.get("/legacyfoo").status_code == 404


@pytest.mark.asgi_only  # RSGI has no root_path: the client's root_path cannot reach the app
def test_mounted_app_sees_the_path_without_prefix_and_root_path_with_it(router: Router) -> None:
    router.mount("/sub", scope_echo_app)

    with TestClient(create_app(router), root_path="/outer") as client:
        assert client.get("/sub/a/b").json() == {"path": "/a/b", "root_path": "/outer/sub"}


def test_mounts_are_matched_before_routes(router: Router) -> None:
    router.add_route("GET", "/{section}/x", named("route"))
    router.mount("/legacy", scope_echo_app)

    with TestClient(create_app(router)) as client:
        assert client.get("/legacy/x").json() == {"path": "/x", "root_path": "/legacy"}
        assert client.get("/current/x").json()["handler"] == "route"


def test_mount_at_root_serves_only_what_no_route_matched(router: Router) -> None:
    router.add_route("GET", "/api/ping", named("ping"))
    router.mount("/", scope_echo_app)

    assert router.mounts == [("", scope_echo_app)]
    with TestClient(create_app(router)) as client:
        assert client.get("/api/ping").json()["handler"] == "ping"
        assert client.get("/anything/else").json() == {"path": "/anything/else", "root_path": ""}


# -- routes that could never answer ----------------------------------------------------------------


async def create_item(request: Request) -> dict[str, str]:
    return {"handler": "first"}


async def create_item_again(request: Request) -> dict[str, str]:
    return {"handler": "second"}


def test_the_same_method_and_path_twice_is_an_error_naming_both_handlers(router: Router) -> None:
    router.post("/items")(create_item)
    with pytest.raises(FastwareError) as caught:
        router.post("/items/")(create_item_again)
    message = str(caught.value)
    assert message.startswith("POST /items is registered twice: first for ")
    assert "test_routing.create_item (test_routing.py, line " in message
    assert "again for " in message
    assert "test_routing.create_item_again (test_routing.py, line " in message
    # The first registration is still the one served; the refused one left no trace.
    with TestClient(create_app(router)) as client:
        assert client.post("/items").json() == {"handler": "first"}
    assert len(router.routes) == 1


def test_patterns_differing_only_in_parameter_names_are_the_same_route(router: Router) -> None:
    router.get("/items/{item_id:int}")(create_item)
    with pytest.raises(FastwareError, match=re.escape(
        "GET /items/{item_id:int} and GET /items/{id:int} match the same requests"
    )):  # fmt: skip
        router.get("/items/{id:int}")(create_item_again)


def test_other_methods_converters_and_websockets_do_not_conflict(router: Router) -> None:
    router.get("/items/{item_id:int}")(create_item)
    router.post("/items/{item_id:int}")(create_item)
    router.get("/items/{name}")(create_item_again)
    router.head("/items/{item_id:int}")(create_item_again)  # overrides HEAD-from-GET
    router.add_ws_route("/items/{item_id:int}", create_item)
    with pytest.raises(
        FastwareError, match=r"^WebSocket /items/\{item_id:int\} is registered twice"
    ):
        router.add_ws_route("/items/{item_id:int}", create_item_again)
    with TestClient(create_app(router)) as client:
        assert client.get("/items/1").json() == {"handler": "first"}
        assert client.get("/items/teapot").json() == {"handler": "second"}


def test_route_methods_registers_each_once(router: Router) -> None:
    router.route("/both", methods=["GET", "POST"])(create_item)
    with pytest.raises(FastwareError, match=r"^GET /both is registered twice"):
        router.route("/both", methods=["GET"])(create_item_again)


def test_include_router_refuses_a_route_the_parent_already_has(router: Router) -> None:
    router.post("/api/items")(create_item)
    sub = Router()
    sub.post("/items")(create_item_again)
    with pytest.raises(FastwareError) as caught:
        router.include_router(sub, prefix="/api")
    assert "POST /api/items is registered twice" in str(caught.value)
    assert "create_item (" in str(caught.value)
    assert "create_item_again (" in str(caught.value)
    # Refused: the include did not happen.
    with TestClient(create_app(router)) as client:
        assert client.post("/api/items").json() == {"handler": "first"}


def test_two_included_routers_with_the_same_route_conflict(router: Router) -> None:
    one, two = Router(), Router()
    one.get("/ping")(create_item)
    two.get("/ping")(create_item_again)
    router.include_router(one)
    with pytest.raises(FastwareError, match=r"^GET /ping is registered twice"):
        router.include_router(two)


def test_a_route_added_to_an_included_router_later_is_checked_when_compiled(
    router: Router,
) -> None:
    router.get("/api/ping")(create_item)
    sub = Router()
    router.include_router(sub, prefix="/api")
    sub.get("/ping")(create_item_again)  # the sub-router alone is fine
    with pytest.raises(FastwareError, match=r"^GET /api/ping is registered twice"):
        create_app(router)


def test_two_mounts_at_one_prefix_are_an_error(router: Router) -> None:
    async def other_app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("never called")

    router.mount("/legacy", scope_echo_app)
    with pytest.raises(FastwareError) as caught:
        router.mount("/legacy/", other_app)
    message = str(caught.value)
    assert message.startswith("two apps are mounted at '/legacy': first ")
    assert "scope_echo_app" in message
    assert "other_app" in message
    assert router.mounts == [("/legacy", scope_echo_app)]


def test_a_route_under_a_mount_is_an_error_either_way_round(router: Router) -> None:
    router.get("/legacy/x")(create_item)
    with pytest.raises(FastwareError) as caught:
        router.mount("/legacy", scope_echo_app)
    message = str(caught.value)
    assert "GET /legacy/x (" in message
    assert "could never answer: the app mounted at '/legacy' (" in message
    assert "scope_echo_app" in message

    other = Router()
    other.mount("/static", scope_echo_app)
    sub = Router()
    sub.get("/static/app.js")(create_item)
    with pytest.raises(FastwareError, match=r"^GET /static/app.js .* could never answer"):
        other.include_router(sub)
    # The same literal in another position, or a mount at "/", is fine.
    other.get("/assets/static")(create_item)
    other.mount("/", scope_echo_app)
    with TestClient(create_app(other)) as client:
        assert client.get("/assets/static").json() == {"handler": "first"}


@pytest.mark.asgi_only  # no request is served: the route table alone
def test_the_shape_index_finds_what_the_tree_walk_finds() -> None:
    # Parametrised routes are found through an index by segment count and first segment
    # whose order must be the walk's: literals before parameters, int before float before
    # uuid before str, a missing method sending the search on. Every path and method here
    # must give the same route and parameters both ways.
    router = Router()
    patterns = [
        ("GET", "/users/{id:int}"),
        ("GET", "/users/me"),
        ("POST", "/users/{name}"),
        ("GET", "/users/{name}/posts"),
        ("GET", "/users/{id:int}/posts"),
        ("PUT", "/users/{id:int}/posts/{post:uuid}"),
        ("GET", "/users/{id:int}/posts/{slug}"),
        ("GET", "/{section}/{id:int}"),
        ("DELETE", "/{section}/{page:float}"),
        ("GET", "/{section}/about"),
        ("GET", "/files/{a}/{b}/{c:int}"),
        ("PATCH", "/files/{a}/x/{c}"),
        ("GET", "/orgs/{org}/projects/{pid:int}"),
        ("GET", "/orgs/{org}/projects/new"),
        ("GET", "/caf\u00e9/{id:int}"),  # generated code quotes literals and names
        ("GET", "/it's\\/{name}"),
        ("GET", '/q"uote/{na_me}/{x:float}'),
    ]
    for index, (method, pattern) in enumerate(patterns):

        async def handler(request: Request) -> None:
            return None

        handler.__name__ = f"route_{index}"
        router.add_route(method, pattern, handler)
    compiled = router.compile()
    assert compiled.shapes is not None
    paths = [
        "/users/42", "/users/me", "/users/-7", "/users/abc", "/users/", "/users/4.5",
        "/users/42/posts", "/users/bob/posts", "/users/42/posts/hello",
        f"/users/42/posts/{uuid.UUID(int=7)}", "/users/42/posts/", "/news/3", "/news/3.5",
        "/news/about", "/users/about", "/files/p/q/9", "/files/p/x/9", "/files/p/x/z",
        "/orgs/acme/projects/12", "/orgs/acme/projects/new", "/orgs/acme/projects/x",
        "/users/\u0661", "/users/%31", "/a/b/c/d/e", "/", "//users//42",
        "/caf\u00e9/7", "/caf\u00e9/x", "/it's\\/bob", '/q"uote/a/1.5', '/q"uote/a/b',
        "/users/" + "9" * 5000,
    ]  # fmt: skip
    methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]
    seen = set()
    for path in paths:
        for method in methods:
            found = compiled.lookup(method, path)
            literal = compiled.static.get(path.strip("/"), {}).get(method)
            walked = (literal, {}) if literal else compiled.lookup_tree(method, path.strip("/"))
            assert (found is None) == (walked is None), (method, path)
            if found is not None and walked is not None:
                assert found[0] is walked[0], (method, path)
                assert found[1] == walked[1], (method, path)
                seen.add(found[0].call.__name__)
    assert len(seen) >= 15  # the paths reach nearly every route
