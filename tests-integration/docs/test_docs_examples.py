"""Every code block of the docs that is a complete program runs, and every example that
serves is requested (see docs/contributing.md, "Code blocks in the docs run").

One test per Markdown page, found by :func:`docs.collect.collect_pages`, so a new page is
covered without touching this file. A page's blocks run in order in one fresh directory:

- each complete program runs in a fresh interpreter; when it defines a module-level ``app``,
  every GET route without parameters is requested through both doors (ASGI and RSGI) and
  must not answer 5xx (``python expect-5xx``: an example that fails on purpose);
- a ``title="name.py"`` block is saved under that name first (later blocks import it) and
  must pass ``mypy --strict``; a ``test_*.py`` one runs under pytest; a titled block of
  another language (``toml title="config.toml"``) is saved as a data file for later blocks;
- a ``console`` block's ``fastware`` commands (``serve`` on a free port, in the background),
  ``curl`` and ``pytest`` lines run, and their output must be the output shown (``...``
  stands for any text within a line). ``curl -N`` streams in the background; its output is
  compared when the page is done.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from docs.collect import ROOT, Block, Command, Page, collect_pages

PAGES = collect_pages()
FASTWARE = str(Path(sys.executable).parent / "fastware")
RUN_TIMEOUT = 60.0
DEFAULT_ADDRESSES = ("http://127.0.0.1:8000", "http://localhost:8000")
# Commands a console block shows the reader but the collector does not run: installing,
# moving around, starting shells, the repository's own scripts.
NOT_RUN = {
    "pip",
    "uv",
    "cd",
    "source",
    "export",
    "mkdir",
    "python",
    "python3",
    "git",
    "scripts/demo",
}

# Run in a fresh interpreter: the program as a module (not as __main__, so a
# `if __name__ == "__main__": serve(...)` does not block), then GET every route without
# parameters through both doors.
SMOKE = textwrap.dedent(
    """
    import runpy, sys

    namespace = runpy.run_path(sys.argv[1], run_name="docs_example")
    app = namespace.get("app")
    router = getattr(app, "router", None)
    if app is not None and callable(getattr(router, "compile", None)):
        from fastware_core.testing import TestClient

        paths = sorted(
            {
                entry.path
                for entry in router.compile().entries
                if entry.method == "GET" and all(s.converter is None for s in entry.segments)
            }
        )
        doors = ["asgi", "rsgi"] if hasattr(app, "__rsgi__") else ["asgi"]
        for door in doors:
            allow_5xx = "--allow-5xx" in sys.argv
            with TestClient(app, door=door, raise_server_exceptions=not allow_5xx) as client:
                for path in paths:
                    with client.stream("GET", path) as response:
                        status = response.status_code
                    if status >= 500 and not allow_5xx:
                        raise SystemExit(f"GET {path} through {door}: {status}")
        print(f"docs-smoke: {len(paths)} GET route(s) through {', '.join(doors)}")
    """
)


def env_for(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTWARE")}
    return {
        **env,
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "FASTWARE_STATE_DIR": str(workdir / ".state"),
        # The docs read secrets from the environment, as apps should.
        "JWT_SECRET": "docs-example-secret-docs-example-secret-0123456789",
        "SESSION_SECRET": "docs-session-secret-docs-session-secret-0123456789",
    }


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def matches(expected: list[str], actual: str) -> bool:
    """Whether ``actual`` is the output shown, line by line (``...`` is any text; runs of
    spaces count as one, so tables may be aligned for other widths)."""
    lines = [" ".join(line.split()) for line in actual.strip("\n").splitlines()]
    wanted = [" ".join(line.split()) for line in expected]
    if len(lines) != len(wanted):
        return False
    for want, line in zip(wanted, lines, strict=True):
        pattern = ".*".join(re.escape(part) for part in want.split("..."))
        if re.fullmatch(pattern, line) is None:
            return False
    return True


@dataclass
class Stream:
    command: Command
    where: str
    process: subprocess.Popen[bytes]
    output: Path


@dataclass
class PageRun:
    """Runs one page's blocks in ``workdir``; collects every failure."""

    page: Page
    workdir: Path
    failures: list[str] = field(default_factory=list)
    port: int | None = None
    servers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    pid_files: list[Path] = field(default_factory=list)
    streams: list[Stream] = field(default_factory=list)
    program: str | None = None

    def fail(self, block: Block, message: str) -> None:
        self.failures.append(f"{block.where}: {message}")

    def run(self) -> None:
        for block in self.page.blocks:
            if block.language == "python":
                self.python(block)
            elif block.language == "console":
                self.console(block)
            elif block.title is not None and "fragment" not in block.words:
                self.save(block, block.title)
        self.finish_streams()

    def save(self, block: Block, title: str) -> None:
        """A titled block of another language (``toml title="config.toml"``): a data file
        the reader saves, written for the blocks after it."""
        path = self.workdir / title
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(block.body)

    # -- python blocks ---------------------------------------------------------------------

    def python(self, block: Block) -> None:
        unknown = block.words - {"fragment", "continued", "expect-5xx"}
        if unknown:
            self.fail(block, f"unknown word(s) in the info string: {', '.join(sorted(unknown))}")
            return
        if not block.runs:
            return
        if "continued" in block.words:
            if self.program is None:
                self.fail(block, "'continued' but no earlier program on this page")
                return
            code = self.program + "\n" + block.body
        else:
            code = block.body
        self.program = code
        if block.title is not None:
            path = self.workdir / block.title
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(code)
            self.typecheck(block, path)
            if path.name.startswith("test_"):
                self.pytest(block, [str(path.relative_to(self.workdir))])
                return
        else:
            path = self.workdir / f"_docs_block_line_{block.line}.py"
            path.write_text(code)
        allow = ["--allow-5xx"] if "expect-5xx" in block.words else []
        self.execute(block, [sys.executable, "-c", SMOKE, str(path), *allow])

    def execute(self, block: Block, argv: list[str]) -> subprocess.CompletedProcess[str] | None:
        try:
            result = subprocess.run(
                argv,
                cwd=self.workdir,
                env=env_for(self.workdir),
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            self.fail(block, f"did not finish within {RUN_TIMEOUT:g} s")
            return None
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-15:]
            self.fail(block, f"exit {result.returncode}:\n    " + "\n    ".join(tail))
        return result

    def pytest(self, block: Block, args: list[str]) -> subprocess.CompletedProcess[str] | None:
        return self.execute(
            block, [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
        )

    def typecheck(self, block: Block, path: Path) -> None:
        """A file the reader saves passes ``mypy --strict`` (with the files saved before)."""
        name = str(path.relative_to(self.workdir))
        result = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--no-incremental", name],
            cwd=self.workdir,
            env=env_for(self.workdir),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )  # fmt: skip
        if result.returncode != 0:
            self.fail(block, f"mypy --strict {name}:\n{result.stdout}")

    # -- console blocks --------------------------------------------------------------------

    def console(self, block: Block) -> None:
        if "fragment" in block.words:
            return
        for command in block.commands:
            if not command.argv:
                continue
            name = command.argv[0]
            if name in NOT_RUN or Path(name).name in NOT_RUN:
                continue
            if Path(name).name == "fastware" and command.argv[1:2] == ["serve"]:
                self.serve(block, command)
            elif Path(name).name in ("fastware", "curl", "pytest"):
                self.check(block, command)
            else:
                self.fail(block, f"the collector does not know how to run {command.text!r}")

    def unport(self, text: str) -> str:
        """Output as it reads with the default port the docs show."""
        if self.port is None:
            return text
        return text.replace(f"127.0.0.1:{self.port}", "127.0.0.1:8000")

    def address(self, text: str) -> str:
        if self.port is None:
            return text
        for default in DEFAULT_ADDRESSES:
            text = text.replace(default, f"http://127.0.0.1:{self.port}")
        return text

    def stop_servers(self) -> None:
        """What the reader's Ctrl-C does to the server in terminal 1."""
        for process in self.servers:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGINT)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(5)

    def serve(self, block: Block, command: Command) -> None:
        self.stop_servers()
        self.port = free_port()
        argv = [FASTWARE, *command.argv[1:], "--port", str(self.port)]
        if "--daemon" in argv:
            result = self.execute(block, argv)
            if result is not None:
                self.pid_files.append(self.workdir / ".fastware.pid")
                self.compare(block, command, self.unport(result.stdout))
            return
        log = self.workdir / f"serve-{block.line}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                argv,
                cwd=self.workdir,
                env=env_for(self.workdir),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.servers.append(process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            self.fail(block, f"{command.text!r} did not serve:\n{log.read_text()[-2000:]}")

    def check(self, block: Block, command: Command) -> None:
        argv = [self.address(arg) for arg in command.argv]
        if Path(argv[0]).name == "fastware":
            argv[0] = FASTWARE
        elif argv[0] == "pytest":
            argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *argv[1:]]
        elif argv[0] == "curl" and "-N" in argv:
            output = self.workdir / f"stream-{block.line}-{len(self.streams)}.out"
            with output.open("wb") as out:
                process = subprocess.Popen(
                    argv, cwd=self.workdir, stdout=out, stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )  # fmt: skip
            self.streams.append(Stream(command, block.where, process, output))
            time.sleep(0.5)  # connected before the next command sends anything
            return
        result = self.execute(block, argv)
        if result is not None:
            self.compare(block, command, self.unport(result.stdout))

    def compare(self, block: Block, command: Command, actual: str) -> None:
        if not matches(command.output, actual):
            shown = "\n      ".join(command.output) or "(nothing)"
            got = "\n      ".join(actual.strip("\n").splitlines()) or "(nothing)"
            self.fail(block, f"{command.text!r}\n    shown:\n      {shown}\n    got:\n      {got}")

    def finish_streams(self) -> None:
        time.sleep(0.5 if self.streams else 0)
        for stream in self.streams:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(stream.process.pid, signal.SIGTERM)
            stream.process.wait(10)
            actual = stream.output.read_text()
            if not matches(stream.command.output, actual):
                shown = "\n      ".join(stream.command.output)
                got = "\n      ".join(actual.strip("\n").splitlines()) or "(nothing)"
                self.failures.append(
                    f"{stream.where}: {stream.command.text!r} (streamed)\n    shown:\n      "
                    f"{shown}\n    got:\n      {got}"
                )

    def cleanup(self) -> None:
        for pid_file in self.pid_files:
            if pid_file.exists():
                subprocess.run(
                    [FASTWARE, "stop", "--pid-file", str(pid_file), "--grace", "2"],
                    cwd=self.workdir, env=env_for(self.workdir), capture_output=True,
                    check=False, timeout=30,
                )  # fmt: skip
        for process in [*self.servers, *(s.process for s in self.streams)]:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(5)


