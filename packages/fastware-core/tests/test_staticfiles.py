"""Static files and the SPA fallback: files, validators, ranges, traversal, hashed names."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from fastware_core import (
    FileResponse,
    Headers,
    JSONResponse,
    Request,
    Router,
    TestClient,
    _filesend,
    create_app,
)
from fastware_core._filesend import (
    asgi_headers,
    send_file_asgi,
    send_file_rsgi,
    send_static_asgi,
)
from fastware_core.exceptions import FastwareError
from fastware_core.staticfiles import SPAFallback, StaticFiles, is_hashed_asset
from fastware_core.types import Receive, Scope, Send

APP_JS = b"console.log('fastware');\n"  # 25 bytes
HASHED_JS = b"export const answer = 42;\n"
ALPHABET = bytes(range(256)) * 1024  # 256 KiB: several 64 KiB chunks
INDEX_HTML = "<!doctype html><title>spa</title><div id=app></div>"
NOT_FOUND = {"detail": "Not found"}
IMMUTABLE = "public, max-age=31536000, immutable"
ETAG = re.compile(r'"[0-9a-f]+-[0-9a-f]+"')


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A built frontend: ``dist/`` with index.html and ``dist/assets/``, secrets around it."""
    dist = tmp_path / "dist"
    assets = dist / "assets"
    (assets / "sub").mkdir(parents=True)
    (assets / ".hidden").mkdir()
    (assets / "app.js").write_bytes(APP_JS)
    (assets / "index-BvXq3_9a.js").write_bytes(HASHED_JS)
    (assets / "data.bin").write_bytes(ALPHABET)
    (assets / "empty.txt").write_bytes(b"")
    (assets / "font.woff2").write_bytes(b"wOF2")
    (assets / "blob.xyz").write_bytes(b"?")
    (assets / "sub" / "deep.txt").write_text("deep")
    (assets / ".env").write_text("SECRET=1")
    (assets / ".hidden" / "x.txt").write_text("hidden")
    (dist / "index.html").write_text(INDEX_HTML)
    (dist / "robots.txt").write_text("User-agent: *\n")
    (dist / ".env").write_text("DIST_SECRET=1")
    (tmp_path / "secret.txt").write_text("top secret")
    (tmp_path / "dist" / "assets-evil").mkdir()
    (tmp_path / "dist" / "assets-evil" / "x.txt").write_text("evil twin")
    (assets / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (assets / "outdir").symlink_to(tmp_path, target_is_directory=True)
    (assets / "inside.txt").symlink_to(assets / "app.js")
    (assets / "public.txt").symlink_to(assets / ".env")
    (assets / "twin").symlink_to(dist / "assets-evil", target_is_directory=True)
    return tmp_path


@pytest.fixture
def assets(site: Path) -> Path:
    return site / "dist" / "assets"


@pytest.fixture
def client(assets: Path) -> Iterator[TestClient]:
    """An app with ``StaticFiles`` mounted at ``/assets``."""
    router = Router()
    router.mount("/assets", StaticFiles(directory=assets))
    with TestClient(create_app(router)) as test_client:
        yield test_client


def spa_asgi(spa: SPAFallback) -> Any:
    """An ASGI app answering every request from ``spa.respond()`` (404 for ``None``)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        response = await spa.respond(scope["method"], scope["path"], asgi_headers(scope))
        await send_static_asgi(send, response, scope["method"] == "HEAD")

    return app


@pytest.fixture
def spa_client(site: Path) -> Iterator[TestClient]:
    """Routes under ``/api``, and the SPA (``api_prefix="/api"``) mounted at ``/``."""
    router = Router()

    @router.get("/api/items")
    async def items(request: Any) -> Any:
        return [1, 2]

    spa = SPAFallback(site / "dist" / "index.html", api_prefix="/api")
    router.mount("/", spa_asgi(spa))
    with TestClient(create_app(router)) as test_client:
        yield test_client


# -- serving files --------------------------------------------------------------------------------


def test_get_serves_the_file_with_validators(client: TestClient, assets: Path) -> None:
    response = client.get("/assets/app.js")
    info = (assets / "app.js").stat()

    assert response.status_code == 200
    assert response.content == APP_JS
    assert [name for name, _ in response.headers.multi_items()] == [
        "content-type",
        "content-length",
        "accept-ranges",
        "etag",
        "last-modified",
        "cache-control",
        "x-content-type-options",  # nosniff, on by default
        "x-request-id",  # appended by the default RequestID middleware
    ]
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["content-length"] == str(len(APP_JS))
    assert response.headers["accept-ranges"] == "bytes"
    assert ETAG.fullmatch(response.headers["etag"])
    assert response.headers["last-modified"] == formatdate(int(info.st_mtime), usegmt=True)
    assert response.headers["cache-control"] == "no-cache"


def test_a_changed_file_gets_a_new_etag(client: TestClient, assets: Path) -> None:
    before = client.get("/assets/app.js").headers["etag"]
    (assets / "app.js").write_bytes(APP_JS + b"// more\n")
    after = client.get("/assets/app.js")

    assert after.headers["etag"] != before
    assert after.content.endswith(b"// more\n")


def test_hashed_asset_is_cached_for_a_year(client: TestClient) -> None:
    response = client.get("/assets/index-BvXq3_9a.js")

    assert response.status_code == 200
    assert response.content == HASHED_JS
    assert response.headers["cache-control"] == IMMUTABLE


def test_files_in_subdirectories_are_served(client: TestClient) -> None:
    response = client.get("/assets/sub/deep.txt")

    assert response.status_code == 200
    assert response.text == "deep"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("font.woff2", "font/woff2"),
        ("blob.xyz", "application/octet-stream"),
        ("index-BvXq3_9a.js", "text/javascript; charset=utf-8"),
    ],
)
def test_content_type_comes_from_the_fixed_table(
    client: TestClient, name: str, content_type: str
) -> None:
    assert client.get(f"/assets/{name}").headers["content-type"] == content_type


def test_large_file_is_streamed_in_chunks(client: TestClient) -> None:
    with client.stream("GET", "/assets/data.bin") as response:
        chunks = list(response.iter_bytes())

    assert response.headers["content-length"] == str(len(ALPHABET))
    assert len(chunks) == 4  # 64 KiB each, never the whole file at once
    assert b"".join(chunks) == ALPHABET


def test_empty_file_is_served(client: TestClient) -> None:
    response = client.get("/assets/empty.txt")

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "0"


def test_head_sends_the_length_without_a_body(client: TestClient) -> None:
    response = client.head("/assets/data.bin")

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(ALPHABET))
    assert response.headers["content-type"] == "application/octet-stream"
    assert ETAG.fullmatch(response.headers["etag"])


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("path", ["/assets/app.js", "/assets/missing.js"])
def test_other_methods_get_405(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path)

    assert response.status_code == 405
    assert response.json() == {"detail": "Method not allowed"}
    assert response.headers["allow"] == "GET, HEAD"


def test_missing_file_is_404(client: TestClient) -> None:
    response = client.get("/assets/missing.js")

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_head_of_a_missing_file_is_404_without_body(client: TestClient) -> None:
    response = client.head("/assets/missing.js")

    assert response.status_code == 404
    assert response.content == b""
    assert response.headers["content-length"] == str(len(b'{"detail":"Not found"}'))


def test_symlink_inside_the_root_is_served(client: TestClient) -> None:
    response = client.get("/assets/inside.txt")

    assert response.status_code == 200
    assert response.content == APP_JS
    assert response.headers["content-type"] == "text/plain; charset=utf-8"  # the link's name


def test_directory_created_later_is_served(tmp_path: Path) -> None:
    router = Router()
    router.mount("/static", StaticFiles(directory=tmp_path / "later"))
    with TestClient(create_app(router)) as client:
        assert client.get("/static/a.txt").status_code == 404
        (tmp_path / "later").mkdir()
        (tmp_path / "later" / "a.txt").write_text("now")
        assert client.get("/static/a.txt").text == "now"


def test_check_dir_refuses_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(FastwareError, match="not a directory"):
        StaticFiles(directory=tmp_path / "missing", check_dir=True)
    assert StaticFiles(directory=tmp_path, check_dir=True).directory == tmp_path


# -- conditional requests -------------------------------------------------------------------------


def test_if_none_match_with_the_etag_answers_304(client: TestClient) -> None:
    first = client.get("/assets/index-BvXq3_9a.js")
    etag = first.headers["etag"]

    response = client.get("/assets/index-BvXq3_9a.js", headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert response.headers["last-modified"] == first.headers["last-modified"]
    assert response.headers["cache-control"] == IMMUTABLE
    assert "content-length" not in response.headers
    assert "content-type" not in response.headers


@pytest.mark.parametrize(
    "template",
    ['"other", {etag}', "W/{etag}", "*", ' "x" ,  {etag} '],
)
def test_if_none_match_lists_weak_tags_and_star(client: TestClient, template: str) -> None:
    etag = client.get("/assets/app.js").headers["etag"]
    header = template.format(etag=etag)

    assert client.get("/assets/app.js", headers={"If-None-Match": header}).status_code == 304
    assert client.head("/assets/app.js", headers={"If-None-Match": header}).status_code == 304


def test_if_none_match_with_another_etag_answers_200(client: TestClient) -> None:
    response = client.get("/assets/app.js", headers={"If-None-Match": '"nope"'})

    assert response.status_code == 200
    assert response.content == APP_JS


def test_if_modified_since_answers_304_when_unchanged(client: TestClient) -> None:
    last_modified = client.get("/assets/app.js").headers["last-modified"]

    response = client.get("/assets/app.js", headers={"If-Modified-Since": last_modified})

    assert response.status_code == 304
    assert response.content == b""


def test_if_modified_since_answers_200_when_changed(client: TestClient, assets: Path) -> None:
    os.utime(assets / "app.js", (2_000_000_000, 2_000_000_000))
    old = formatdate(1_000_000_000, usegmt=True)

    response = client.get("/assets/app.js", headers={"If-Modified-Since": old})

    assert response.status_code == 200
    assert response.content == APP_JS


@pytest.mark.parametrize("value", ["yesterday", "", "Mon, 99 Foo 2020 00:00:00 GMT"])
def test_unparsable_if_modified_since_is_ignored(client: TestClient, value: str) -> None:
    assert client.get("/assets/app.js", headers={"If-Modified-Since": value}).status_code == 200


def test_if_none_match_wins_over_if_modified_since(client: TestClient) -> None:
    first = client.get("/assets/app.js")
    fresh = first.headers["last-modified"]
    stale = formatdate(0, usegmt=True)

    changed = client.get(
        "/assets/app.js", headers={"If-None-Match": '"other"', "If-Modified-Since": fresh}
    )
    unchanged = client.get(
        "/assets/app.js",
        headers={"If-None-Match": first.headers["etag"], "If-Modified-Since": stale},
    )

    assert changed.status_code == 200
    assert unchanged.status_code == 304


# -- ranges ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-4", 0, 4),
        ("bytes=5-", 5, 24),
        ("bytes=-3", 22, 24),
        ("bytes=2-2", 2, 2),
        ("bytes=10-1000", 10, 24),
        ("bytes=-1000", 0, 24),
        ("BYTES = 3-6", 3, 6),
    ],
)
def test_single_range_answers_206(client: TestClient, header: str, first: int, last: int) -> None:
    response = client.get("/assets/app.js", headers={"Range": header})

    assert response.status_code == 206
    assert response.content == APP_JS[first : last + 1]
    assert response.headers["content-range"] == f"bytes {first}-{last}/{len(APP_JS)}"
    assert response.headers["content-length"] == str(last - first + 1)
    assert response.headers["accept-ranges"] == "bytes"
    assert [name for name, _ in response.headers.multi_items()][:3] == [
        "content-type",
        "content-length",
        "content-range",
    ]


def test_range_across_chunks_of_a_large_file(client: TestClient) -> None:
    response = client.get("/assets/data.bin", headers={"Range": "bytes=70000-200000"})

    assert response.status_code == 206
    assert response.content == ALPHABET[70000:200001]
    assert response.headers["content-range"] == f"bytes 70000-200000/{len(ALPHABET)}"


@pytest.mark.parametrize(
    "header",
    [
        "bytes=0-1,5-6",  # several ranges: the whole file is allowed (RFC 9110 14.2)
        "bytes=5-2",  # last before first: an invalid range is ignored
        "items=0-4",  # an unknown unit
        "bytes=abc",
        "bytes=-",
        "bytes=1-2-3",
        "bytes=99999999999999999999999-",
    ],
)
def test_multi_range_and_malformed_ranges_get_the_whole_file(
    client: TestClient, header: str
) -> None:
    response = client.get("/assets/app.js", headers={"Range": header})

    assert response.status_code == 200
    assert response.content == APP_JS
    assert "content-range" not in response.headers


@pytest.mark.parametrize("header", ["bytes=25-", "bytes=100-200", "bytes=-0"])
def test_unsatisfiable_range_answers_416(client: TestClient, header: str) -> None:
    response = client.get("/assets/app.js", headers={"Range": header})

    assert response.status_code == 416
    assert response.json() == {"detail": "Range not satisfiable"}
    assert response.headers["content-range"] == f"bytes */{len(APP_JS)}"


def test_range_on_an_empty_file(client: TestClient) -> None:
    assert client.get("/assets/empty.txt", headers={"Range": "bytes=0-"}).status_code == 416
    suffix = client.get("/assets/empty.txt", headers={"Range": "bytes=-5"})
    assert (suffix.status_code, suffix.content) == (200, b"")


def test_head_ignores_range(client: TestClient) -> None:
    response = client.head("/assets/app.js", headers={"Range": "bytes=0-4"})

    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(APP_JS))
    assert "content-range" not in response.headers


def test_if_range_with_the_current_etag_allows_the_range(client: TestClient) -> None:
    etag = client.get("/assets/app.js").headers["etag"]

    response = client.get("/assets/app.js", headers={"Range": "bytes=0-4", "If-Range": etag})

    assert response.status_code == 206
    assert response.content == APP_JS[:5]


@pytest.mark.parametrize("if_range", ['"stale"', "W/{etag}", "Thu, 01 Jan 1970 00:00:00 GMT"])
def test_if_range_that_no_longer_matches_sends_the_whole_file(
    client: TestClient, if_range: str
) -> None:
    etag = client.get("/assets/app.js").headers["etag"]
    headers = {"Range": "bytes=0-4", "If-Range": if_range.format(etag=etag)}

    response = client.get("/assets/app.js", headers=headers)

    assert response.status_code == 200
    assert response.content == APP_JS


def test_if_range_with_the_last_modified_date_allows_the_range(client: TestClient) -> None:
    last_modified = client.get("/assets/app.js").headers["last-modified"]
    headers = {"Range": "bytes=-2", "If-Range": last_modified}

    response = client.get("/assets/app.js", headers=headers)

    assert response.status_code == 206
    assert response.content == APP_JS[-2:]


def test_304_comes_before_the_range(client: TestClient) -> None:
    etag = client.get("/assets/app.js").headers["etag"]
    headers = {"Range": "bytes=0-4", "If-None-Match": etag}

    assert client.get("/assets/app.js", headers=headers).status_code == 304


# -- traversal and hidden files -------------------------------------------------------------------

TRAVERSALS = [
    "/assets/../secret.txt",
    "/assets/../../secret.txt",
    "/assets/%2e%2e/%2e%2e/secret.txt",
    "/assets/%2e%2e/%2e%2e/etc/passwd",
    "/assets/..%2f..%2fsecret.txt",
    "/assets/%2E%2E%2F%2E%2E%2Fsecret.txt",
    "/assets/%5c..%5c..%5csecret.txt",
    "/assets/..\\..\\secret.txt",
    "/assets/sub/../app.js",
    "/assets/./app.js",
    "/assets/sub/%2e/deep.txt",
    "/assets/%00",
    "/assets/app.js%00.png",
    "/assets//etc/passwd",
    "/assets/%2fetc%2fpasswd",
    "/assets/C:/Windows/win.ini",
    "/assets/C:%5cWindows%5cwin.ini",
    "/assets/app.js::$DATA",
    "/assets/escape.txt",
    "/assets/outdir/secret.txt",
    "/assets/../assets-evil/x.txt",
    "/assets/twin/x.txt",  # a symlink to a sibling directory sharing the root's name prefix
    "/assets/",
    "/assets",
    "/assets/sub",
    "/assets/sub/",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_attempts_get_404(client: TestClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


@pytest.mark.parametrize(
    "path", ["/assets/.env", "/assets/.hidden/x.txt", "/assets/%2eenv", "/assets/public.txt"]
)
def test_dotfiles_are_hidden_by_default(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_dotfiles_are_served_when_allowed(assets: Path) -> None:
    router = Router()
    router.mount("/assets", StaticFiles(directory=assets, allow_dotfiles=True))
    with TestClient(create_app(router)) as client:
        assert client.get("/assets/.env").text == "SECRET=1"
        assert client.get("/assets/.hidden/x.txt").text == "hidden"
        assert client.get("/assets/public.txt").text == "SECRET=1"
        assert client.get("/assets/../secret.txt").status_code == 404
        assert client.get("/assets/%2e%2e/secret.txt").status_code == 404


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_is_not_opened(client: TestClient, assets: Path) -> None:
    os.mkfifo(assets / "pipe.txt")

    assert client.get("/assets/pipe.txt").status_code == 404


# -- respond() directly ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_respond_returns_a_file_response(assets: Path) -> None:
    static = StaticFiles(directory=assets)

    response = await static.respond("GET", "/app.js", Headers({"Range": "bytes=1-3"}))

    assert isinstance(response, FileResponse)
    assert response.status == 206
    assert response.range == (1, 3)
    assert response.stat is not None
    assert response.stat.st_size == len(APP_JS)
    assert Path(response.path) == (assets / "app.js").resolve()
    assert response.content_type == "text/javascript; charset=utf-8"


@pytest.mark.anyio
async def test_respond_accepts_any_header_lookup(assets: Path) -> None:
    static = StaticFiles(directory=assets)
    first = await static.respond("GET", "app.js", {})
    assert isinstance(first, FileResponse)
    etag = first.headers["etag"]

    again = await static.respond("HEAD", "app.js", {"if-none-match": etag})

    assert isinstance(again, FileResponse)
    assert again.status == 304


@pytest.mark.anyio
async def test_respond_returns_none_or_an_error_response(assets: Path) -> None:
    static = StaticFiles(directory=assets)

    assert await static.respond("GET", "/missing.js", {}) is None
    assert await static.respond("GET", "/../secret.txt", {}) is None
    refused = await static.respond("POST", "/app.js", {})
    assert isinstance(refused, JSONResponse)
    assert refused.status == 405
    unsatisfiable = await static.respond("GET", "/app.js", {"range": "bytes=500-"})
    assert isinstance(unsatisfiable, JSONResponse)
    assert unsatisfiable.status == 416


@pytest.mark.anyio
async def test_file_system_work_stays_off_the_event_loop(
    assets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.get_ident()
    calls: list[tuple[str, bool]] = []
    real_stat, real_lstat, real_open = os.stat, os.lstat, open

    def stat(*args: Any, **kwargs: Any) -> Any:
        calls.append(("stat", threading.get_ident() == loop_thread))
        return real_stat(*args, **kwargs)

    def lstat(*args: Any, **kwargs: Any) -> Any:
        calls.append(("lstat", threading.get_ident() == loop_thread))
        return real_lstat(*args, **kwargs)

    def opener(*args: Any, **kwargs: Any) -> Any:
        calls.append(("open", threading.get_ident() == loop_thread))
        return real_open(*args, **kwargs)

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    monkeypatch.setattr(os, "stat", stat)
    monkeypatch.setattr(os, "lstat", lstat)
    monkeypatch.setattr(_filesend, "open", opener, raising=False)
    response = await StaticFiles(directory=assets).respond("GET", "/sub/deep.txt", {})
    assert isinstance(response, FileResponse)
    await send_file_asgi(send, response, head=False)
    await send_file_asgi(send, FileResponse(assets / "app.js"), head=False)
    spa = SPAFallback(assets.parent / "index.html")
    assert await spa.respond("GET", "/some/route", {}) is not None
    monkeypatch.undo()

    assert {name for name, _ in calls} == {"stat", "lstat", "open"}
    assert [name for name, on_loop in calls if on_loop] == []
    assert b"".join(m.get("body", b"") for m in sent).startswith(b"deep")


# -- the senders ----------------------------------------------------------------------------------


class FakeRSGI:
    """Records the RSGI response method called."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def response_empty(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.calls.append(("empty", status, headers))

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.calls.append(("bytes", status, headers, body))

    def response_file(self, status: int, headers: list[tuple[str, str]], file: str) -> None:
        self.calls.append(("file", status, headers, file))

    def response_file_range(
        self, status: int, headers: list[tuple[str, str]], file: str, start: int, end: int
    ) -> None:
        self.calls.append(("range", status, headers, file, start, end))


async def asgi_messages(response: FileResponse, head: bool = False) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await send_file_asgi(send, response, head)
    return sent


def header_dict(message: dict[str, Any]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in message["headers"]}


@pytest.mark.anyio
async def test_asgi_sender_answers_404_for_a_file_gone_missing(tmp_path: Path) -> None:
    for head in (False, True):
        sent = await asgi_messages(FileResponse(tmp_path / "gone.txt"), head)
        assert sent[0]["status"] == 404
        assert sent[1]["body"] == (b"" if head else b'{"detail":"Not found"}')
    directory = await asgi_messages(FileResponse(tmp_path))
    assert directory[0]["status"] == 404


@pytest.mark.anyio
async def test_asgi_sender_honours_a_range_without_a_stat(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"0123456789")

    sent = await asgi_messages(FileResponse(path, range=(3, 100), filename="a.txt"))

    assert sent[0]["status"] == 206
    assert header_dict(sent[0]) == {
        "content-type": "text/plain; charset=utf-8",
        "content-length": "7",
        "content-range": "bytes 3-9/10",
        "content-disposition": 'attachment; filename="a.txt"',
    }
    assert b"".join(m["body"] for m in sent[1:]) == b"3456789"
    beyond = await asgi_messages(FileResponse(path, range=(10, 12)))
    assert beyond[0]["status"] == 416
    assert header_dict(beyond[0])["content-range"] == "bytes */10"


@pytest.mark.anyio
async def test_rsgi_sender_calls_granian(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"0123456789")
    (tmp_path / "empty.txt").write_bytes(b"")
    text = "text/plain; charset=utf-8"

    protocol = FakeRSGI()
    await send_file_rsgi(protocol, FileResponse(path, headers={"etag": '"1"'}), False)
    await send_file_rsgi(protocol, FileResponse(path, range=(2, 4)), False)
    await send_file_rsgi(protocol, FileResponse(path), True)
    await send_file_rsgi(protocol, FileResponse(path, status=304, headers={"etag": '"1"'}), False)
    await send_file_rsgi(protocol, FileResponse(tmp_path / "gone.txt"), False)
    await send_file_rsgi(protocol, FileResponse(tmp_path / "empty.txt"), False)
    await send_file_rsgi(protocol, FileResponse(path, range=(10, 12)), False)

    assert protocol.calls == [
        (
            "file",
            200,
            [("content-type", text), ("content-length", "10"), ("etag", '"1"')],
            str(path),
        ),
        (
            "range",
            206,
            [("content-type", text), ("content-length", "3"), ("content-range", "bytes 2-4/10")],
            str(path),
            2,
            5,  # Granian's end is exclusive
        ),
        ("empty", 200, [("content-type", text), ("content-length", "10")]),
        ("empty", 304, [("etag", '"1"')]),
        (
            "bytes",
            404,
            [("content-type", "application/json"), ("content-length", "22")],
            b'{"detail":"Not found"}',
        ),
        ("bytes", 200, [("content-type", text), ("content-length", "0")], b""),
        (
            "bytes",
            416,
            [
                ("content-type", "application/json"),
                ("content-length", "34"),
                ("content-range", "bytes */10"),
            ],
            b'{"detail":"Range not satisfiable"}',
        ),
    ]


# -- the hashed-name rule -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "index-BvXq3_9a.js",
        "app.3f2a9c1b.css",
        "chunk-D2_xk-9A.js",
        "index-5XGBYSD4.js",  # esbuild (base32)
        "main.abc123def456.js",  # webpack [contenthash:12]
        "vendor.5f3c9e1d2b4a6f8e0c1d.js",  # webpack's default 20 hex digits
        "app.deadbeef12.js",  # a run of hex letters is not a word
        "index-BvXq3_9a.js.map",  # the source map of a hashed file
        "assets/logo-a1B2c3D4.svg",
    ],
)
def test_hashed_names_are_recognised(name: str) -> None:
    assert is_hashed_asset(name)


