"""Server-side tools: the relay answers its plugins' calls, the client still sees every event,
and tools the client declared stay the client's."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from agent_rt.relay import create_relay_app
from agent_rt.server import LocalRealtimeServer
from agent_rt.tools import ToolRegistry, function_tool

from ..server.helpers import append, silence, tone
from .helpers import TOOL_SCENARIO as SCENARIO
from .helpers import HoldingProxy, Peer, RunningRelay, holding_proxy, peer, running

pytestmark = pytest.mark.anyio
TOKEN = "relay-token-tools"


LONG = "Let me talk while the tool works."


@pytest.fixture(autouse=True)
def _no_upstream_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def _message_text(done: dict[str, Any]) -> str:
    item = done["response"]["output"][-1]
    part = item["content"][0]
    return str(part.get("text") or part.get("transcript"))


async def _responses(client: Any, count: int) -> list[dict[str, Any]]:
    """Events up to the ``count``-th ``response.done`` (tool outputs may come before or after one)."""
    events = []
    while count:
        event = await client.next_event()
        events.append(event)
        count -= event["type"] == "response.done"
    return events


def _of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in events if event["type"] == kind]


def _outputs(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    added = _of(events, "conversation.item.added")
    return [e["item"] for e in added if e["item"]["type"] == "function_call_output"]


#: The tool scenario, plus a user turn ("talk ...") whose answer is long enough to overlap the tool.
TALK_SCENARIO = {"rules": [*SCENARIO["rules"], {"match": "talk", "reply": LONG}]}


def _slow_calculator() -> tuple[ToolRegistry, threading.Event]:
    """A ``calculate`` tool that answers 2 once the returned event is set (by the test)."""
    release = threading.Event()
    registry = ToolRegistry()

    @function_tool
    def calculate(expression: str) -> dict[str, Any]:
        """A slow calculator: it answers once the test lets it."""
        release.wait(10)
        return {"expression": expression, "result": 2}

    registry.add(calculate)
    return registry, release


def _is_message_added(event: dict[str, Any]) -> bool:
    item = event.get("item") or {}
    return event["type"] == "response.output_item.added" and item.get("type") == "message"


async def _user_says(client: Any, text: str) -> None:
    await client.ask(text)


async def test_plugin_tool_calls_are_answered_by_the_relay() -> None:
    app = create_relay_app(tokens=[TOKEN], tools=True, scenario=SCENARIO)
    with running(app) as relay:
        async with peer(relay.url, token=TOKEN) as client:
            created = await client.until("session.created")
            opening = await client.until("session.updated")
            names = [tool["name"] for tool in opening["session"]["tools"]]
            assert "calculate" in names  # the clock plugin's, added by the relay
            for turn in range(3):
                await _user_says(client, f"what is ({turn} + 4) * 23")
                events = await _responses(client, 2)
                first, second = _of(events, "response.done")
                call = first["response"]["output"][0]
                assert call["type"] == "function_call"
                assert call["name"] == "calculate"
                # The client sees the relay's output item and the follow-up response too.
                (output,) = _outputs(events)
                assert output["call_id"] == call["call_id"]
                assert json.loads(output["output"])["result"] == (turn + 4) * 23
                assert _message_text(second) == f"({turn} + 4) * 23 is {(turn + 4) * 23}."
            assert created["session"]["tools"] == []
    assert relay.relay.metrics.sessions_active == 0


async def test_tools_the_client_declares_stay_the_clients() -> None:
    registry = ToolRegistry()

    @function_tool
    def explode() -> dict[str, Any]:
        """Always fails."""
        raise RuntimeError("the tool broke, key sk-do-not-show-0123456789")

    registry.add(explode)
    async with LocalRealtimeServer(scenario=SCENARIO) as upstream:
        with running(create_relay_app(upstream.url, tokens=[TOKEN], tools=registry)) as relay:
            async with peer(relay.url, token=TOKEN) as client:
                await client.until("session.created")
                await client.until("session.updated")
                lookup = {"type": "function", "name": "lookup_order", "parameters": {"type": "object"}}
                await client.send("session.update", session={"type": "realtime", "tools": [lookup]})
                updated = await client.until("session.updated")
                assert [t["name"] for t in updated["session"]["tools"]] == ["lookup_order", "explode"]
                await _user_says(client, "where is my order")
                (first,) = _of(await _responses(client, 1), "response.done")
                call = first["response"]["output"][0]
                assert call["name"] == "lookup_order"
                # The relay leaves it alone: the client answers, and asks for the response itself.
                await client.send(
                    "conversation.item.create",
                    item={
                        "type": "function_call_output",
                        "call_id": call["call_id"],
                        "output": json.dumps({"status": "shipped"}),
                    },
                )
                await client.send("response.create")
                events = await _responses(client, 1)
                assert _message_text(_of(events, "response.done")[0]) == "Your order is shipped."
                assert [o["output"] for o in _outputs(client.seen)] == [
                    '{"status": "shipped"}'
                ]  # only the client's
                # A failing relay tool: the model reads an error output, redacted.
                await _user_says(client, "explode now")
                events = await _responses(client, 2)
                (output,) = _outputs(events)
                assert "the tool broke" in output["output"]
                assert "sk-do-not-show" not in output["output"]
                assert _message_text(_of(events, "response.done")[1]).startswith("The tool said:")


async def test_a_follow_up_waits_for_a_response_the_client_started_meanwhile() -> None:
    registry, release = _slow_calculator()

    async with LocalRealtimeServer(scenario=TALK_SCENARIO, realtime_audio=True) as upstream:
        with running(create_relay_app(upstream.url, tokens=[TOKEN], tools=registry)) as relay:
            async with peer(relay.url, token=TOKEN) as client:
                await client.until("session.created")
                await _user_says(client, "what is 1 + 1")
                await client.until("response.done")  # the call; the tool is still running
                await _user_says(client, "talk to me meanwhile")  # the client's own response
                await client.until("response.created")
                # Its message is in the conversation once the client sees it added; the output must
                # come after it, or the follow-up reads the user's last words, not the output.
                await client.until("response.output_item.added")
                release.set()  # the output goes in now; the follow-up must wait for this response
                events = await _responses(client, 2)
                talked, answered = _of(events, "response.done")
                assert _message_text(talked).startswith("Let me talk")
                assert _message_text(answered) == "1 + 1 is 2."
                assert not _of(events, "error")  # no conversation_already_has_active_response
                created = [i for i, e in enumerate(events) if e["type"] == "response.created"]
                done = [i for i, e in enumerate(events) if e["type"] == "response.done"]
                assert created[0] > done[0]  # the follow-up began after the client's response ended


@contextlib.asynccontextmanager
async def _call_running_upstream_held(
    scenario: Any, registry: ToolRegistry
) -> AsyncIterator[tuple[HoldingProxy, RunningRelay, Peer]]:
    """A session through the relay whose calculator call is running (until the test releases it),
    with the upstream's answers held back by the proxy from here on."""
    async with (
        LocalRealtimeServer(scenario=scenario, realtime_audio=True) as upstream,
        holding_proxy(upstream.url) as proxy,
    ):
        with running(create_relay_app(proxy.url, tokens=[TOKEN], tools=registry)) as relay:
            async with peer(relay.url, token=TOKEN) as client:
                await client.until("session.created")
                await _user_says(client, "what is 1 + 1")
                await client.until("response.done")  # the call; the tool is still running
                proxy.hold()
                yield proxy, relay, client


