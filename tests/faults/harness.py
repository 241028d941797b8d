"""Shared pieces of the fault-injection tests: the scripted turns and what every fault must respect."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import anyio

from agent_rt import RealtimeClient
from agent_rt.errors import ConnectionClosedError, NotConnectedError
from agent_rt.server import LocalRealtimeServer

LONG = os.environ.get("AGENT_RT_FAULTS") == "long"

SCENARIO = {
    "rules": [
        {
            "match": "weather",
            "calls": [{"name": "get_weather", "arguments": {"location": "Paris"}}],
            "after_output": "It is {output.temperature} degrees in Paris.",
        },
        {"match": "hi", "reply": "Hello there! Nice to hear from you."},
    ]
}
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather somewhere.",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
}

#: Server events of one whole turn, session.created included (measured by test_turn_lengths).
TURN_EVENTS = {"text": 21, "audio": 29, "tool": 39}
#: Completed items a turn produces: user + assistant; tool turn: user, call, output, answer.
TURN_ITEMS = {"text": 2, "audio": 2, "tool": 4}

WAIT = 2.0  # every waiter's own timeout
GUARD = 10.0  # no test body may run longer than this


@dataclass
class Observed:
    """What the client did and said during one run."""

    closes: list[dict[str, Any]] = field(default_factory=list)
    errors: list[Any] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    sent_after_close: list[dict[str, Any]] = field(default_factory=list)
    completed: list[dict[str, Any]] = field(default_factory=list)
    closed: anyio.Event = field(default_factory=anyio.Event)

    def tool_outputs(self) -> list[str]:
        return [
            e["item"]["call_id"]
            for e in self.sent
            if e["type"] == "conversation.item.create" and e["item"].get("type") == "function_call_output"
        ]


def make_client(
    server: LocalRealtimeServer, kind: str, handler: Any = None, **kwargs: Any
) -> tuple[RealtimeClient, Observed]:
    client = RealtimeClient(url=server.url, api_key="test", plugins=False, **kwargs)
    seen = Observed()

    def on_close(payload: dict[str, Any]) -> None:
        seen.closes.append(payload)
        seen.closed.set()

    def on_sent(event: dict[str, Any]) -> None:
        seen.sent.append(event)
        if seen.closes:
            seen.sent_after_close.append(event)

    client.on("close", on_close)
    client.on("error", seen.errors.append)
    client.realtime.on("client.*", on_sent)
    return client, seen


async def configure(
    client: RealtimeClient, kind: str, handler: Any = None, timeout: float | None = None
) -> None:
    if kind == "text":
        await client.update_session(modalities=["text"])

    async def weather(arguments: dict[str, Any]) -> dict[str, Any]:
        return {"temperature": 21}

    await client.add_tool(WEATHER_TOOL, handler or weather, timeout=timeout)


async def run_turn(client: RealtimeClient, kind: str, seen: Observed) -> BaseException | None:
    """One user turn; returns the connection error that ended it early (``None`` if it completed)."""
    try:
        await client.wait_for_session_created(timeout=WAIT)
        text = "what's the weather?" if kind == "tool" else "hi"
        await client.send_user_message_content([{"type": "input_text", "text": text}])
        for _ in range(TURN_ITEMS[kind]):
            seen.completed.append(await client.wait_for_next_completed_item(timeout=WAIT))
    except (ConnectionClosedError, NotConnectedError) as exc:
        return exc
    return None


async def assert_closed_socket_refuses_sends(client: RealtimeClient, seen: Observed) -> None:
    """After the disconnect, every send raises instead of writing."""
    before = len(seen.sent)
    for send in (
        lambda: client.realtime.send("input_audio_buffer.clear"),
        lambda: client.send_user_message_content([{"type": "input_text", "text": "hi"}]),
        lambda: client.create_response(),
    ):
        try:
            await send()
        except (ConnectionClosedError, NotConnectedError):
            pass
        else:
            raise AssertionError("a send after the disconnect did not raise")
    assert len(seen.sent) == before, "an event was sent on a closed socket"
    assert not seen.sent_after_close, seen.sent_after_close


def assert_tool_outputs_once(server: LocalRealtimeServer, seen: Observed) -> None:
    outputs = seen.tool_outputs()
    assert len(outputs) == len(set(outputs)), f"a tool output was sent twice: {outputs}"
    for info in server.connections:
        received = [
            s.item.get("call_id")
            for s in info.session.conversation.items()
            if s.item.get("type") == "function_call_output"
        ]
        assert len(received) == len(set(received)), f"the server got a tool output twice: {received}"