@pytest.mark.parametrize(
    "name",
    [
        "app-analytics.js",
        "site-settings.css",
        "react-dom-production.js",
        "index.js",
        "app-analytics2.js",  # a digit does not make a word a hash
        "app-v2-final.js",
        "apple-touch-icon-180x180.png",
        "android-chrome-192x192.png",
        "font-awesome-4-webfont.woff2",
        "fa-solid-900.woff2",
        "roboto-v30-latin-regular.woff2",
        "jquery-3.7.1.min.js",
        "favicon-32x32.png",
        "deadbeef12.js",  # no separator before it
        "app-abcdefgh.js",  # no digit
        "build-20240115.js",  # no letter
        "index-BvXq3_9a",  # no extension
        "index-BvXqHkLa.js",  # a hash without a digit is missed: revalidated, never stale
    ],
)
def test_ordinary_names_are_not_hashed(name: str) -> None:
    assert not is_hashed_asset(name)


# -- the SPA fallback -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/users/42", "/deep/link/page", "/apiary", "/api-docs"])
def test_spa_routes_get_index_html(spa_client: TestClient, path: str) -> None:
    response = spa_client.get(path)

    assert response.status_code == 200
    assert response.text == INDEX_HTML
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert ETAG.fullmatch(response.headers["etag"])


