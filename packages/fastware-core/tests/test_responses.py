"""Responses: classes, return-value dispatch, headers, cookies, files and streams."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from fastware_core import (
    AsyncTestClient,
    BytesResponse,
    FileResponse,
    HTMLResponse,
    HTTPError,
    JSONResponse,
    RedirectResponse,
    Request,
    Router,
    StreamResponse,
    TestClient,
    TextResponse,
    create_app,
    delete_cookie,
    send_error,
    set_cookie,
)
from fastware_core.responses import header_pairs


class User(msgspec.Struct):
    id: int
    name: str


@dataclasses.dataclass
class Pair:
    left: int
    right: int


class DuckModel:
    """Quacks like a pydantic model instance."""

    def model_dump(self, mode: str = "python") -> dict[str, Any]:
        return {"dumped": mode}


def serve(router: Router, path: str, result: Any) -> Any:
    """Register a GET route at ``path`` answering ``result``."""

    async def handler(request: Request) -> Any:
        return result

    router.add_route("GET", path, handler)
    return handler


# -- response classes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "content_type", "body"),
    [
        (JSONResponse({"a": 1}), "application/json", b'{"a":1}'),
        (TextResponse("héllo"), "text/plain; charset=utf-8", "héllo".encode()),
        (TextResponse("a,b", content_type="text/csv"), "text/csv; charset=utf-8", b"a,b"),
        (
            TextResponse("x", content_type="text/plain; charset=latin-1"),
            "text/plain; charset=latin-1",
            b"x",
        ),
        (TextResponse("<a/>", content_type="application/xml"), "application/xml", b"<a/>"),
        (HTMLResponse("<p>hi</p>"), "text/html; charset=utf-8", b"<p>hi</p>"),
        (BytesResponse(b"\x00\x01"), "application/octet-stream", b"\x00\x01"),
        (BytesResponse(b"GIF89a", content_type="image/gif"), "image/gif", b"GIF89a"),
    ],
)
def test_response_classes_send_their_content_type_and_body(
    router: Router, response: Any, content_type: str, body: bytes
) -> None:
    serve(router, "/r", response)

    with TestClient(create_app(router)) as client:
        answer = client.get("/r")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == content_type
    assert answer.headers["content-length"] == str(len(body))
    assert answer.content == body


def test_response_status_is_sent(router: Router) -> None:
    serve(router, "/created", JSONResponse({"id": 1}, status=201))
    serve(router, "/teapot", TextResponse("short and stout", status=418))
    serve(router, "/empty", BytesResponse(b"", status=204))

    with TestClient(create_app(router)) as client:
        assert client.get("/created").status_code == 201
        assert client.get("/teapot").status_code == 418
        assert client.get("/empty").status_code == 204


@pytest.mark.parametrize(
    ("result", "body"),
    [
        ({"a": [1, 2]}, b'{"a":[1,2]}'),
        ([1, "two", None], b'[1,"two",null]'),
        (User(1, "ann"), b'{"id":1,"name":"ann"}'),
        (Pair(1, 2), b'{"left":1,"right":2}'),
        (None, b"null"),
        ("hello", b'"hello"'),
        ((1, 2), b"[1,2]"),
        (3.5, b"3.5"),
        (True, b"true"),
        (DuckModel(), b'{"dumped":"json"}'),
        ({"nested": User(2, "bo")}, b'{"nested":{"id":2,"name":"bo"}}'),
    ],
)
def test_handler_return_values_are_sent_as_json(router: Router, result: Any, body: bytes) -> None:
    serve(router, "/r", result)

    with TestClient(create_app(router)) as client:
        response = client.get("/r")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == body


def test_unencodable_return_value_is_a_500(router: Router) -> None:
    serve(router, "/r", object())

    with TestClient(create_app(router), raise_server_exceptions=False) as client:
        response = client.get("/r")
    assert response.status_code == 500
    assert response.content == b'{"detail":"Internal server error"}'


def test_sync_handlers_run_in_a_worker_thread(router: Router) -> None:
    threads: dict[str, threading.Thread] = {}

    @router.get("/async")
    async def on_loop(request: Request) -> str:
        threads["loop"] = threading.current_thread()
        return "async"

    @router.get("/sync")
    def in_thread(request: Request) -> dict[str, str]:
        threads["handler"] = threading.current_thread()
        return {"ran": "sync", "path": request.path}

    with TestClient(create_app(router)) as client:
        assert client.get("/async").json() == "async"
        assert client.get("/sync").json() == {"ran": "sync", "path": "/sync"}
    assert threads["handler"] is not threads["loop"]
    assert threads["handler"] is not threading.main_thread()


def test_sync_handler_errors_are_handled_like_async_ones(router: Router) -> None:
    @router.get("/sync")
    def fail(request: Request) -> None:
        raise HTTPError(409, "conflict")

    with TestClient(create_app(router)) as client:
        response = client.get("/sync")
    assert response.status_code == 409
    assert response.json() == {"detail": "conflict"}


def test_http_error_sends_status_detail_and_headers(router: Router) -> None:
    @router.get("/private")
    async def private(request: Request) -> None:
        raise HTTPError(401, "Not authenticated", headers={"WWW-Authenticate": "Bearer"})

    @router.get("/structured")
    async def structured(request: Request) -> None:
        raise HTTPError(422, {"field": "name", "problem": "missing"})

    with TestClient(create_app(router)) as client:
        response = client.get("/private")
        structured_response = client.get("/structured")
    assert response.status_code == 401
    assert response.content == b'{"detail":"Not authenticated"}'
    assert response.headers["www-authenticate"] == "Bearer"
    assert structured_response.json() == {"detail": {"field": "name", "problem": "missing"}}


def test_http_error_with_pair_headers(router: Router) -> None:
    @router.get("/slow")
    async def slow(request: Request) -> None:
        raise HTTPError(429, "Rate limit exceeded", headers=[("Retry-After", "30")])

    with TestClient(create_app(router)) as client:
        response = client.get("/slow")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "30"


# -- headers -------------------------------------------------------------------------------------


def test_header_order_is_type_length_extras_then_cookies(router: Router) -> None:
    serve(
        router,
        "/r",
        JSONResponse(
            {"ok": True},
            headers={"X-First": "1", "X-Second": "2"},
            cookies=[set_cookie("a", "1"), set_cookie("b", "2")],
        ),
    )

    with TestClient(create_app(router)) as client:
        response = client.get("/r")
    names = [name for name, _ in response.headers.multi_items()]
    assert names == [
        "content-type",
        "content-length",
        "x-first",
        "x-second",
        "set-cookie",
        "set-cookie",
        "x-content-type-options",  # nosniff, on by default
        "x-request-id",  # appended by the default RequestID middleware
    ]
    assert response.headers.getlist("set-cookie") == [
        "a=1; Path=/; SameSite=lax",
        "b=2; Path=/; SameSite=lax",
    ]


def test_several_values_per_header(router: Router) -> None:
    serve(router, "/dict", TextResponse("x", headers={"X-A": ["1", "2"], "X-B": "3"}))
    serve(router, "/pairs", TextResponse("x", headers=[("X-A", "1"), ("X-A", "2")]))

    with TestClient(create_app(router)) as client:
        from_dict = client.get("/dict")
        from_pairs = client.get("/pairs")
    assert from_dict.headers.getlist("x-a") == ["1", "2"]
    assert from_dict.headers["x-b"] == "3"
    assert from_pairs.headers.getlist("X-A") == ["1", "2"]


@pytest.mark.parametrize(
    "headers",
    [
        {"X-A": "ok\r\nSet-Cookie: evil=1"},
        {"X-A": "ok\nSet-Cookie: evil=1"},
        {"X-A": ["fine", "bad\r\n"]},
        {"X-A": "nul\x00"},
        {"X A": "bad name"},
        {"X-A\r\nSet-Cookie": "evil=1"},
    ],
)
@pytest.mark.asgi_only  # the ValueError reaches the test through raise_server_exceptions
def test_header_injection_raises(router: Router, headers: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        header_pairs(headers)

    serve(router, "/r", TextResponse("x", headers=headers))
    with TestClient(create_app(router), raise_server_exceptions=False) as client:
        response = client.get("/r")
    assert response.status_code == 500
    assert "set-cookie" not in response.headers
    with TestClient(create_app(router)) as client, pytest.raises(ValueError):
        client.get("/r")


def test_http_error_with_an_injected_header_is_a_500_not_a_crash(router: Router) -> None:
    @router.get("/r")
    async def bad(request: Request) -> None:
        raise HTTPError(400, "bad", headers={"X-A": "ok\r\nSet-Cookie: evil=1"})

    with TestClient(create_app(router), raise_server_exceptions=False) as client:
        response = client.get("/r")
    assert response.status_code == 500
    assert response.content == b'{"detail":"Internal server error"}'
    assert "set-cookie" not in response.headers


# -- redirects -----------------------------------------------------------------------------------


def test_redirect_response_sends_location(router: Router) -> None:
    serve(router, "/old", RedirectResponse("/new"))
    serve(router, "/form", RedirectResponse("/done?ok=1", status=303))
    serve(router, "/cafe", RedirectResponse("/café"))

    with TestClient(create_app(router)) as client:
        old = client.get("/old")
        form = client.get("/form")
        cafe = client.get("/cafe")
    assert old.status_code == 307
    assert old.headers["location"] == "/new"
    assert old.content == b""
    assert form.status_code == 303
    assert form.headers["location"] == "/done?ok=1"
    assert cafe.headers["location"] == "/caf%C3%A9"


def test_redirect_response_refuses_bad_input() -> None:
    with pytest.raises(ValueError):
        RedirectResponse("/next\r\nSet-Cookie: evil=1")
    with pytest.raises(ValueError, match="3xx"):
        RedirectResponse("/next", status=200)


# -- cookies -------------------------------------------------------------------------------------


def test_set_cookie_default_format() -> None:
    assert set_cookie("sid", "abc") == "sid=abc; Path=/; SameSite=lax"


def test_set_cookie_with_every_flag() -> None:
    value = set_cookie(
        "sid",
        "abc",
        httponly=True,
        samesite="strict",
        max_age=3600,
        path="/app",
        secure=True,
        domain="example.com",
        partitioned=True,
    )
    assert value == (
        "sid=abc; Path=/app; SameSite=strict; HttpOnly; Secure; Max-Age=3600; "
        "Domain=example.com; Partitioned"
    )


def test_set_cookie_spells_samesite_as_given_like_0_6_3() -> None:
    # 0.6.3 wrote the value verbatim; an upgraded app's cookies must not change.
    assert set_cookie("sid", "abc") == "sid=abc; Path=/; SameSite=lax"
    assert set_cookie("sid", "abc", samesite="Strict").endswith("SameSite=Strict")
    with pytest.raises(ValueError, match="samesite"):
        set_cookie("sid", "abc", samesite="lax; Secure")  # type: ignore[arg-type]


def test_set_cookie_samesite_none_needs_secure() -> None:
    assert "SameSite=none; Secure" in set_cookie("a", "1", samesite="none", secure=True)
    with pytest.raises(ValueError, match="secure"):
        set_cookie("a", "1", samesite="none")
    with pytest.raises(ValueError, match="secure"):
        set_cookie("a", "1", samesite="None")


def test_set_cookie_partitioned_needs_secure() -> None:
    with pytest.raises(ValueError, match="secure"):
        set_cookie("a", "1", partitioned=True)


def test_set_cookie_without_samesite_or_path() -> None:
    assert set_cookie("a", "1", samesite=None, path=None) == "a=1"


def test_set_cookie_expires_from_a_datetime() -> None:
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)

    assert set_cookie("a", "1", expires=when).endswith("Expires=Wed, 02 Jan 2030 03:04:05 GMT")
    naive = datetime(2030, 1, 2, 3, 4, 5)
    assert set_cookie("a", "1", expires=naive).endswith("Expires=Wed, 02 Jan 2030 03:04:05 GMT")


def test_set_cookie_expires_in_seconds_from_now() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    value = set_cookie("a", "1", expires=3600)
    after = datetime.now(UTC)

    match = re.search(r"Expires=([^;]+)$", value)
    assert match is not None
    expires = parsedate_to_datetime(match.group(1))
    assert before + timedelta(seconds=3600) <= expires <= after + timedelta(seconds=3600)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("a;b", "1"),
        ("a b", "1"),
        ("a=b", "1"),
        ("", "1"),
        ("a", "1; Domain=evil.example"),
        ("a", "has space"),
        ("a", 'quo"te'),
        ("a", "comma,"),
        ("a", "back\\slash"),
        ("a", "line\r\nbreak"),
        ("a", "caf\u00e9"),
    ],
)
def test_set_cookie_refuses_names_and_values_that_could_inject(name: str, value: str) -> None:
    with pytest.raises(ValueError):
        set_cookie(name, value)


@pytest.mark.parametrize(
    "options",
    [
        {"path": "/; HttpOnly"},
        {"domain": "example.com; Secure"},
        {"domain": "exa mple.com"},
        {"samesite": "sideways"},
    ],
)
def test_set_cookie_refuses_bad_attributes(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        set_cookie("a", "1", **options)


def test_set_cookie_accepts_a_quoted_or_encoded_value() -> None:
    assert set_cookie("a", '"quoted"').startswith('a="quoted";')
    assert set_cookie("token", "eyJhbGciOi.J9-_x").startswith("token=eyJhbGciOi.J9-_x;")


def test_delete_cookie_expires_the_cookie() -> None:
    assert delete_cookie("sid") == (
        "sid=; Path=/; SameSite=lax; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    )
    assert "Domain=example.com" in delete_cookie("sid", domain="example.com", path="/app")
    assert "Path=/app" in delete_cookie("sid", path="/app")


def test_cookies_on_a_response_reach_the_client(router: Router) -> None:
    serve(
        router,
        "/login",
        JSONResponse({"ok": True}, cookies=[set_cookie("sid", "abc", httponly=True)]),
    )

    with TestClient(create_app(router)) as client:
        response = client.get("/login")
    assert response.cookies == {"sid": "abc"}
    assert response.headers["set-cookie"] == "sid=abc; Path=/; SameSite=lax; HttpOnly"


# -- send_error ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_send_error_sends_a_complete_json_response() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await send_error(send, 403, "Forbidden", headers={"X-Reason": "csrf"})

    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 403
    assert [(name.lower(), value) for name, value in sent[0]["headers"]] == [
        (b"content-type", b"application/json"),
        (b"content-length", b"22"),
        (b"x-reason", b"csrf"),
    ]
    assert sent[1] == {
        "type": "http.response.body",
        "body": b'{"detail":"Forbidden"}',
        "more_body": False,
    }


# -- files ---------------------------------------------------------------------------------------


def test_file_response_sends_the_file(router: Router, tmp_path: Path) -> None:
    css = tmp_path / "site.css"
    css.write_text("body { color: red; }\n")
    serve(router, "/css", FileResponse(css))

    with TestClient(create_app(router)) as client:
        response = client.get("/css")
    assert response.status_code == 200
    assert response.content == css.read_bytes()
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert response.headers["content-length"] == str(css.stat().st_size)
    assert "content-disposition" not in response.headers


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("index.html", "text/html; charset=utf-8"),
        ("data.json", "application/json"),
        ("logo.svg", "image/svg+xml"),
        ("photo.JPG", "image/jpeg"),
        ("font.woff2", "font/woff2"),
        ("module.wasm", "application/wasm"),
        ("archive.unknownext", "application/octet-stream"),
        ("no-extension", "application/octet-stream"),
    ],
)
def test_file_response_content_type_comes_from_a_fixed_table(
    router: Router, tmp_path: Path, name: str, content_type: str
) -> None:
    path = tmp_path / name
    path.write_bytes(b"data")
    serve(router, "/f", FileResponse(path))

    with TestClient(create_app(router)) as client:
        assert client.get("/f").headers["content-type"] == content_type


def test_file_response_explicit_content_type_wins(router: Router, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"# title")
    serve(router, "/f", FileResponse(path, content_type="text/markdown"))

    with TestClient(create_app(router)) as client:
        assert client.get("/f").headers["content-type"] == "text/markdown"


def test_file_response_filename_sets_content_disposition(router: Router, tmp_path: Path) -> None:
    path = tmp_path / "r.pdf"
    path.write_bytes(b"%PDF-1.7")
    serve(router, "/ascii", FileResponse(path, filename="report.pdf"))
    serve(router, "/unicode", FileResponse(path, filename="résumé.pdf"))

    with TestClient(create_app(router)) as client:
        ascii_name = client.get("/ascii")
        unicode_name = client.get("/unicode")
    assert ascii_name.headers["content-disposition"] == 'attachment; filename="report.pdf"'
    disposition = unicode_name.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="')
    assert disposition.endswith("filename*=UTF-8''r%C3%A9sum%C3%A9.pdf")


def test_file_response_header_order_and_extras(router: Router, tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"hello")
    serve(
        router,
        "/f",
        FileResponse(path, headers={"X-Extra": "1"}, cookies=[set_cookie("seen", "1")]),
    )

    with TestClient(create_app(router)) as client:
        response = client.get("/f")
    assert [name for name, _ in response.headers.multi_items()] == [
        "content-type",
        "content-length",
        "x-extra",
        "set-cookie",
        "x-content-type-options",  # nosniff, on by default
        "x-request-id",  # appended by the default RequestID middleware
    ]


@pytest.mark.asgi_only  # the ASGI file sender chunks; over RSGI Granian sends the file
@pytest.mark.parametrize("size", [0, 1, 999, 1000, 1001, 2500, 3000])
def test_file_response_streams_files_of_any_size_in_chunks(
    router: Router, tmp_path: Path, size: int
) -> None:
    path = tmp_path / "blob.bin"
    data = bytes(index % 251 for index in range(size))
    path.write_bytes(data)
    serve(router, "/f", FileResponse(path, chunk_size=1000))

    with TestClient(create_app(router)) as client:
        response = client.get("/f")
        with client.stream("GET", "/f") as streamed:
            chunks = list(streamed.iter_bytes())
    assert response.content == data
    assert response.headers["content-length"] == str(size)
    assert b"".join(chunks) == data
    assert all(len(chunk) <= 1000 for chunk in chunks)


def test_missing_file_is_a_404(router: Router, tmp_path: Path) -> None:
    serve(router, "/f", FileResponse(tmp_path / "missing.txt"))
    serve(router, "/dir", FileResponse(tmp_path))

    with TestClient(create_app(router)) as client:
        missing = client.get("/f")
        directory = client.get("/dir")
    assert missing.status_code == 404
    assert missing.content == b'{"detail":"Not found"}'
    assert directory.status_code == 404


def test_head_to_a_file_route_sends_the_length_without_a_body(
    router: Router, tmp_path: Path
) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"hello world")
    serve(router, "/f", FileResponse(path))

    with TestClient(create_app(router)) as client:
        response = client.head("/f")
    assert response.status_code == 200
    assert response.headers["content-length"] == "11"
    assert response.content == b""


# -- streams -------------------------------------------------------------------------------------


def test_stream_response_sends_str_and_bytes_chunks(router: Router) -> None:
    async def chunks() -> AsyncIterator[str | bytes]:
        yield "héllo "
        yield b"world"
        yield ""
        yield "!"

    @router.get("/s")
    async def stream(request: Request) -> StreamResponse:
        return StreamResponse(
            chunks(),
            "text/plain; charset=utf-8",
            headers={"X-Stream": "yes"},
            cookies=[set_cookie("s", "1")],
        )

    with TestClient(create_app(router)) as client:
        response = client.get("/s")
    assert response.status_code == 200
    assert response.content == "héllo world!".encode()
    assert [name for name, _ in response.headers.multi_items()] == [
        "content-type",
        "x-stream",
        "set-cookie",
        "x-content-type-options",  # nosniff, on by default
        "x-request-id",  # appended by the default RequestID middleware
    ]


def test_stream_response_status(router: Router) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"accepted"

    @router.get("/s")
    async def stream(request: Request) -> StreamResponse:
        return StreamResponse(chunks(), "text/plain", status=202)

    with TestClient(create_app(router)) as client:
        response = client.get("/s")
    assert response.status_code == 202
    assert response.text == "accepted"


def test_leaving_a_stream_early_runs_the_generator_finally_once(router: Router) -> None:
    closed: list[str] = []

    async def endless() -> AsyncIterator[str]:
        count = 0
        try:
            while True:
                yield f"{count}\n"
                count += 1
                await asyncio.sleep(0)
        finally:
            closed.append("closed")

    @router.get("/events")
    async def events(request: Request) -> StreamResponse:
        return StreamResponse(endless(), "text/event-stream")

    with TestClient(create_app(router)) as client:
        with client.stream("GET", "/events") as response:
            assert response.status_code == 200
            lines = response.iter_lines()
            first = [next(lines), next(lines), next(lines)]
        assert first == ["0", "1", "2"]
        assert closed == ["closed"]
        assert client.get("/events/none").status_code == 404
    assert closed == ["closed"]


def test_leaving_a_stream_that_waits_for_events_closes_it(router: Router) -> None:
    closed: list[str] = []

    async def waiting() -> AsyncIterator[str]:
        try:
            yield "event: ready\n\n"
            await asyncio.Event().wait()
            yield "never"
        finally:
            closed.append("closed")

    @router.get("/events")
    async def events(request: Request) -> StreamResponse:
        return StreamResponse(waiting(), "text/event-stream")

    with TestClient(create_app(router)) as client:
        with client.stream("GET", "/events") as response:
            assert next(response.iter_lines()) == "event: ready"
        assert closed == ["closed"]


@pytest.mark.anyio
async def test_async_client_leaving_a_stream_early_closes_the_generator(router: Router) -> None:
    closed: list[str] = []

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"tick"
                await asyncio.sleep(0)
        finally:
            closed.append("closed")

    @router.get("/ticks")
    async def ticks(request: Request) -> StreamResponse:
        return StreamResponse(endless(), "application/octet-stream")

    async with AsyncTestClient(create_app(router)) as client:
        async with client.stream("GET", "/ticks") as response:
            async for chunk in response.aiter_bytes():
                assert chunk == b"tick"
                break
        assert closed == ["closed"]


def test_head_to_a_streaming_route_does_not_start_the_generator(router: Router) -> None:
    started: list[bool] = []

    async def chunks() -> AsyncIterator[str]:
        started.append(True)
        yield "data"

    @router.get("/s")
    async def stream(request: Request) -> StreamResponse:
        return StreamResponse(chunks(), "text/plain")

    with TestClient(create_app(router)) as client:
        response = client.head("/s")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.content == b""
    assert started == []


def test_error_inside_a_stream_ends_the_body_cleanly(router: Router) -> None:
    async def failing() -> AsyncIterator[str]:
        yield "first,"
        yield "second"
        raise RuntimeError("generator broke")

    @router.get("/s")
    async def stream(request: Request) -> StreamResponse:
        return StreamResponse(failing(), "text/plain")

    with TestClient(create_app(router)) as client:
        response = client.get("/s")
        after = client.get("/s")
    assert response.status_code == 200
    assert response.content == b"first,second"
    assert after.content == b"first,second"


def test_event_stream_content_type_gets_no_charset_parameter() -> None:
    router = Router()

    async def events() -> AsyncIterator[str]:
        yield "data: 1\n\n"

    @router.get("/events")
    async def stream(request: Request) -> StreamResponse:
        return StreamResponse(events(), "text/event-stream")

    with TestClient(create_app(router)) as client:
        response = client.get("/events")
    assert response.headers["content-type"] == "text/event-stream"
    assert response.text == "data: 1\n\n"


@pytest.mark.anyio
async def test_begin_shutdown_lets_streams_send_a_last_event_and_cancels_stubborn_ones() -> None:
    router = Router()
    closed: list[str] = []

    async def polite(app: Any) -> AsyncIterator[str]:
        yield "ready\n"
        await app.shutting_down.wait()
        yield "bye\n"

    async def stubborn() -> AsyncIterator[str]:
        try:
            yield "ready\n"
            await asyncio.sleep(3600)
        finally:
            closed.append("stubborn")

    @router.get("/polite")
    async def polite_route(request: Request) -> StreamResponse:
        return StreamResponse(polite(request.app), "text/plain")

    @router.get("/stubborn")
    async def stubborn_route(request: Request) -> StreamResponse:
        return StreamResponse(stubborn(), "text/plain")

    app = create_app(router, stream_shutdown_grace=0.05, shutdown_signals=False)
    async with (
        AsyncTestClient(app) as client,
        client.stream("GET", "/polite") as first,
        client.stream("GET", "/stubborn") as second,
    ):
        lines = first.aiter_lines()
        assert await lines.__anext__() == "ready"
        chunks = second.aiter_bytes()
        assert await chunks.__anext__() == b"ready\n"
        app.begin_shutdown()
        assert [line async for line in lines] == ["bye"]
        assert [chunk async for chunk in chunks] == []
    assert closed == ["stubborn"]
