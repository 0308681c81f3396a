from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

import pytest

from fastware_server import NotRunningError
from fastware_server.commands import serve, status, stop
from fastware_server.process import process_start
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
