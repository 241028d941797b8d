"""Tool flows end to end: RealtimeClient and the local server over loopback; asyncio and trio, GA and beta."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from agent_rt import ConfigurationError, RealtimeClient, ToolDefinitionError, function_tool, hookimpl
from agent_rt.server import LocalRealtimeServer

pytestmark = pytest.mark.anyio

WEATHER = {
    "name": "get_weather",
    "description": "Current weather",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}


def scenario(arguments: Any, after: str = "It is {output.temperature} degrees.") -> dict[str, Any]:
    return {
        "rules": [
            {
                "match": "weather",
                "calls": [{"name": "get_weather", "arguments": arguments}],
                "after_output": after,
            },
            {
                "match": "both",
                "calls": [
                    {"name": "get_weather", "arguments": {"location": "Paris"}},
                    {"name": "get_weather", "arguments": {"location": "Rome"}},
                ],
                "after_output": "{outputs.0.location} and {outputs.1.location} answered.",
            },
        ]
    }


class Sent:
    """Every client event, in order, as the client wrote it."""

    def __init__(self, client: RealtimeClient) -> None:
        self.events: list[dict[str, Any]] = []
        client.realtime.on("client.*", self.events.append)

    def types(self) -> list[str]:
        return [event["type"] for event in self.events]

    def outputs(self) -> list[dict[str, Any]]:
        return [
            event["item"]
            for event in self.events
            if event["type"] == "conversation.item.create" and event["item"]["type"] == "function_call_output"
        ]


@asynccontextmanager
async def connected(
    protocol: str, arguments: Any = None, **client_options: Any
) -> AsyncIterator[tuple[RealtimeClient, LocalRealtimeServer]]:
    rules = scenario({"location": "Paris"} if arguments is None else arguments)
    async with LocalRealtimeServer(scenario=rules) as server:
        client_options.setdefault("plugins", False)
        client = RealtimeClient(url=server.url, protocol=protocol, **client_options)
        yield client, server


async def ask(client: RealtimeClient, text: str) -> dict[str, Any]:
    """Send a user message; return the assistant's final message (after any tool round trips)."""
    await client.send_user_message_content([{"type": "input_text", "text": text}])
    while True:
        item = await client.wait_for_next_completed_item(timeout=10)
        if item["type"] == "message" and item["role"] == "assistant":
            return item


@pytest.fixture(params=["ga", "beta"])
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_valid_call_sends_output_then_one_response_create_after_response_done(protocol: str) -> None:
    calls: list[dict[str, Any]] = []

    def handler(arguments: dict[str, Any]) -> dict[str, Any]:
        calls.append(arguments)
        return {"temperature": 21}

    async with connected(protocol) as (client, _server):
        await client.add_tool(WEATHER, handler)
        sent = Sent(client)
        order: list[str] = []
        client.realtime.on("server.response.done", lambda e: order.append("response.done"))
        client.realtime.on("client.response.create", lambda e: order.append("response.create"))
        finished: list[dict[str, Any]] = []
        client.on("tool.call.finished", finished.append)
        async with client:
            answer = await ask(client, "weather please")
    assert answer["formatted"]["transcript"] == "It is 21 degrees."
    assert calls == [{"location": "Paris"}]
    (output,) = sent.outputs()
    assert json.loads(output["output"]) == {"temperature": 21}
    assert finished[0]["ok"] is True
    assert finished[0]["call_id"] == output["call_id"]
    # user turn's response.create, the tool's response.done, then exactly one automatic response.create
    assert order[:3] == ["response.create", "response.done", "response.create"]
    assert sent.types().count("response.create") == 2


async def test_schema_invalid_arguments_never_reach_the_handler(protocol: str) -> None:
    calls: list[Any] = []
    async with connected(protocol, {"location": 42}, tool_timeout=5) as (client, _server):
        await client.add_tool(WEATHER, calls.append)
        sent = Sent(client)
        async with client:
            await ask(client, "weather please")
    assert calls == []
    (output,) = sent.outputs()
    error = json.loads(output["output"])["error"]
    assert "42 is not of type 'string'" in error


async def test_handler_exception_becomes_an_error_output_and_the_client_goes_on(protocol: str) -> None:
    def broken(arguments: dict[str, Any]) -> None:
        raise RuntimeError("weather station on fire")

    async with connected(protocol) as (client, _server):
        await client.add_tool(WEATHER, broken)
        sent = Sent(client)
        async with client:
            await ask(client, "weather please")
            again = await ask(client, "hello")
    assert "weather station on fire" in json.loads(sent.outputs()[0]["output"])["error"]
    assert again["formatted"]["transcript"] == "You said: hello"


async def test_tool_timeout_becomes_an_error_output(protocol: str) -> None:
    never = anyio.Event()

    async def hangs(arguments: dict[str, Any]) -> None:
        await never.wait()

    async with connected(protocol) as (client, _server):
        await client.add_tool(WEATHER, hangs, timeout=0.05)
        sent = Sent(client)
        async with client:
            await ask(client, "weather please")
    (output,) = sent.outputs()
    assert "timed out" in json.loads(output["output"])["error"]


