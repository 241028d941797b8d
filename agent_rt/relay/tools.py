"""Server-side tools: the relay answers its own tools' calls with the client's tool runtime.

The relay adds its tools (installed plugins, or a registry the application passes) to every
session and, per session, feeds the upstream's events to a :class:`~agent_rt._tool_runner.ToolRunner`
that owns exactly those names: it validates arguments, runs the handlers in the session's task
group, sends each ``function_call_output`` and one ``response.create`` per batch. Every event is
still forwarded to the client, so a page shows the call and its output; calls of tools the
client declared itself are left to the client.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import anyio
import anyio.abc

from .._tool_runner import ToolRunner
from ..plugins import load_plugins
from ..tools import Tool, ToolRegistry

#: The upstream events the runner acts on (GA and beta name them alike).
TOOL_EVENTS = frozenset({"response.output_item.done", "response.done"})

ToolsOption = bool | ToolRegistry | Iterable[Tool]


def tool_registry(tools: ToolsOption | None) -> ToolRegistry | None:
    """The registry behind ``create_relay_app(tools=...)``: ``True`` loads the installed plugins."""
    if tools is None or tools is False:
        return None
    if isinstance(tools, ToolRegistry):
        return tools
    registry = ToolRegistry()
    chosen = load_plugins().tools if tools is True else tools
    for tool in chosen:
        registry.add(tool)
    return registry


class SessionTools:
    """One session's tool runner, with the relay's own way of sending upstream.

    The client (or the server's turn detection) may have started another response by the time a
    batch's follow-up is due; the follow-up then waits for it to end (the service refuses a
    second active response). Only the upstream pump writes the count of active responses.
    """

    def __init__(
        self,
        registry: ToolRegistry,
        send_upstream: Callable[[str], Awaitable[None]],
        declared: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self._send_upstream = send_upstream
        self._active = 0
        self._idle = anyio.Event()
        self._idle.set()
        self._registry = registry
        self._declared: set[str] = set()
        self.declare(declared)
        self.runner = ToolRunner(registry, send=self._send, follow_up=self._follow_up, owns=self._owns)

    def declare(self, definitions: Iterable[Mapping[str, Any]]) -> None:
        """The relay gave the session these tools: their calls stay the relay's to answer.

        An MCP server can die (its tools leave the registry) after the session got its tools; a
        call of one is then answered with an "unknown tool" error output rather than by no one.
        """
        self._declared.update(str(d.get("name")) for d in definitions if d.get("name") is not None)

    def _owns(self, name: str) -> bool:
        return name in self._registry or name in self._declared

    async def _send(self, event_type: str, data: Mapping[str, Any]) -> None:
        event = {"type": event_type, **data}
        event.setdefault("event_id", f"relay_{secrets.token_hex(8)}")
        await self._send_upstream(json.dumps(event))

    async def _follow_up(self) -> None:
        while self._active > 0:  # re-checked after every wake-up
            await self._idle.wait()
        await self._send("response.create", {})

    def on_response_bound(self, kind: str) -> None:
        """``response.created`` or ``response.done`` went by (fed by the upstream pump)."""
        if kind == "response.created":
            self._active += 1
            if self._active == 1:
                self._idle = anyio.Event()
        elif self._active > 0:
            self._active -= 1
            if self._active == 0:
                self._idle.set()

    def on_server_event(self, event: Mapping[str, Any], task_group: anyio.abc.TaskGroup) -> None:
        self.runner.on_server_event(event, task_group)

    def close(self) -> None:
        self.runner.cancel_all()