def test_spa_head_gets_headers_without_body(spa_client: TestClient) -> None:
    response = spa_client.head("/users/42")

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(INDEX_HTML))


def test_spa_index_revalidates_with_304(spa_client: TestClient) -> None:
    etag = spa_client.get("/settings").headers["etag"]

    response = spa_client.get("/settings", headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.headers["cache-control"] == "no-cache"


def test_spa_serves_files_next_to_index(spa_client: TestClient) -> None:
    robots = spa_client.get("/robots.txt")
    hashed = spa_client.get("/assets/index-BvXq3_9a.js")
    ranged = spa_client.get("/assets/app.js", headers={"Range": "bytes=0-6"})

    assert robots.text == "User-agent: *\n"
    assert robots.headers["content-type"] == "text/plain; charset=utf-8"
    assert robots.headers["cache-control"] == "no-cache"
    assert hashed.content == HASHED_JS
    assert hashed.headers["cache-control"] == IMMUTABLE
    assert (ranged.status_code, ranged.content) == (206, APP_JS[:7])


@pytest.mark.parametrize("path", ["/api", "/api/", "/api/missing", "/api/items/9"])
def test_spa_leaves_the_api_prefix_alone(spa_client: TestClient, path: str) -> None:
    response = spa_client.get(path)

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_spa_routes_still_win(spa_client: TestClient) -> None:
    assert spa_client.get("/api/items").json() == [1, 2]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_spa_answers_only_get_and_head(spa_client: TestClient, method: str) -> None:
    assert spa_client.request(method, "/users/42").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/..%2f..%2fsecret.txt",
        "/%5c..%5csecret.txt",
        "/assets/./app.js",
    ],
)
def test_spa_traversal_attempts_get_404(spa_client: TestClient, path: str) -> None:
    assert spa_client.get(path).status_code == 404


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/users/\x00", "/a\\b", "/a/../b", "/./index.html"])
async def test_spa_respond_refuses_traversal(site: Path, path: str) -> None:
    spa = SPAFallback(site / "dist" / "index.html")

    assert await spa.respond("GET", path, {}) is None


