"""The fastware-core wheel installs alone (msgspec its only dependency) and serves an app."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from support.granian import free_port
from support.wheels import build_wheels, fresh_venv, uv

ROOT = Path(__file__).resolve().parents[1]

APP = """
from fastware_core import Router, create_app, TestClient

router = Router()

@router.get("/hello/{name}")
async def hello(request):
    return {"hello": request.path_params["name"]}

app = create_app(router)

if __name__ == "__main__":
    with TestClient(app) as client:
        print(client.get("/hello/wheel").text)
"""


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    wheels = build_wheels(work / "dist", "fastware-core")
    assert [wheel.name.split("-")[0] for wheel in wheels] == ["fastware_core"]
    venv = work / "venv"
    fresh_venv(venv, [str(wheels[0])])
    (work / "app.py").write_text(APP)
    return venv


def test_wheel_depends_on_msgspec_only(core_venv: Path) -> None:
    listing = subprocess.run(
        [uv(), "pip", "list", "--python", str(core_venv / "bin" / "python"), "--format", "freeze"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    names = {line.split("==")[0].lower() for line in listing.split() if "==" in line}
    assert names == {"fastware-core", "msgspec"}


def test_wheel_serves_an_app_in_process(core_venv: Path) -> None:
    out = subprocess.run(
        [str(core_venv / "bin" / "python"), str(core_venv.parent / "app.py")],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert out.strip() == '{"hello":"wheel"}'


def test_wheel_serves_an_app_under_granian(core_venv: Path) -> None:
    python = core_venv / "bin" / "python"
    subprocess.run(
        [uv(), "pip", "install", "--python", str(python), "granian>=2.7,<3"],
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = subprocess.Popen(
        [str(python), "-m", "granian", "--interface", "rsgi", "--port", str(port), "app:app"],
        cwd=core_venv.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                url = f"http://127.0.0.1:{port}/hello/granian"
                with urllib.request.urlopen(url, timeout=2) as response:
                    assert response.status == 200
                    assert response.read() == b'{"hello":"granian"}'
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    server.kill()
                    output = server.communicate()[0].decode(errors="replace")
                    pytest.fail(f"granian did not serve the wheel's app:\n{output}")
                time.sleep(0.2)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stdout is not None:
            server.stdout.close()


RUNTIME_APP = """
import sys, tempfile
from fastware_core import Router, TestClient, create_app

app = create_app(Router(), static_dir=tempfile.mkdtemp(), sw_mode="cache")
with TestClient(app) as client:
    for path in ("/__fastware/sw.js", "/__fastware/sw-register.js", "/__fastware/client.js"):
        answer = client.get(path)
        assert answer.status_code == 200 and "{{" not in answer.text, (path, answer.text[:200])
print("scripts served")
"""


def test_wheel_ships_the_runtime_scripts(core_venv: Path) -> None:
    out = subprocess.run(
        [str(core_venv / "bin" / "python"), "-c", RUNTIME_APP],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=core_venv.parent,
    ).stdout
    assert out.strip() == "scripts served"
