"""The ``/__fastware/`` runtime: build id, version, events, client and service-worker scripts.

Every test runs through the ASGI and the RSGI door (the ``door`` fixture in conftest.py).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest

from fastware_core import AsyncTestClient, Request, Router, TestClient, create_app
from fastware_core import runtime as runtime_module
from fastware_core._assets import load_template, render_asset
from fastware_core.runtime import EMPTY_BUILD_ID, compute_build_id

pytestmark = pytest.mark.filterwarnings("error")

TEMPLATES = ("client.js", "sw.js", "sw-reset.js", "sw-register.js")


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A built frontend: ``dist/index.html`` and ``dist/assets/``."""
    assets = tmp_path / "dist" / "assets"
    assets.mkdir(parents=True)
    (assets / "app-1a2b3c4d.js").write_text("console.log(1)")
    (assets / "style.css").write_text("body{}")
    (tmp_path / "dist" / "index.html").write_text("<!doctype html><title>spa</title>")
    return tmp_path / "dist"


def api_router() -> Router:
    router = Router()

    @router.get("/api/ping")
    async def ping(request: Request) -> dict[str, str]:
        return {"pong": "yes"}

    return router


def frontend_app(dist: Path, **kwargs: Any) -> Any:
    kwargs.setdefault("sw_mode", "cache")
    return create_app(
        api_router(),
        static_dir=dist / "assets",
        spa_fallback=dist / "index.html",
        api_prefix="/api",
        **kwargs,
    )


# -- the build id ---------------------------------------------------------------------------------


def test_build_id_follows_the_documented_definition(tmp_path: Path) -> None:
    (tmp_path / "b.js").write_bytes(b"bee")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.css").write_bytes(b"\x00ay")
    (tmp_path / "a.txt").write_bytes(b"")
    expected = hashlib.sha256()
    for relative, data in (("a.txt", b""), ("b.js", b"bee"), ("sub/a.css", b"\x00ay")):
        expected.update(relative.encode() + b"\x00" + data + b"\x00")
    assert compute_build_id(tmp_path) == expected.hexdigest()


def test_build_id_of_no_directory_or_an_empty_one_is_the_empty_hash(tmp_path: Path) -> None:
    assert EMPTY_BUILD_ID.startswith("e3b0c442")
    assert compute_build_id(None) == EMPTY_BUILD_ID
    assert compute_build_id(tmp_path) == EMPTY_BUILD_ID
    assert compute_build_id(tmp_path / "missing") == EMPTY_BUILD_ID


def test_build_id_changes_with_content_and_names_but_not_with_mtime(tmp_path: Path) -> None:
    file = tmp_path / "app.js"
    file.write_text("one")
    first = compute_build_id(tmp_path)
    os.utime(file, (1, 1))
    assert compute_build_id(tmp_path) == first
    file.write_text("two")
    second = compute_build_id(tmp_path)
    assert second != first
    file.rename(tmp_path / "other.js")
    assert compute_build_id(tmp_path) not in (first, second)