@pytest.mark.parametrize("path", ["/.env", "/assets/escape.txt", "/assets/.env", "/time/12:30"])
def test_spa_never_serves_hidden_or_escaping_files(spa_client: TestClient, path: str) -> None:
    response = spa_client.get(path)

    assert response.status_code == 200
    assert response.text == INDEX_HTML  # the fallback page, not the file


def test_spa_without_index_html_is_404(site: Path) -> None:
    (site / "dist" / "index.html").unlink()
    spa = SPAFallback(site / "dist" / "index.html")
    with TestClient(spa_asgi(spa)) as client:
        assert client.get("/users/42").status_code == 404
        assert client.get("/robots.txt").status_code == 200


def test_spa_api_prefix_is_normalised(site: Path) -> None:
    spa = SPAFallback(site / "dist" / "index.html", api_prefix="api/")

    assert spa.api_prefix == "/api"
    assert spa.is_api_path("/api")
    assert spa.is_api_path("/api/x")
    assert not spa.is_api_path("/apiary")
    with pytest.raises(ValueError, match="api_prefix"):
        SPAFallback(site / "dist" / "index.html", api_prefix="/")


def test_spa_index_under_another_name_is_still_html(site: Path) -> None:
    (site / "dist" / "shell.txt").write_text(INDEX_HTML)
    spa = SPAFallback(site / "dist" / "shell.txt")
    with TestClient(spa_asgi(spa)) as client:
        response = client.get("/anything")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == INDEX_HTML


