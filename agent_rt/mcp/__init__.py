"""MCP servers as agent_rt tools (``pip install "agentrt[mcp]"``, the official ``mcp`` SDK 2.x).

Point agent_rt at the ``mcpServers`` configuration other MCP clients use and the servers' tools
are registered like any tool: validated with their ``inputSchema``, timed, and answered by the
client itself. See ``docs/mcp.md``.

The configuration parsing and result conversion need no SDK; :class:`McpServers` imports it when
a server starts.
"""

from __future__ import annotations

from .config import (
    ENV_VAR,
    McpConfigError,
    McpServerConfig,
    McpServersSource,
    load_mcp_config,
    parse_mcp_config,
)
from .content import describe_tool, function_name, result_error_text, result_value
from .servers import DEFAULT_START_TIMEOUT, McpServerError, McpServers, McpToolError

__all__ = [
    "DEFAULT_START_TIMEOUT",
    "ENV_VAR",
    "McpConfigError",
    "McpServerConfig",
    "McpServerError",
    "McpServers",
    "McpServersSource",
    "McpToolError",
    "describe_tool",
    "function_name",
    "load_mcp_config",
    "parse_mcp_config",
    "result_error_text",
    "result_value",
]
