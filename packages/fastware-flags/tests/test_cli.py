"""``fastware flags``: the command object, as the ``fastware`` CLI runs it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

from fastware_core import FastwareError
from fastware_flags import ENV_STORE
from fastware_flags.cli import command


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="fastware flags")
    command.configure(parser)
    return command.run(parser.parse_args(list(argv)))


def test_set_list_unset_with_a_store_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "f.json")
    assert run("set", "beta", "on", "--store", store) == 0
    assert "beta: override on; now on" in capsys.readouterr().out
    assert run("list", "--store", store, "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["ok"] is True
    assert listed["flags"] == [
        {"name": "beta", "enabled": True, "source": "override", "default": None, "override": True}
    ]
    assert run("unset", "beta", "--store", store, "--json") == 0
    assert json.loads(capsys.readouterr().out)["flag"] is None
    assert json.loads(Path(store).read_text()) == {}


def test_list_shows_defaults_from_the_app_s_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    overrides = str(tmp_path / "o.json")
    (tmp_path / "myflags_app.py").write_text(
        "from fastware_flags import FeatureFlags\n"
        f"flags = FeatureFlags({{'beta': False, 'gamma': True}}, overrides_path={overrides!r})\n"
    )
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert (
        run("set", "beta", "true", "--flags", "myflags_app:flags", "--app-dir", str(tmp_path)) == 0
    )
    capsys.readouterr()
    assert run("list", "--flags", "myflags_app:flags", "--app-dir", str(tmp_path)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NAME", "VALUE", "SOURCE", "DEFAULT", "OVERRIDE"]
    assert out[1].split() == ["beta", "on", "override", "off", "on"]
    assert out[2].split() == ["gamma", "on", "default", "on", "-"]


def test_the_store_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(ENV_STORE, str(tmp_path / "env.json"))
    assert run("set", "x", "0") == 0
    assert json.loads((tmp_path / "env.json").read_text()) == {"x": False}


def test_without_a_store_it_says_how_to_name_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_STORE, raising=False)
    with pytest.raises(FastwareError, match="--store"):
        run("list")


def test_a_bad_value_is_a_value_error_naming_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="true/false"):
        run("set", "beta", "perhaps", "--store", str(tmp_path / "f.json"))


def test_a_malformed_store_lists_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "f.json"
    path.write_text("{oops")
    assert run("list", "--store", str(path)) == 1
    captured = capsys.readouterr()
    assert "not valid JSON" in captured.err
    assert len(captured.err.strip().splitlines()) == 1


def test_a_bad_flags_target_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="MODULE:ATTRIBUTE"):
        run("list", "--flags", "nocolon")
    with pytest.raises(ValueError, match="cannot import"):
        run("list", "--flags", "no_such_module_here:flags", "--app-dir", str(tmp_path))
