"""Routing, HEAD, response kinds, returned values, errors and query parameters over a real
Granian, through the RSGI and the ASGI door (every test runs once per door)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from http_doors.conftest import Server

SAMPLE = (Path(__file__).resolve().parent.parent / "apps" / "data" / "sample.txt").read_bytes()
NOT_FOUND = b'{"detail":"Not found"}'


def header_names(response: httpx.Response) -> list[str]:
    return [name.decode("latin-1").lower() for name, _ in response.headers.raw]


# -- routing ------------------------------------------------------------------------------------


def test_static_route(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.json() == {"hello": "world"}
    assert response.headers["content-type"] == "application/json"


def test_int_param_is_converted(client: httpx.Client) -> None:
    response = client.get("/users/42")
    assert response.status_code == 200
    assert response.json() == {"route": "int", "user_id": 42}


def test_str_param_takes_what_int_refuses(client: httpx.Client) -> None:
    assert client.get("/users/alice").json() == {"route": "str", "name": "alice"}


def test_literal_beats_param(client: httpx.Client) -> None:
    assert client.get("/users/me").json() == {"route": "me"}


def test_uuid_param(client: httpx.Client) -> None:
    value = uuid.uuid4()
    response = client.get(f"/items/{value}")
    assert response.status_code == 200
    assert response.json() == {"item_id": str(value)}


def test_uuid_param_rejects_non_uuid(client: httpx.Client) -> None:
    response = client.get("/items/not-a-uuid")
    assert response.status_code == 404
    assert response.content == NOT_FOUND


def test_path_param_is_greedy(client: httpx.Client) -> None:
    response = client.get("/files/a/b/c.txt")
    assert response.status_code == 200
    assert response.json() == {"rest": "a/b/c.txt"}


def test_unknown_path_is_404_with_exact_body(client: httpx.Client) -> None:
    response = client.get("/no/such/route")
    assert response.status_code == 404
    assert response.content == NOT_FOUND
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(NOT_FOUND))


def test_wrong_method_is_405_with_sorted_allow(client: httpx.Client) -> None:
    response = client.put("/things")
    assert response.status_code == 405
    assert response.json() == {"detail": "Method not allowed"}
    assert response.headers["allow"] == "DELETE, GET, HEAD, POST"


def test_registered_methods_answer(client: httpx.Client) -> None:
    assert client.post("/things").json() == {"method": "POST"}
    assert client.delete("/things").json() == {"method": "DELETE"}


def test_405_on_param_route_lists_get_and_head(client: httpx.Client) -> None:
    response = client.post("/users/42")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize("path", ["/things", "/things/", "/slash", "/slash/"])
def test_trailing_slash_is_not_significant(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.is_redirect is False


def test_trailing_slash_on_param_route(client: httpx.Client) -> None:
    assert client.get("/users/7/").json() == {"route": "int", "user_id": 7}


# -- the request line, as the handler sees it ----------------------------------------------------


def _whoami(server: Server, target: bytes) -> dict[str, object]:
    response = server.raw(
        b"GET " + target + b" HTTP/1.1\r\nHost: example.com:8080\r\nConnection: close\r\n\r\n"
    )
    assert response.status == 200, response.body
    data: dict[str, object] = response.json()
    return data


@pytest.mark.parametrize(
    ("target", "path", "query", "url"),
    [
        (b"/whoami/a?x=1", "/whoami/a", "x=1", "/whoami/a?x=1"),
        (b"/whoami/a%20b/c?y=%20&z", "/whoami/a b/c", "y=%20&z", "/whoami/a%20b/c?y=%20&z"),
        (b"/whoami/zo%C3%AB", "/whoami/zo\u00eb", "", "/whoami/zo%C3%AB"),
        # A raw (not percent-encoded) UTF-8 byte sequence in the request target: the URL
        # must be percent-encoded, not the bytes read as Latin-1.
        (b"/whoami/caf\xc3\xa9", "/whoami/caf\u00e9", "", "/whoami/caf%C3%A9"),
    ],
    ids=["plain", "escapes", "utf8-escaped", "utf8-raw"],
)
def test_request_line_is_the_same_through_both_doors(
    server: Server, target: bytes, path: str, query: str, url: str
) -> None:
    assert _whoami(server, target) == {
        "method": "GET",
        "path": path,
        "query_string": query,
        "scheme": "http",
        "http_version": "1.1",
        "root_path": "",
        "url": "http://example.com:8080" + url,
        "rest": path.removeprefix("/whoami/"),
    }


def test_cookies_are_parsed_leniently(client: httpx.Client) -> None:
    response = client.get(
        "/cookies",
        headers={"Cookie": 'session=abc; bad cookie; theme="dark"; =x; session=second'},
    )
    assert response.json() == {"cookies": {"session": "abc", "theme": "dark"}, "session": "abc"}


# -- HEAD -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/text", "/users/42", "/list"])
def test_head_is_answered_from_get_without_body(client: httpx.Client, path: str) -> None:
    get = client.get(path)
    head = client.head(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    assert head.headers["content-type"] == get.headers["content-type"]


def test_content_length_is_the_bodys_and_never_on_a_204(server: Server) -> None:
    # The RSGI door leaves Content-Length to Granian, which computes it from the body; both
    # doors must answer the same on the wire: the length of the body (0 for an empty one),
    # to HEAD too, and none on a 204 (RFC 9110, 8.6).
    with server.connect() as conn:
        for method, path in (("GET", "/text"), ("HEAD", "/text"), ("GET", "/empty-text")):
            conn.send(f"{method} {path} HTTP/1.1\r\nHost: {server.authority}\r\n\r\n".encode())
            answer = conn.read_response(head=method == "HEAD")
            assert answer.status == 200
            assert answer.header_list("content-length") == [
                str(len("héllo".encode()) if path == "/text" else 0)
            ]
        conn.send(f"GET /no-content HTTP/1.1\r\nHost: {server.authority}\r\n\r\n".encode())
        answer = conn.read_response()
        assert answer.status == 204
        assert answer.header_list("content-length") == []
        assert answer.body == b""
        conn.send(f"GET /list HTTP/1.1\r\nHost: {server.authority}\r\n\r\n".encode())
        assert conn.read_response().body == b"[1,2,3]"  # nothing was left on the wire


def test_head_on_raw_socket_sends_no_body(server: Server) -> None:
    # A body after a HEAD answer would be read as the start of the next response.
    with server.connect() as conn:
        conn.send(
            f"HEAD / HTTP/1.1\r\nHost: {server.authority}\r\n\r\n"
            f"GET /list HTTP/1.1\r\nHost: {server.authority}\r\n\r\n".encode()
        )
        head = conn.read_response(head=True)
        get = conn.read_response()
    assert head.status == 200
    assert head.header("content-length") == str(len(b'{"hello":"world"}'))
    assert get.status == 200
    assert get.body == b"[1,2,3]"


def test_head_on_unknown_path_is_404_without_body(client: httpx.Client) -> None:
    response = client.head("/no/such/route")
    assert response.status_code == 404
    assert response.content == b""


# -- response kinds -------------------------------------------------------------------------------


def test_text_response_has_charset(client: httpx.Client) -> None:
    response = client.get("/text")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.content == "héllo".encode()


def test_custom_text_type_gets_charset(client: httpx.Client) -> None:
    response = client.get("/csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.text == "a,b\n1,2\n"


def test_html_response(client: httpx.Client) -> None:
    response = client.get("/html")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == "<h1>hi</h1>"


def test_bytes_response(client: httpx.Client) -> None:
    response = client.get("/bytes")
    assert response.headers["content-type"] == "application/x-custom"
    assert response.content == b"\x00\x01\x02\xff"
    assert response.headers["content-length"] == "4"


def test_redirect_response(client: httpx.Client) -> None:
    response = client.get("/redirect")
    assert response.status_code == 307
    assert response.headers["location"] == "/target?x=1"
    assert response.content == b""


def test_redirect_303(client: httpx.Client) -> None:
    response = client.get("/redirect-303")
    assert response.status_code == 303
    assert response.headers["location"] == "/target"


def test_file_response(client: httpx.Client) -> None:
    response = client.get("/file")
    assert response.status_code == 200
    assert response.content == SAMPLE
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == str(len(SAMPLE))
    assert "content-disposition" not in response.headers


@pytest.mark.parametrize("chunk_size", [1, 5, 6, len(SAMPLE), 1 << 16])
def test_file_response_in_small_chunks(client: httpx.Client, chunk_size: int) -> None:
    assert len(SAMPLE) % 6 == 0  # 6 and len(SAMPLE) end exactly on a chunk boundary
    response = client.get(f"/file-chunked/{chunk_size}")
    assert response.status_code == 200
    assert response.content == SAMPLE
    assert response.headers["content-length"] == str(len(SAMPLE))


def test_file_response_with_filename(client: httpx.Client) -> None:
    response = client.get("/file-download")
    assert response.content == SAMPLE
    assert response.headers["content-disposition"] == 'attachment; filename="report.txt"'


def test_head_on_file_response(client: httpx.Client) -> None:
    response = client.head("/file")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(SAMPLE))


def test_missing_file_is_404(client: httpx.Client) -> None:
    response = client.get("/file-missing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found"}


def test_header_order_multi_values_and_cookies(client: httpx.Client) -> None:
    response = client.get("/headers")
    assert response.status_code == 201
    assert response.json() == {"ok": True}
    names = [n for n in header_names(response) if n not in ("date", "server")]
    assert names[:2] == ["content-type", "content-length"]
    assert response.headers.get_list("x-multi") == ["one", "two"]
    assert response.headers["x-single"] == "solo"
    assert response.headers.get_list("set-cookie") == [
        "session=abc123; Path=/; SameSite=lax; HttpOnly",
        "theme=dark; Path=/; SameSite=lax",
    ]
    # extras before the cookies
    assert max(
        i
        for i, n in enumerate(names)
        if n.startswith("x-") and n not in ("x-request-id", "x-content-type-options")
    ) < names.index("set-cookie")
    assert response.cookies["session"] == "abc123"


# -- returned values ------------------------------------------------------------------------------


def test_dict_return(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.headers["content-type"] == "application/json"
    assert response.content == b'{"hello":"world"}'


def test_list_return(client: httpx.Client) -> None:
    response = client.get("/list")
    assert response.headers["content-type"] == "application/json"
    assert response.json() == [1, 2, 3]


def test_struct_return(client: httpx.Client) -> None:
    response = client.get("/struct")
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"name": "widget", "price": 9.5}


def test_dataclass_return(client: httpx.Client) -> None:
    response = client.get("/dataclass")
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"x": 1, "y": 2}


def test_sync_handler_runs_off_the_event_loop(client: httpx.Client) -> None:
    assert client.get("/sync").json() == {"sync": True, "on_event_loop": False}


# -- errors ---------------------------------------------------------------------------------------


def test_http_error_with_headers(client: httpx.Client) -> None:
    response = client.get("/http-error")
    assert response.status_code == 418
    assert response.json() == {"detail": "I'm a teapot"}
    assert response.headers["x-tea"] == "earl-grey"
    assert header_names(response)[0] == "content-type"


def test_exception_handler(client: httpx.Client) -> None:
    response = client.get("/handled-error")
    assert response.status_code == 409
    assert response.json() == {"handled": "the pot is empty", "path": "/handled-error"}


def test_unhandled_error_is_500_with_exact_body(client: httpx.Client) -> None:
    response = client.get("/crash")
    assert response.status_code == 500
    assert response.content == b'{"detail":"Internal server error"}'
    assert response.headers["content-type"] == "application/json"
    assert "a bug in a handler" not in response.text
    # the worker survives
    assert client.get("/").status_code == 200


# -- query parameters -----------------------------------------------------------------------------


def test_query_defaults(client: httpx.Client) -> None:
    assert client.get("/query").json() == {"flag": False, "n": 0, "tags": []}


def test_query_bool_int_and_list(client: httpx.Client) -> None:
    response = client.get(
        "/query", params=[("flag", "yes"), ("n", "7"), ("tag", "a"), ("tag", "b")]
    )
    assert response.json() == {"flag": True, "n": 7, "tags": ["a", "b"]}


def test_query_percent_encoded_utf8(client: httpx.Client) -> None:
    response = client.get("/query-raw", params={"name": "zoë & co"})
    assert response.json() == {"params": {"name": "zoë & co"}}


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ({"n": "seven"}, "'n'"),
        ({"n": "101"}, "<= 100"),
        ({"n": "-1"}, ">= 0"),
        ({"flag": "maybe"}, "'flag'"),
    ],
)
def test_query_conversion_failure_is_422(
    client: httpx.Client, query: dict[str, str], fragment: str
) -> None:
    response = client.get("/query", params=query)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert fragment in detail
    assert next(iter(query.values())) in detail
