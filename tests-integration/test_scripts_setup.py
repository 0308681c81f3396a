"""scripts/test sets up what it needs (scripts/lib.sh: ensure_system_packages) and
scripts/demo tells a new shell where things are.

The machine running this has the Debian packages already, so the "missing" cases run the
function with a PATH holding only stand-ins: an ``id`` that answers the user id asked for and,
where the case needs one, an ``apt-get`` that records what it was asked to do.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "scripts" / "lib.sh"
BASH = shutil.which("bash") or "/bin/bash"


def executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def run_ensure(
    bin_dir: Path, *, extra: str = "", log_dir: Path | None = None
) -> subprocess.CompletedProcess[str]:
    script = f"""
        source {LIB}
        {f'LOG_DIR="{log_dir}"' if log_dir else ""}
        export PATH="{bin_dir}"
        {extra}
        ensure_system_packages
    """
    return subprocess.run(
        [BASH, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        # Only the stand-ins are on PATH, for the script and everything it starts.
        env={"HOME": os.environ.get("HOME", "/root"), "PATH": str(bin_dir)},
    )


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    for tool in ("dirname", "mkdir"):
        found = shutil.which(tool)
        assert found is not None
        (directory / tool).symlink_to(found)
    return directory


def test_nothing_to_do_when_every_command_is_there(bin_dir: Path) -> None:
    for command in ("chromium", "openssl", "redis-server", "node", "npm"):
        executable(bin_dir / command, "#!/bin/sh\n")
    executable(bin_dir / "id", "#!/bin/sh\necho 1000\n")
    result = run_ensure(bin_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout == result.stderr == ""


def test_not_root_says_the_command_to_run_in_one_line(bin_dir: Path) -> None:
    executable(bin_dir / "id", "#!/bin/sh\necho 1000\n")
    executable(bin_dir / "apt-get", "#!/bin/sh\nexit 99\n")
    executable(bin_dir / "redis-server", "#!/bin/sh\n")
    result = run_ensure(bin_dir)
    assert result.returncode == 1
    assert result.stdout == (
        "FAIL system-packages: chromium openssl nodejs npm missing and installing needs "
        "root; run: sudo apt-get install -y chromium openssl nodejs npm\n"
    )


def test_no_apt_get_says_so(bin_dir: Path) -> None:
    executable(bin_dir / "id", "#!/bin/sh\necho 0\n")
    result = run_ensure(bin_dir)
    assert result.returncode == 1
    assert result.stdout.startswith(
        "FAIL system-packages: chromium openssl redis-server nodejs npm missing and there is "
        "no apt-get here"
    )
    assert result.stdout.count("\n") == 1


def test_as_root_it_installs_the_missing_packages_with_apt_get(
    bin_dir: Path, tmp_path: Path
) -> None:
    calls = tmp_path / "apt-calls"
    executable(bin_dir / "id", "#!/bin/sh\necho 0\n")
    executable(
        bin_dir / "apt-get",
        f'#!/bin/sh\necho "$DEBIAN_FRONTEND $*" >> {calls}\n',
    )
    for command in ("chromium", "node", "npm"):
        executable(bin_dir / command, "#!/bin/sh\n")
    result = run_ensure(bin_dir, log_dir=tmp_path / "logs")
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "installing openssl redis-server with apt-get" in result.stderr
    assert calls.read_text().splitlines() == [
        "noninteractive update -qq",
        "noninteractive install -y -qq openssl redis-server",
    ]


def test_a_failing_install_points_at_its_log(bin_dir: Path, tmp_path: Path) -> None:
    executable(bin_dir / "id", "#!/bin/sh\necho 0\n")
    executable(bin_dir / "apt-get", "#!/bin/sh\necho 'E: no network' >&2\nexit 100\n")
    result = run_ensure(bin_dir, log_dir=tmp_path / "logs")
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL system-packages: apt-get install chromium")
    assert "E: no network" in (tmp_path / "logs" / "system-packages.log").read_text()


def test_ci_run_leaves_the_setup_to_scripts_test() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "apt-get" not in ci
    assert "exec ./scripts/test" in ci
    assert "ensure_system_packages" in (ROOT / "scripts" / "test").read_text()


def test_where_commands_are_names_uv_when_the_shell_would_not_find_it(tmp_path: Path) -> None:
    uv_dir = tmp_path / "uv-home"
    uv_dir.mkdir()
    executable(uv_dir / "uv", "#!/bin/sh\n")
    script = f"""
        PATH="/usr/bin:/bin"
        source {LIB}
        PATH="{uv_dir}:$PATH"
        where_commands_are
    """
    result = subprocess.run(
        [BASH, "-c", script], capture_output=True, text=True, check=True, env={"HOME": "/x"}
    )
    lines = result.stdout.splitlines()
    assert (
        lines[0]
        == f"  the fastware command: {ROOT}/.venv/bin/fastware (or 'uv run fastware' in {ROOT})"
    )
    assert lines[1] == (
        f'  uv is {uv_dir}/uv, not on your PATH; add it with: export PATH="{uv_dir}:$PATH"'
    )