def test_unreadable_file_is_404(
    client: TestClient, assets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_access = os.access
    unreadable = str((assets / "app.js").resolve())

    def access(path: Any, mode: int, **kwargs: Any) -> bool:
        return os.fspath(path) != unreadable and real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)

    assert client.get("/assets/app.js").status_code == 404
    assert client.get("/assets/sub/deep.txt").status_code == 200


# -- wired through create_app(static_dir=..., spa_fallback=...) --------------------------------


def _spa_app(tmp_path: Path, **config: Any) -> Any:
    assets = tmp_path / "dist" / "assets"
    assets.mkdir(parents=True)
    (assets / "index-BvXq3_9a.js").write_text("console.log(1)")
    (tmp_path / "dist" / "index.html").write_text("<!doctype html><title>spa</title>")
    (tmp_path / "dist" / "robots.txt").write_text("User-agent: *")
    router = Router()

    @router.get("/api/items/{item_id:int}")
    async def item(request: Request) -> dict[str, int]:
        return {"id": request.path_params["item_id"]}

    return create_app(
        router,
        static_dir=assets,
        spa_fallback=tmp_path / "dist" / "index.html",
        api_prefix="/api",
        **config,
    )


def test_app_serves_static_files_the_spa_and_api_routes(tmp_path: Path) -> None:
    with TestClient(_spa_app(tmp_path, sw_mode="off")) as client:
        asset = client.get("/assets/index-BvXq3_9a.js")
        assert asset.status_code == 200
        assert asset.text == "console.log(1)"
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert client.get("/assets/missing.js").status_code == 404  # no SPA under assets
        page = client.get("/settings/profile")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["cache-control"] == "no-cache"
        assert client.get("/robots.txt").text == "User-agent: *"
        assert client.get("/api/items/3").json() == {"id": 3}
        assert client.get("/api/nothing").json() == {"detail": "Not found"}
        assert client.get("/apiary").status_code == 200  # /api matched at a / boundary
        assert client.post("/assets/index-BvXq3_9a.js").status_code == 405
        etag = asset.headers["etag"]
        again = client.get("/assets/index-BvXq3_9a.js", headers={"If-None-Match": etag})
        assert again.status_code == 304


def test_app_rejects_an_unknown_sw_mode(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sw_mode"):
        _spa_app(tmp_path, sw_mode="sometimes")
