"""An MCP server over stdio whose tools depend on the role in ``$MCP_ROLE``."""

from __future__ import annotations

import os

from mcp_tools import files, users

from fastware.mcp import create_mcp_server

ROLES = {
    "auditor": {"tools": ["read_file", "list_users"]},
    "admin": {"tools": ["read_file", "delete_file", "list_users"]},
}

server = create_mcp_server(
    "fastware-files",
    role=os.environ.get("MCP_ROLE"),
    tool_modules=[files, users],
    roles=ROLES,
    default_role="auditor",
)

if __name__ == "__main__":
    server.run("stdio")
