"""The dev mode through the meta-package: 0.6.3 import paths and ``fastware dev``."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

import fastware
from fastware import Request, Router, TestClient, create_app


def test_0_6_3_paths_are_fastware_dev_objects() -> None:
    import fastware.dev
    import fastware.devconfig
    import fastware.middleware
    import fastware.supervise
    import fastware_dev

    assert fastware.dev.ViteDevProxy is fastware_dev.ViteDevProxy
    assert fastware.middleware.ViteDevProxy is fastware_dev.ViteDevProxy
    assert fastware.dev.dev is fastware_dev.dev
    assert fastware.devconfig.load_dev_config is fastware_dev.load_dev_config
    assert fastware.supervise.run_dev is fastware_dev.run_dev
    assert fastware.supervise.ComponentDied is fastware_dev.ComponentDied
    assert fastware.DevConfigError is fastware_dev.DevConfigError
    assert fastware.DevRunError is fastware_dev.DevRunError
    assert fastware.run_dev is fastware_dev.run_dev


def test_the_dev_paths_import_no_server_or_network_library() -> None:
    code = (
        "import sys, fastware.dev, fastware.devconfig, fastware.supervise, fastware.middleware\n"
        "fastware.middleware.ViteDevProxy\n"
        "print(' '.join(sorted(sys.modules)))"
    )
    loaded = set(subprocess.check_output([sys.executable, "-c", code], text=True).split())
    heavy = {"granian", "httpx", "websockets", "watchfiles"}
    assert not {name for name in loaded if name.split(".")[0] in heavy}


def test_fastware_dev_errors_are_one_line_with_exit_1(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.fastware.dev]\ntopology = "vite-first"\nbackend = { app = "app:app" }\n'
        'vite = { cmd = ["vite"], port = 5173 }\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "fastware", "dev", "status"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"fastware dev: error: {tmp_path / 'pyproject.toml'}: [tool.fastware.dev.backend]: "
        "port is required with app (e.g. port = 8000)"
    ]


def test_fastware_help_lists_dev() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fastware", "--help"], capture_output=True, text=True, timeout=30
    )
    assert "  dev " in done.stdout
    assert fastware.__all__ == tuple(sorted(fastware.__all__))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_0_6_3_vite_dev_port_puts_the_vite_proxy_in_front(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = Router()

    @router.get("/v1/ping")
    async def ping(request: Request) -> dict[str, bool]:
        return {"pong": True}

    @router.get("/events")
    async def events(request: Request) -> dict[str, bool]:
        return {"backend": True}

    port = _closed_port()  # no Vite there: the proxy answers its "Vite is not running" page
    app = create_app(
        router,
        vite_dev_port=port,
        vite_backend_prefixes=["/events"],
        api_prefix="/v1",  # 0.6.3 ignored it and proxied /v1 to Vite (§22, 10)
        sw_mode="cache",
        error_log=False,
    )
    assert "sw_mode='cache' with vite_dev_port" in caplog.text
    with TestClient(app) as client:
        assert client.get("/v1/ping").json() == {"pong": True}
        assert client.get("/events").json() == {"backend": True}
        page = client.get("/")
        assert page.status_code == 502
        assert "x-request-id" in page.headers  # the built-in hooks still see it


def test_a_bad_vite_dev_port_is_refused_when_the_app_is_made() -> None:
    with pytest.raises(ValueError, match="vite_port"):
        create_app(Router(), vite_dev_port=0, error_log=False)