@pytest.fixture
def page_run(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PageRun]:
    page: Page = request.param
    runner = PageRun(page, tmp_path)
    try:
        yield runner
    finally:
        runner.cleanup()


@pytest.mark.parametrize("page_run", PAGES, ids=[page.name for page in PAGES], indirect=True)
def test_the_code_blocks_of_the_page_run(page_run: PageRun) -> None:
    page_run.run()
    assert not page_run.failures, "\n".join(page_run.failures)


def test_every_page_is_collected() -> None:
    names = {page.name for page in PAGES}
    assert {"README.md", "docs/getting-started.md"} <= names
    assert {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")} <= names
    assert any(block.runs for page in PAGES for block in page.blocks)


def test_the_getting_started_page_serves_and_checks_its_output() -> None:
    page = next(page for page in PAGES if page.name == "docs/getting-started.md")
    titles = {block.title for block in page.blocks if block.runs}
    assert {"app.py", "test_app.py"} <= titles
    commands = [c.argv[0:2] for b in page.blocks if b.language == "console" for c in b.commands]
    assert ["fastware", "serve"] in commands
    assert any(c[0] == "curl" for c in commands)


def test_package_readmes_work_on_a_package_index_page() -> None:
    """A package's README is its page on the index: no links relative to this repository,
    and no placeholder text."""
    for readme in sorted((ROOT / "packages").glob("*/README.md")):
        text = readme.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)", text):
            assert target.startswith(("https://", "http://")), f"{readme}: link to {target}"
        assert "placeholder" not in text.lower(), readme
        assert any(block.runs for block in collect_pages_of(readme)), f"{readme}: no example"


def collect_pages_of(readme: Path) -> list[Block]:
    return next(page.blocks for page in PAGES if page.path == readme)
