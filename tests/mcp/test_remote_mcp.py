"""Remote MCP through the local server: the session's ``mcp`` tool, listed and called by the server
against a real MCP server over streamable HTTP, with the approval round trip (asyncio and trio)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest

from agent_rt import RealtimeClient
from agent_rt.server import LocalRealtimeServer

from .helpers import http_calc_server

pytestmark = pytest.mark.anyio

SCENARIO = {
    "rules": [
        {
            "match": "add",
            "calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}],
            "after_output": "Two plus three is {output}.",
        },
        {
            "match": "divide",
            "calls": [{"name": "divide", "arguments": {"a": 1, "b": 0}}],
            "after_output": "That failed: {output.error.message}",
        },
    ]
}


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    with http_calc_server() as url:
        yield url


class ServerEvents:
    """Every server event the client received, and a way to wait for one (no sleeps)."""

    def __init__(self, client: RealtimeClient) -> None:
        self.events: list[dict[str, Any]] = []
        self._changed = anyio.Event()
        client.realtime.on("server.*", self._record)

    def _record(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        self._changed.set()
        self._changed = anyio.Event()

    def types(self) -> list[str]:
        return [event["type"] for event in self.events]

    async def wait_for(
        self, event_type: str, where: Callable[[dict[str, Any]], bool] = lambda event: True, start: int = 0
    ) -> dict[str, Any]:
        with anyio.fail_after(20):
            while True:
                for event in self.events[start:]:
                    if event["type"] == event_type and where(event):
                        return event
                await self._changed.wait()


def mcp_tool(url: str, **extra: Any) -> dict[str, Any]:
    return {"type": "mcp", "server_label": "calc", "server_url": url, **extra}


async def connected(server: LocalRealtimeServer, tool: dict[str, Any]) -> tuple[RealtimeClient, ServerEvents]:
    client = RealtimeClient(url=server.url, api_key="test", plugins=False)
    events = ServerEvents(client)
    await client.update_session(tools=[tool], modalities=["text"])
    return client, events


async def test_tools_are_listed_called_and_answered_within_one_response(mcp_url: str) -> None:
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        tool = mcp_tool(mcp_url, require_approval="never", authorization="tok-9876543")
        client, events = await connected(server, tool)
        async with client:
            done = await events.wait_for("mcp_list_tools.completed")
            await events.wait_for("conversation.item.done", lambda e: e["item"]["id"] == done["item_id"])
            listing = client.conversation.get_item(done["item_id"])
            assert listing is not None
            assert listing["type"] == "mcp_list_tools"
            names = [tool["name"] for tool in listing["formatted"]["tools"]]
            assert {"add", "divide", "shout"} <= set(names)
            add = next(tool for tool in listing["tools"] if tool["name"] == "add")
            assert add["input_schema"]["required"] == ["a", "b"]
            updated = await events.wait_for("session.updated")
            assert updated["session"]["tools"][0]["authorization"] == "***"  # never echoed back

            start = len(events.events)
            await client.send_user_message_content([{"type": "input_text", "text": "please add"}])
            response_done = await events.wait_for("response.done", start=start)
            order = [t for t in events.types()[start:] if "mcp_call" in t]
            assert order == [
                *["response.mcp_call_arguments.delta"] * order.count("response.mcp_call_arguments.delta"),
                "response.mcp_call_arguments.done",
                "response.mcp_call.in_progress",
                "response.mcp_call.completed",
            ]
            output = response_done["response"]["output"]
            assert [item["type"] for item in output] == ["mcp_call", "message"]
            call = client.conversation.get_item(output[0]["id"])
            assert call is not None
            assert call["output"] == "5"
            assert call["formatted"]["output"] == "5"
            assert call["formatted"]["tool"] == {
                "type": "mcp",
                "server_label": "calc",
                "name": "add",
                "arguments": '{"a": 2, "b": 3}',
                "approval_request_id": None,
            }
            assert call["formatted"]["mcp_status"] == "completed"
            message = client.conversation.get_item(output[1]["id"])
            assert message is not None
            assert message["formatted"]["text"] == "Two plus three is 5."
        assert "tok-9876543" not in json.dumps(events.events)


async def test_a_tool_error_fails_the_call_and_the_response_goes_on(mcp_url: str) -> None:
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client, events = await connected(server, mcp_tool(mcp_url, require_approval="never"))
        async with client:
            await events.wait_for("mcp_list_tools.completed")
            start = len(events.events)
            await client.send_user_message_content([{"type": "input_text", "text": "divide please"}])
            failed = await events.wait_for("response.mcp_call.failed", start=start)
            done = await events.wait_for("response.done", start=start)
            call = client.conversation.get_item(failed["item_id"])
            assert call is not None
            assert call["error"]["type"] == "tool_execution_error"
            assert "cannot divide by zero" in call["formatted"]["error"]["message"]
            text = done["response"]["output"][1]["content"][0]["text"]
            assert text.startswith("That failed:")
            assert "cannot divide by zero" in text


@pytest.mark.parametrize("approve", [True, False])
async def test_approval_round_trip(mcp_url: str, approve: bool) -> None:
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client, events = await connected(server, mcp_tool(mcp_url))  # require_approval: "always" by default
        async with client:
            await events.wait_for("mcp_list_tools.completed")
            start = len(events.events)
            await client.send_user_message_content([{"type": "input_text", "text": "add them"}])
            done = await events.wait_for("response.done", start=start)
            (request,) = done["response"]["output"]
            assert request["type"] == "mcp_approval_request"
            assert (request["server_label"], request["name"]) == ("calc", "add")
            assert "response.mcp_call.in_progress" not in events.types()[start:]
            cached = client.conversation.get_item(request["id"])
            assert cached is not None
            assert cached["formatted"]["tool"]["name"] == "add"

            start = len(events.events)
            await client.realtime.send(
                "conversation.item.create",
                {
                    "item": {
                        "type": "mcp_approval_response",
                        "approval_request_id": request["id"],
                        "approve": approve,
                    }
                },
            )
            await client.create_response()
            done = await events.wait_for("response.done", start=start)
            output = done["response"]["output"]
            if approve:
                assert [item["type"] for item in output] == ["mcp_call", "message"]
                assert output[0]["approval_request_id"] == request["id"]
                assert output[0]["output"] == "5"
                assert output[1]["content"][0]["text"] == "Two plus three is 5."
            else:
                assert [item["type"] for item in output] == ["message"]
                assert output[0]["content"][0]["text"] == "All right, I did not run add."
            responses = [i for i in client.conversation.get_items() if i["type"] == "mcp_approval_response"]
            assert responses
            assert responses[0]["formatted"]["approve"] is approve


async def test_bad_approvals_and_unreachable_servers_are_errors_not_hangs() -> None:
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client, events = await connected(server, mcp_tool("http://127.0.0.1:9/mcp"))
        async with client:
            failed = await events.wait_for("mcp_list_tools.failed")
            await events.wait_for("conversation.item.done", lambda e: e["item"]["id"] == failed["item_id"])
            start = len(events.events)
            await client.realtime.send(
                "conversation.item.create",
                {"item": {"type": "mcp_approval_response", "approval_request_id": "nope", "approve": True}},
            )
            error = await events.wait_for("error", start=start)
            assert error["error"]["param"] == "item.approval_request_id"
            # nothing was listed, so "add" is not an MCP tool: the scenario's call is a function call
            start = len(events.events)
            await client.send_user_message_content([{"type": "input_text", "text": "add"}])
            done = await events.wait_for("response.done", start=start)
            assert [item["type"] for item in done["response"]["output"]] == ["function_call"]


async def test_mcp_tool_tokens_stay_out_of_the_client_debug_log(mcp_url: str, caplog: Any) -> None:
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client = RealtimeClient(url=server.url, api_key="test", plugins=False, debug=True)
        tool = mcp_tool(mcp_url, authorization="oauth-token-0451", headers={"X-Api-Key": "hdr-secret-9917"})
        with caplog.at_level(logging.DEBUG):
            await client.update_session(tools=[tool])
            async with client:
                await client.wait_for_next_completed_item(timeout=20)  # the mcp_list_tools item
    assert "session.update" in caplog.text  # the update was logged, tokens masked
    assert "oauth-token-0451" not in caplog.text
    assert "hdr-secret-9917" not in caplog.text
