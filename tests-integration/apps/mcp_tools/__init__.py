"""Tool modules for the MCP server of ``mcp_role_server.py``."""
