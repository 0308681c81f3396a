"""Bad input over a real Granian, through both doors: a clear 4xx JSON answer, never a 500, a
hang or a dead worker. Malformed requests that httpx refuses to send go over raw sockets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from http_doors.conftest import Server

MAX_BODY_SIZE = 256 * 1024  # fw_http_app.MAX_BODY_SIZE
TOO_LARGE = {"detail": "Request body too large"}


def post_json(client: httpx.Client, path: str, body: bytes) -> httpx.Response:
    return client.post(path, content=body, headers={"content-type": "application/json"})


def assert_alive(server: Server) -> None:
    with server.client() as http:
        response = http.get("/")
    assert response.status_code == 200
    assert response.json() == {"hello": "world"}


# -- JSON bodies ----------------------------------------------------------------------------------


def test_valid_json_is_echoed(client: httpx.Client) -> None:
    response = post_json(client, "/echo-json", b'{"a": [1, 2.5, "x", null, true]}')
    assert response.status_code == 200
    assert response.json() == {"json": {"a": [1, 2.5, "x", None, True]}}


def test_no_body_is_json_null(client: httpx.Client) -> None:
    assert client.post("/echo-json").json() == {"json": None}


@pytest.mark.parametrize("body", [b'{"a": ', b"{'a': 1}", b"[1, 2,]", b"nope"])
def test_malformed_json_is_400(client: httpx.Client, body: bytes) -> None:
    response = post_json(client, "/echo-json", body)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Invalid JSON")


def test_invalid_utf8_body_is_400(client: httpx.Client) -> None:
    response = post_json(client, "/echo-json", b'{"name": "\xff\xfe"}')
    assert response.status_code == 400
    assert "detail" in response.json()


@pytest.mark.parametrize(
    ("opener", "closer", "depth"),
    [(b"[", b"]", 100_000), (b'{"a":', b"}", 40_000)],
    ids=["arrays-100000", "objects-40000"],
)
def test_deeply_nested_json_is_400_and_worker_survives(
    server: Server, client: httpx.Client, opener: bytes, closer: bytes, depth: int
) -> None:
    body = opener * depth + b"1" + closer * depth
    assert len(body) <= MAX_BODY_SIZE  # the body limit must not answer in the depth cap's place
    response = post_json(client, "/echo-json", body)
    assert response.status_code == 400
    assert "nested deeper" in response.json()["detail"]
    assert_alive(server)


def test_json_nested_just_under_the_cap_is_accepted(client: httpx.Client) -> None:
    body = b"[" * 200 + b"]" * 200
    response = post_json(client, "/echo-json", body)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [b'{"n": 1e400}', b'{"n": -1e400}', b'{"n": ' + b"9" * 5000 + b"}"],
    ids=["huge-float", "huge-negative-float", "huge-int"],
)
def test_numbers_out_of_range_are_400(client: httpx.Client, body: bytes) -> None:
    response = post_json(client, "/echo-json", body)
    assert response.status_code == 400
    assert "out of range" in response.json()["detail"]


def test_json_as_struct(client: httpx.Client) -> None:
    response = post_json(client, "/item", b'{"name": "lamp", "price": 12.5}')
    assert response.status_code == 200
    assert response.json() == {"name": "lamp", "price": 12.5}


@pytest.mark.parametrize(
    "body", [b'{"name": "lamp"}', b'{"name": 3, "price": 1}', b"[]", b""], ids=str
)
def test_json_as_wrong_shape_is_422(client: httpx.Client, body: bytes) -> None:
    response = post_json(client, "/item", body)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_json_as_malformed_is_400(client: httpx.Client) -> None:
    response = post_json(client, "/item", b'{"name": "lamp", ')
    assert response.status_code == 400


# -- body size limit ------------------------------------------------------------------------------


def test_body_under_limit_is_accepted(client: httpx.Client) -> None:
    response = client.post("/upload", content=b"x" * MAX_BODY_SIZE)
    assert response.json() == {"size": MAX_BODY_SIZE}


def test_content_length_over_limit_is_413_before_the_body_is_sent(server: Server) -> None:
    head = (
        f"POST /upload HTTP/1.1\r\nHost: {server.authority}\r\n"
        "Content-Type: application/octet-stream\r\nContent-Length: 10000000\r\n\r\n"
    )
    with server.connect(timeout=5.0) as conn:
        conn.send(head.encode())  # and not one byte of the body
        response = conn.read_response()
    assert response.status == 413
    assert response.json() == TOO_LARGE
    assert response.header("content-type") == "application/json"
    assert_alive(server)


def test_content_length_just_over_limit_is_413(client: httpx.Client) -> None:
    response = client.post("/upload", content=b"x" * (MAX_BODY_SIZE + 1))
    assert response.status_code == 413
    assert response.json() == TOO_LARGE


def _chunked(pieces: list[bytes]) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces)


def test_chunked_body_over_limit_is_413(server: Server) -> None:
    head = (
        f"POST /upload HTTP/1.1\r\nHost: {server.authority}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    body = _chunked([b"y" * 16384] * 20) + b"0\r\n\r\n"  # 320 KiB
    with server.connect(timeout=5.0) as conn:
        conn.send(head.encode() + body)
        response = conn.read_response()
    assert response.status == 413
    assert response.json() == TOO_LARGE
    assert_alive(server)


def test_unterminated_chunked_body_over_limit_is_413(server: Server) -> None:
    """The limit is enforced while the body streams in, not after the last chunk."""
    head = (
        f"POST /upload HTTP/1.1\r\nHost: {server.authority}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    with server.connect(timeout=5.0) as conn:
        conn.send(head.encode() + _chunked([b"z" * 16384] * 20))  # no final 0-chunk
        response = conn.read_response()
    assert response.status == 413
    assert response.json() == TOO_LARGE


def test_chunked_body_under_limit_is_accepted(server: Server) -> None:
    request = (
        (
            f"POST /upload HTTP/1.1\r\nHost: {server.authority}\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        ).encode()
        + _chunked([b"w" * 100] * 3)
        + b"0\r\n\r\n"
    )
    response = server.raw(request)
    assert response.status == 200
    assert response.json() == {"size": 300}


# -- malformed request lines and paths ----------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "FOO", "Post"])
def test_unknown_or_lowercase_method_is_501(server: Server, method: str) -> None:
    response = server.raw(
        f"{method} / HTTP/1.1\r\nHost: {server.authority}\r\nConnection: close\r\n\r\n".encode()
    )
    assert response.status == 501
    assert response.header("content-type") == "application/json"
    assert response.json() == {"detail": "Method not implemented"}


def _get(server: Server, target: str, *extra_headers: str) -> bytes:
    headers = "".join(f"{h}\r\n" for h in extra_headers)
    return (
        f"GET {target} HTTP/1.1\r\nHost: {server.authority}\r\n{headers}Connection: close\r\n\r\n"
    ).encode()


@pytest.mark.parametrize("target", ["/users/a%00b", "/%00", "/files/x%00.txt"])
def test_nul_byte_in_path_is_400(server: Server, target: str) -> None:
    response = server.raw(_get(server, target))
    assert response.status == 400
    assert response.json() == {"detail": "Invalid characters in path"}


@pytest.mark.parametrize("target", ["/users/%FF", "/files/%C3%28", "/users/ab%FEcd"])
def test_invalid_utf8_in_path_is_400(server: Server, target: str) -> None:
    response = server.raw(_get(server, target))
    assert response.status == 400
    assert response.json() == {"detail": "Invalid characters in path"}


def test_valid_utf8_in_path_is_fine(client: httpx.Client) -> None:
    assert client.get("/users/zo%C3%AB").json() == {"route": "str", "name": "zoë"}


@pytest.mark.parametrize(
    "target",
    [
        "/%2e%2e/%2e%2e/etc/passwd",
        "/files/%2e%2e/%2e%2e/etc/passwd",
        "/files/..%2f..%2fetc%2fpasswd",
        "/users/%2e%2e",
        "/%2E%2E",
    ],
)
def test_dot_dot_traversal_never_crashes_or_reads_files(server: Server, target: str) -> None:
    response = server.raw(_get(server, target))
    assert response.status in (200, 404), response.body
    assert b"root:" not in response.body
    if response.status == 404:
        assert response.json() == {"detail": "Not found"}
    else:  # matched a parameter: the value is only echoed back
        assert "rest" in response.json() or "name" in response.json()


@pytest.mark.parametrize("query", ["x=%FF", "x=%C3%28", "%FF=1"])
def test_invalid_utf8_in_query_is_400(server: Server, query: str) -> None:
    response = server.raw(_get(server, f"/query-raw?{query}"))
    assert response.status == 400
    assert response.json() == {"detail": "Query string is not valid UTF-8"}


def test_invalid_utf8_in_query_on_typed_query_is_400(server: Server) -> None:
    response = server.raw(_get(server, "/query?n=%FF"))
    assert response.status == 400


def test_raw_invalid_utf8_byte_in_query_is_400(server: Server) -> None:
    # Granian (hyper) refuses a raw 0xFF in the request target itself, with an empty 400.
    request = _get(server, "/query-raw?x=AB").replace(b"x=AB", b"x=\xff")
    response = server.raw(request)
    assert response.status == 400, response.body
    assert_alive(server)


# -- headers --------------------------------------------------------------------------------------


def test_duplicate_host_headers_are_400_not_500(server: Server) -> None:
    request = (
        b"GET /host HTTP/1.1\r\nHost: good.example\r\nHost: evil.example\r\n"
        b"Connection: close\r\n\r\n"
    )
    response = server.raw(request)
    assert response.status == 400
    assert response.json() == {"detail": "Invalid host header"}


def test_identical_duplicate_host_headers_are_accepted(server: Server) -> None:
    request = (
        b"GET /host HTTP/1.1\r\nHost: same.example\r\nHost: same.example\r\n"
        b"Connection: close\r\n\r\n"
    )
    response = server.raw(request)
    assert response.status == 200
    assert response.json() == {"host": "same.example"}


def test_host_header(client: httpx.Client, server: Server) -> None:
    assert client.get("/host").json() == {"host": server.authority}


@pytest.mark.parametrize(
    "request_line_and_headers",
    ["GET /host HTTP/1.1\r\nConnection: close", "GET /host HTTP/1.0"],
    ids=["http/1.1", "http/1.0"],
)
def test_missing_host_header_falls_back_to_the_server_address(
    server: Server, request_line_and_headers: str
) -> None:
    response = server.raw(f"{request_line_and_headers}\r\n\r\n".encode())
    assert response.status == 200
    assert response.json() == {"host": server.authority}


def test_multi_valued_request_headers(client: httpx.Client) -> None:
    response = client.get(
        "/request-headers",
        headers=[("X-Multi", "first"), ("X-Multi", "second"), ("X-Single", "one")],
    )
    assert response.json() == {"x_multi": ["first", "second"], "x_single": "one"}


def test_request_client_is_loopback(client: httpx.Client) -> None:
    assert client.get("/client").json() == {"host": "127.0.0.1"}


def test_conflicting_content_lengths_are_refused_on_both_doors(server: Server) -> None:
    # Request smuggling: two lengths that disagree must never be resolved by guessing.
    request = (
        f"POST /upload HTTP/1.1\r\nHost: {server.authority}\r\n"
        "Content-Type: application/octet-stream\r\n"
        "Content-Length: 2\r\nContent-Length: 12\r\nConnection: close\r\n\r\nab"
    )
    response = server.raw(request.encode(), timeout=5.0)
    assert response.status == 400
    if response.body:  # Granian may refuse the request before the app sees it
        assert response.json() == {"detail": "Invalid Content-Length"}
    assert_alive(server)
