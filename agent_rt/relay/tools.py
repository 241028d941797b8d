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
from ..protocol.follow_ups import FollowUpGate, Settled
from ..tools import Tool, ToolRegistry

#: The upstream events that tell when a follow-up may go.
GATE_EVENTS = frozenset({"response.created", "response.done", "error"})

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

    The client (or the server's turn detection) may have started another response, or asked for
    one, by the time a batch's follow-up is due; the follow-up then waits until none is active or
    requested (the service refuses a second active response), as :class:`FollowUpGate` counts
    them. The client pump takes a token for each ``response.create`` it forwards
    (:meth:`client_request`) and the upstream pump feeds the service's answers.
    """

    def __init__(
        self,
        registry: ToolRegistry,
        send_upstream: Callable[[str], Awaitable[None]],
        declared: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self._send_upstream = send_upstream
        self.gate = FollowUpGate()
        self._changed = anyio.Event()
        self._closed = False
        self._registry = registry
        self._declared: set[str] = set()
        self._clients: frozenset[str] = frozenset()
        self.declare(declared)
        self.answers = ClientAnswers()
        self.runner = ToolRunner(registry, send=self._send, follow_up=self._follow_up, owns=self._owns)

    def declare(self, definitions: Iterable[Mapping[str, Any]]) -> None:
        """The relay gave the session these tools: their calls stay the relay's to answer.

        An MCP server can die (its tools leave the registry) after the session got its tools; a
        call of one is then answered with an "unknown tool" error output rather than by no one.
        """
        self._declared.update(str(d.get("name")) for d in definitions if d.get("name") is not None)

    def client_declares(self, names: Iterable[str]) -> None:
        """The client's ``session.update`` set its tools: those names are the client's to answer,
        even where the relay has a tool of the same name (the client's definition is the one the
        session holds)."""
        self._clients = frozenset(names)

    def _owns(self, name: str) -> bool:
        return (name in self._registry or name in self._declared) and name not in self._clients

    async def _send(self, event_type: str, data: Mapping[str, Any]) -> None:
        event = {"type": event_type, **data}
        event.setdefault("event_id", new_event_id())
        await self._send_upstream(json.dumps(event))

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def _follow_up(self) -> None:
        while not self.gate.may_follow_up():  # re-checked after every change
            if self._closed:
                return
            await self._changed.wait()
        if self._closed:
            return
        event_id = new_event_id()
        self.gate.take(event_id)  # before the send: a quick response.created finds it
        try:
            await self._send("response.create", {"event_id": event_id})
        except BaseException:
            self.gate.release(event_id)
            self._wake()
            raise

    def client_request(self, event: dict[str, Any]) -> bool:
        """The client's ``response.create`` is about to be forwarded: the follow-ups wait for its answer.

        Take it after the last await before the send. True when it had no event id and was given
        one (the service then names it in a refusal, which settles it).
        """
        body = event.get("response")
        if isinstance(body, Mapping) and body.get("conversation") == "none":
            return False  # out-of-band: it runs beside the conversation and blocks no follow-up
        event_id = event.get("event_id")
        added = not isinstance(event_id, str)
        if added:
            event_id = event["event_id"] = new_event_id()
        self.gate.client_request(str(event_id))
        return added

    def on_server_event(self, event: Mapping[str, Any], task_group: anyio.abc.TaskGroup) -> bool:
        """Feed a parsed upstream event; False when it is the relay's own business (not forwarded)."""
        if event.get("type") in GATE_EVENTS:
            settled = self.gate.on_server_event(event)
            self._wake()
            if settled is Settled.OWN_REFUSED:
                # The relay's follow-up met a response it could not see coming (turn detection's,
                # while a client request was in flight): ask again once the service is idle.
                task_group.start_soon(self._follow_up, name="agent_rt tool follow-up (again)")
                return False
        if event.get("type") == "response.output_item.done":
            item = event.get("item")
            if isinstance(item, Mapping) and item.get("type") == "function_call":
                name, call_id = item.get("name"), item.get("call_id")
                if isinstance(name, str) and isinstance(call_id, str) and self._owns(name):
                    self.answers.relay_answers(call_id)
        self.runner.on_server_event(event, task_group)
        return True

    def close(self) -> None:
        self._closed = True
        self.gate.reset()
        self._wake()
        self.runner.cancel_all()


def new_event_id() -> str:
    """An event id for what the relay sends (and for a client's create that came without one)."""
    return f"relay_{secrets.token_hex(8)}"


class ClientAnswers:
    """Which client events answer calls the relay answers itself, and so must not go upstream.

    Clients answer the function calls they see: the JavaScript reference client answers every one
    (``Tool "x" has not been added`` for names it lacks), then asks for a response. A call of one
    of the relay's tools would get two outputs and two ``response.create``, and the conversation
    would run a turn behind. The relay drops a client's ``function_call_output`` for a call it
    answers, and the ``response.create`` that comes right after such outputs (the relay's own
    follow-up asks for that response) unless the client also answered a call of its own since its
    last ``response.create``. Any other client event in between (a new user message, an audio
    commit) makes the next ``response.create`` a request of its own again. Pure: no I/O.
    """

    #: Call ids remembered: a client answers a call within a turn or two of seeing it.
    REMEMBERED = 256

    def __init__(self) -> None:
        self._calls: dict[str, None] = {}  # insertion-ordered: the oldest are forgotten first
        self._dropped = False  # outputs dropped since the client's last response.create
        self._own_output = False  # an output of the client's own went up since then

    @property
    def expecting(self) -> bool:
        """Whether any client event could be a duplicate answer (nothing to check otherwise)."""
        return bool(self._calls) or self._dropped

    def relay_answers(self, call_id: str) -> None:
        self._calls[call_id] = None
        if len(self._calls) > self.REMEMBERED:
            del self._calls[next(iter(self._calls))]

    def forward_output(self, call_id: object) -> bool:
        """A client's ``function_call_output`` for ``call_id``: False when the relay answers it."""
        if isinstance(call_id, str) and call_id in self._calls:
            self._dropped = True
            return False
        self._own_output = True
        return True

    def forward_create(self) -> bool:
        """A client's ``response.create``: False when it only follows outputs the relay dropped."""
        swallow = self._dropped and not self._own_output
        self._dropped = self._own_output = False
        return not swallow

    def other_event(self, kind: str) -> None:
        """Any other client event: a ``response.create`` after it is the client's own request."""
        if kind != "input_audio_buffer.append":
            self._dropped = False
