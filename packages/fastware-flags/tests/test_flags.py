"""FeatureFlags: 0.6.3's API and semantics, validation, live refresh and bad stores."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from fastware_core import HTTPError
from fastware_flags import ENV_STORE, FeatureFlags, FlagStoreError, JSONFileStore, open_store

ReadOnly = Callable[[Path], AbstractContextManager[None]]


def write(path: Path, text: str | bytes) -> None:
    data = text.encode() if isinstance(text, str) else text
    path.write_bytes(data)


def bump(path: Path) -> None:
    """Make sure a rewrite is visible by stat even on coarse-mtime file systems."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))


# -- 0.6.3 ---------------------------------------------------------------------------------


def test_enabled_prefers_override_then_default_then_false(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    write(path, '{"beta": true, "only_override": true, "old": false}')
    flags = FeatureFlags({"beta": False, "old": True, "plain": True}, overrides_path=path)
    assert flags.enabled("beta") is True
    assert flags.enabled("old") is False
    assert flags.enabled("plain") is True
    assert flags.enabled("only_override") is True
    assert flags.enabled("unknown") is False


def test_defaults_are_copied() -> None:
    defaults = {"beta": True}
    flags = FeatureFlags(defaults)
    defaults["beta"] = False
    assert flags.enabled("beta") is True


def test_all_flags_lists_defaults_only_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    write(path, '{"extra": true}')
    flags = FeatureFlags({"beta": False}, overrides_path=path)
    assert flags.all_flags() == {"beta": False}
    assert flags.all_flags(include_overrides=True) == {"beta": False, "extra": True}


def test_set_override_writes_03s_format_and_creates_parents(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "flags.json"
    flags = FeatureFlags({"beta": False}, overrides_path=path)
    flags.set_override("beta", True)
    assert flags.enabled("beta") is True
    assert path.read_text() == '{\n  "beta": true\n}\n'


def test_set_override_without_a_store_raises_runtime_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_STORE, raising=False)
    with pytest.raises(RuntimeError, match="no overrides store"):
        FeatureFlags({"beta": False}).set_override("beta", True)


def test_missing_file_means_no_overrides(tmp_path: Path) -> None:
    flags = FeatureFlags({"beta": True}, overrides_path=tmp_path / "absent.json")
    assert flags.enabled("beta") is True
    assert flags.status()["ok"] is True


def test_reload_reads_the_file_again(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    flags = FeatureFlags({"beta": False}, overrides_path=path, refresh_interval=3600)
    write(path, '{"beta": true}')
    assert flags.enabled("beta") is False  # not due yet
    flags.reload()
    assert flags.enabled("beta") is True


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [(True, True), (False, False), (1, True), (0, False), ("on", True), ("No", False)],
)
def test_set_override_coerces_clear_values(tmp_path: Path, given: object, stored: bool) -> None:
    flags = FeatureFlags(overrides_path=tmp_path / "f.json")
    flags.set_override("x", given)
    assert json.loads((tmp_path / "f.json").read_text()) == {"x": stored}


@pytest.mark.parametrize("bad", ["maybe", 2, 0.5, [], {}, b"true"])
def test_set_override_refuses_other_values_with_type_error(tmp_path: Path, bad: object) -> None:
    flags = FeatureFlags(overrides_path=tmp_path / "f.json")
    with pytest.raises(TypeError, match="must be a bool"):
        flags.set_override("x", bad)
    assert not (tmp_path / "f.json").exists()


@pytest.mark.parametrize(("bad", "error"), [("", ValueError), ("a\nb", ValueError), (3, TypeError)])
def test_flag_names_are_checked(tmp_path: Path, bad: object, error: type[Exception]) -> None:
    flags = FeatureFlags(overrides_path=tmp_path / "f.json")
    with pytest.raises(error):
        flags.set_override(bad, True)  # type: ignore[arg-type]


def test_defaults_are_validated() -> None:
    with pytest.raises(TypeError, match="default of flag 'beta'"):
        FeatureFlags({"beta": "sometimes"})


def test_an_override_can_be_removed(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    flags = FeatureFlags({"beta": False}, overrides_path=path)
    flags.set_override("beta", True)
    flags.set_override("other", True)
    flags.remove_override("beta")
    assert flags.enabled("beta") is False
    assert json.loads(path.read_text()) == {"other": True}
    flags.set_override("other", None)
    assert json.loads(path.read_text()) == {}
    flags.remove_override("never-set")  # nothing to remove is fine


def test_describe_says_where_each_value_comes_from(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    write(path, '{"beta": true, "extra": false}')
    flags = FeatureFlags({"beta": False, "plain": True}, overrides_path=path)
    assert flags.describe() == [
        {"name": "beta", "enabled": True, "source": "override", "default": False, "override": True},
        {
            "name": "extra",
            "enabled": False,
            "source": "override",
            "default": None,
            "override": False,
        },
        {"name": "plain", "enabled": True, "source": "default", "default": True, "override": None},
    ]


# -- live refresh --------------------------------------------------------------------------


def test_a_hand_edit_is_seen_within_the_refresh_interval(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    write(path, '{"beta": false}')
    flags = FeatureFlags(overrides_path=path, refresh_interval=0.05)
    assert flags.enabled("beta") is False
    write(path, '{"beta": true}')
    bump(path)
    deadline = time.monotonic() + 2
    while not flags.enabled("beta"):
        assert time.monotonic() < deadline, "the edit was never seen"
        time.sleep(0.01)


def test_another_instance_s_write_is_seen_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    one = FeatureFlags(overrides_path=path, refresh_interval=0)
    two = FeatureFlags(overrides_path=path, refresh_interval=0)
    one.set_override("a", True)
    two.set_override("b", True)  # re-reads under the lock: keeps "a"
    assert json.loads(path.read_text()) == {"a": True, "b": True}
    assert one.enabled("b") is True
    assert two.enabled("a") is True


def test_enabled_does_not_read_the_file_between_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f.json"
    write(path, '{"beta": true}')
    flags = FeatureFlags(overrides_path=path, refresh_interval=3600)
    reads: list[str] = []

    def counted(self: JSONFileStore) -> bool:
        reads.append("changed")
        return True

    monkeypatch.setattr(JSONFileStore, "changed", counted)
    for _ in range(1000):
        assert flags.enabled("beta")
    assert reads == []


# -- bad stores ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"beta": tr', "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('"on"', "must be a JSON object"),
        (b"\xff\xfe{", "not UTF-8"),
        ("", "is empty"),
        ('{"beta": "yes"}', "flag 'beta' has 'yes'"),
        ("[" * 100_000, "not valid JSON"),
    ],
)
def test_a_malformed_file_keeps_the_last_good_values_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str | bytes, message: str
) -> None:
    path = tmp_path / "f.json"
    write(path, '{"beta": true}')
    flags = FeatureFlags({"beta": False, "other": True}, overrides_path=path, refresh_interval=0)
    assert flags.enabled("beta") is True
    write(path, content)
    bump(path)
    with caplog.at_level(logging.WARNING, "fastware.flags"):
        assert flags.enabled("beta") is True  # last good value, not "every flag off"
        assert flags.enabled("other") is True
        assert flags.enabled("beta") is True
    status = flags.status()
    assert status["ok"] is False
    assert message in status["error"]
    assert str(path) in status["error"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once per distinct error, not once per check
    assert str(path) in warnings[0].getMessage()
    assert "keeping the last good overrides (beta=True)" in warnings[0].getMessage()
    write(path, '{"beta": false}')
    bump(path)
    assert flags.enabled("beta") is False
    assert flags.status()["ok"] is True


def test_a_malformed_file_at_startup_is_reported_not_silent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "f.json"
    write(path, "{not json")
    flags = FeatureFlags({"beta": True}, overrides_path=path)
    assert flags.enabled("beta") is True
    assert flags.status()["ok"] is False
    assert "not valid JSON" in caplog.text


def test_set_override_refuses_to_overwrite_a_malformed_file(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    write(path, '{"beta": true, "gamma": tr')
    flags = FeatureFlags(overrides_path=path)
    with pytest.raises(FlagStoreError, match="not valid JSON"):
        flags.set_override("beta", False)
    assert path.read_text() == '{"beta": true, "gamma": tr'  # the hand edit is not lost


def test_a_file_replaced_by_a_directory(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    write(path, '{"beta": true}')
    flags = FeatureFlags(overrides_path=path, refresh_interval=0)
    assert flags.enabled("beta") is True
    path.unlink()
    path.mkdir()
    assert flags.enabled("beta") is True
    assert "is a directory" in flags.status()["error"]
    with pytest.raises(FlagStoreError, match="is a directory"):
        flags.set_override("beta", False)
    assert flags.enabled("beta") is True


def test_an_unwritable_directory_is_a_clear_error_and_keeps_values(
    tmp_path: Path, read_only: ReadOnly
) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    path = directory / "f.json"
    write(path, '{"beta": true}')
    flags = FeatureFlags(overrides_path=path, refresh_interval=0)
    with read_only(directory), pytest.raises(FlagStoreError, match=str(directory)):
        flags.set_override("beta", False)
    assert flags.enabled("beta") is True
    assert json.loads(path.read_text()) == {"beta": True}
    assert not [p for p in directory.iterdir() if p.name.startswith(".f.json.")]  # no temp left


def test_a_write_never_leaves_a_torn_file(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    flags = FeatureFlags(overrides_path=path)
    for i in range(50):
        flags.set_override(f"flag{i}", i % 2 == 0)
        assert json.loads(path.read_text())[f"flag{i}"] is (i % 2 == 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json", "f.json.lock"]


# -- configuration -------------------------------------------------------------------------


def test_the_store_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "env.json"
    write(path, '{"beta": true}')
    monkeypatch.setenv(ENV_STORE, str(path))
    flags = FeatureFlags({"beta": False})
    assert flags.enabled("beta") is True
    assert flags.status()["store"] == f"file {path}"


def test_open_store_understands_paths_and_file_urls(tmp_path: Path) -> None:
    assert isinstance(open_store(tmp_path / "a.json"), JSONFileStore)
    store = open_store(f"file://{tmp_path}/b%20c.json")
    assert isinstance(store, JSONFileStore)
    assert store.path == tmp_path / "b c.json"
    with pytest.raises(ValueError, match="unknown flag store"):
        open_store("ftp://example.com/flags")
    with pytest.raises(ValueError, match="empty"):
        open_store(" ")


def test_overrides_path_and_store_are_exclusive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        FeatureFlags(overrides_path=tmp_path / "a", store=tmp_path / "b")


# -- the dependency form -------------------------------------------------------------------


def test_require_raises_404_while_off(tmp_path: Path) -> None:
    flags = FeatureFlags({"beta": False}, overrides_path=tmp_path / "f.json")
    check = flags.require("beta")
    with pytest.raises(HTTPError) as refused:
        check()
    assert refused.value.status_code == 404
    flags.set_override("beta", True)
    assert check() is True