async def test_parallel_calls_run_concurrently_and_one_response_create_follows(protocol: str) -> None:
    both_started = anyio.Event()
    started: list[str] = []

    async def slow(arguments: dict[str, Any]) -> dict[str, Any]:
        started.append(arguments["location"])
        if len(started) == 2:
            both_started.set()
        with anyio.fail_after(5):
            await both_started.wait()  # returns only if the other call runs at the same time
        return {"location": arguments["location"]}

    async with connected(protocol) as (client, _server):
        await client.add_tool(WEATHER, slow)
        sent = Sent(client)
        async with client:
            answer = await ask(client, "both cities")
    # outputs go out as each call finishes (matched by call_id), so either order is right
    assert answer["formatted"]["transcript"] in {"Paris and Rome answered.", "Rome and Paris answered."}
    assert sorted(started) == ["Paris", "Rome"]
    types = sent.types()
    assert types.count("response.create") == 2
    last_output = max(
        i for i, e in enumerate(sent.events) if e.get("item", {}).get("type") == "function_call_output"
    )
    automatic = max(i for i, kind in enumerate(types) if kind == "response.create")
    assert automatic > last_output  # the automatic response.create comes after both outputs


async def test_session_tools_without_handler_are_left_to_the_application(protocol: str) -> None:
    async with connected(protocol) as (client, server):
        await client.update_session(tools=[WEATHER])
        sent = Sent(client)
        async with client:
            await client.send_user_message_content([{"type": "input_text", "text": "weather please"}])
            item: dict[str, Any] = {}
            while item.get("type") != "function_call":
                item = await client.wait_for_next_completed_item(timeout=10)
            await client.realtime.wait_for_next("server.response.done", timeout=10)
            tools = server.connections[0].session.config.tools
    assert item["formatted"]["tool"]["name"] == "get_weather"
    assert json.loads(item["formatted"]["tool"]["arguments"]) == {"location": "Paris"}
    assert sent.outputs() == []
    assert [tool["name"] for tool in tools] == ["get_weather"]


async def test_name_clash_between_session_and_added_tools_is_an_error(protocol: str) -> None:
    client = RealtimeClient(url="ws://127.0.0.1:1/v1/realtime", protocol=protocol, plugins=False)
    await client.update_session(tools=[WEATHER])
    with pytest.raises(ToolDefinitionError, match="get_weather"):
        await client.add_tool(WEATHER, lambda args: None)
    client2 = RealtimeClient(url="ws://127.0.0.1:1/v1/realtime", protocol=protocol, plugins=False)
    await client2.add_tool(WEATHER, lambda args: None)
    with pytest.raises((ToolDefinitionError, ConfigurationError), match="get_weather"):
        await client2.update_session(tools=[WEATHER])


async def test_add_and_remove_tool_update_the_connected_session(protocol: str) -> None:
    async with connected(protocol) as (client, server), client:
        await client.wait_for_session_created(timeout=5)
        await client.add_tool(WEATHER, lambda args: {})
        await client.realtime.wait_for_next("server.session.updated", timeout=5)
        with_tool = [tool["name"] for tool in server.connections[0].session.config.tools]
        await client.remove_tool("get_weather")
        await client.realtime.wait_for_next("server.session.updated", timeout=5)
        without = server.connections[0].session.config.tools
    assert with_tool == ["get_weather"]
    assert without == []


class DicePlugin:
    @hookimpl
    def agent_rt_tools(self) -> list[Any]:
        @function_tool
        def roll(sides: int = 6) -> int:
            """Rolls a die."""
            return sides

        return [roll]


async def test_explicit_plugins_and_installed_plugins_reach_the_session(protocol: str) -> None:
    async with connected(protocol, plugins=[DicePlugin()]) as (client, server), client:
        await client.wait_for_session_created(timeout=5)
        await client.realtime.wait_for_next("server.session.updated", timeout=5)
        names = sorted(tool["name"] for tool in server.connections[0].session.config.tools)
    assert "roll" in names
    # the clock and weather plugins are installed in the test environment (README's install command)
    assert {"get_time", "calculate", "get_weather"} <= set(names)


async def test_disabled_plugins_are_not_loaded() -> None:
    client = RealtimeClient(url="ws://127.0.0.1:1/v1/realtime", plugins=True, disabled_plugins=["weather"])
    assert client.tools.get("get_weather") is None
    assert client.tools.get("get_time") is not None
    assert client.plugins is not None
    assert "weather" not in [info.name for info in client.plugins.plugins]


async def test_a_broken_plugin_is_reported_and_the_others_load(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        @hookimpl
        def agent_rt_tools(self) -> list[Any]:
            raise RuntimeError("plugin exploded")

    client = RealtimeClient(url="ws://127.0.0.1:1/v1/realtime", plugins=[Broken(), DicePlugin()])
    assert client.tools.get("roll") is not None
    assert client.plugins is not None
    assert any("plugin exploded" in str(error) for error in client.plugins.errors)
    assert "plugin exploded" in caplog.text


async def test_handler_running_at_disconnect_is_cancelled_and_nothing_is_sent(protocol: str) -> None:
    entered = anyio.Event()
    cancelled: list[bool] = []

    async def slow(arguments: dict[str, Any]) -> None:
        entered.set()
        try:
            await anyio.sleep_forever()
        except BaseException:
            cancelled.append(True)
            raise

    async with connected(protocol) as (client, _server):
        await client.add_tool(WEATHER, slow)
        sent = Sent(client)
        async with client:
            await client.send_user_message_content([{"type": "input_text", "text": "weather please"}])
            with anyio.fail_after(10):
                await entered.wait()
        assert cancelled == [True]
        assert sent.outputs() == []
