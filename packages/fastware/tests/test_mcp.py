"""``fastware.mcp``: role-based tool registration on the real mcp package."""

from __future__ import annotations

import logging
import subprocess
import sys
import types
from typing import Any

import mcp
import pytest

import fastware.mcp as fmcp
from fastware.mcp import (
    SUPPORTED_MCP,
    MCPUnavailableError,
    MCPVersionError,
    check_mcp_version,
    create_mcp_server,
    register_tools_for_role,
)


def read_file(path: str) -> str:
    """Read a file."""
    return f"contents of {path}"


def delete_file(path: str) -> str:
    """Delete a file."""
    return f"deleted {path}"


def list_users() -> list[str]:
    """List the users."""
    return ["ada", "grace"]


files = types.ModuleType("files")
files.TOOLS = {"read_file": read_file, "delete_file": delete_file}  # type: ignore[attr-defined]
users = types.ModuleType("users")
users.TOOLS = {"list_users": list_users}  # type: ignore[attr-defined]

ROLES: dict[str, dict[str, Any]] = {
    "auditor": {"tools": ["read_file", "list_users"]},
    "admin": {"tools": ["read_file", "delete_file", "list_users"]},
}


async def tool_names(server: Any) -> set[str]:
    return {tool.name for tool in await server.list_tools()}


@pytest.mark.anyio
async def test_a_role_gets_exactly_its_tools() -> None:
    auditor = create_mcp_server("files", role="auditor", tool_modules=[files, users], roles=ROLES)
    admin = create_mcp_server("files", role="admin", tool_modules=[files, users], roles=ROLES)
    assert isinstance(auditor, mcp.server.MCPServer)
    assert await tool_names(auditor) == {"read_file", "list_users"}
    assert await tool_names(admin) == {"read_file", "delete_file", "list_users"}


@pytest.mark.anyio
async def test_registered_tools_can_be_called_by_a_client() -> None:
    server = create_mcp_server(role="auditor", tool_modules=[files, users], roles=ROLES)
    async with mcp.Client(server) as client:
        result = await client.call_tool("read_file", {"path": "/etc/motd"})
        refused = await client.call_tool("delete_file", {"path": "/etc/motd"})
    assert result.content[0].text == "contents of /etc/motd"  # type: ignore[union-attr]
    assert refused.is_error


@pytest.mark.anyio
async def test_an_unknown_role_falls_back_to_the_default() -> None:
    server = create_mcp_server(
        role="intern", tool_modules=[files], roles=ROLES, default_role="auditor"
    )
    assert await tool_names(server) == {"read_file"}
    by_default = create_mcp_server(tool_modules=[files], roles=ROLES, default_role="admin")
    assert await tool_names(by_default) == {"read_file", "delete_file"}


def test_unknown_roles_and_missing_arguments() -> None:
    with pytest.raises(KeyError, match="Unknown role 'intern'; known roles: admin, auditor"):
        create_mcp_server(role="intern", tool_modules=[files], roles=ROLES)
    with pytest.raises(KeyError, match="the default role 'nobody' is unknown"):
        create_mcp_server(role="intern", tool_modules=[files], roles=ROLES, default_role="nobody")
    with pytest.raises(ValueError, match="tool_modules needs roles"):
        create_mcp_server(role="admin", tool_modules=[files])
    with pytest.raises(ValueError, match="needs a role or a default_role"):
        create_mcp_server(tool_modules=[files], roles=ROLES)
    with pytest.raises(TypeError, match="tool module empty has no TOOLS dict"):
        create_mcp_server(role="admin", tool_modules=[types.ModuleType("empty")], roles=ROLES)


@pytest.mark.anyio
async def test_a_server_without_tool_modules_takes_tools_later() -> None:
    server = create_mcp_server("plain")
    assert await tool_names(server) == set()

    def ping() -> str:
        return "pong"

    server.add_tool(ping)
    assert await tool_names(server) == {"ping"}


class RecordingServer:
    def __init__(self) -> None:
        self.added: list[tuple[str, Any]] = []

    def add_tool(self, fn: Any, name: str) -> None:
        self.added.append((name, fn))


def test_register_tools_warns_about_tools_no_module_provides(
    caplog: pytest.LogCaptureFixture,
) -> None:
    other = {"read_file": list_users}  # a plain dict works as a tool module; first one wins
    server = RecordingServer()
    with caplog.at_level(logging.WARNING, logger="fastware.mcp"):
        registered = register_tools_for_role(
            server, "ops", [files, other], roles={"ops": {"tools": ["read_file", "reboot"]}}
        )
    assert registered == {"read_file": read_file}
    assert server.added == [("read_file", read_file)]
    assert "role 'ops' allows the tool 'reboot', which no tool module provides" in caplog.text


def test_only_mcp_2_is_supported() -> None:
    assert SUPPORTED_MCP == ">=2.0,<3"
    check_mcp_version("2.0.0")
    check_mcp_version("2.3.0")
    for other in ("1.26.0", "3.0.0", "unknown"):
        with pytest.raises(MCPVersionError) as caught:
            check_mcp_version(other)
        assert str(caught.value) == (
            f"fastware.mcp supports mcp >=2.0,<3, but mcp {other} is installed: "
            "pip install 'mcp>=2.0,<3' (or 'fastware[mcp]')"
        )
        assert isinstance(caught.value, RuntimeError)


def test_an_mcp_1_install_is_refused_before_importing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fmcp, "version", lambda name: "1.26.0")
    with pytest.raises(MCPVersionError, match=r"but mcp 1\.26\.0 is installed"):
        create_mcp_server(role="admin", tool_modules=[files], roles=ROLES)


def _run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout


def test_importing_the_module_does_not_import_mcp() -> None:
    out = _run("import sys, fastware.mcp as m\nprint(m._MCP_AVAILABLE, 'mcp' in sys.modules)")
    assert out.split() == ["True", "False"]


def test_without_mcp_the_error_names_the_extra() -> None:
    out = _run(
        "import sys\n"
        "sys.modules['mcp'] = None  # as if mcp were not installed\n"
        "from fastware.mcp import create_mcp_server, MCPUnavailableError\n"
        "try:\n"
        "    create_mcp_server()\n"
        "except MCPUnavailableError as exc:\n"
        "    assert isinstance(exc, RuntimeError) and isinstance(exc, ImportError)\n"
        "    print(exc)\n"
    )
    assert out.strip() == (
        "fastware.mcp.create_mcp_server needs the mcp package, which is not installed: "
        "pip install 'fastware[mcp]'"
    )
    assert issubclass(MCPUnavailableError, RuntimeError)