def test_build_id_does_not_follow_symlinked_directories(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.js").write_text("a")
    alone = compute_build_id(root)
    (root / "loop").symlink_to(root, target_is_directory=True)  # a cycle must not hang
    assert compute_build_id(root) == alone


# -- which apps serve it --------------------------------------------------------------------------


def test_an_api_only_app_has_no_runtime_and_no_extra_routes() -> None:
    router = api_router()
    app = create_app(router, openapi_path=None, docs_path=None)
    assert app.runtime is None
    assert app._compile().entries == router.compile().entries
    with TestClient(app) as client:
        assert client.get("/__fastware/version").status_code == 404


def test_the_runtime_adds_only_literal_paths_to_the_route_table(dist: Path) -> None:
    # Literal paths live in the per-method dict: other requests do the same single lookup,
    # and an app of literal routes still never walks the parameter tree.
    app = frontend_app(dist, sw_mode="reset")
    compiled = app._compile()
    assert compiled.has_tree is False
    assert app.runtime is not None
    assert all(path in compiled.static for path in (p.strip("/") for p in app.runtime.paths))
    assert compiled.methods == api_router().compile().methods


def test_runtime_true_serves_it_for_an_api_only_app() -> None:
    with TestClient(create_app(api_router(), runtime=True, name="api")) as client:
        answer = client.get("/__fastware/version")
    assert answer.status_code == 200
    assert answer.json() == {"build_id": EMPTY_BUILD_ID, "name": "api"}


def test_runtime_false_turns_it_off_for_a_frontend(dist: Path) -> None:
    app = frontend_app(dist, runtime=False)
    with TestClient(app) as client:
        # no runtime: the path is an ordinary browser route of the SPA
        answer = client.get("/__fastware/version")
    assert answer.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("setting", ["static_dir", "spa_fallback", "sw_mode"])
def test_any_frontend_setting_enables_it(dist: Path, setting: str) -> None:
    value: Any = {
        "static_dir": dist / "assets",
        "spa_fallback": dist / "index.html",
        "sw_mode": "off",
    }[setting]
    with TestClient(create_app(api_router(), **{setting: value})) as client:
        assert client.get("/__fastware/version").status_code == 200


# -- /__fastware/version --------------------------------------------------------------------------


def test_version_reports_the_build_id_of_static_dir(dist: Path) -> None:
    with TestClient(frontend_app(dist)) as client:
        answer = client.get("/__fastware/version")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "no-cache"
    assert answer.json() == {"build_id": compute_build_id(dist / "assets")}


def test_version_answers_get_and_head_only(dist: Path) -> None:
    with TestClient(frontend_app(dist)) as client:
        head = client.head("/__fastware/version")
        post = client.post("/__fastware/version")
    assert head.status_code == 200
    assert head.content == b""
    assert post.status_code == 405
    assert post.headers["allow"] == "GET, HEAD"
    assert post.json() == {"detail": "Method not allowed"}


def test_a_restarted_app_reports_its_new_files(dist: Path) -> None:
    app = frontend_app(dist)
    with TestClient(app) as client:
        before = client.get("/__fastware/version").json()["build_id"]
    (dist / "assets" / "app-1a2b3c4d.js").write_text("console.log(2)")
    with TestClient(app) as client:
        after = client.get("/__fastware/version").json()["build_id"]
    assert before != after == compute_build_id(dist / "assets")


def test_the_runtime_wins_over_a_user_route_on_its_path_and_says_so(
    dist: Path, caplog: pytest.LogCaptureFixture
) -> None:
    router = Router()

    @router.get("/__fastware/version")
    async def mine(request: Request) -> dict[str, str]:
        return {"mine": "yes"}

    with caplog.at_level(logging.WARNING, "fastware.runtime"):
        app = create_app(router, sw_mode="off")
    assert "GET /__fastware/version is answered by the fastware runtime" in caplog.text
    with TestClient(app) as client:
        assert "build_id" in client.get("/__fastware/version").json()


def test_routes_added_later_are_served_beside_the_runtime(dist: Path) -> None:
    router = api_router()
    app = create_app(router, sw_mode="off")
    with TestClient(app) as client:
        assert client.get("/__fastware/version").status_code == 200

        @router.get("/late")
        async def late(request: Request) -> dict[str, bool]:
            return {"late": True}

        assert client.get("/late").json() == {"late": True}
        assert client.get("/__fastware/version").status_code == 200


# -- the build id is computed off the event loop --------------------------------------------------


@pytest.mark.anyio
async def test_build_id_is_computed_in_a_thread_and_never_blocks_the_loop(
    dist: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    threads: list[str] = []
    real = runtime_module.compute_build_id

    def slow(static_dir: Any) -> str:
        threads.append(threading.current_thread().name)
        release.wait(10)
        return real(static_dir)

    monkeypatch.setattr(runtime_module, "compute_build_id", slow)
    app = frontend_app(dist)
    async with AsyncTestClient(app) as client:  # startup does not wait for the hash
        assert threads == ["fastware-build-id"]
        # other requests are served while the hash runs
        assert (await client.get("/api/ping")).json() == {"pong": "yes"}
        async with client.stream("GET", "/__fastware/events") as stream:
            lines = stream.aiter_lines()
            # the stream is open, and says how to reconnect, before the id is known
            assert await anext(lines) == "retry: 1000"
            assert await anext(lines) == ""
            release.set()
            assert await anext(lines) == "event: build"
            data = await anext(lines)
        assert data == f'data: {{"build_id":"{real(dist / "assets")}"}}'
        assert (await client.get("/__fastware/version")).json()["build_id"] in data
    assert threads == ["fastware-build-id"]  # once per startup


@pytest.mark.anyio
async def test_without_a_lifespan_the_first_request_starts_the_thread(
    dist: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    real = runtime_module.compute_build_id

    def recording(static_dir: Any) -> str:
        threads.append(threading.current_thread().name)
        return real(static_dir)

    monkeypatch.setattr(runtime_module, "compute_build_id", recording)
    app = frontend_app(dist)
    client = AsyncTestClient(app)  # not entered: no lifespan runs
    assert threads == []
    answer = await client.get("/__fastware/version")
    await client.get("/__fastware/client.js")
    assert answer.json()["build_id"] == real(dist / "assets")
    assert threads == ["fastware-build-id"]


def test_a_failing_hash_is_logged_and_the_endpoints_keep_answering(
    dist: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(static_dir: Any) -> str:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(runtime_module, "compute_build_id", broken)
    with (
        caplog.at_level(logging.ERROR, "fastware.runtime"),
        TestClient(frontend_app(dist)) as client,
    ):
        answer = client.get("/__fastware/version")
    assert answer.json() == {"build_id": EMPTY_BUILD_ID}
    assert "could not compute the build id" in caplog.text


# -- /__fastware/events ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_events_prime_the_build_then_send_heartbeats(dist: Path) -> None:
    app = frontend_app(dist)
    assert app.runtime is not None
    app.runtime.heartbeat_interval = 0.05
    build_id = compute_build_id(dist / "assets")
    async with (
        AsyncTestClient(app) as client,
        client.stream("GET", "/__fastware/events") as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"] == "text/event-stream"
        assert stream.headers["cache-control"] == "no-cache"
        assert stream.headers["x-accel-buffering"] == "no"
        lines: list[str] = []
        with anyio.fail_after(5):
            async for line in stream.aiter_lines():
                lines.append(line)
                if lines.count(": heartbeat") == 2:
                    break
    assert lines[:5] == [
        "retry: 1000",
        "",
        "event: build",
        f'data: {{"build_id":"{build_id}"}}',
        "",
    ]
    assert lines[5:] == [": heartbeat", "", ": heartbeat"]


@pytest.mark.anyio
async def test_events_end_when_the_server_shuts_down(dist: Path) -> None:
    app = frontend_app(dist)
    async with AsyncTestClient(app) as client:
        async with client.stream("GET", "/__fastware/events") as stream:
            lines = stream.aiter_lines()
            with anyio.fail_after(5):
                while await anext(lines) != "event: build":
                    pass
                app.begin_shutdown()
                rest = [line async for line in lines]  # ends: the browser reconnects
        assert rest[0].startswith("data: ")


def test_head_of_events_sends_headers_without_starting_the_stream(dist: Path) -> None:
    with TestClient(frontend_app(dist)) as client:
        answer = client.head("/__fastware/events")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/event-stream"
    assert answer.content == b""


# -- scripts --------------------------------------------------------------------------------------


def test_client_js_carries_the_build_id(dist: Path) -> None:
    with TestClient(frontend_app(dist, sw_mode="off")) as client:
        answer = client.get("/__fastware/client.js")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
    assert answer.headers["cache-control"] == "no-cache"
    assert f'const BUILD_ID = "{compute_build_id(dist / "assets")}";' in answer.text
    assert "fastware:snapshot" in answer.text
    assert "__fastwareRestoreState" in answer.text


def test_cache_mode_serves_the_caching_worker_and_the_registration(dist: Path) -> None:
    app = frontend_app(dist, foreign_sw_paths=["/firebase-messaging-sw.js"])
    build_id = compute_build_id(dist / "assets")
    with TestClient(app) as client:
        worker = client.get("/__fastware/sw.js")
        register = client.get("/__fastware/sw-register.js")
        legacy = client.get("/sw.js")
    assert worker.status_code == 200
    assert worker.headers["service-worker-allowed"] == "/"
    assert worker.headers["cache-control"] == "no-cache"
    assert worker.headers["content-type"] == "text/javascript; charset=utf-8"
    assert f'const BUILD_ID = "{build_id}";' in worker.text
    assert 'const CACHE = "fastware-cache-" + BUILD_ID;' in worker.text
    assert 'const EXCLUDED_PREFIXES = ["/__fastware/","/api","/events","/ws"];' in worker.text
    assert 'const STATIC_PREFIX = "/assets";' in worker.text
    assert "const SPA = true;" in worker.text
    assert register.status_code == 200
    assert register.headers["cache-control"] == "no-cache"
    assert 'const FOREIGN_SW_PATHS = ["/firebase-messaging-sw.js"];' in register.text
    # not in reset mode: /sw.js is the SPA's business
    assert legacy.headers["content-type"].startswith("text/html")


def test_reset_mode_serves_the_self_destruct_worker_at_every_script_path(dist: Path) -> None:
    (dist / "sw.js").write_text("// an old worker file next to index.html")
    app = frontend_app(dist, sw_mode="reset", legacy_sw_paths=["/sw.js", "/assets/old-sw.js"])
    reset = render_asset("sw-reset.js", {})
    with TestClient(app) as client:
        answers = [client.get(p) for p in ("/__fastware/sw.js", "/sw.js", "/assets/old-sw.js")]
        register = client.get("/__fastware/sw-register.js")
    for answer in answers:
        assert answer.status_code == 200
        assert answer.text == reset
        assert answer.headers["service-worker-allowed"] == "/"
        assert answer.headers["cache-control"] == "no-cache"
    assert "registration.unregister()" in reset
    assert "caches.delete" in reset
    assert register.status_code == 404
    assert register.json() == {"detail": "Not found"}


@pytest.mark.parametrize("mode", ["off", None])
def test_off_mode_answers_404_json_for_the_worker_scripts(dist: Path, mode: str | None) -> None:
    with TestClient(frontend_app(dist, sw_mode=mode)) as client:
        answers = [client.get("/__fastware/sw.js"), client.get("/__fastware/sw-register.js")]
        legacy = client.get("/sw.js")
    for answer in answers:
        # never the SPA page: a browser updating an old worker must get an error, not HTML
        assert answer.status_code == 404
        assert answer.json() == {"detail": "Not found"}
    assert legacy.headers["content-type"].startswith("text/html")


def test_hooks_apply_to_runtime_answers(dist: Path) -> None:
    app = frontend_app(dist, trusted_hosts=["example.com"])
    with TestClient(app) as client:
        refused = client.get("/__fastware/version", headers={"host": "evil.test"})
        served = client.get("/__fastware/version", headers={"host": "example.com"})
    assert refused.status_code == 400
    assert served.status_code == 200
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "x-request-id" in served.headers


# -- settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("legacy_sw_paths", ["sw.js"]),
        ("legacy_sw_paths", "/sw.js"),
        ("foreign_sw_paths", ["https://cdn.test/sw.js"]),
        ("foreign_sw_paths", [None]),
        ("legacy_sw_paths", ["/{name}.js"]),
        ("legacy_sw_paths", ["/sw.js?v=1"]),
    ],
)
def test_bad_script_paths_are_refused_at_create_app(dist: Path, setting: str, value: Any) -> None:
    with pytest.raises(ValueError, match=setting):
        frontend_app(dist, **{setting: value})


def test_reset_mode_lists_each_script_path_once(dist: Path) -> None:
    app = frontend_app(
        dist, sw_mode="reset", legacy_sw_paths=["/sw.js", "/sw.js", "/__fastware/sw.js"]
    )
    assert app.runtime is not None
    assert app.runtime.sw_mode == "reset"
    assert sorted(app.runtime.paths) == [
        "/__fastware/client.js",
        "/__fastware/events",
        "/__fastware/sw-register.js",
        "/__fastware/sw.js",
        "/__fastware/version",
        "/sw.js",
    ]


def test_an_unknown_sw_mode_is_refused(dist: Path) -> None:
    with pytest.raises(ValueError, match="sw_mode must be 'off', 'cache' or 'reset'"):
        frontend_app(dist, sw_mode="aggressive")


def test_the_mode_is_kept_on_the_app_for_fastware_dev(dist: Path) -> None:
    assert frontend_app(dist, sw_mode="cache").fastware_sw_mode == "cache"


# -- templates ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_renders_with_its_values_and_leaves_no_placeholder(name: str) -> None:
    values = {
        "BUILD_ID": '"x"',
        "EXCLUDED_PREFIXES": "[]",
        "STATIC_PREFIX": '"/assets"',
        "SPA": "false",
        "FOREIGN_SW_PATHS": "[]",
    }
    assert "{{" not in render_asset(name, values)


def test_a_missing_substitution_is_a_key_error() -> None:
    assert "{{BUILD_ID}}" in load_template("client.js")
    with pytest.raises(KeyError, match="BUILD_ID"):
        render_asset("client.js", {})


def test_values_cannot_close_a_script_tag(dist: Path) -> None:
    app = frontend_app(dist, foreign_sw_paths=["/</script><script>alert(1)//"])
    with TestClient(app) as client:
        text = client.get("/__fastware/sw-register.js").text
    assert "</script>" not in text
    assert "\\u003c/script>" in text
