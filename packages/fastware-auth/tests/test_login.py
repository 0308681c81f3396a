"""The login flow helpers: register, login (cookies + CSRF), logout with revocation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fastware_auth import (
    Auth,
    MemoryRevocationStore,
    SQLiteUserStore,
    hash_password,
    needs_rehash,
)
from fastware_core import HTTPError, Request, Router, TestClient, create_app

SECRET = "test-secret-0123456789-abcdefghijklmnop"


def _flow_app(auth: Auth, users: SQLiteUserStore) -> Any:
    router = Router()

    @router.post("/register")
    async def register(request: Request) -> Any:
        body = request.json or {}
        return await auth.register(users, body.get("username", ""), body.get("password", ""))

    @router.post("/login")
    async def login(request: Request) -> Any:
        body = request.json or {}
        result = await auth.login(users, body.get("username", ""), body.get("password", ""))
        if result is None:
            raise HTTPError(401, "Wrong username or password")
        return result.response()

    @router.get("/me")
    async def me(request: Request) -> Any:
        return await auth.current_user(request)

    @router.post("/logout")
    async def logout(request: Request) -> Any:
        from fastware_core import JSONResponse

        return JSONResponse({"ok": True}, cookies=await auth.logout(request))

    return create_app(
        router, middleware=[auth.csrf_middleware(exempt_paths=["/login", "/register"])]
    )


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, Auth, SQLiteUserStore]]:
    auth = Auth(SECRET, revocations=MemoryRevocationStore(), rounds=4)
    users = SQLiteUserStore(tmp_path / "users.db", rounds=4)
    with TestClient(_flow_app(auth, users)) as test_client:
        yield test_client, auth, users
    users.close()


def test_register_login_me_logout(client: tuple[TestClient, Auth, SQLiteUserStore]) -> None:
    http, _, _ = client
    created = http.post("/register", json={"username": "Ada", "password": "correct horse"})
    assert created.status_code == 200
    assert created.json()["username"] == "ada"
    assert "password_hash" not in created.json()
    login = http.post("/login", json={"username": "ADA", "password": "correct horse"})
    assert login.status_code == 200
    cookies = login.headers.getlist("set-cookie")
    assert any(c.startswith("session=") and "HttpOnly" in c for c in cookies)
    csrf = login.json()["csrf_token"]
    assert login.cookies["csrf_token"] == csrf
    assert "password_hash" not in login.json()["user"]
    assert http.get("/me").json()["sub"] == "ada"  # the client keeps the session cookie
    assert http.post("/logout").status_code == 403  # no CSRF header
    out = http.post("/logout", headers={"x-csrf-token": csrf})
    assert out.status_code == 200
    assert all("Max-Age=0" in c for c in out.headers.getlist("set-cookie"))


def test_logout_revokes_the_token(client: tuple[TestClient, Auth, SQLiteUserStore]) -> None:
    http, _, users = client
    users.create_user("ada", "correct horse")
    token = http.post("/login", json={"username": "ada", "password": "correct horse"}).json()
    session = http.cookies["session"]
    bearer = {"authorization": f"Bearer {session}"}
    assert http.get("/me", headers=bearer).status_code == 200
    http.post("/logout", headers={"x-csrf-token": token["csrf_token"]})
    stolen = http.get("/me", headers=bearer)  # a copy of the token is useless now
    assert stolen.status_code == 401


def test_wrong_credentials(client: tuple[TestClient, Auth, SQLiteUserStore]) -> None:
    http, _, users = client
    users.create_user("ada", "correct horse")
    for body in (
        {"username": "ada", "password": "wrong horse"},
        {"username": "nobody", "password": "correct horse"},
        {"username": "bad name!", "password": "correct horse"},
    ):
        response = http.post("/login", json=body)
        assert response.status_code == 401
        assert response.json() == {"detail": "Wrong username or password"}


@pytest.mark.parametrize(
    ("password", "fragment"),
    [('"' + "p" * 73 + '"', "73 bytes"), ('"' + "é" * 37 + '"', "74 bytes"),
     ('"\\udc80abc"', "surrogate"), ('""', "empty"), ("12", "string")],
)  # fmt: skip
def test_bad_passwords_are_4xx(
    client: tuple[TestClient, Auth, SQLiteUserStore], password: str, fragment: str
) -> None:
    http, _, _ = client
    body = ('{"username": "ada", "password": ' + password + "}").encode()
    for path in ("/login", "/register"):
        response = http.post(path, content=body, headers={"content-type": "application/json"})
        # a lone surrogate is refused by the JSON decoder (400), the rest by the rules (422)
        assert response.status_code == (400 if fragment == "surrogate" else 422), response.text
        assert fragment in response.json()["detail"]


def test_non_utf8_body_bytes_are_4xx(client: tuple[TestClient, Auth, SQLiteUserStore]) -> None:
    http, _, _ = client
    response = http.post(
        "/login",
        content=b'{"username": "ada", "password": "\xff\xfe"}',
        headers={"content-type": "application/json"},
    )
    assert 400 <= response.status_code < 500


def test_register_errors(client: tuple[TestClient, Auth, SQLiteUserStore]) -> None:
    http, _, _ = client
    assert http.post("/register", json={"username": "ada", "password": "long enough"}).is_success
    dup = http.post("/register", json={"username": "ADA", "password": "long enough"})
    assert dup.status_code == 409
    assert dup.json() == {"detail": "User 'ada' already exists"}
    short = http.post("/register", json={"username": "bob", "password": "short"})
    assert short.status_code == 422
    bad = http.post("/register", json={"username": "a b", "password": "long enough"})
    assert bad.status_code == 422


def test_exactly_72_bytes_and_unicode_passwords_log_in(
    client: tuple[TestClient, Auth, SQLiteUserStore],
) -> None:
    http, _, _ = client
    for name, password in (("max", "x" * 72), ("uni", "пароль🔑 секрет")):
        assert http.post("/register", json={"username": name, "password": password}).is_success
        login = http.post("/login", json={"username": name, "password": password})
        assert login.status_code == 200


@pytest.mark.anyio
async def test_login_rehashes_weak_hashes(tmp_path: Path) -> None:
    users = SQLiteUserStore(tmp_path / "u.db", rounds=4)
    users.add_user_record(
        {
            "username": "ada",
            "password_hash": hash_password("pw-123456", rounds=4),
            "role": "user",
            "created_at": "2024-01-01T00:00:00+00:00",
        }
    )
    auth = Auth(SECRET, rounds=5)
    assert await auth.login(users, "ada", "pw-123456") is not None
    record = users.find_user("ada")
    assert record is not None
    assert not needs_rehash(record["password_hash"], rounds=5)
    assert record["password_hash"].startswith("$2b$05$")


@pytest.mark.anyio
async def test_unknown_users_cost_as_much_as_wrong_passwords(tmp_path: Path) -> None:
    users = SQLiteUserStore(tmp_path / "u.db", rounds=10)
    users.create_user("ada", "pw-123456")
    auth = Auth(SECRET, rounds=10)
    await auth.login(users, "nobody", "x")  # makes the dummy hash once

    async def timed(name: str) -> float:
        started = time.perf_counter()
        assert await auth.login(users, name, "wrong-pw") is None
        return time.perf_counter() - started

    wrong = min([await timed("ada") for _ in range(3)])
    unknown = min([await timed("nobody") for _ in range(3)])
    assert unknown > wrong * 0.5
