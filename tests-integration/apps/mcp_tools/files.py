"""File tools: one that reads, one that deletes."""

from __future__ import annotations

from pathlib import Path


def read_file(path: str) -> str:
    """Return the text of a file."""
    return Path(path).read_text()


def delete_file(path: str) -> str:
    """Delete a file."""
    Path(path).unlink()
    return f"deleted {path}"


TOOLS = {"read_file": read_file, "delete_file": delete_file}
