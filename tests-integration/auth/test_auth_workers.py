"""Two Granian workers sharing rate limits and revocations through a real Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
from support.granian import APPS_DIR, GranianProcess
from support.redis import RedisServer

from .conftest import StartGranian


def _fresh(server: GranianProcess, method: str, path: str, **kwargs: object) -> httpx.Response:
    """One request on a new connection, so that either worker may answer it."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        return client.request(method, path, **kwargs)  # type: ignore[arg-type]


def test_a_5_per_minute_limit_admits_exactly_5_of_a_burst_over_both_workers(
    start_granian: StartGranian, redis_server: RedisServer
) -> None:
    server = start_granian("rsgi", workers=2, env={"AUTH_REDIS": redis_server.url})
    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(lambda _: _fresh(server, "GET", "/limited"), range(40)))
    statuses = [response.status_code for response in responses]
    workers = {response.headers["x-worker"] for response in responses}
    assert len(workers) == 2, f"the burst did not reach both workers\n{server.logs()}"
    assert statuses.count(200) == 5, statuses
    assert statuses.count(429) == 35
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json() == {"detail": "Rate limit exceeded"}
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit-limit"] == "5"


def test_a_token_revoked_through_one_worker_is_refused_by_the_other(
    start_granian: StartGranian, redis_server: RedisServer
) -> None:
    server = start_granian("rsgi", workers=2, env={"AUTH_REDIS": redis_server.url})
    password = "correct horse battery"
    assert _fresh(server, "POST", "/register", json={"username": "ada", "password": password})
    csrf = _fresh(server, "GET", "/page").cookies["csrf_token"]
    login = _fresh(
        server,
        "POST",
        "/login",
        json={"username": "ada", "password": password},
        headers={"x-csrf-token": csrf, "cookie": f"csrf_token={csrf}"},
    )
    assert login.status_code == 200, login.text
    token = login.cookies["session"]
    bearer = {"authorization": f"Bearer {token}"}

    seen: dict[str, int] = {}
    for _ in range(60):
        response = _fresh(server, "GET", "/me", headers=bearer)
        assert response.status_code == 200
        seen[response.headers["x-worker"]] = response.status_code
        if len(seen) == 2:
            break
    assert len(seen) == 2, "/me never reached both workers"

    out = _fresh(server, "POST", "/logout", headers=bearer)  # bearer: no CSRF needed
    assert out.status_code == 200
    revoked_by = out.headers["x-worker"]

    refused_by: set[str] = set()
    for _ in range(60):
        response = _fresh(server, "GET", "/me", headers=bearer)
        assert response.status_code == 401, response.text
        assert response.json() == {"detail": "Invalid or expired token"}
        refused_by.add(response.headers["x-worker"])
        if len(refused_by) == 2:
            break
    assert refused_by - {revoked_by}, "the other worker never answered"


def test_in_memory_limits_and_revocations_are_named_for_the_workers_warning() -> None:
    """Without Redis the app's state is per process: ``fastware serve --workers 2`` names it."""
    code = (
        "import auth_app\n"
        "from fastware_server.targets import process_local_backends\n"
        "print('\\n'.join(process_local_backends(auth_app.app, auth_app)))"
    )
    env = {k: v for k, v in os.environ.items() if k != "AUTH_REDIS"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=APPS_DIR, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "rate limit" in out.stdout
    assert "revocation" in out.stdout.lower()
