from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from fastware_server import NotRunningError
from fastware_server.commands import serve, status, stop
from fastware_server.process import command_line, process_start
from fastware_server.registry import registry_dir


def parse(
    command: serve.ServeCommand | status.StatusCommand | stop.StopCommand, *args: str
) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fastware test")
    command.configure(parser)
    return parser.parse_args(args)


def test_commands_have_one_line_help() -> None:
    for command in (serve.command, status.command, stop.command):
        assert command.help
        assert "\n" not in command.help


def test_serve_options_map_to_the_server_config() -> None:
    args = parse(
        serve.command, "hello:app", "--workers", "2", "--http", "2", "--no-keep-alive",
        "--grace", "4", "--access-log", "--uds", "/tmp/a.sock", "--workers-max-rss", "512",
    )  # fmt: skip
    options = serve.command._options(args)
    assert options["http"] == "2"
    assert options["keep_alive"] is False
    assert options["grace"] == 4.0
    assert options["access_log"] is True
    assert options["uds"] == "/tmp/a.sock"
    assert options["workers_max_rss"] == 512
    assert args.workers == 2
    assert args.pid_file == Path(".fastware.pid")


@pytest.mark.parametrize(
    ("flags", "message"),
    [(["--daemon", "--reload"], "do not go together"), (["--daemon", "--no-pid-file"], "PID")],
)
def test_serve_refuses_impossible_combinations(flags: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        serve.command.run(parse(serve.command, "hello:app", *flags))


def test_serve_rejects_a_negative_grace(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(serve.command, "hello:app", "--grace", "-1")
    assert "must be 0 or more seconds" in capsys.readouterr().err


def test_status_of_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pid_file = tmp_path / "app.pid"
    assert status.command.run(parse(status.command, "--pid-file", str(pid_file))) == 3
    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[:3] == ["PID", "FILE", "STATE"]
    assert row.split()[1:3] == ["not", "running"]
    assert status.command.run(parse(status.command, "--pid-file", str(pid_file), "--json")) == 3
    assert json.loads(capsys.readouterr().out)["running"] is False


def test_status_of_a_live_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pid_file = tmp_path / "app.pid"
    pid_file.write_text(str(os.getpid()))
    registry_dir(pid_file).mkdir()
    (registry_dir(pid_file) / f"{os.getpid()}.json").write_text(
        json.dumps(
            {"pid": os.getpid(), "port": 9, "name": "api", "start": process_start(os.getpid()),
             "url": "http://127.0.0.1:9"}
        )
    )  # fmt: skip
    assert status.command.run(parse(status.command, "--pid-file", str(pid_file), "--json")) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["running"] is True
    assert record["pid"] == os.getpid()
    assert record["name"] == "api"
    assert record["responding"] is False  # nothing listens on port 9


def test_stop_without_a_server(tmp_path: Path) -> None:
    with pytest.raises(NotRunningError, match="no server to stop"):
        stop.command.run(parse(stop.command, "--pid-file", str(tmp_path / "app.pid")))
    (tmp_path / "app.pid").write_text("999999999")
    with pytest.raises(NotRunningError, match="stale PID file was removed"):
        stop.command.run(parse(stop.command, "--pid-file", str(tmp_path / "app.pid")))
    assert not (tmp_path / "app.pid").exists()


def test_stop_and_status_name_the_program_a_bare_pid_file_points_at(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        # On a loaded machine /proc can show the new process's command line empty for a
        # moment (seen in CI once): wait until the kernel reports it.
        deadline = time.monotonic() + 10
        while command_line(bystander.pid) != ["sleep", "60"] and time.monotonic() < deadline:
            time.sleep(0.01)
        pid_file = tmp_path / "app.pid"
        pid_file.write_text(str(bystander.pid))
        with pytest.raises(NotRunningError) as caught:
            stop.command.run(parse(stop.command, "--pid-file", str(pid_file)))
        message = str(caught.value)
        assert "\n" not in message
        assert f"named PID {bystander.pid}, which is not a fastware server but `sleep 60`" in (
            message
        )
        assert bystander.poll() is None  # never signalled: no signal was sent at all
        assert not pid_file.exists()
        pid_file.write_text(str(bystander.pid))
        assert status.command.run(parse(status.command, "--pid-file", str(pid_file), "--json")) == 3
        record = json.loads(capsys.readouterr().out)
        assert (record["running"], record["other_process"]) == (False, "sleep 60")
    finally:
        bystander.kill()
        bystander.wait()


def test_stop_says_so_in_one_line_when_the_pid_file_names_another_program(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        # On a loaded machine /proc can show the new process's command line empty for a
        # moment (seen in CI once): wait until the kernel reports it.
        deadline = time.monotonic() + 10
        while command_line(bystander.pid) != ["sleep", "60"] and time.monotonic() < deadline:
            time.sleep(0.01)
        pid_file = tmp_path / "app.pid"
        pid_file.write_text(str(bystander.pid))
        with pytest.raises(NotRunningError) as caught:
            stop.command.run(parse(stop.command, "--pid-file", str(pid_file)))
        assert "is not running" not in str(caught.value)
        assert "not a fastware server" in str(caught.value)
        # The command's error is the only line: the library's warning is not printed too.
        assert capfd.readouterr().err == ""
    finally:
        bystander.kill()
        bystander.wait()


def test_serve_options_all_explain_themselves() -> None:
    parser = argparse.ArgumentParser(prog="fastware serve")
    serve.command.configure(parser)
    for action in parser._actions:
        assert action.help, f"{action.option_strings or action.dest} has no help"
    text = parser.format_help()
    for fragment in (
        "HTTP versions to speak",
        "the event loop each worker runs",
        "connections the operating system queues",
        "keep-alive ping",
    ):
        assert fragment in " ".join(text.split())


def test_status_lists_servers_from_the_per_user_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fastware_server.instances import list_servers, record_server

    monkeypatch.setenv("FASTWARE_STATE_DIR", str(tmp_path / "state"))
    elsewhere = tmp_path / "project"
    elsewhere.mkdir()
    pid_file = elsewhere / "app.pid"
    pid_file.write_text(str(os.getpid()))
    registry_dir(pid_file).mkdir()
    (registry_dir(pid_file) / f"{os.getpid()}.json").write_text(
        json.dumps(
            {"pid": os.getpid(), "port": 9, "name": "FASTWARE", "target": "hello:app",
             "start": process_start(os.getpid()), "url": "http://127.0.0.1:9"}
        )
    )  # fmt: skip
    record_server(pid_file, "hello:app", "http://127.0.0.1:9")
    assert [r.pid_file for r in list_servers()] == [str(pid_file)]
    here = tmp_path / "other-dir"
    here.mkdir()
    monkeypatch.chdir(here)
    assert status.command.run(parse(status.command)) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == ["APP", "PID", "URL", "RESPONDING", "PID", "FILE"]
    assert row.split() == ["hello:app", str(os.getpid()), "http://127.0.0.1:9", "no", str(pid_file)]
    assert status.command.run(parse(status.command, "--json")) == 0
    listed = json.loads(capsys.readouterr().out)["servers"]
    assert [(s["app"], s["pid"], s["pid_file"]) for s in listed] == [
        ("hello:app", os.getpid(), str(pid_file))
    ]
    assert listed[0]["healthy"] is None  # no --health-url: not checked
    assert listed[0]["health_url"] is None
    # One PID file, by name: the app, not the server's env prefix.
    assert status.command.run(parse(status.command, "--pid-file", str(pid_file))) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert "APP" in header.split()
    assert "NAME" not in header.split()
    assert "hello:app" in row.split()
    # stop from elsewhere names the server and the command that stops it.
    with pytest.raises(NotRunningError) as caught:
        stop.command.run(parse(stop.command))
    assert f"fastware stop --pid-file {pid_file}" in str(caught.value)
    pid_file.unlink()  # its record is dropped once its PID file is gone
    assert list_servers() == []
    assert status.command.run(parse(status.command)) == 3
    assert "no server is running" in capsys.readouterr().out
