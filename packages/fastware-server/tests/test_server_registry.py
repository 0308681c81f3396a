from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fastware_server import (
    RegistryEntry,
    deregister_instance,
    list_instances,
    list_markers,
    register_instance,
    remove_marker,
    write_marker,
)
from fastware_server.registry import read_descriptor, registry_dir

Sleeper = Callable[..., subprocess.Popen[str]]


def test_register_writes_the_0_6_3_descriptor(tmp_path: Path) -> None:
    pid_path = tmp_path / ".app.pid"
    path = register_instance(pid_path, 8000, "app")
    assert path == tmp_path / ".fastware-registry" / f"{os.getpid()}.json"
    record = json.loads(path.read_text())
    assert {k: record[k] for k in ("pid", "port", "name")} == {
        "pid": os.getpid(),
        "port": 8000,
        "name": "app",
    }
    assert isinstance(record["start"], int)  # the identity stop() and status() check
    assert list_instances(pid_path) == [RegistryEntry(os.getpid(), 8000, "app")]
    deregister_instance(pid_path)
    deregister_instance(pid_path)  # a missing descriptor is fine
    assert list_instances(pid_path) == []


def test_readers_prune_dead_reused_and_corrupt_descriptors(
    tmp_path: Path, spawn_sleeper: Sleeper
) -> None:
    pid_path = tmp_path / "app.pid"
    directory = registry_dir(pid_path)
    directory.mkdir()
    (directory / "1.json").write_text("{not json")
    (directory / "999999999.json").write_text('{"pid": 999999999, "port": 1, "name": "dead"}')
    sleeper = spawn_sleeper()
    reused = directory / f"{sleeper.pid}.json"
    reused.write_text(json.dumps({"pid": sleeper.pid, "port": 2, "name": "x", "start": 1}))
    register_instance(pid_path, 3, "me")
    assert list_instances(pid_path) == [RegistryEntry(os.getpid(), 3, "me")]
    assert sorted(p.name for p in directory.iterdir()) == [f"{os.getpid()}.json"]
    assert read_descriptor(pid_path, os.getpid()) is not None
    deregister_instance(pid_path)


def test_markers_round_trip(tmp_path: Path) -> None:
    pid_path = tmp_path / "app.pid"
    path = write_marker(pid_path, "tab", "b", fields={"url": "/x"})
    write_marker(pid_path, "tab", "a")
    assert path.name == f"tab--{os.getpid()}--b.marker"
    assert list_markers(pid_path, "tab") == [
        {"pid": os.getpid(), "marker_id": "a", "kind": "tab"},
        {"pid": os.getpid(), "marker_id": "b", "kind": "tab", "url": "/x"},
    ]
    assert list_markers(pid_path, "other") == []
    remove_marker(pid_path, "tab", "a")
    remove_marker(pid_path, "tab", "a")
    assert [m["marker_id"] for m in list_markers(pid_path, "tab")] == ["b"]


def test_dead_and_corrupt_markers_are_pruned(tmp_path: Path) -> None:
    pid_path = tmp_path / "app.pid"
    directory = registry_dir(pid_path)
    directory.mkdir()
    (directory / "tab--999999999--x.marker").write_text(
        '{"pid": 999999999, "marker_id": "x", "kind": "tab"}'
    )
    (directory / "tab--1--y.marker").write_text("[]")
    assert list_markers(pid_path, "tab", prune_dead=False)[0]["marker_id"] == "x"
    assert list_markers(pid_path, "tab") == []
    assert list(directory.iterdir()) == []


def test_an_old_marker_of_a_reused_pid_is_pruned(tmp_path: Path, spawn_sleeper: Sleeper) -> None:
    pid_path = tmp_path / "app.pid"
    sleeper = spawn_sleeper()
    path = registry_dir(pid_path) / f"tab--{sleeper.pid}--x.marker"
    path.parent.mkdir()
    path.write_text(json.dumps({"pid": sleeper.pid, "marker_id": "x", "kind": "tab"}))
    old = time.time() - 3600
    os.utime(path, (old, old))
    assert list_markers(pid_path, "tab") == []


@pytest.mark.parametrize(("kind", "marker_id"), [("a--b", "x"), ("a", "x/y"), ("", "x")])
def test_marker_names_are_checked(tmp_path: Path, kind: str, marker_id: str) -> None:
    with pytest.raises(ValueError, match="marker"):
        write_marker(tmp_path / "app.pid", kind, marker_id)
