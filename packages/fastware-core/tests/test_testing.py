"""The in-process test clients: requests, cookies, redirects, lifespan and streams."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from fastware_core import (
    App,
    AsyncTestClient,
    JSONResponse,
    RedirectResponse,
    Request,
    Router,
    StreamResponse,
    TestClient,
    TextResponse,
    create_app,
    delete_cookie,
    set_cookie,
)
from fastware_core.datastructures import Headers
from fastware_core.forms import UploadFile
from fastware_core.testing._responses import TestResponse
from fastware_core.types import Receive, Scope, Send


def echo_app() -> App:
    """An app whose routes echo what the client sent."""
    router = Router()

    @router.route("/echo", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    async def echo(request: Request) -> dict[str, Any]:
        return {
            "method": request.method,
            "path": request.path,
            "query": request.query_string,
            "params": request.query_params.multi_items(),
            "content_type": request.header("content-type"),
            "body": request.body.decode() if request.body else None,
            "token": request.header("x-token"),
            "tokens": request.headers.getlist("x-token"),
            "cookies": request.cookies,
        }

    @router.get("/login")
    async def login(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True}, cookies=[set_cookie("sid", "abc123", httponly=True)])

    @router.get("/logout")
    async def logout(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True}, cookies=[delete_cookie("sid")])

    @router.get("/expire")
    async def expire(request: Request) -> JSONResponse:
        gone = set_cookie("sid", "", max_age=None, expires=datetime(2000, 1, 1, tzinfo=UTC))
        return JSONResponse({"ok": True}, cookies=[gone])

    @router.get("/me")
    async def me(request: Request) -> dict[str, Any]:
        return {"sid": request.cookie("sid")}

    @router.get("/old")
    async def old(request: Request) -> RedirectResponse:
        return RedirectResponse("/echo?from=old")

    @router.post("/form")
    async def form(request: Request) -> RedirectResponse:
        return RedirectResponse("/echo", status=303)

    @router.get("/loop")
    async def loop(request: Request) -> RedirectResponse:
        return RedirectResponse("/loop")

    @router.get("/text")
    async def text(request: Request) -> str:
        return "héllo"

    return create_app(router)


def test_clients_are_not_collected_by_pytest() -> None:
    assert TestClient.__test__ is False
    assert AsyncTestClient.__test__ is False


def test_response_surface() -> None:
    with TestClient(echo_app()) as client:
        response = client.get("/login")
        text = client.get("/text")
    assert response.status_code == 200
    assert response.is_success
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"ok": True}
    assert response.content == b'{"ok":true}'
    assert response.text == '{"ok":true}'
    assert response.cookies == {"sid": "abc123"}
    assert text.text == '"héllo"'


def test_raise_for_status() -> None:
    with TestClient(echo_app()) as client:
        client.get("/text").raise_for_status()
        missing = client.get("/missing")
    assert missing.status_code == 404
    assert not missing.is_success
    with pytest.raises(RuntimeError, match="404"):
        missing.raise_for_status()


def test_every_verb_method_sends_its_method() -> None:
    with TestClient(echo_app()) as client:
        assert client.get("/echo").json()["method"] == "GET"
        assert client.post("/echo").json()["method"] == "POST"
        assert client.put("/echo").json()["method"] == "PUT"
        assert client.patch("/echo").json()["method"] == "PATCH"
        assert client.delete("/echo").json()["method"] == "DELETE"
        assert client.options("/echo").json()["method"] == "OPTIONS"
        assert client.request("GET", "/echo").json()["method"] == "GET"
        head = client.head("/echo")
    assert head.status_code == 200
    assert head.content == b""


def test_params_are_encoded_into_the_query_string() -> None:
    with TestClient(echo_app()) as client:
        from_dict = client.get("/echo", params={"q": "a b", "n": 1}).json()
        from_pairs = client.get("/echo?x=0", params=[("tag", "a"), ("tag", "b")]).json()
        repeated = client.get("/echo", params={"tag": ["a", "b"]}).json()
    assert from_dict["params"] == [["q", "a b"], ["n", "1"]]
    assert from_pairs["params"] == [["x", "0"], ["tag", "a"], ["tag", "b"]]
    assert repeated["params"] == [["tag", "a"], ["tag", "b"]]


def test_json_data_and_content_bodies() -> None:
    with TestClient(echo_app()) as client:
        as_json = client.post("/echo", json={"a": 1}).json()
        as_form = client.post("/echo", data={"name": "ann", "tags": ["x", "y"]}).json()
        as_bytes = client.post("/echo", content=b"raw bytes").json()
        as_text = client.post("/echo", content="text body").json()
    assert (as_json["content_type"], msgspec.json.decode(as_json["body"])) == (
        "application/json",
        {"a": 1},
    )
    assert as_form["content_type"] == "application/x-www-form-urlencoded"
    assert as_form["body"] == "name=ann&tags=x&tags=y"
    assert as_bytes["body"] == "raw bytes"
    assert as_bytes["content_type"] is None
    assert as_text["body"] == "text body"


def test_request_headers_and_client_default_headers() -> None:
    with TestClient(echo_app(), headers={"X-Token": "default"}) as client:
        assert client.get("/echo").json()["token"] == "default"
        assert client.get("/echo", headers={"X-Token": "same case"}).json()["token"] == "same case"
        assert client.get("/echo", headers={"x-token": "override"}).json()["token"] == "override"


def test_request_headers_as_pairs_keep_repeated_names_in_order() -> None:
    # httpx takes headers as (name, value) pairs too, and 0.6.3's clients were httpx's.
    with TestClient(echo_app(), headers={"X-Token": "default"}) as client:
        pairs = [("X-Token", "one"), ("x-token", "two"), ("X-Other", "x")]
        assert client.get("/echo", headers=pairs).json()["tokens"] == ["one", "two"]
        assert client.get("/echo", headers=[]).json()["tokens"] == ["default"]


def upload_app() -> Any:
    router = Router()

    @router.post("/upload")
    async def upload(request: Request) -> list[list[Any]]:
        form = await request.form()
        out: list[list[Any]] = []
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
                out.append([name, value.filename, value.content_type, data.decode()])
            else:
                out.append([name, value])
        return out

    return create_app(router)


def test_files_send_a_multipart_form_as_httpx_does(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("from disk")
    with TestClient(upload_app()) as client, notes.open("rb") as opened:
        response = client.post(
            "/upload",
            data={"title": "Hi", "tags": ["a", "b"], "count": 3},
            files=[
                ("doc", ("report.csv", b"x,y", "text/csv")),
                ("doc", ("second.json", '{"a": 1}')),
                ("raw", b"bytes only"),
                ("disk", opened),
                ("plain", (None, "a field sent through files")),
            ],
        )
    assert response.status_code == 200
    assert response.json() == [
        ["title", "Hi"],
        ["tags", "a"],
        ["tags", "b"],
        ["count", "3"],
        ["doc", "report.csv", "text/csv", "x,y"],
        ["doc", "second.json", "application/json", '{"a": 1}'],
        ["raw", "upload", "application/octet-stream", "bytes only"],
        ["disk", "notes.txt", "text/plain", "from disk"],
        ["plain", "a field sent through files"],
    ]


def test_files_as_a_mapping_with_headers_of_their_own() -> None:
    with TestClient(upload_app()) as client:
        response = client.post(
            "/upload", files={"f": ("a.bin", b"\x00\x01", "application/x-thing", {"X-A": "1"})}
        )
    assert response.json() == [["f", "a.bin", "application/x-thing", "\x00\x01"]]


def auth_app() -> Any:
    router = Router()

    @router.get("/who")
    async def who(request: Request) -> dict[str, Any]:
        return {"authorization": request.header("authorization")}

    @router.get("/slow")
    async def slow(request: Request) -> dict[str, Any]:
        await asyncio.sleep(30)
        return {}

    return create_app(router)


def test_auth_sends_basic_credentials_as_httpx_does() -> None:
    with TestClient(auth_app()) as client:
        sent = client.get("/who", auth=("user", "pa:ss")).json()["authorization"]
        assert sent == "Basic " + base64.b64encode(b"user:pa:ss").decode()
        given = {"Authorization": "Bearer t"}
        assert client.get("/who", auth=("u", "p"), headers=given).json() == {
            "authorization": "Bearer t"
        }


def test_a_request_timeout_bounds_the_exchange() -> None:
    with TestClient(auth_app()) as client:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            client.get("/slow", timeout=0.2)
        assert time.monotonic() - started < 5
        assert client.get("/who", timeout=5).status_code == 200


@pytest.mark.anyio
async def test_the_async_client_takes_auth_and_timeout() -> None:
    async with AsyncTestClient(auth_app()) as client:
        response = await client.get("/who", auth=("a", "b"))
        assert response.json() == {"authorization": "Basic " + base64.b64encode(b"a:b").decode()}
        with pytest.raises(TimeoutError):
            await client.get("/slow", timeout=0.2)


def test_cookie_jar_keeps_cookies_and_deletion_removes_them() -> None:
    with TestClient(echo_app()) as client:
        assert client.get("/me").json() == {"sid": None}
        client.get("/login")
        assert client.cookies == {"sid": "abc123"}
        assert client.get("/me").json() == {"sid": "abc123"}
        assert client.get("/me").json() == {"sid": "abc123"}
        client.get("/logout")
        assert client.cookies == {}
        assert client.get("/me").json() == {"sid": None}


def test_cookie_expired_by_date_is_removed_from_the_jar() -> None:
    with TestClient(echo_app()) as client:
        client.get("/login")
        assert client.cookies == {"sid": "abc123"}
        client.get("/expire")
        assert client.cookies == {}
        assert client.get("/me").json() == {"sid": None}


def test_initial_and_per_request_cookies() -> None:
    with TestClient(echo_app(), cookies={"theme": "dark"}) as client:
        assert client.get("/echo").json()["cookies"] == {"theme": "dark"}
        response = client.get("/echo", cookies={"lang": "fr"})
    assert response.json()["cookies"] == {"theme": "dark", "lang": "fr"}


def test_redirects_are_followed_only_when_asked() -> None:
    with TestClient(echo_app()) as client:
        not_followed = client.get("/old")
        followed = client.get("/old", follow_redirects=True)
    assert not_followed.status_code == 307
    assert not_followed.headers["location"] == "/echo?from=old"
    assert followed.status_code == 200
    assert followed.json()["query"] == "from=old"


def test_303_after_a_post_is_followed_with_a_get() -> None:
    with TestClient(echo_app()) as client:
        response = client.post("/form", json={"a": 1}, follow_redirects=True)
    assert response.json()["method"] == "GET"
    assert response.json()["body"] is None


def test_redirect_loop_is_reported() -> None:
    with TestClient(echo_app()) as client, pytest.raises(RuntimeError, match="redirect"):
        client.get("/loop", follow_redirects=True)


def test_lifespan_runs_on_enter_and_exit() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    client = TestClient(create_app(Router(), lifespan=lifespan))
    assert events == []
    with client:
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]


def test_client_used_without_with_starts_on_first_request_and_stops_on_close() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    router = Router()

    @router.get("/ping")
    async def ping(request: Request) -> str:
        return "pong"

    client = TestClient(create_app(router, lifespan=lifespan))
    try:
        assert client.get("/ping").json() == "pong"
        assert events == ["startup"]
    finally:
        client.close()
    assert events == ["startup", "shutdown"]


@pytest.mark.anyio
async def test_async_client_runs_lifespan_and_requests() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, str]]:
        events.append("startup")
        yield {"name": "shop"}
        events.append("shutdown")

    router = Router()

    @router.post("/items")
    async def create(request: Request) -> dict[str, Any]:
        return {"shop": request.state.name, "item": request.json}

    async with AsyncTestClient(create_app(router, lifespan=lifespan)) as client:
        assert events == ["startup"]
        response = await client.post("/items", json={"name": "pen"})
        assert response.status_code == 200
        assert response.json() == {"shop": "shop", "item": {"name": "pen"}}
    assert events == ["startup", "shutdown"]


@pytest.mark.anyio
async def test_async_client_cookie_jar_and_redirects() -> None:
    async with AsyncTestClient(echo_app()) as client:
        await client.get("/login")
        assert (await client.get("/me")).json() == {"sid": "abc123"}
        await client.get("/logout")
        assert (await client.get("/me")).json() == {"sid": None}
        followed = await client.get("/old", follow_redirects=True)
        assert followed.json()["query"] == "from=old"


@pytest.mark.asgi_only  # over RSGI an unhandled error is a 500, as under Granian
@pytest.mark.anyio
async def test_async_client_raise_server_exceptions() -> None:
    router = Router()

    @router.get("/boom")
    async def boom(request: Request) -> None:
        raise ZeroDivisionError("bad math")

    app = create_app(router)
    async with AsyncTestClient(app) as client:
        with pytest.raises(ZeroDivisionError):
            await client.get("/boom")
    async with AsyncTestClient(app, raise_server_exceptions=False) as client:
        response = await client.get("/boom")
        assert response.status_code == 500


def test_stream_reads_a_finite_response_incrementally() -> None:
    async def lines() -> AsyncIterator[str]:
        yield "one\n"
        yield "two\nthree"
        yield "\n"

    router = Router()

    @router.get("/lines")
    async def stream(request: Request) -> StreamResponse:
        return StreamResponse(lines(), "text/plain", cookies=[set_cookie("seen", "1")])

    with TestClient(create_app(router)) as client:
        with client.stream("GET", "/lines") as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/plain; charset=utf-8"
            assert list(response.iter_lines()) == ["one", "two", "three"]
        with client.stream("GET", "/lines") as response:
            assert response.read() == b"one\ntwo\nthree\n"
            assert response.text == "one\ntwo\nthree\n"
        assert client.cookies == {"seen": "1"}


@pytest.mark.anyio
async def test_async_stream_reads_lines() -> None:
    async def lines() -> AsyncIterator[bytes]:
        yield b"data: 1\r\n\r\n"
        yield b"data: 2\r"
        yield b"\n\r\n"

    router = Router()

    @router.get("/events")
    async def events(request: Request) -> StreamResponse:
        return StreamResponse(lines(), "text/event-stream")

    async with (
        AsyncTestClient(create_app(router)) as client,
        client.stream("GET", "/events") as response,
    ):
        received = [line async for line in response.aiter_lines()]
    assert received == ["data: 1", "", "data: 2", ""]


@pytest.mark.anyio
async def test_clients_drive_any_asgi_app() -> None:
    async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        message = await receive()
        body = b"you sent " + message.get("body", b"")
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async with AsyncTestClient(bare_app) as client:
        response = await client.post("/anything", content=b"abc")
    assert response.status_code == 201
    assert response.text == "you sent abc"


@pytest.mark.anyio
async def test_clients_tolerate_an_app_without_lifespan_support() -> None:
    async def no_lifespan(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async with AsyncTestClient(no_lifespan) as client:
        response = await client.get("/")
    assert response.status_code == 204
    with TestClient(no_lifespan) as sync_client:
        assert sync_client.get("/").status_code == 204


def test_clients_claim_the_http_version_they_are_given(router: Router) -> None:
    @router.get("/version")
    async def version(request: Request) -> dict[str, str]:
        return {"version": request.http_version}

    app = create_app(router)
    with TestClient(app) as default, TestClient(app, http_version="2") as h2:
        assert default.get("/version").json() == {"version": "1.1"}
        assert h2.get("/version").json() == {"version": "2"}
    with pytest.raises(ValueError, match="http_version"):
        TestClient(app, http_version="2.0")


# -- what 0.6.3's httpx-based tests use --------------------------------------------------------


def test_responses_answer_what_httpx_responses_answer() -> None:
    with TestClient(echo_app(), http_version="2") as client:
        ok = client.get("/text")
        moved = client.get("/old")
        missing = client.get("/missing")
    kinds = ("is_informational", "is_client_error", "is_server_error", "is_error")
    assert [getattr(ok, kind) for kind in kinds] == [False] * 4
    assert [getattr(missing, kind) for kind in kinds] == [False, True, False, True]
    assert [moved.has_redirect_location, ok.has_redirect_location] == [True, False]
    assert ok.http_version == "HTTP/2"
    assert ok.elapsed.total_seconds() >= 0
    assert ok.num_bytes_downloaded == len(ok.content) == len('"héllo"'.encode())
    assert ok.charset_encoding is None  # JSON names no charset
    assert ok.encoding == "utf-8"
    assert ok.read() == ok.content
    assert b"".join(ok.iter_bytes(chunk_size=2)) == ok.content
    assert next(ok.iter_bytes(chunk_size=4)) == ok.content[:4]
    assert "".join(ok.iter_text(chunk_size=3)) == '"héllo"'
    assert list(ok.iter_lines()) == ['"héllo"']
    assert ok.links == {}
    ok.close()


@pytest.mark.anyio
async def test_responses_read_asynchronously_as_httpx_responses_do() -> None:
    async with AsyncTestClient(echo_app()) as client:
        response = await client.get("/text")
    assert await response.aread() == response.content
    assert b"".join([chunk async for chunk in response.aiter_bytes(chunk_size=1)]) == (
        response.content
    )
    assert [text async for text in response.aiter_text()] == ['"héllo"']
    assert [line async for line in response.aiter_lines()] == ['"héllo"']
    await response.aclose()


def test_lines_and_links_are_parsed_as_httpx_parses_them() -> None:
    router = Router()

    @router.get("/page")
    async def page(request: Request) -> TextResponse:
        return TextResponse(
            "one\r\ntwo\nthree\n",
            headers=[
                (
                    "Link",
                    '<https://api.example/items?page=2>; rel="next", </items?page=9>; rel=last',
                ),
            ],
        )

    with TestClient(create_app(router)) as client:
        response = client.get("/page")
    assert list(response.iter_lines()) == ["one", "two", "three"]
    assert response.charset_encoding == "utf-8"
    assert response.links == {
        "next": {"url": "https://api.example/items?page=2", "rel": "next"},
        "last": {"url": "/items?page=9", "rel": "last"},
    }
    assert list(TestResponse(204, Headers(), b"", "GET", "/").iter_lines()) == []


def test_raise_for_status_returns_the_response_and_refuses_what_httpx_refuses() -> None:
    with TestClient(echo_app()) as client:
        ok = client.get("/text")
        assert ok.raise_for_status() is ok
        assert ok.raise_for_status().json() == "héllo"
        moved = client.get("/old")
        missing = client.get("/missing")
    with pytest.raises(RuntimeError) as redirect:
        moved.raise_for_status()
    assert str(redirect.value) == (
        "Redirect response '307 Temporary Redirect' for GET url 'http://test/old'\n"
        "Redirect location: '/echo?from=old'"
    )
    with pytest.raises(RuntimeError) as refused:
        missing.raise_for_status()
    assert str(refused.value).startswith("Client error '404 Not Found' for GET url")
    assert getattr(refused.value, "response", None) is not None


class DuckTimeout:
    """What the clients read of an ``httpx.Timeout``."""

    def __init__(self, connect: float | None, read: float | None) -> None:
        self.connect, self.read, self.write, self.pool = connect, read, None, None


def test_a_timeout_object_bounds_the_exchange_by_its_largest_phase() -> None:
    with TestClient(auth_app()) as client:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            client.get("/slow", timeout=DuckTimeout(0.05, 0.2))
        assert 0.15 < time.monotonic() - started < 5
        assert client.get("/who", timeout=DuckTimeout(None, None)).status_code == 200
        with pytest.raises(TypeError, match=r"httpx\.Timeout"):
            client.get("/who", timeout="soon")


def test_extensions_are_accepted_and_unused_as_by_httpx_asgi_transport() -> None:
    with TestClient(echo_app()) as client:
        response = client.get("/echo", extensions={"timeout": {"read": 1.0}})
        assert response.json()["method"] == "GET"
        with client.stream("GET", "/echo", extensions={}, timeout=1.0) as stream:
            assert stream.read()


def test_an_auth_object_without_httpx_is_a_clear_error() -> None:
    if importlib.util.find_spec("httpx") is not None:
        pytest.skip("httpx is installed here; packages/fastware/tests drives auth objects")
    refused = pytest.raises(TypeError, match=r"auth must be \(user, password\) where httpx")
    with TestClient(auth_app()) as client, refused:
        client.get("/who", auth=lambda request: request)


@pytest.mark.anyio
async def test_a_closed_async_client_refuses_requests_as_httpx_does() -> None:
    async with AsyncTestClient(echo_app()) as client:
        assert [client.is_closed, (await client.get("/echo")).status_code] == [False, 200]
        await client.aclose()
        assert client.is_closed
        with pytest.raises(RuntimeError, match="client has been closed"):
            await client.get("/echo")


def test_build_request_and_send() -> None:
    with TestClient(echo_app()) as client:
        request = client.build_request("POST", "/echo", params={"a": "1"}, content=b"hi")
        request.headers["X-Token"] = "t1"
        answer = client.send(request).json()
        assert (answer["method"], answer["query"], answer["body"], answer["token"]) == (
            "POST",
            "a=1",
            "hi",
            "t1",
        )
        assert (
            client.send(client.build_request("GET", "/old"), follow_redirects=True).json()["query"]
            == "from=old"
        )
    assert client.is_closed


def test_the_cookie_jar_takes_httpx_s_set_and_delete() -> None:
    with TestClient(echo_app()) as client:
        client.cookies.set("sid", "s1", domain="test")
        assert client.get("/me").json() == {"sid": "s1"}
        client.cookies.delete("sid")
        client.cookies.delete("never-set")
        assert client.get("/me").json() == {"sid": None}


def test_a_streamed_response_answers_the_status_questions_too() -> None:
    with TestClient(echo_app()) as client, client.stream("GET", "/missing") as missing:
        assert missing.is_client_error
        assert missing.read()
        with pytest.raises(RuntimeError, match="Client error '404 Not Found'"):
            missing.raise_for_status()


def test_the_response_url_reads_as_a_string_and_as_httpx_s_url() -> None:
    with TestClient(echo_app(), base_url="http://testserver:8000") as client:
        response = client.get("/echo/../echo?x=1", params={"x": "2", "y": "é"})
    url = response.url
    assert url == "http://testserver:8000/echo/../echo?x=1&x=2&y=%C3%A9"
    assert url.startswith("http://testserver:8000/")  # still a str, as before
    assert (url.scheme, url.host, url.port, url.netloc) == (
        "http",
        "testserver",
        8000,
        b"testserver:8000",
    )
    assert (url.path, url.query, url.fragment) == ("/echo/../echo", b"x=1&x=2&y=%C3%A9", "")
    assert url.params.getlist("x") == ["1", "2"]
    assert url.params["y"] == "é"
    assert url.raw_path == b"/echo/../echo?x=1&x=2&y=%C3%A9"
    assert url.is_absolute_url
    assert not url.is_relative_url


def test_a_default_port_and_an_encoded_path_read_as_httpx_reads_them() -> None:
    with TestClient(echo_app(), base_url="https://Example.TEST:443") as client:
        response = client.get("/a%20b")
    assert response.status_code == 404
    assert (response.url.host, response.url.port, response.url.netloc) == (
        "example.test",
        None,
        b"example.test",
    )
    assert response.url.path == "/a b"
    assert response.url.raw_path == b"/a%20b"
    assert response.url.query == b""


def test_response_request_is_the_request_sent() -> None:
    with TestClient(echo_app(), headers={"X-Token": "t1"}) as client:
        posted = client.post("/echo", json={"a": 1}, params={"q": "1"})
        got = client.get("/echo")
    sent = posted.request
    assert (sent.method, sent.url) == ("POST", "http://test/echo?q=1")
    assert sent.url.params == {"q": "1"}
    assert sent.content == sent.read() == b'{"a":1}'
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["X-Token"] == "t1"
    assert sent.headers["content-length"] == "7"
    assert posted.method == "POST"
    assert (got.request.method, got.request.content, got.url.path) == ("GET", b"", "/echo")
    assert "content-length" not in got.request.headers
    assert repr(sent) == "<SentRequest('POST', 'http://test/echo?q=1')>"


@pytest.mark.anyio
async def test_a_streamed_response_knows_its_request_too() -> None:
    async with (
        AsyncTestClient(echo_app()) as client,
        client.stream("PUT", "/echo", content=b"body") as response,
    ):
        assert await response.aread()
        assert (response.request.method, response.request.content) == ("PUT", b"body")
        assert response.url.path == "/echo"
        assert response.method == "PUT"
    with TestClient(echo_app()) as sync_client, sync_client.stream("GET", "/echo?a=1") as sync:
        assert sync.url.params == {"a": "1"}
        assert sync.request.method == "GET"
