"""Finds the code blocks of README.md, docs/*.md and packages/*/README.md, and what to do
with each (the conventions are in docs/contributing.md, "Code blocks in the docs run").

- ```` ```python ```` is a complete program: it runs.
- ```` ```python fragment ```` is a piece of a larger program: it is not run.
- ```` ```python continued ```` continues the page's previous program: the two run as one.
- ```` ```python title="app.py" ```` is a file the reader saves under that name; it runs, and
  later blocks of the page can import it. A ``test_*.py`` title runs under pytest.
- ```` ```toml title="config.toml" ```` (any other language with a title) is a data file the
  reader saves: it is written under that name for the blocks after it.
- ```` ```console ```` shows commands after ``$ `` and their output below them. The
  collector runs ``fastware serve`` (in the background, on a free port) and ``curl`` lines
  and compares the output; other commands (installing, ``cd``) are instructions only.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ("Block", "Command", "Page", "collect_pages", "parse_page")

ROOT = Path(__file__).resolve().parents[2]
_FENCE = re.compile(
    r"^(?P<fence>```+|~~~+)(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.M | re.S
)
_TITLE = re.compile(r'title="(?P<title>[^"]+)"')
KNOWN_WORDS = {"fragment", "continued", "expect-5xx"}


@dataclass
class Command:
    """One ``$ command`` of a console block and the output shown below it."""

    argv: list[str]
    """The command, split as a shell would."""
    text: str
    """The command as written."""
    output: list[str]
    """The lines shown below it, up to the next command."""


@dataclass
class Block:
    """One fenced code block."""

    page: Path
    """The Markdown file."""
    line: int
    """The line of its opening fence (1-based)."""
    language: str
    """The first word of the info string (``python``, ``console``, ``sh``...)."""
    words: set[str]
    """The other words of the info string (``fragment``, ``continued``)."""
    title: str | None
    """The file name given with ``title="..."``."""
    body: str
    """The code."""
    commands: list[Command] = field(default_factory=list)
    """For a console block: its commands."""

    @property
    def where(self) -> str:
        """``docs/page.md:12``."""
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def runs(self) -> bool:
        """Whether this is a complete program (or a file) the collector runs."""
        return self.language == "python" and "fragment" not in self.words


@dataclass
class Page:
    """A Markdown page and its code blocks, in order."""

    path: Path
    blocks: list[Block]

    @property
    def name(self) -> str:
        """The path relative to the repository."""
        return str(self.path.relative_to(ROOT))


def _commands(body: str) -> list[Command]:
    commands: list[Command] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            text = line[2:].strip()
            commands.append(Command(shlex.split(text, comments=True), text, []))
        elif commands:
            commands[-1].output.append(line)
    for command in commands:
        while command.output and not command.output[-1].strip():
            command.output.pop()
    return commands


def parse_page(path: Path) -> Page:
    """The code blocks of one Markdown file."""
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in _FENCE.finditer(text):
        info = match["info"].strip()
        language, _, rest = info.partition(" ")
        title_match = _TITLE.search(rest)
        words = set(_TITLE.sub("", rest).split())
        block = Block(
            page=path,
            line=text.count("\n", 0, match.start()) + 1,
            language=language.lower(),
            words=words,
            title=title_match["title"] if title_match else None,
            body=match["body"],
        )
        if block.language == "console":
            block.commands = _commands(block.body)
        blocks.append(block)
    return Page(path, blocks)


def collect_pages(root: Path = ROOT) -> list[Page]:
    """README.md, every docs/*.md and every packages/*/README.md, in that order."""
    paths = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    paths += sorted((root / "packages").glob("*/README.md"))
    return [parse_page(path) for path in paths if path.is_file()]
