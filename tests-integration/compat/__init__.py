"""The rest of 0.6.3 (``fastware.logging``, ``fastware.mcp``) against real Granian servers and
a real MCP client. A package so that mypy names its modules ``compat.*``."""
