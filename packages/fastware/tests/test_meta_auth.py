"""fastware-auth wired into fastware.create_app: DI, rate limits before deps, the CLI."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path
from typing import Annotated, Any

import pytest

from fastware import Depends, Request, Router, TestClient, WebSocket, create_app
from fastware.auth import (
    Auth,
    MemoryRevocationStore,
    RateLimitInjector,
    get_current_user,
    rate_limit,
    require_role,
)

SECRET = "meta-test-secret-0123456789-abcdefghijk"
AUTH = Auth(SECRET, revocations=MemoryRevocationStore(), rounds=4)
"""Module level, so that the handlers' ``Annotated`` dependencies can name it."""


def test_top_level_and_compatibility_names() -> None:
    import fastware.auth
    import fastware_auth

    assert fastware.Auth is fastware_auth.Auth
    assert fastware.rate_limit is fastware_auth.rate_limit
    for name in (
        "create_token", "verify_token", "hash_password", "verify_password", "UserStore",
        "JSONFileUserStore", "get_current_user", "require_role", "CSRFMiddleware",
        "set_session_cookies", "clear_session_cookies", "rate_limit",
    ):  # fmt: skip
        assert getattr(fastware.auth, name) is getattr(fastware_auth, name)
        assert name in fastware.auth.__all__


def test_importing_fastware_auth_loads_no_crypto_or_redis() -> None:
    code = (
        "import sys, fastware.auth; "
        "print(sorted(m for m in ('jwt', 'bcrypt', 'redis') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _app(auth: Auth, calls: list[str]) -> Any:
    router = Router()

    async def get_db() -> Any:
        calls.append("db opened")
        yield "db"
        calls.append("db closed")

    @router.get("/me")
    async def me(
        request: Request, user: Annotated[dict[str, Any], Depends(AUTH.current_user)]
    ) -> Any:
        return user

    @router.get("/admin", deps={"admin": auth.require_role("admin"), "db": get_db})
    async def admin(request: Request, admin: dict[str, Any], db: str) -> Any:
        return {"admin": admin["sub"], "db": db}

    @router.get("/legacy", deps={"user": get_current_user})
    async def legacy(request: Request, user: dict[str, Any]) -> Any:
        return user

    @router.get("/legacy-admin", deps={"user": require_role("admin")})
    async def legacy_admin(request: Request, user: dict[str, Any]) -> Any:
        return user

    @router.get("/search", deps={"db": get_db})
    @rate_limit("2/minute")
    async def search(request: Request, db: str) -> Any:
        return {"db": db}

    @rate_limit("2/minute")
    @router.get("/search-above", deps={"db": get_db})
    async def search_above(request: Request, db: str) -> Any:
        return {"db": db}

    @router.ws("/ws")
    async def ws(
        websocket: WebSocket, user: Annotated[dict[str, Any], Depends(AUTH.current_user)]
    ) -> None:
        await websocket.accept()
        await websocket.send_json({"hello": user["sub"]})

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        yield {"config": {"jwt_secret": SECRET}}

    return create_app(router, lifespan=lifespan)


@pytest.fixture
def auth() -> Auth:
    return AUTH


def test_dependencies_through_fastware_di(auth: Auth) -> None:
    calls: list[str] = []
    with TestClient(_app(auth, calls)) as client:
        user = auth.create_token("ada", "user")
        admin = auth.create_token("root", "admin")
        bearer = {"authorization": f"Bearer {user}"}
        assert client.get("/me", headers=bearer).json()["sub"] == "ada"
        assert client.get("/me").status_code == 401
        assert client.get("/legacy", headers=bearer).json()["sub"] == "ada"
        assert client.get("/legacy-admin", headers=bearer).status_code == 403
        refused = client.get("/admin", headers=bearer)
        assert refused.status_code == 403
        assert refused.json() == {"detail": "Role 'admin' required"}
        ok = client.get("/admin", headers={"authorization": f"Bearer {admin}"})
        assert ok.json() == {"admin": "root", "db": "db"}
        with client.websocket_connect("/ws", headers=bearer) as ws:
            assert ws.receive_json() == {"hello": "ada"}


@pytest.mark.parametrize("path", ["/search", "/search-above"])
def test_rate_limits_run_before_dependencies(auth: Auth, path: str) -> None:
    calls: list[str] = []
    with TestClient(_app(auth, calls)) as client:
        statuses = [client.get(path).status_code for _ in range(5)]
    assert statuses == [200, 200, 429, 429, 429]
    assert calls == ["db opened", "db closed"] * 2  # refused requests never opened the db


def test_require_role_can_be_overridden(auth: Auth) -> None:
    calls: list[str] = []
    app = _app(auth, calls)

    async def fake_admin(request: Request) -> dict[str, Any]:
        return {"sub": "tester", "role": "admin"}

    with TestClient(app) as client:
        with app.dependency_overrides({auth.require_role("admin"): fake_admin}):
            assert client.get("/admin").json() == {"admin": "tester", "db": "db"}
        assert client.get("/admin").status_code == 401


def test_the_server_warns_about_in_memory_limits_and_revocations(auth: Auth) -> None:
    from fastware_server.targets import process_local_backends

    app = _app(auth, [])
    module = types.ModuleType("app_module")
    module.auth = auth  # type: ignore[attr-defined]
    found = process_local_backends(app, module)
    assert any("rate limit" in text for text in found)
    assert any("revocation" in text.lower() for text in found)


def test_a_given_injector_is_wrapped(auth: Auth) -> None:
    from fastware_di import DependencyResolver

    app = create_app(Router(), injector=DependencyResolver())
    assert isinstance(app._injector, RateLimitInjector)
    assert isinstance(app._injector.inner, DependencyResolver)


def test_users_cli_through_the_fastware_command(tmp_path: Path) -> None:
    store = str(tmp_path / "users.db")
    created = subprocess.run(
        [sys.executable, "-m", "fastware", "users", "--store", store, "create", "ada",
         "--role", "admin", "--password-stdin", "--rounds", "4"],
        input="s3cret-pass\n", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "created user 'ada' (admin)"
    listed = subprocess.run(
        [sys.executable, "-m", "fastware", "users", "--store", store, "--json", "list"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert '"username": "ada"' in listed.stdout
    duplicate = subprocess.run(
        [sys.executable, "-m", "fastware", "users", "--store", store, "create", "ADA",
         "--password-stdin", "--rounds", "4"],
        input="x\n", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert duplicate.returncode == 1
    assert duplicate.stderr.strip() == "fastware users: error: User 'ada' already exists"
    no_store = subprocess.run(
        [sys.executable, "-m", "fastware", "users", "list"],
        capture_output=True, text=True, check=False,
        env={k: v for k, v in __import__("os").environ.items() if k != "FASTWARE_USERS"},
    )  # fmt: skip
    assert no_store.returncode == 1
    assert no_store.stderr.count("\n") == 1
