"""The relay's MCP servers: started with the app's lifespan, shared by every session of the process.

``create_relay_app(mcp_servers=...)`` takes the configurations :class:`~agent_rt.RealtimeClient`
takes. The servers run as :class:`~agent_rt.mcp.McpServers` (the client's code, not a second
adapter) in the lifespan's task group, one MCP client session per server per worker process:
relay sessions share them, and concurrent calls through one SDK ``ClientSession`` are safe (each
request gets its own id and waiter; writes go through one memory stream). Their tools join the
relay's registry, so the relay answers their calls like plugin tools.

A server that fails to start fails the app's startup: a relay that silently lacks tools it was
configured with would be worse than one that does not start.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING

from ..mcp.config import McpConfigError, McpServerConfig, McpServersSource, load_mcp_config
from ..mcp.servers import McpServerError, McpServers

if TYPE_CHECKING:
    from ..tools import ToolRegistry

__all__ = ["RelayMcp", "mcp_configs"]

logger = logging.getLogger("agent_rt.relay")


def mcp_configs(source: McpServersSource | Sequence[McpServerConfig]) -> list[McpServerConfig]:
    """The servers of ``mcp_servers=``: ``None`` is none (the relay reads no environment variable).

    Raises :class:`~agent_rt.mcp.McpConfigError` for an invalid configuration, or when servers are
    configured but the ``mcp`` SDK is not installed.
    """
    if source is None:
        return []
    if isinstance(source, Sequence) and not isinstance(source, str):
        configs = list(source)
    else:
        configs = load_mcp_config(source)
    if configs and importlib.util.find_spec("mcp") is None:
        raise McpConfigError('MCP servers need the mcp extra: pip install "agentrt[mcp]"')
    return configs


class RelayMcp:
    """The configured servers and, while the app's lifespan runs, the running :class:`McpServers`."""

    def __init__(
        self,
        configs: Sequence[McpServerConfig],
        registry: ToolRegistry,
        on_tools_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self.configs = list(configs)
        self.registry = registry
        self.on_tools_changed = on_tools_changed
        self.servers: McpServers | None = None
        """The running servers (None outside the lifespan)."""

    def __bool__(self) -> bool:
        return bool(self.configs)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[McpServers]:
        """Start every server; raise :class:`McpServerError` (one line) if any failed; stop them at exit."""
        try:
            async with McpServers(
                self.configs, self.registry, on_tools_changed=self.on_tools_changed
            ) as servers:
                failures = servers.failures
                if failures:  # leaving the block stops the servers that did start
                    reasons = "; ".join(f"{name!r}: {reason}" for name, reason in failures.items())
                    raise McpServerError(f"MCP server(s) failed to start: {reasons}")
                for config in self.configs:
                    tools = ", ".join(servers.tool_names(config.name)) or "(no tools)"
                    logger.info("relay: MCP server %r (%s): %s", config.name, config.transport, tools)
                self.servers = servers
                self.on_tools_changed()
                yield servers
        finally:
            self.servers = None
            self.on_tools_changed()  # the servers' tools have left the registry
