"""The login flow of docs/auth.md as a served app, for the auth integration tests.

Environment: ``AUTH_USERS`` (the SQLite user store), ``AUTH_REDIS`` (a Redis URL: shared
rate limits and revocations; in-memory when unset), ``AUTH_PREFIX`` (Redis key prefix, one
per test).
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastware import Depends, HTMLResponse, HTTPError, JSONResponse, Request, Router, create_app
from fastware.auth import (
    Auth,
    MemoryRateLimitBackend,
    MemoryRevocationStore,
    RateLimitBackend,
    RedisRateLimitBackend,
    RedisRevocationStore,
    RevocationStore,
    SQLiteUserStore,
    generate_csrf_token,
    rate_limit,
)
from fastware_core.middleware import Connection, HookMiddleware

SECRET = "integration-secret-0123456789-abcdefghij"
REDIS = os.environ.get("AUTH_REDIS")
PREFIX = os.environ.get("AUTH_PREFIX", "fastware-test:")

revocations: RevocationStore
limiter: RateLimitBackend
if REDIS:
    revocations = RedisRevocationStore(REDIS, prefix=PREFIX + "revoked:")
    limiter = RedisRateLimitBackend(REDIS, prefix=PREFIX + "rl:")
else:
    revocations = MemoryRevocationStore()
    limiter = MemoryRateLimitBackend()

auth = Auth(SECRET, revocations=revocations, rounds=4)
users = SQLiteUserStore(os.environ.get("AUTH_USERS", "users.db"), rounds=4)
notes: list[dict[str, Any]] = []
router = Router()

CurrentUser = Annotated[dict[str, Any], Depends(auth.current_user)]

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>login</title></head>
<body>
<form id="login"><input name="username"><input name="password" type="password">
<button>Log in</button></form>
<pre id="out"></pre>
<script>
function csrf() {
  const pair = document.cookie.split("; ").find((c) => c.startsWith("csrf_token="));
  return pair ? pair.slice("csrf_token=".length) : "";
}
async function call(method, path, body) {
  const response = await fetch(path, {
    method, credentials: "same-origin",
    headers: {"content-type": "application/json", "x-csrf-token": csrf()},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return {status: response.status, body: await response.json()};
}
window.log = [];
window.login = async (username, password) => {
  const result = await call("POST", "/login", {username, password});
  window.log.push(["login", result.status]);
  return result;
};
window.me = async () => call("GET", "/me");
window.addNote = async (text) => call("POST", "/notes", {text});
window.logout = async () => call("POST", "/logout");
</script>
</body></html>
"""


@router.get("/")
async def index(request: Request) -> dict[str, Any]:
    return {"ready": True, "pid": os.getpid()}


@router.get("/page")
async def page(request: Request) -> HTMLResponse:
    # The CSRF cookie is set with the page, so the login form can send it back.
    return HTMLResponse(PAGE, cookies=[auth.cookies.set_csrf(generate_csrf_token())])


@router.post("/register")
async def register(request: Request) -> Any:
    body = request.json if isinstance(request.json, dict) else {}
    return await auth.register(
        users, body.get("username", ""), body.get("password", ""), body.get("role", "user")
    )


@router.post("/login")
@rate_limit("20/minute", backend=limiter)
async def login(request: Request) -> Any:
    body = request.json if isinstance(request.json, dict) else {}
    result = await auth.login(users, body.get("username", ""), body.get("password", ""))
    if result is None:
        raise HTTPError(401, "Wrong username or password")
    return result.response()


@router.get("/me")
async def me(request: Request, user: CurrentUser) -> dict[str, Any]:
    return {**user, "pid": os.getpid()}


@router.post("/notes")
async def add_note(request: Request, user: CurrentUser) -> dict[str, Any]:
    body = request.json if isinstance(request.json, dict) else {}
    note = {"by": user["sub"], "text": str(body.get("text", ""))}
    notes.append(note)
    return note


@router.get("/notes")
async def list_notes(request: Request) -> list[dict[str, Any]]:
    return notes


@router.get("/admin", deps={"admin": auth.require_role("admin")})
async def admin(request: Request, admin: dict[str, Any]) -> dict[str, Any]:
    return {"admin": admin["sub"]}


@router.post("/logout")
async def logout(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True, "pid": os.getpid()}, cookies=await auth.logout(request))


@router.get("/limited")
@rate_limit("5/minute", backend=limiter)
async def limited(request: Request) -> dict[str, Any]:
    return {"pid": os.getpid()}


class WorkerHeader(HookMiddleware):
    """Tells which worker answered, on every response (429s included)."""

    def after(self, conn: Connection, status: int, headers: list[tuple[str, str]]) -> None:
        headers.append(("x-worker", str(os.getpid())))


app = create_app(
    router,
    middleware=[WorkerHeader(), auth.csrf_middleware(exempt_paths=["/register"])],
)
