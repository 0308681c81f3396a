"""Model Context Protocol servers whose tools depend on a role (``fastware.mcp``, the ``mcp``
extra).

    # tools/files.py
    def read_file(path: str) -> str: ...
    def delete_file(path: str) -> None: ...
    TOOLS = {"read_file": read_file, "delete_file": delete_file}

    # server.py
    from fastware.mcp import create_mcp_server
    from tools import files

    ROLES = {"auditor": {"tools": ["read_file"]}, "admin": {"tools": ["read_file", "delete_file"]}}
    server = create_mcp_server("files", role="auditor", tool_modules=[files], roles=ROLES)
    server.run()  # stdio; an MCP client sees read_file only

Works with the ``mcp`` package in the range :data:`SUPPORTED_MCP` (mcp 2, whose server class
is ``mcp.server.mcpserver.MCPServer``; fastware 0.6.3 used mcp 1's ``FastMCP`` and broke on
mcp 2). Importing this module never imports ``mcp``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from typing import Any

from fastware_core import FastwareError, MissingPackageError

__all__ = (
    "SUPPORTED_MCP",
    "MCPUnavailableError",
    "MCPVersionError",
    "check_mcp_version",
    "create_mcp_server",
    "register_tools_for_role",
)

SUPPORTED_MCP = ">=2.0,<3"
"""The versions of the ``mcp`` package this module works with."""

_MCP_AVAILABLE = find_spec("mcp") is not None  # as in 0.6.3: found, not imported
_logger = logging.getLogger("fastware.mcp")

ToolSource = Any
"""A module (or any object) with a ``TOOLS`` dict of name to function, or such a dict."""


class MCPUnavailableError(MissingPackageError, RuntimeError):
    """The ``mcp`` package is not installed (an ``ImportError``, and a ``RuntimeError`` as
    fastware 0.6.3 raised)."""


class MCPVersionError(FastwareError, RuntimeError):
    """The installed ``mcp`` package is outside :data:`SUPPORTED_MCP`."""


def _mcp_server_class() -> Any:
    if not _MCP_AVAILABLE:
        message = (
            "fastware.mcp.create_mcp_server needs the mcp package, which is not installed: "
            "pip install 'fastware[mcp]'"
        )
        error = MCPUnavailableError("mcp", message)
        error.msg = message
        error.args = (message,)
        raise error
    try:
        installed = version("mcp")
    except PackageNotFoundError:
        installed = "unknown"
    check_mcp_version(installed)
    from mcp.server.mcpserver import MCPServer

    return MCPServer


def check_mcp_version(installed: str) -> None:
    """Raise :class:`MCPVersionError` unless ``installed`` is in :data:`SUPPORTED_MCP`.

    Args:
        installed: The installed mcp version (``"2.3.0"``).
    """
    match = re.match(r"\d+", installed)
    if match is None or int(match.group()) != 2:
        raise MCPVersionError(
            f"fastware.mcp supports mcp {SUPPORTED_MCP}, but mcp {installed} is installed: "
            f"pip install 'mcp{SUPPORTED_MCP}' (or 'fastware[mcp]')"
        )


def _tools_of(source: ToolSource) -> Mapping[str, Callable[..., Any]]:
    if isinstance(source, Mapping):
        return source
    tools = getattr(source, "TOOLS", None)
    if not isinstance(tools, Mapping):
        name = getattr(source, "__name__", repr(source))
        raise TypeError(f"tool module {name} has no TOOLS dict of tool name to function")
    return tools


def register_tools_for_role(
    server: Any,
    role: str,
    tool_modules: Iterable[ToolSource],
    *,
    roles: Mapping[str, Mapping[str, Any]],
    default_role: str | None = None,
) -> dict[str, Callable[..., Any]]:
    """Add to ``server`` the tools that ``role`` may use.

    Args:
        server: The MCP server (anything with ``add_tool(fn, name=...)``).
        role: The role; an unknown one falls back to ``default_role``.
        tool_modules: Modules (or objects) with a ``TOOLS`` dict of name to function, or
            such dicts; where two provide one name, the first wins.
        roles: Role name to its config; ``config["tools"]`` lists the tool names allowed.
        default_role: The role used when ``role`` is not in ``roles``.

    Returns:
        The tools registered, by name.

    Raises:
        KeyError: ``role`` is unknown and there is no (known) ``default_role``.
        TypeError: a tool module has no ``TOOLS`` dict.
    """
    if role in roles:
        config = roles[role]
    elif default_role is None:
        raise KeyError(f"Unknown role {role!r}; known roles: {', '.join(sorted(roles))}")
    elif default_role in roles:
        config = roles[default_role]
    else:
        raise KeyError(f"Unknown role {role!r}, and the default role {default_role!r} is unknown")
    allowed = list(config["tools"])
    sources = [_tools_of(module) for module in tool_modules]
    registered: dict[str, Callable[..., Any]] = {}
    for name in allowed:
        function = next((tools[name] for tools in sources if name in tools), None)
        if function is None:
            _logger.warning("role %r allows the tool %r, which no tool module provides", role, name)
            continue
        if name not in registered:
            server.add_tool(function, name=name)
            registered[name] = function
    return registered


def create_mcp_server(
    name: str = "fastware-agent",
    *,
    role: str | None = None,
    tool_modules: Iterable[ToolSource] | None = None,
    roles: Mapping[str, Mapping[str, Any]] | None = None,
    default_role: str | None = None,
) -> Any:
    """An ``mcp.server.mcpserver.MCPServer`` with the tools of ``role`` registered.

    Args:
        name: The server's name, shown to clients.
        role: The role whose tools to register (``default_role`` when ``None``).
        tool_modules: Where the tools come from (see :func:`register_tools_for_role`);
            ``None`` for a server with no tools yet (add them with ``@server.tool()``).
        roles: Role name to config (``{"tools": [...]}``); needed with ``tool_modules``.
        default_role: The role used when ``role`` is ``None`` or unknown.

    Raises:
        MCPUnavailableError: mcp is not installed (``pip install 'fastware[mcp]'``).
        MCPVersionError: the installed mcp is outside :data:`SUPPORTED_MCP`.
        ValueError: ``tool_modules`` without ``roles``, or without ``role``/``default_role``.
        KeyError: the role is unknown (see :func:`register_tools_for_role`).
    """
    server_class = _mcp_server_class()
    modules = list(tool_modules) if tool_modules is not None else None
    if modules is not None:
        if roles is None:
            raise ValueError("create_mcp_server: tool_modules needs roles as well")
        if role is None and default_role is None:
            raise ValueError("create_mcp_server: tool_modules needs a role or a default_role")
    server = server_class(name)
    if modules is not None and roles is not None:
        chosen = role if role is not None else default_role
        assert chosen is not None
        register_tools_for_role(server, chosen, modules, roles=roles, default_role=default_role)
    return server
