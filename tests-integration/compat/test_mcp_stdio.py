"""``fastware.mcp`` with the real mcp package: a server process over stdio, a real client."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import mcp
import pytest
from support.granian import APPS_DIR


def _params(role: str | None) -> mcp.StdioServerParameters:
    env = {"PYTHONPATH": str(APPS_DIR)}
    if role is not None:
        env["MCP_ROLE"] = role
    return mcp.StdioServerParameters(
        command=sys.executable, args=[str(APPS_DIR / "mcp_role_server.py")], env=env
    )


async def _tools(role: str | None) -> set[str]:
    with anyio.fail_after(30):
        async with mcp.Client(_params(role)) as client:
            listing = await client.list_tools()
    return {tool.name for tool in listing.tools}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("auditor", {"read_file", "list_users"}),
        ("admin", {"read_file", "delete_file", "list_users"}),
        ("intern", {"read_file", "list_users"}),  # unknown: the default role
        (None, {"read_file", "list_users"}),
    ],
)
async def test_a_client_lists_the_tools_of_the_servers_role(
    role: str | None, expected: set[str]
) -> None:
    assert await _tools(role) == expected


@pytest.mark.anyio
async def test_tools_run_in_the_server_and_others_are_refused(tmp_path: Path) -> None:
    target = tmp_path / "note.txt"
    target.write_text("hello from the file")
    with anyio.fail_after(30):
        async with mcp.Client(_params("auditor")) as client:
            read = await client.call_tool("read_file", {"path": str(target)})
            refused = await client.call_tool("delete_file", {"path": str(target)})
    assert not read.is_error
    assert read.content[0].text == "hello from the file"  # type: ignore[union-attr]
    assert refused.is_error
    assert target.exists()
