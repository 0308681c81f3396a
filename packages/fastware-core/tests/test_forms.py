"""``request.form()``: URL-encoded and multipart bodies, uploads, limits and bad input,
through both doors."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from fastware_core import Router, TestClient, create_app
from fastware_core.exceptions import HTTPError, MissingPackageError
from fastware_core.forms import FormData, FormLimits, UploadFile, parse_urlencoded
from fastware_core.request import Request
from fastware_core.testing._rsgi import _HTTPProtocol, _Scope

BOUNDARY = "----fwtestboundary7MA4YWxkTrZu0gW"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def field(name: str | bytes, value: bytes | str) -> bytes:
    raw_name = name if isinstance(name, bytes) else name.encode()
    raw_value = value if isinstance(value, bytes) else value.encode()
    return (
        f"--{BOUNDARY}\r\n".encode()
        + b'Content-Disposition: form-data; name="'
        + raw_name
        + b'"\r\n\r\n'
        + raw_value
        + b"\r\n"
    )


def file_part(name: str, filename: str, data: bytes, content_type: str = "text/plain") -> bytes:
    return (
        (
            f"--{BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + data
        + b"\r\n"
    )


def end() -> bytes:
    return f"--{BOUNDARY}--\r\n".encode()


seen: list[UploadFile] = []
_clients: list[TestClient] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop().close()


def _client(app: Any) -> TestClient:
    client = TestClient(app)
    _clients.append(client)
    return client


async def describe(request: Request) -> dict[str, Any]:
    form = await request.form()
    out: dict[str, Any] = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            seen.append(value)
            data = await value.read()
            out.setdefault(name, []).append(
                {
                    "filename": value.filename,
                    "content_type": value.content_type,
                    "size": value.size,
                    "in_memory": value.in_memory,
                    "head": data[:16].decode("latin-1"),
                    "length": len(data),
                }
            )
        else:
            out.setdefault(name, []).append(value)
    return out


def make_client(limits: FormLimits | None = None, **config: Any) -> TestClient:
    router = Router()
    router.post("/form")(describe)

    async def limited(request: Request) -> dict[str, Any]:
        form = await request.form(limits=FormLimits(max_fields=2, max_files=1))
        return {"names": list(form)}

    async def ignores(request: Request) -> dict[str, Any]:
        return {"ok": True}

    async def raw(request: Request) -> dict[str, Any]:
        body = await request.read_body()
        return {"size": len(body or b""), "again": request.body_size}

    async def body_first(request: Request) -> dict[str, Any]:
        return {"size": len(request.body or b"")}

    async def as_json(request: Request) -> Any:
        return request.json

    router.post("/limited")(limited)
    router.post("/ignores")(ignores)
    router.post("/raw")(raw)
    router.post("/body")(body_first)
    router.post("/json")(as_json)
    return _client(create_app(router, form_limits=limits, **config))


def post(client: TestClient, path: str, body: bytes, content_type: str = MULTIPART) -> Any:
    return client.post(path, content=body, headers={"content-type": content_type})


# -- happy paths ------------------------------------------------------------------------------


def test_urlencoded_forms_keep_repeats_and_blank_values() -> None:
    client = make_client()
    response = post(
        client, "/form", b"a=1&b=caf%C3%A9&a=2&empty=", "application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert response.json() == {"a": ["1", "2"], "b": ["café"], "empty": [""]}


def test_multipart_fields_and_files_arrive_with_their_metadata() -> None:
    client = make_client()
    body = (
        field("title", "héllo")
        + file_part("doc", "notes.txt", b"first file")
        + file_part("doc", "b.bin", b"\x00\x01second", "application/octet-stream")
        + field("title", "again")
        + end()
    )
    response = post(client, "/form", body)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["title"] == ["héllo", "again"]
    assert [f["filename"] for f in data["doc"]] == ["notes.txt", "b.bin"]
    assert data["doc"][0] == {
        "filename": "notes.txt",
        "content_type": "text/plain",
        "size": 10,
        "in_memory": True,
        "head": "first file",
        "length": 10,
    }
    assert data["doc"][1]["content_type"] == "application/octet-stream"


def test_big_files_spool_to_disk_and_are_closed_when_the_handler_returns() -> None:
    client = make_client(FormLimits(spool_size=64 * 1024))
    payload = os.urandom(3 * 1024 * 1024 + 17)
    seen.clear()
    response = post(client, "/form", file_part("blob", "big.bin", payload) + end())
    assert response.status_code == 200, response.text
    info = response.json()["blob"][0]
    assert info["size"] == info["length"] == len(payload)
    assert info["in_memory"] is False
    assert seen[0].closed  # the temporary file is gone with it


def test_uploaded_content_is_intact_after_streaming() -> None:
    router = Router()
    payload = os.urandom(2 * 1024 * 1024)

    async def check(request: Request) -> dict[str, Any]:
        form = await request.form()
        upload = form["f"]
        assert isinstance(upload, UploadFile)
        parts = [chunk async for chunk in upload.chunks(100_000)]
        await upload.seek(0)
        head = await upload.read(5)
        return {"same": b"".join(parts) == payload, "head": head == payload[:5]}

    router.post("/check")(check)
    client = _client(create_app(router, form_limits=FormLimits(spool_size=1000)))
    response = post(client, "/check", file_part("f", "x", payload) + end())
    assert response.json() == {"same": True, "head": True}


def test_a_route_that_never_reads_the_form_answers_without_reading_it() -> None:
    client = make_client()
    # over max_body_size, and malformed: nobody reads it, so neither matters
    response = post(client, "/ignores", b"garbage" * 10)
    assert response.status_code == 200


def test_read_body_reads_a_multipart_body_whole_for_old_handlers() -> None:
    client = make_client()
    body = field("a", "1") + end()
    response = post(client, "/raw", body)
    assert response.json() == {"size": len(body), "again": len(body)}


def test_request_body_on_an_unread_multipart_body_says_what_to_do() -> None:
    router = Router()

    async def handler(request: Request) -> Any:
        try:
            return request.body
        except Exception as exc:
            return {"error": str(exc)}

    router.post("/x")(handler)
    response = post(_client(create_app(router)), "/x", field("a", "1") + end())
    assert "await request.form()" in response.json()["error"]


def test_json_on_a_multipart_body_is_a_415() -> None:
    response = post(make_client(), "/json", field("a", "1") + end())
    assert response.status_code == 415


def test_form_on_a_json_body_is_a_415() -> None:
    response = post(make_client(), "/form", b'{"a": 1}', "application/json")
    assert response.status_code == 415
    assert "form" in response.json()["detail"]


def test_parse_urlencoded_alone() -> None:
    form = parse_urlencoded(b"x=1&y=2&x=3")
    assert isinstance(form, FormData)
    assert form["x"] == "1"
    assert form.getlist("x") == ["1", "3"]
    assert len(form) == 2
    assert parse_urlencoded(None) == {}


# -- limits -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "body", "needle"),
    [
        (FormLimits(max_fields=2), field("a", "1") + field("b", "2") + field("c", "3"), "fields"),
        (
            FormLimits(max_files=1),
            file_part("a", "a", b"1") + file_part("b", "b", b"2"),
            "files",
        ),
        (FormLimits(max_field_size=10), field("a", "x" * 11), "'a' is too large"),
        (FormLimits(max_file_size=100), file_part("f", "f", b"x" * 101), "'f' is too large"),
        (FormLimits(max_size=500), file_part("f", "f", b"x" * 1000), "too large"),
        (
            FormLimits(max_part_header_size=100),
            file_part("f", "n" * 200 + ".txt", b"x"),
            "limit",
        ),
    ],
)
def test_each_limit_answers_413(limits: FormLimits, body: bytes, needle: str) -> None:
    response = post(make_client(limits), "/form", body + end())
    assert response.status_code == 413, response.text
    assert needle in response.json()["detail"]


def test_the_apps_max_body_size_bounds_a_multipart_body_by_default() -> None:
    client = make_client(max_body_size=1000)
    response = post(client, "/form", file_part("f", "f", b"x" * 2000) + end())
    assert response.status_code == 413
    assert response.json() == {"detail": "Request body too large"}


def test_limits_passed_to_form_win_over_the_apps() -> None:
    client = make_client()
    response = post(client, "/limited", field("a", "1") + field("b", "2") + field("c", "3") + end())
    assert response.status_code == 413
    ok = post(client, "/limited", field("a", "1") + file_part("f", "f", b"1") + end())
    assert ok.json() == {"names": ["a", "f"]}


def test_too_many_urlencoded_fields_is_a_413() -> None:
    client = make_client(FormLimits(max_fields=3))
    response = post(client, "/form", b"a=1&b=2&c=3&d=4", "application/x-www-form-urlencoded")
    assert response.status_code == 413


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="max_fields"):
        FormLimits(max_fields=-1)
    with pytest.raises(ValueError, match="max_size"):
        FormLimits(max_size=-5)


# -- malformed bodies ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (field("a", "1") + end(), "multipart/form-data"),  # no boundary parameter
        (field("a", "1") + end(), "multipart/form-data; boundary=other"),  # wrong boundary
        (field("a", "1"), MULTIPART),  # missing final boundary
        (b"", MULTIPART),  # empty body
        (b"x" * 300_000 + field("a", "1") + end(), MULTIPART),  # huge preamble
        (
            f"--{BOUNDARY}\r\nno colon here\r\n\r\nv\r\n".encode() + end(),
            MULTIPART,
        ),  # invalid part header
        (
            f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nv\r\n".encode() + end(),
            MULTIPART,
        ),  # no Content-Disposition
        (field(b"caf\xe9", "1") + end(), MULTIPART),  # non-UTF-8 field name
        (field("a", b"\xff\xfe") + end(), MULTIPART),  # non-UTF-8 value
        (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="a"\r\n'.encode(), MULTIPART),
        (
            b"a=%FF",
            "application/x-www-form-urlencoded",
        ),  # non-UTF-8 urlencoded value
    ],
)
def test_malformed_forms_are_a_400(body: bytes, content_type: str) -> None:
    response = post(make_client(), "/form", body, content_type)
    assert response.status_code == 400, response.text
    assert response.json()["detail"]


def test_a_boundary_that_is_too_long_is_a_400() -> None:
    response = post(
        make_client(), "/form", field("a", "1"), "multipart/form-data; boundary=" + "b" * 300
    )
    assert response.status_code == 400


# -- slow and vanishing clients ---------------------------------------------------------------


def _app(**config: Any) -> Any:
    router = Router()
    router.post("/form")(describe)
    return create_app(router, **config)


async def _asgi(app: Any, chunks: AsyncIterator[bytes | None]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    iterator = chunks.__aiter__()

    async def receive() -> dict[str, Any]:
        try:
            chunk = await iterator.__anext__()
        except StopAsyncIteration:
            return {"type": "http.request", "body": b"", "more_body": False}
        if chunk is None:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/form",
        "raw_path": b"/form",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", MULTIPART.encode()), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    return sent


class _SlowProtocol(_HTTPProtocol):
    def __init__(self, chunks: AsyncIterator[bytes | None], put: Any) -> None:
        super().__init__(b"", asyncio.Event(), put)
        self._source = chunks

    async def _chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self._source:
            if chunk is None:  # Granian ends the body stream when the client leaves
                return
            yield chunk


async def _rsgi(app: Any, chunks: AsyncIterator[bytes | None]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    scope = _Scope(
        {
            "type": "http",
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/form",
            "query_string": b"",
            "headers": [
                (b"content-type", MULTIPART.encode()),
                (b"transfer-encoding", b"chunked"),
            ],
            "client": ("127.0.0.1", 1),
            "server": ("testserver", 80),
        },
        "http",
    )
    await app.__rsgi__(scope, _SlowProtocol(chunks, sent.append))
    return sent


def _status(sent: list[dict[str, Any]]) -> tuple[int, bytes]:
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body


@pytest.mark.anyio
@pytest.mark.parametrize("via", ["asgi", "rsgi"])
async def test_a_body_sent_too_slowly_is_a_408(via: str) -> None:
    async def trickle() -> AsyncIterator[bytes | None]:
        yield field("a", "1")
        for _ in range(100):
            await asyncio.sleep(0.05)
            yield b"x"

    app = _app(body_timeout=0.3)
    sent = await (_asgi if via == "asgi" else _rsgi)(app, trickle())
    status, body = _status(sent)
    assert status == 408, body


@pytest.mark.anyio
@pytest.mark.parametrize("via", ["asgi", "rsgi"])
async def test_a_slow_but_steady_upload_completes(via: str) -> None:
    payload = field("a", "1") + file_part("f", "f.txt", b"y" * 5000) + end()

    async def steady() -> AsyncIterator[bytes | None]:
        for index in range(0, len(payload), 700):
            await asyncio.sleep(0.001)
            yield payload[index : index + 700]

    app = _app()
    sent = await (_asgi if via == "asgi" else _rsgi)(app, steady())
    status, body = _status(sent)
    assert status == 200, body
    assert b'"size":5000' in body


@pytest.mark.anyio
@pytest.mark.parametrize("via", ["asgi", "rsgi"])
async def test_a_client_leaving_mid_upload_closes_the_files(via: str) -> None:
    opened: list[UploadFile] = []
    original = UploadFile.__init__

    def spy(self: UploadFile, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        opened.append(self)

    async def leave() -> AsyncIterator[bytes | None]:
        yield file_part("f", "f.bin", b"z" * 200_000)[:150_000]
        yield None

    app = _app(form_limits=FormLimits(spool_size=1000))
    UploadFile.__init__ = spy  # type: ignore[method-assign]
    try:
        sent = await (_asgi if via == "asgi" else _rsgi)(app, leave())
    finally:
        UploadFile.__init__ = original  # type: ignore[method-assign]
    status, _ = _status(sent)
    assert status == 400
    assert opened
    assert all(upload.closed for upload in opened)


def test_http_error_is_what_form_raises_for_bad_input() -> None:
    with pytest.raises(HTTPError):
        parse_urlencoded(b"%FF=1")


def test_rolled_over_files_leave_nothing_in_the_temporary_directory(tmp_path: Path) -> None:
    router = Router()
    listed: list[list[str]] = []

    async def handler(request: Request) -> dict[str, Any]:
        form = await request.form()
        upload = form["f"]
        assert isinstance(upload, UploadFile)
        listed.append(os.listdir(tmp_path))  # anonymous files: no name even while open
        return {"in_memory": upload.in_memory}

    router.post("/f")(handler)
    limits = FormLimits(spool_size=10, temp_dir=str(tmp_path))
    client = _client(create_app(router, form_limits=limits))
    response = post(client, "/f", file_part("f", "f", b"x" * 50_000) + end())
    assert response.json() == {"in_memory": False}
    assert listed == [[]]
    assert os.listdir(tmp_path) == []


def test_a_missing_parser_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "multipart", None)  # what an absent package looks like
    router = Router()

    async def handler(request: Request) -> Any:
        try:
            await request.form()
        except MissingPackageError as exc:
            return {"error": str(exc)}
        return {"error": None}

    router.post("/f")(handler)
    response = post(_client(create_app(router)), "/f", field("a", "1") + end())
    assert "fastware-core[forms]" in response.json()["error"]
    # URL-encoded forms need no parser package
    ok = post(_client(create_app(router)), "/f", b"a=1", "application/x-www-form-urlencoded")
    assert ok.json() == {"error": None}
