"""The login flow and hostile input through both Granian doors (RSGI and ASGI)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import jwt
import pytest
from support.granian import GranianProcess

from fastware_auth import create_token

from .conftest import StartGranian

INTERFACES = ("rsgi", "asgi")
SECRET = "integration-secret-0123456789-abcdefghij"  # the app's


@contextmanager
def _session(server: GranianProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/page").status_code == 200  # sets the csrf_token cookie
        yield client


def _csrf(client: httpx.Client) -> dict[str, str]:
    return {"x-csrf-token": client.cookies["csrf_token"]}


@pytest.mark.parametrize("interface", INTERFACES)
def test_register_login_notes_admin_logout(start_granian: StartGranian, interface: str) -> None:
    server = start_granian(interface)
    with _session(server) as client:
        created = client.post("/register", json={"username": "Ada", "password": "s3cret-pass"})
        assert created.status_code == 200, created.text
        assert created.json()["username"] == "ada"
        duplicate = client.post("/register", json={"username": "ADA", "password": "s3cret-pass"})
        assert duplicate.status_code == 409
        assert client.post("/login", json={"username": "ada", "password": "x"}).status_code == 403
        login = client.post(
            "/login", json={"username": "ada", "password": "s3cret-pass"}, headers=_csrf(client)
        )
        assert login.status_code == 200, login.text
        set_cookies = login.headers.get_list("set-cookie")
        assert any(c.startswith("session=") and "HttpOnly" in c for c in set_cookies)
        assert client.get("/me").json()["sub"] == "ada"
        assert client.post("/notes", json={"text": "hi"}).status_code == 403  # no CSRF header
        assert client.post("/notes", json={"text": "hi"}, headers=_csrf(client)).status_code == 200
        cross = client.post(
            "/notes",
            json={"text": "evil"},
            headers={**_csrf(client), "origin": "https://evil.example"},
        )
        assert cross.status_code == 403
        assert cross.json() == {"detail": "Origin not allowed"}
        assert client.get("/admin").status_code == 403
        token = client.cookies["session"]
        out = client.post("/logout", headers=_csrf(client))
        assert out.status_code == 200
        assert client.get("/me").status_code == 401  # the cookie is gone
        stolen = httpx.get(server.url + "/me", headers={"authorization": f"Bearer {token}"})
        assert stolen.status_code == 401  # and the token was revoked
        assert [n["text"] for n in httpx.get(server.url + "/notes").json()] == ["hi"]


@pytest.mark.parametrize("interface", INTERFACES)
def test_admin_route(start_granian: StartGranian, interface: str) -> None:
    server = start_granian(interface)
    with _session(server) as client:
        client.post(
            "/register", json={"username": "root", "password": "s3cret-pass", "role": "admin"}
        )
        client.post(
            "/login", json={"username": "root", "password": "s3cret-pass"}, headers=_csrf(client)
        )
        assert client.get("/admin").json() == {"admin": "root"}


def _nasty_tokens() -> list[str]:
    now = int(time.time())
    return [
        "-",
        "a.b.c",
        "x" * 6000,
        jwt.encode({"sub": "ada", "role": "admin"}, SECRET, algorithm="HS256"),
        jwt.encode({"sub": "ada", "role": "admin", "exp": now - 5}, SECRET, algorithm="HS256"),
        jwt.encode({"sub": "a", "exp": now + 99, "nbf": now + 60}, SECRET, algorithm="HS256"),
        create_token("ada", "admin", "wrong-secret-0123456789-abcdefghijklmn"),
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZGEiLCJyb2xlIjoiYWRtaW4iLCJleHAiOjk5OTk5OTk5OTl9.",
        create_token("ada", "admin", SECRET)[:-3],
    ]


def _raw(server: GranianProcess, request: bytes) -> int:
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1])


@pytest.mark.parametrize("interface", INTERFACES)
def test_hostile_tokens_cookies_and_passwords_never_500(
    start_granian: StartGranian, interface: str
) -> None:
    server = start_granian(interface)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for token in _nasty_tokens():
            for headers in ({"authorization": f"Bearer {token}"}, {"cookie": f"session={token}"}):
                response = client.get("/admin", headers=headers)
                assert response.status_code == 401, (token[:40], response.text)
                assert "detail" in response.json()
        csrf = client.get("/page").cookies["csrf_token"]
        for password in ("p" * 73, "é" * 40, "", 12, None):
            response = client.post(
                "/login",
                json={"username": "ada", "password": password},
                headers={"x-csrf-token": csrf},
            )
            assert response.status_code == 422, (password, response.text)
    bad_body = b'{"username":"ada","password":"\xff\xfe\xfd"}'
    raw_requests = [
        b"GET /me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\xfd\r\n\r\n",
        b'GET /me HTTP/1.1\r\nHost: x\r\nCookie: session=\xc3\xa9\xc3\xa9; a={"x"\r\n\r\n',
        b"POST /notes HTTP/1.1\r\nHost: x\r\nCookie: csrf_token=\xc3\xa9\r\n"
        b"X-CSRF-Token: \xc3\xa8\r\nContent-Length: 0\r\n\r\n",
        b"POST /notes HTTP/1.1\r\nHost: x\r\nCookie: csrf_token=abc\r\n"
        b"X-CSRF-Token: \xff\r\nContent-Length: 0\r\n\r\n",
        b"POST /login HTTP/1.1\r\nHost: x\r\nCookie: csrf_token=abc\r\nX-CSRF-Token: abc\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (len(bad_body), bad_body),
    ]
    statuses = [_raw(server, request) for request in raw_requests]
    assert all(400 <= status < 500 for status in statuses), statuses
    assert statuses[:4] == [401, 401, 403, 403]
