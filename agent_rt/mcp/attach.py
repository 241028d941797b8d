"""The MCP servers of one :class:`~agent_rt.RealtimeClient` (``RealtimeClient(mcp_servers=...)``).

Kept out of the client so that the client only calls :meth:`ClientMcp.start` when it connects (inside
its task group, before it sends the session config, so the MCP tools are in it) and
:meth:`ClientMcp.stop` when it disconnects. Each connection starts the servers afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING

from .config import McpServerConfig, McpServersSource, load_mcp_config

if TYPE_CHECKING:
    import anyio.abc

    from ..tools import ToolRegistry
    from .servers import McpServers, ToolsChanged

__all__ = ["ClientMcp"]


class ClientMcp:
    """A configuration, and its running :class:`~agent_rt.mcp.McpServers` while connected.

    ``source`` is a path, a dict in the ``mcpServers`` format, a list of server configs, or
    ``None`` (then ``AGENT_RT_MCP_CONFIG``, when set). It is parsed here, so a bad configuration
    fails when the client is made, not when it connects.
    """

    def __init__(
        self,
        source: McpServersSource | Sequence[McpServerConfig],
        registry: ToolRegistry,
        *,
        reserved_names: Callable[[], Collection[str]] = tuple,
        on_tools_changed: ToolsChanged | None = None,
    ) -> None:
        if isinstance(source, Sequence) and not isinstance(source, str):
            self.configs = list(source)
        else:
            self.configs = load_mcp_config(source)
        self.registry = registry
        self.reserved_names = reserved_names
        self.on_tools_changed = on_tools_changed
        self.servers: McpServers | None = None
        """The servers of the current connection (None while disconnected, or with no config)."""

    def __bool__(self) -> bool:
        return bool(self.configs)

    @property
    def failures(self) -> dict[str, str]:
        """Servers of the current connection that failed, with the reason."""
        return self.servers.failures if self.servers is not None else {}

    async def start(self, task_group: anyio.abc.TaskGroup) -> None:
        """Start the servers in ``task_group``; returns when each runs (its tools registered) or failed."""
        if not self.configs:
            return
        from .servers import McpServers

        await self.stop()
        servers = McpServers(
            self.configs,
            self.registry,
            reserved_names=self.reserved_names,
            on_tools_changed=self.on_tools_changed,
        )
        self.servers = servers
        await servers.start(task_group)

    def detach(self) -> None:
        """The connection's task group has ended, and the servers with it: drop them and their tools."""
        servers, self.servers = self.servers, None
        if servers is not None:
            servers.forget()

    async def stop(self) -> None:
        """Stop the servers (their tools leave the registry); nothing when none run."""
        servers, self.servers = self.servers, None
        if servers is not None:
            await servers.stop()
