"""Each call has exactly one answerer: the relay for its tools, the client for the tools it declared.

The JavaScript reference client answers every function call it sees (``Tool "x" has not been
added`` for tools it does not know) and then asks for a response; unchecked, the upstream would get
two outputs and two ``response.create`` for each of the relay's calls ("Conversation already has
an active response") and later turns would get earlier turns' answers. The relay drops such
answers (``ClientAnswers``); RealtimeClient leaves calls of tools another party declared alone;
and a tool the client declares itself, even under the name of one of the relay's, is the
client's to answer.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent_rt import RealtimeClient
from agent_rt.relay import create_relay_app
from agent_rt.server import LocalRealtimeServer

from .helpers import Peer, peer, running

pytestmark = pytest.mark.anyio
TOKEN = "relay-token-tool-ownership"
WAIT = 10
SCENARIO: dict[str, Any] = {
    "rules": [
        {
            "regex": r"what is (?P<expression>[0-9 +*/().-]+)",
            "calls": [{"name": "calculate", "arguments": {"expression": "{expression}"}}],
            "after_output": "{output.expression} is {output.result}.",
        },
    ]
}


@pytest.fixture(autouse=True)
def _no_upstream_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


async def _reference_client_turn(client: Peer, text: str) -> str:
    """One turn as the JavaScript reference client does it: it answers every function call it sees
    (with ``{"error": "Tool ... has not been added"}`` for tools it does not know) and asks for a
    response; returns the text of the first assistant message."""
    await client.ask(text)
    while True:
        event = await client.next_event(WAIT)
        if event["type"] == "error":
            raise AssertionError(f"error event: {event['error']}")
        if event["type"] == "response.output_item.done" and event["item"]["type"] == "function_call":
            item = event["item"]
            output = json.dumps({"error": f'Tool "{item["name"]}" has not been added'})
            await client.send(
                "conversation.item.create",
                item={"type": "function_call_output", "call_id": item["call_id"], "output": output},
            )
            await client.send("response.create")
        if event["type"] == "response.done":
            for output_item in event["response"]["output"]:
                if output_item["type"] == "message":
                    return str(output_item["content"][0]["text"])


async def test_the_reference_clients_answers_to_relay_tools_do_not_derail_the_conversation() -> None:
    """The relay does not forward a client's function_call_output for its own calls, nor the
    response.create right after: no error, the right answer every turn."""
    async with LocalRealtimeServer(scenario=SCENARIO) as up:
        with running(create_relay_app(up.url, tokens=[TOKEN], tools=True)) as relay:
            async with peer(relay.url, token=TOKEN) as client:
                await client.until("session.created")
                await client.send(
                    "session.update", session={"type": "realtime", "output_modalities": ["text"]}
                )
                for turn in range(4):
                    text = await _reference_client_turn(client, f"what is ({turn} + 1) * 2")
                    assert text == f"({turn} + 1) * 2 is {(turn + 1) * 2}."
                    assert await _reference_client_turn(client, f"hello {turn}") == f"You said: hello {turn}"


def _errors_of(client: RealtimeClient) -> list[dict[str, Any]]:
    """The server's (and the relay's) error events the client receives from now on."""
    errors: list[dict[str, Any]] = []
    client.on("realtime.event", lambda e: errors.append(e) if e["event"]["type"] == "error" else None)
    return errors


async def _client_turn(client: RealtimeClient, text: str) -> str:
    """Say ``text``; the text of the first response that answers with a message."""
    await client.send_user_message_content([{"type": "input_text", "text": text}])
    while True:
        done = await client.wait_for_response_done(timeout=WAIT)
        if done["output"] and done["output"][0]["type"] == "message":
            return str(done["output"][0]["content"][0]["text"])


async def test_realtime_client_through_a_relay_with_server_side_tools() -> None:
    """RealtimeClient answers calls of tools nobody declared with "unknown tool"; tools the
    server's session lists that it did not declare (the relay's) it leaves to the relay."""
    async with LocalRealtimeServer(scenario=SCENARIO) as up:
        with running(create_relay_app(up.url, tokens=[TOKEN], tools=True)) as relay:
            async with RealtimeClient(api_key=TOKEN, url=relay.url, plugins=False) as client:
                errors = _errors_of(client)
                await client.update_session(output_modalities=["text"])
                for turn in range(4):
                    answer = await _client_turn(client, f"what is ({turn} + 1) * 2")
                    assert answer == f"({turn} + 1) * 2 is {(turn + 1) * 2}."
                assert errors == []


async def test_a_tool_the_client_declares_under_a_relay_tools_name_is_the_clients() -> None:
    """RealtimeClient with the same plugins installed declares ``calculate`` itself: its
    definition stays in the session and it answers the calls; the relay answers none of them."""
    async with LocalRealtimeServer(scenario=SCENARIO) as up:
        with running(create_relay_app(up.url, tokens=[TOKEN], tools=True)) as relay:
            async with RealtimeClient(api_key=TOKEN, url=relay.url, plugins=False) as client:
                handled: list[str] = []

                def calculate(args: dict[str, Any]) -> dict[str, Any]:
                    handled.append(args["expression"])
                    return {"expression": args["expression"], "result": "from the client"}

                await client.add_tool(
                    {
                        "name": "calculate",
                        "description": "The client's own calculator",
                        "parameters": {
                            "type": "object",
                            "properties": {"expression": {"type": "string"}},
                            "required": ["expression"],
                        },
                    },
                    calculate,
                )
                errors = _errors_of(client)
                await client.update_session(output_modalities=["text"])
                for turn in range(3):
                    answer = await _client_turn(client, f"what is {turn} + 1")
                    assert answer == f"{turn} + 1 is from the client."
                assert handled == ["0 + 1", "1 + 1", "2 + 1"]
                assert errors == []
                session = client.settings.session
                assert session is not None
                (definition,) = [tool for tool in session["tools"] if tool["name"] == "calculate"]
                assert definition["description"] == "The client's own calculator"
    assert relay.relay.metrics.events_dropped == {}
