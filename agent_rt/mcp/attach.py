"""The MCP servers of one :class:`~agent_rt.RealtimeClient` (``RealtimeClient(mcp_servers=...)``).

Kept out of the client so that the client only calls :meth:`ClientMcp.start` when it connects (inside
its task group, before it sends the session config, so the MCP tools are in it) and
:meth:`ClientMcp.detach` when it disconnects. Each connection starts the servers afresh.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import NotConnectedError
from .config import McpServerConfig, McpServersSource, load_mcp_config

if TYPE_CHECKING:
    import anyio.abc

    from ..tools import ToolRegistry
    from .servers import McpServers

__all__ = ["ClientMcp", "approval_response"]


class ClientMcp:
    """A configuration, and its running :class:`~agent_rt.mcp.McpServers` while connected.

    ``source`` is a path, a dict in the ``mcpServers`` format, a list of server configs, or
    ``None`` (then ``AGENT_RT_MCP_CONFIG``, when set). It is parsed here, so a bad configuration
    fails when the client is made, not when it connects. When a server's tools change
    (``tools/list_changed``, or it died) while ``connected()``, ``send_session()`` tells the session.
    """

    def __init__(
        self,
        source: McpServersSource | Sequence[McpServerConfig],
        registry: ToolRegistry,
        *,
        reserved_names: Callable[[], Collection[str]] = tuple,
        send_session: Callable[[], Awaitable[None]] | None = None,
        connected: Callable[[], bool] = lambda: False,
    ) -> None:
        if isinstance(source, Sequence) and not isinstance(source, str):
            self.configs = list(source)
        else:
            self.configs = load_mcp_config(source)
        self.registry = registry
        self.reserved_names = reserved_names
        self.send_session = send_session
        self.connected = connected
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
            on_tools_changed=self._tools_changed,
        )
        self.servers = servers
        await servers.start(task_group)

    async def _tools_changed(self) -> None:
        """A server's tools changed: send the session config again (a close meanwhile is no error)."""
        if self.send_session is not None and self.connected():
            with contextlib.suppress(NotConnectedError):
                await self.send_session()

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


def approval_response(request_id: str, approve: bool, reason: str | None = None) -> dict[str, Any]:
    """The ``mcp_approval_response`` item that answers a remote MCP ``mcp_approval_request``."""
    item: dict[str, Any] = {
        "type": "mcp_approval_response",
        "approval_request_id": request_id,
        "approve": approve,
    }
    if reason is not None:
        item["reason"] = reason
    return item
