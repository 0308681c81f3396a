"""``DevProcess``: own process group, output read line by line, stopped group and all."""

from __future__ import annotations

import io
import signal
import sys
import time
from pathlib import Path

import pytest

from fastware_dev import DevProcess, DevRunError
from fastware_dev.output import Printer
from fastware_dev.processes import group_alive, teardown
from fastware_server.process import is_alive


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def wait_until(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def quiet() -> Printer:
    return Printer(stream=io.StringIO(), color=False)


def test_output_is_prefixed_and_kept_even_when_not_utf8() -> None:
    stream = io.StringIO()
    process = DevProcess(
        "vite",
        python(
            "import sys; sys.stdout.buffer.write(b'ok\\n\\xff\\xfe broken\\nstep 1\\rstep 2\\n')"
        ),
        printer=Printer(["vite", "backend"], stream=stream, color=False),
    )
    process.start()
    wait_until(lambda: not process.is_running())
    process.wait_output()
    assert process.returncode() == 0
    assert process.output() == ["ok", "\ufffd\ufffd broken", "step 2"]
    assert stream.getvalue().splitlines() == [
        "   vite | ok",
        "   vite | \ufffd\ufffd broken",
        "   vite | step 2",
    ]


def test_a_chatty_child_never_blocks_on_a_full_pipe() -> None:
    # 0.6.3 piped Vite's stderr and never read it: 4 MiB of output would hang the child.
    process = DevProcess(
        "vite",
        python("import sys\nfor _ in range(32768): sys.stderr.write('x' * 127 + '\\n')\n"),
        printer=quiet(),
    )
    process.start()
    wait_until(lambda: not process.is_running(), timeout=30)
    assert process.returncode() == 0
    process.wait_output()
    assert process.output()[-1] == "x" * 127


def test_stop_kills_the_whole_group_after_the_grace_period(tmp_path: Path) -> None:
    # The child starts a grandchild that ignores SIGTERM, as npm's children may.
    marker = tmp_path / "grandchild.pid"
    code = (
        "import os, signal, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)'])\n"
        f"open({str(marker)!r}, 'w').write(str(child.pid))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = DevProcess("aux", python(code), printer=quiet(), grace_s=0.5)
    process.start()
    wait_until(lambda: process.output() == ["ready"])
    grandchild = int(marker.read_text())
    assert process.pid is not None
    assert group_alive(process.pid)
    began = time.monotonic()
    process.stop()
    assert time.monotonic() - began < 8
    assert not process.is_running()
    assert not group_alive(process.pid)
    assert not is_alive(grandchild)  # gone, or a zombie nobody reaps in a container


def test_signals_go_to_the_group() -> None:
    process = DevProcess(
        "vite",
        python(
            "import signal, sys, time\n"
            "signal.signal(signal.SIGUSR1, lambda *a: (print('usr1', flush=True), sys.exit(4)))\n"
            "print('ready', flush=True)\ntime.sleep(60)\n"
        ),
        printer=quiet(),
    )
    process.start()
    wait_until(lambda: process.output() == ["ready"])
    process.forward_signal(signal.SIGUSR1)
    wait_until(lambda: not process.is_running())
    assert process.returncode() == 4
    process.wait_output()
    assert process.output()[-1] == "usr1"


def test_a_missing_command_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DevRunError, match="vite: command not found: no-such-vite"):
        DevProcess("vite", ["no-such-vite"], printer=quiet()).start()
    with pytest.raises(DevRunError, match=r"the working directory .* does not exist"):
        DevProcess("vite", ["true"], cwd=tmp_path / "nope", printer=quiet()).start()
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(DevRunError, match="is not executable"):
        DevProcess("aux", [str(script)], printer=quiet()).start()


def test_teardown_stops_in_reverse_order(tmp_path: Path) -> None:
    log = tmp_path / "order"
    code = (
        "import signal, sys, time\n"
        "def bye(*a):\n"
        f"    open({str(log)!r}, 'a').write(sys.argv[1] + '\\n'); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\nprint('ready', flush=True)\ntime.sleep(60)\n"
    )
    started = []
    for name in ("aux", "vite", "backend"):
        process = DevProcess(name, [sys.executable, "-c", code, name], printer=quiet())
        process.start()
        wait_until(lambda p=process: p.output() == ["ready"])
        started.append(process)
    teardown(started, 5.0)
    assert log.read_text().split() == ["backend", "vite", "aux"]
    assert not any(p.is_running() for p in started)


def test_the_printer_aligns_and_colours_only_a_terminal() -> None:
    stream = io.StringIO()
    printer = Printer(["vite", "postgres"], stream=stream, color=False)
    printer.line("vite", "hi")
    printer.say("restarting")
    assert stream.getvalue().splitlines() == ["    vite | hi", "     dev | restarting"]
    coloured = io.StringIO()
    Printer(["vite"], stream=coloured, color=True).line("vite", "hi")
    assert coloured.getvalue().startswith("\x1b[")
