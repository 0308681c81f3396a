"""Static files and the SPA fallback over a real Granian, through both doors.

``apps/fw_static_app.py`` answers ``/assets/...`` with ``StaticFiles`` and the RSGI or ASGI
file sender, other unrouted GETs with ``SPAFallback``, and ``/mounted/...`` with a
``StaticFiles`` mounted on the router. Traversal attempts go over raw sockets, so that no
client normalises ``..`` or re-encodes the path before Granian decodes it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import msgspec
import pytest
from support.granian import GranianProcess

INTERFACES = ("rsgi", "asgi")
TARGET = "fw_static_app:app"

APP_JS = b"console.log('fastware');\n"
HASHED = "index-BvXq3_9a.js"
BIG = bytes(range(256)) * 4096  # 1 MiB
INDEX_HTML = b"<!doctype html><title>spa</title>"
SECRET = b"top secret"
NOT_FOUND = {"detail": "Not found"}


@dataclass
class Raw:
    """A response read off a raw socket (the server closes after it)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class Door:
    """A Granian serving ``fw_static_app`` through one interface."""

    interface: str
    process: GranianProcess

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def port(self) -> int:
        return self.process.port

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0)

    def raw(self, method: str, target: str, headers: str = "") -> Raw:
        """Send ``method target`` verbatim, read until the server closes."""
        request = f"{method} {target} HTTP/1.1\r\nHost: test\r\n{headers}Connection: close\r\n\r\n"
        with socket.create_connection(("127.0.0.1", self.port), timeout=10.0) as sock:
            sock.sendall(request.encode("latin-1"))
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        parsed = {}
        for line in lines:
            name, _, value = line.partition(":")
            parsed[name.strip().lower()] = value.strip()
        return Raw(int(status_line.split(" ")[1]), parsed, body)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``dist/`` with index.html and assets; a secret next to it and symlinks leaving it."""
    root = tmp_path_factory.mktemp("site")
    assets = root / "dist" / "assets"
    assets.mkdir(parents=True)
    (assets / "app.js").write_bytes(APP_JS)
    (assets / HASHED).write_bytes(b"export const a = 1;\n")
    (assets / "big.bin").write_bytes(BIG)
    (assets / "empty.txt").write_bytes(b"")
    (assets / ".env").write_bytes(SECRET)
    (assets / "escape.txt").symlink_to(root / "secret")
    (root / "dist" / "index.html").write_bytes(INDEX_HTML)
    (root / "dist" / "robots.txt").write_text("User-agent: *\n")
    (root / "secret").write_bytes(SECRET)
    return root


@pytest.fixture(scope="module", params=INTERFACES)
def door(
    request: pytest.FixtureRequest, site: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Door]:
    interface: str = request.param
    log_dir = tmp_path_factory.mktemp(f"granian-static-{interface}")
    process = GranianProcess(TARGET, interface, log_dir, {"FW_STATIC_ROOT": str(site)})
    process.start()
    try:
        process.wait_ready()
        yield Door(interface, process)
    finally:
        process.stop()


# -- whole files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/assets", "/mounted"])
def test_file_is_served_with_validators(door: Door, prefix: str) -> None:
    with door.client() as http:
        plain = http.get(f"{prefix}/app.js")
        hashed = http.get(f"{prefix}/{HASHED}")

    assert plain.status_code == 200
    assert plain.content == APP_JS
    assert plain.headers["content-type"] == "text/javascript; charset=utf-8"
    assert plain.headers["content-length"] == str(len(APP_JS))
    assert plain.headers["accept-ranges"] == "bytes"
    assert plain.headers["etag"].startswith('"')
    assert plain.headers["last-modified"].endswith(" GMT")
    assert plain.headers["cache-control"] == "no-cache"
    assert hashed.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_large_file_arrives_whole_with_a_length(door: Door) -> None:
    with door.client() as http:
        response = http.get("/assets/big.bin")

    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(BIG))
    assert "transfer-encoding" not in response.headers
    assert response.content == BIG


def test_empty_file(door: Door) -> None:
    with door.client() as http:
        response = http.get("/assets/empty.txt")

    assert (response.status_code, response.content) == (200, b"")
    assert response.headers["content-length"] == "0"


def test_head_sends_the_length_and_no_body(door: Door) -> None:
    response = door.raw("HEAD", "/assets/big.bin")

    assert response.status == 200
    assert response.headers["content-length"] == str(len(BIG))
    assert response.body == b""


def test_post_gets_405(door: Door) -> None:
    with door.client() as http:
        response = http.post("/assets/app.js")

    assert response.status_code == 405
    assert response.json() == {"detail": "Method not allowed"}
    assert response.headers["allow"] == "GET, HEAD"


# -- conditional requests and ranges --------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/assets", "/mounted"])
def test_unchanged_file_answers_304(door: Door, prefix: str) -> None:
    with door.client() as http:
        first = http.get(f"{prefix}/app.js")
        by_etag = http.get(f"{prefix}/app.js", headers={"If-None-Match": first.headers["etag"]})
        by_date = http.get(
            f"{prefix}/app.js", headers={"If-Modified-Since": first.headers["last-modified"]}
        )

    for response in (by_etag, by_date):
        assert response.status_code == 304
        assert response.content == b""
        assert response.headers["etag"] == first.headers["etag"]
        assert response.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-4", 0, 4), ("bytes=-3", 22, 24), ("bytes=5-", 5, 24), ("bytes=24-24", 24, 24)],
)
@pytest.mark.parametrize("prefix", ["/assets", "/mounted"])
def test_single_range_answers_206(
    door: Door, prefix: str, header: str, first: int, last: int
) -> None:
    with door.client() as http:
        response = http.get(f"{prefix}/app.js", headers={"Range": header})

    assert response.status_code == 206
    assert response.content == APP_JS[first : last + 1]
    assert response.headers["content-range"] == f"bytes {first}-{last}/{len(APP_JS)}"
    assert response.headers["content-length"] == str(last - first + 1)


def test_range_inside_a_large_file(door: Door) -> None:
    with door.client() as http:
        response = http.get("/assets/big.bin", headers={"Range": "bytes=100000-700000"})

    assert response.status_code == 206
    assert response.content == BIG[100000:700001]
    assert response.headers["content-range"] == f"bytes 100000-700000/{len(BIG)}"


def test_unsatisfiable_range_answers_416(door: Door) -> None:
    with door.client() as http:
        response = http.get("/assets/app.js", headers={"Range": "bytes=500-"})

    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(APP_JS)}"
    assert response.json() == {"detail": "Range not satisfiable"}


def test_stale_if_range_and_multi_range_get_the_whole_file(door: Door) -> None:
    with door.client() as http:
        stale = http.get("/assets/app.js", headers={"Range": "bytes=0-4", "If-Range": '"old"'})
        multi = http.get("/assets/app.js", headers={"Range": "bytes=0-1,4-5"})

    for response in (stale, multi):
        assert response.status_code == 200
        assert response.content == APP_JS


# -- traversal ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/assets/%2e%2e/%2e%2e/etc/passwd",
        "/assets/..%2f..%2fsecret",
        "/assets/%5c..%5csecret",
        "/assets/../../secret",
        "/assets/%2e%2e/%2e%2e/secret",
        "/assets/escape.txt",
        "/assets/.env",
        "/mounted/%2e%2e/%2e%2e/secret",
        "/mounted/..%2f..%2fsecret",
        "/mounted/%5c..%5csecret",
    ],
)
def test_traversal_attempts_get_404(door: Door, target: str) -> None:
    response = door.raw("GET", target)

    assert response.status == 404
    assert msgspec.json.decode(response.body) == NOT_FOUND
    assert SECRET not in response.body


def test_nul_byte_in_a_static_path_is_refused_before_the_file_system(door: Door) -> None:
    response = door.raw("GET", "/assets/%00")
    assert response.status == 400
    assert msgspec.json.decode(response.body) == {"detail": "Invalid characters in path"}


def test_head_of_a_missing_file_has_no_body(door: Door) -> None:
    response = door.raw("HEAD", "/assets/missing.js")

    assert response.status == 404
    assert response.body == b""


# -- the SPA fallback -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/users/42", "/apiary"])
def test_browser_routes_get_index_html(door: Door, path: str) -> None:
    with door.client() as http:
        response = http.get(path)

    assert response.status_code == 200
    assert response.content == INDEX_HTML
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"


def test_spa_head_has_length_and_no_body(door: Door) -> None:
    response = door.raw("HEAD", "/users/42")

    assert response.status == 200
    assert response.headers["content-length"] == str(len(INDEX_HTML))
    assert response.body == b""


def test_spa_serves_files_beside_index(door: Door) -> None:
    with door.client() as http:
        response = http.get("/robots.txt")

    assert response.text == "User-agent: *\n"


def test_api_paths_keep_their_404_and_routes(door: Door) -> None:
    with door.client() as http:
        missing = http.get("/api/missing")
        ping = http.get("/api/ping")

    assert missing.status_code == 404
    assert missing.json() == NOT_FOUND
    assert ping.json() == {"pong": True}


@pytest.mark.parametrize("target", ["/%2e%2e/secret", "/..%2fsecret", "/%5c..%5csecret"])
def test_spa_traversal_attempts_get_404(door: Door, target: str) -> None:
    response = door.raw("GET", target)

    assert response.status == 404
    assert SECRET not in response.body