async def _until_two_responses(client: Peer) -> list[dict[str, Any]]:
    """The client's events until a second ``response.done``, or an error."""
    events: list[dict[str, Any]] = []
    while len(_of(events, "response.done")) < 2 and not _of(events, "error"):
        events.append(await client.next_event())
    return events


async def test_a_follow_up_waits_for_a_response_the_client_asked_for_but_has_not_seen_start() -> None:
    """The client's ``response.create`` is on its way when the tool's output goes in: the relay must
    not send its follow-up until that response has started and ended (the service would refuse it,
    and the tool's answer would never be spoken). The proxy holds the upstream's answers back, so
    the relay cannot have seen the client's response start when the tool finishes."""
    registry, release = _slow_calculator()

    def is_output(event: dict[str, Any]) -> bool:
        item = event.get("item") or {}
        return event["type"] == "conversation.item.create" and item.get("type") == "function_call_output"

    async with _call_running_upstream_held(TALK_SCENARIO, registry) as (proxy, relay, client):
        await client.ask("talk to me meanwhile", event_id="evt_talk")
        # Its message is in the conversation once the upstream adds it; the output must
        # come after it, or the follow-up reads the user's last words, not the output.
        await proxy.wait_for(proxy.received, _is_message_added)
        release.set()  # the output goes in while the relay has seen nothing of it
        await proxy.wait_for(proxy.sent, is_output)
        proxy.let_go()
        events = await _until_two_responses(client)
        assert not _of(events, "error")  # no conversation_already_has_active_response
        talked, answered = _of(events, "response.done")
        assert _message_text(talked).startswith("Let me talk")
        assert _message_text(answered) == "1 + 1 is 2."
        created = [i for i, e in enumerate(events) if e["type"] == "response.created"]
        assert created[1] > events.index(talked)  # the follow-up began after it ended
        creates = [e for e in proxy.sent if e["type"] == "response.create"]
        assert len(creates) == 3  # the client's two and one follow-up: none refused
    assert relay.relay.metrics.sessions_active == 0


async def test_a_follow_up_refused_for_a_response_turn_detection_started_unseen_is_sent_again() -> None:
    """Turn detection starts a response the relay cannot know of yet (its events are held back)
    when the tool's output goes in: the follow-up meets it and is refused. The refusal is the
    relay's business (the client never sent that create): it is not forwarded, and the relay asks
    again once the response has ended, so the tool's answer is still spoken."""
    registry, release = _slow_calculator()
    scenario = {
        "transcripts": ["hello there"],
        "rules": [*SCENARIO["rules"], {"match": "hello", "reply": LONG}],
    }

    sent_before = 0  # the relay's events upstream before the tool finishes

    def is_follow_up(event: dict[str, Any]) -> bool:
        return event["type"] == "response.create" and proxy.sent.index(event) >= sent_before

    async with _call_running_upstream_held(scenario, registry) as (proxy, relay, client):
        audio = np.concatenate([silence(300), tone(600), silence(400)])
        for start in range(0, len(audio), 4800):
            await client.ws.send_text(json.dumps(append(audio[start : start + 4800])))
        # Turn detection's response has begun upstream and added its message; the relay
        # has seen none of it.
        await proxy.wait_for(proxy.received, _is_message_added)
        sent_before = len(proxy.sent)
        release.set()
        refused = await proxy.wait_for(proxy.sent, is_follow_up)
        await proxy.wait_for(
            proxy.received,
            lambda e: e["type"] == "error" and e["error"]["event_id"] == refused["event_id"],
        )
        proxy.let_go()
        events = await _until_two_responses(client)
        assert not _of(events, "error")  # the relay's own refusal stays with the relay
        talked, answered = _of(events, "response.done")
        assert _message_text(talked).startswith("Let me talk")
        assert _message_text(answered) == "1 + 1 is 2."
        follow_ups = [e for e in proxy.sent if is_follow_up(e)]
        assert len(follow_ups) == 2  # the refused one, and the one sent again
    assert relay.relay.metrics.sessions_active == 0
