"""``--mcp-config FILE`` for the commands that make a client, and the helpers behind it.

Any command module can offer MCP tools the same way::

    from agent_rt.mcp.cli import add_mcp_argument, mcp_config_from_args

    add_mcp_argument(parser)                          # --mcp-config FILE (default: AGENT_RT_MCP_CONFIG)
    client = RealtimeClient(..., mcp_servers=mcp_config_from_args(args))

or, without a client, :func:`running_mcp_servers` around a :class:`~agent_rt.tools.ToolRegistry`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import AsyncIterator, Callable, Collection
from typing import TYPE_CHECKING

from .config import ENV_VAR, McpServerConfig, load_mcp_config

if TYPE_CHECKING:
    from ..tools import ToolRegistry
    from .servers import McpServers, ToolsChanged

__all__ = ["add_mcp_argument", "format_mcp_report", "mcp_config_from_args", "running_mcp_servers"]


def add_mcp_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--mcp-config FILE`` to a command's parser."""
    parser.add_argument(
        "--mcp-config",
        metavar="FILE",
        help=f"MCP servers whose tools the agent may call (mcpServers JSON; default: ${ENV_VAR})",
    )


def mcp_config_from_args(args: argparse.Namespace) -> list[McpServerConfig]:
    """The servers of ``--mcp-config`` (or of ``AGENT_RT_MCP_CONFIG``); ``[]`` when neither is set.

    Raises :class:`~agent_rt.mcp.McpConfigError` for a file that can't be read or is invalid.
    """
    return load_mcp_config(getattr(args, "mcp_config", None))


@contextlib.asynccontextmanager
async def running_mcp_servers(
    configs: list[McpServerConfig],
    registry: ToolRegistry,
    *,
    reserved_names: Callable[[], Collection[str]] = tuple,
    on_tools_changed: ToolsChanged | None = None,
    report: bool = True,
) -> AsyncIterator[McpServers]:
    """Run the servers (their tools in ``registry``) for the duration of the block.

    With ``report``, servers that failed to start are named on stderr, one line each.
    """
    from .servers import McpServers

    async with McpServers(
        configs, registry, reserved_names=reserved_names, on_tools_changed=on_tools_changed
    ) as servers:
        if report:
            for name, error in servers.failures.items():
                print(f"agent-rt: MCP server {name!r} not available: {error}", file=sys.stderr, flush=True)
        yield servers


def format_mcp_report(servers: McpServers) -> str:
    """One line per server: its transport and tools, or why it failed."""
    lines: list[str] = []
    for config in servers.configs:
        where = f"{config.transport}: {config.describe()}"
        if servers.state(config.name) == "failed":
            lines.append(f"MCP server {config.name} [{where}]: error: {servers.failures[config.name]}")
        else:
            tools = ", ".join(servers.tool_names(config.name)) or "(no tools)"
            lines.append(f"MCP server {config.name} [{where}]: {tools}")
    return "\n".join(lines)
