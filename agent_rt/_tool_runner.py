"""ToolRunner: answers the model's function calls, for the client and for the relay alike.

Fed every server event (GA names), it takes on the ``function_call`` items of
``response.output_item.done`` that it owns, runs each in its own task in the owner's task group
(:func:`~agent_rt.tools.execute_tool_call`: JSON-schema validation, timeout, redacted errors),
sends the output as a ``function_call_output`` item (capped in size), and asks for exactly one
follow-up response per response whose calls it answered, once that response is done
(:class:`~agent_rt.protocol.tool_batches.ToolBatches` decides when).

The runner does no other I/O: ``send(event_type, data)`` and ``follow_up()`` are the owner's.
``cancel_all()`` (the session is gone) cancels running handlers and makes sure nothing of them is
sent afterwards, so an output never reaches a new session.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
import anyio.abc

from .errors import ConnectionClosedError, NotConnectedError
from .protocol.tool_batches import ToolBatches
from .tools import ToolRegistry, ToolResult, execute_tool_call

__all__ = ["DEFAULT_MAX_OUTPUT_CHARS", "ToolRunner", "cap_output"]

logger = logging.getLogger("agent_rt.tools")

#: Longest ``function_call_output`` sent by default (characters); longer ones are cut and marked.
DEFAULT_MAX_OUTPUT_CHARS = 100_000

Send = Callable[[str, dict[str, Any]], Awaitable[object]]
Emit = Callable[[str, dict[str, Any]], None]


def cap_output(output: str, limit: int) -> str:
    """``output`` if it fits in ``limit`` characters, else a JSON object that says it was cut."""
    if len(output) <= limit:
        return output
    head = {"truncated": True, "total_chars": len(output), "partial_output": ""}
    room = max(0, limit - len(json.dumps(head)) - 16)
    head["partial_output"] = output[:room]
    return json.dumps(head, ensure_ascii=False, separators=(",", ":"))


class ToolRunner:
    """Runs the calls it owns; one follow-up ``response.create`` per response whose calls it answered.

    ``owns(name)`` says which calls are this runner's to answer (default: the registry's tools).
    ``emit`` receives ``tool.call.started`` / ``tool.call.finished`` payloads.
    """

    def __init__(
        self,
        registry: ToolRegistry,
        *,
        send: Send,
        follow_up: Callable[[], Awaitable[None]],
        emit: Emit | None = None,
        owns: Callable[[str], bool] | None = None,
        max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
    ) -> None:
        if max_output_chars < 64:
            raise ValueError("max_output_chars must be at least 64")
        self.registry = registry
        self.max_output_chars = max_output_chars
        self._send = send
        self._follow_up = follow_up
        self._emit = emit
        self._owns = owns or registry.__contains__
        self._batches = ToolBatches()
        self._scopes: set[anyio.CancelScope] = set()
        self._generation = 0

    def __repr__(self) -> str:
        return f"<ToolRunner tools={self.registry.names()!r} running={len(self._scopes)}>"

    @property
    def running(self) -> int:
        """Calls being answered now."""
        return len(self._scopes)

    def on_server_event(self, event: Mapping[str, Any], task_group: anyio.abc.TaskGroup) -> None:
        """Feed every server event (GA names); starts calls and follow-ups in ``task_group``."""
        event_type = event.get("type")
        if event_type == "response.output_item.done":
            item = event.get("item")
            if isinstance(item, Mapping) and item.get("type") == "function_call":
                self._take_call(item, event.get("response_id"), task_group)
        elif event_type == "response.done":
            response = event.get("response")
            response_id = response.get("id") if isinstance(response, Mapping) else None
            if isinstance(response_id, str) and self._batches.response_done(response_id):
                task_group.start_soon(self._send_follow_up, self._generation, name="agent_rt tool follow-up")

    def cancel_all(self) -> None:
        """The session is gone: cancel running handlers; nothing of them is sent afterwards."""
        self._generation += 1
        self._batches.reset()
        for scope in self._scopes:
            scope.cancel()

    def _take_call(
        self, item: Mapping[str, Any], response_id: object, task_group: anyio.abc.TaskGroup
    ) -> None:
        name, call_id = item.get("name"), item.get("call_id")
        if not isinstance(name, str) or not isinstance(call_id, str) or not self._owns(name):
            return  # not ours: the application (or the browser, behind a relay) answers it
        arguments = item.get("arguments")
        self._batches.call_started(response_id if isinstance(response_id, str) else None, call_id)
        task_group.start_soon(
            self._run,
            name,
            call_id,
            arguments if isinstance(arguments, str) else "",
            self._generation,
            name=f"agent_rt tool {name}",
        )

    async def _run(self, name: str, call_id: str, arguments: str, generation: int) -> None:
        scope = anyio.CancelScope()
        self._scopes.add(scope)
        answered = False
        try:
            with scope:
                answered = await self._answer(name, call_id, arguments, generation)
        finally:
            self._scopes.discard(scope)
        if generation != self._generation:
            return
        if self._batches.call_finished(call_id, answered=answered):
            await self._send_follow_up(generation)

    async def _answer(self, name: str, call_id: str, arguments: str, generation: int) -> bool:
        if generation != self._generation:  # started just before the session was lost
            return False
        self._notify("tool.call.started", {"name": name, "call_id": call_id, "arguments": arguments})
        result: ToolResult = await execute_tool_call(self.registry.get(name), name, call_id, arguments)
        output = cap_output(result.output, self.max_output_chars)
        self._notify(
            "tool.call.finished",
            {
                "name": name,
                "call_id": call_id,
                "ok": result.ok,
                "error": result.error,
                "duration": result.duration,
                "output": output,
            },
        )
        if generation != self._generation:  # never into a new session
            return False
        try:
            await self._send(
                "conversation.item.create",
                {"item": {"type": "function_call_output", "call_id": call_id, "output": output}},
            )
        except (ConnectionClosedError, NotConnectedError):
            return False
        return True

    async def _send_follow_up(self, generation: int) -> None:
        if generation != self._generation:
            return
        scope = anyio.CancelScope()
        self._scopes.add(scope)
        try:
            with scope:
                await self._follow_up()
        except (ConnectionClosedError, NotConnectedError):
            pass
        finally:
            self._scopes.discard(scope)

    def _notify(self, name: str, payload: dict[str, Any]) -> None:
        if self._emit is not None:
            self._emit(name, payload)
