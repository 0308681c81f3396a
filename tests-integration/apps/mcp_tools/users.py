"""User tools."""

from __future__ import annotations


def list_users() -> list[str]:
    """The names of the users."""
    return ["ada", "grace"]


TOOLS = {"list_users": list_users}
