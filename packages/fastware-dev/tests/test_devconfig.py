"""``[tool.fastware.dev]``: every key and rule of 0.6.3 §16.3, one-line errors naming the file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fastware_dev import (
    DevConfigError,
    build_dev_config,
    find_dev_pyproject,
    load_dev_config,
)

GOOD = """
[project]
name = "shop"

[tool.fastware.dev]
topology = "vite-first"

[tool.fastware.dev.backend]
app = "app:app"
port = 8000

[tool.fastware.dev.vite]
cmd = ["npx", "vite", "--port", "5173"]
port = 5173
cwd = "frontend"
"""


def table(**changes: Any) -> dict[str, Any]:
    """A valid table with ``changes`` (``None`` removes a key; ``backend``/``vite`` merge)."""
    base: dict[str, Any] = {
        "topology": "vite-first",
        "backend": {"app": "app:app", "port": 8000},
        "vite": {"cmd": ["npx", "vite"], "port": 5173},
    }
    for key, value in changes.items():
        if value is None:
            base.pop(key)
        elif key in ("backend", "vite") and isinstance(value, dict):
            merged = {**base[key], **value}
            base[key] = {k: v for k, v in merged.items() if v is not None}
        else:
            base[key] = value
    return base


def test_a_valid_file_loads_with_its_defaults(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(GOOD)
    cfg = load_dev_config(tmp_path)
    assert cfg.app_name == "shop"
    assert cfg.env_name == "shop-dev"
    assert cfg.topology == "vite-first"
    assert cfg.backend.app == "app:app"
    assert cfg.backend.is_in_process
    assert cfg.backend.host == "127.0.0.1"
    assert cfg.backend.api_prefix == "/api"
    assert cfg.vite.cmd == ["npx", "vite", "--port", "5173", "--strictPort"]
    assert cfg.base_dir == tmp_path.resolve()
    assert cfg.resolve_cwd(cfg.vite.cwd) == tmp_path.resolve() / "frontend"
    assert cfg.resolve_cwd(None) == tmp_path.resolve()
    assert cfg.source_path == tmp_path / "pyproject.toml"


def test_app_name_falls_back_to_the_directory(tmp_path: Path) -> None:
    project = tmp_path / "my-shop"
    project.mkdir()
    (project / "pyproject.toml").write_text(GOOD.replace('[project]\nname = "shop"\n', ""))
    assert load_dev_config(project).app_name == "my-shop"


def test_strict_port_goes_after_a_double_dash_for_npm_run() -> None:
    cfg = build_dev_config(table(vite={"cmd": ["npm", "run", "dev"]}))
    assert cfg.vite.cmd == ["npm", "run", "dev", "--", "--strictPort"]
    cfg = build_dev_config(table(vite={"cmd": ["npm", "run", "dev", "--", "--port", "1"]}))
    assert cfg.vite.cmd[-1] == "--strictPort"
    assert cfg.vite.cmd.count("--") == 1
    kept = build_dev_config(table(vite={"cmd": ["vite", "--strictPort"]}))
    assert kept.vite.cmd == ["vite", "--strictPort"]


def test_a_cmd_backend_has_no_port_and_no_reload() -> None:
    cfg = build_dev_config(table(backend={"app": None, "port": None, "cmd": ["uvicorn", "a:b"]}))
    assert not cfg.backend.is_in_process
    assert cfg.backend.reload is False


def test_gates_and_aux_services_are_built() -> None:
    cfg = build_dev_config(
        table(
            pre_spawn=[
                {"message": "run npm install", "file": "frontend/node_modules"},
                {"message": "start redis", "tcp": "127.0.0.1:6379"},
            ],
            aux=[
                {
                    "name": "redis",
                    "cmd": ["redis-server"],
                    "health": {"tcp": "127.0.0.1:6379"},
                    "timeout_s": 5,
                }
            ],
        )
    )
    assert [gate.message for gate in cfg.pre_spawn] == ["run npm install", "start redis"]
    assert cfg.pre_spawn[1].tcp_address == ("127.0.0.1", 6379)
    assert cfg.aux[0].timeout_s == 5.0
    assert cfg.aux[0].health.describe() == "a TCP connection to 127.0.0.1:6379"


AUX = {"name": "db", "cmd": ["db"], "health": {"tcp": "127.0.0.1:1"}, "timeout_s": 1}

BAD: list[tuple[dict[str, Any], str]] = [
    # top level
    (table(topology=None), "topology is required"),
    (table(topology="parallel"), 'topology must be "backend-first" or "vite-first"'),
    (table(backend=None), "backend is required"),
    (table(vite=None), "vite is required"),
    (table(extra=1), "unknown key extra (allowed: topology, backend, vite, pre_spawn, aux)"),
    (table(backend="app:app"), "[tool.fastware.dev.backend] must be a table"),
    # backend
    (table(backend={"app": None}), "needs exactly one of app or cmd (got none)"),
    (table(backend={"cmd": ["x"]}), "needs exactly one of app or cmd (got app, cmd)"),
    (table(backend={"app": "app"}), 'app must be "module:attribute"'),
    (table(backend={"app": "my-app:app"}), 'app must be "module:attribute"'),
    (table(backend={"app": 3}), 'app must be "module:attribute"'),
    (table(backend={"port": None}), "port is required with app"),
    (table(backend={"port": True}), "port must be an integer, got True"),
    (table(backend={"port": "8000"}), "port must be an integer, got '8000'"),
    (table(backend={"port": 70000}), "port must be from 1 to 65535"),
    (
        table(backend={"app": None, "cmd": ["uvicorn"], "port": 8000}),
        "port is for the app form only",
    ),
    (table(backend={"app": None, "cmd": []}), "cmd must be a non-empty list of strings"),
    (table(backend={"app": None, "cmd": "uvicorn a:b"}), "cmd must be a non-empty list"),
    (table(backend={"app": None, "cmd": ["ok", 1]}), "cmd must be a non-empty list"),
    (table(backend={"env": {"A": 1}}), "env must be a table of strings"),
    (table(backend={"env": ["A=1"]}), "env must be a table of strings"),
    (table(backend={"cwd": ""}), "cwd must be a non-empty string"),
    (table(backend={"host": 1}), "host must be a non-empty string"),
    (table(backend={"reload": "yes"}), "reload must be true or false"),
    (table(backend={"watch": "src"}), "watch must be a list of directories"),
    (table(backend={"api_prefix": "api"}), 'api_prefix must start with "/"'),
    (table(backend={"backend_prefixes": ["events"]}), "backend_prefixes must be a list"),
    (table(backend={"workers": 2}), "[tool.fastware.dev.backend]: unknown key workers"),
    # vite
    (table(vite={"cmd": None}), "[tool.fastware.dev.vite]: cmd is required"),
    (table(vite={"port": None}), "[tool.fastware.dev.vite]: port is required"),
    (table(vite={"port": 0}), "port must be from 1 to 65535, got 0"),
    (table(vite={"port": 5173.0}), "port must be an integer"),
    (table(vite={"cmd": "vite"}), "cmd must be a non-empty list"),
    (table(vite={"proxy": True}), "[tool.fastware.dev.vite]: unknown key proxy"),
    (table(backend={"port": 5173}), "backend and vite both use port 5173"),
    # pre_spawn
    (table(pre_spawn={"file": "x"}), "must be an array of tables"),
    (table(pre_spawn=[{"file": "x"}]), "pre_spawn]]: message is required"),
    (table(pre_spawn=[{"message": "", "file": "x"}]), "message must be a non-empty string"),
    (table(pre_spawn=[{"message": "m"}]), "needs exactly one of cmd, http, tcp or file"),
    (
        table(pre_spawn=[{"message": "m", "file": "x", "tcp": "a:1"}]),
        "needs exactly one of cmd, http, tcp or file (got tcp, file)",
    ),
    (table(pre_spawn=[{"message": "m", "http": "localhost:80"}]), "http must be an http://"),
    (table(pre_spawn=[{"message": "m", "tcp": "localhost"}]), 'tcp must be "host:port"'),
    (table(pre_spawn=[{"message": "m", "tcp": "h:99999"}]), 'tcp must be "host:port"'),
    (table(pre_spawn=[{"message": "m", "cmd": []}]), "cmd must be a non-empty list"),
    (table(pre_spawn=[{"message": "m", "file": "x", "when": 1}]), "unknown key when"),
    (table(pre_spawn=["x"]), "[[tool.fastware.dev.pre_spawn]] must be a table"),
    # aux
    (table(aux={"name": "x"}), "must be an array of tables"),
    (table(aux=[{k: v for k, v in AUX.items() if k != "name"}]), "aux]]: name is required"),
    (table(aux=[{k: v for k, v in AUX.items() if k != "cmd"}]), "aux]]: cmd is required"),
    (table(aux=[{k: v for k, v in AUX.items() if k != "health"}]), "health is required"),
    (table(aux=[{k: v for k, v in AUX.items() if k != "timeout_s"}]), "timeout_s is required"),
    (table(aux=[{**AUX, "timeout_s": 0}]), "timeout_s must be a number above 0"),
    (table(aux=[{**AUX, "timeout_s": "5"}]), "timeout_s must be a number above 0"),
    (table(aux=[{**AUX, "timeout_s": True}]), "timeout_s must be a number above 0"),
    (table(aux=[{**AUX, "health": {}}]), "'db': health: needs exactly one of http, tcp or cmd"),
    (
        table(aux=[{**AUX, "health": {"tcp": "a:1", "http": "http://a"}}]),
        "needs exactly one of http, tcp or cmd (got http, tcp)",
    ),
    (table(aux=[{**AUX, "health": {"grpc": "a:1"}}]), "'db': health: unknown key grpc"),
    (table(aux=[{**AUX, "health": "tcp"}]), "'db': health must be a table"),
    (table(aux=[{**AUX, "name": "vite"}]), "the name 'vite' is taken by fastware dev"),
    (table(aux=[{**AUX, "name": "a b"}]), "name may hold letters, digits"),
    (table(aux=[AUX, AUX]), "names must be unique; repeated: db"),
    (table(aux=[{**AUX, "restart": True}]), "[[tool.fastware.dev.aux]]: unknown key restart"),
]


@pytest.mark.parametrize(("values", "message"), BAD, ids=[m for _, m in BAD])
def test_every_rule_is_one_clear_error(values: dict[str, Any], message: str) -> None:
    with pytest.raises(DevConfigError) as caught:
        build_dev_config(values, source_path=Path("/p/pyproject.toml"))
    text = str(caught.value)
    assert message in text
    assert text.startswith("/p/pyproject.toml: ")
    assert "\n" not in text


def test_nested_tables_are_refused_listing_both(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(GOOD)
    inner = tmp_path / "sub"
    inner.mkdir()
    (inner / "pyproject.toml").write_text(GOOD)
    with pytest.raises(DevConfigError, match="nested") as caught:
        find_dev_pyproject(inner)
    assert str(inner / "pyproject.toml") in str(caught.value)
    assert str(tmp_path / "pyproject.toml") in str(caught.value)


def test_the_table_is_found_from_a_subdirectory(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(GOOD)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    (deep / "pyproject.toml").write_text('[project]\nname = "other"\n')
    assert find_dev_pyproject(deep) == tmp_path.resolve() / "pyproject.toml"


def test_no_table_says_how_to_get_one(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    with pytest.raises(DevConfigError, match="fastware dev new DIR"):
        find_dev_pyproject(tmp_path)


def test_an_unrelated_broken_toml_is_ignored_but_a_broken_dev_table_is_not(
    tmp_path: Path,
) -> None:
    (tmp_path / "pyproject.toml").write_text(GOOD)
    inner = tmp_path / "sub"
    inner.mkdir()
    (inner / "pyproject.toml").write_text("this is = = not toml")
    assert find_dev_pyproject(inner) == tmp_path.resolve() / "pyproject.toml"
    (inner / "pyproject.toml").write_text("[tool.fastware.dev]\ntopology = ")
    with pytest.raises(DevConfigError, match="not valid TOML"):
        find_dev_pyproject(inner)


def test_an_explicit_file_without_the_table(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "x"\n')
    with pytest.raises(DevConfigError, match=r"has no \[tool.fastware.dev\] table"):
        load_dev_config(path)


def test_a_dev_value_that_is_not_a_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.fastware]\ndev = "on"\n')
    with pytest.raises(DevConfigError, match="must be a table"):
        load_dev_config(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("port = 5173\n", "port = 5173\nstrict = true\n"), "unknown key strict"),
        (GOOD + "[tool.fastware.dev.other]\nx = 1\n", "unknown key other"),
        ("[tool.fastware.dev]\ntopology = [", "not valid TOML"),
    ],
)
def test_the_cli_prints_one_line_and_exits_1(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    for action in ([], ["status"], ["stop"]):
        done = subprocess.run(
            [sys.executable, "-m", "fastware_dev", *action],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 1
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("fastware dev: error: ")
        assert message in lines[0]
        assert str(tmp_path / "pyproject.toml") in lines[0]
