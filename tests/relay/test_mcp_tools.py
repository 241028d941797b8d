"""MCP servers as the relay's server-side tools, over real sockets: a stdio MCP server (a child
process) shared by the sessions of a relay under uvicorn, started and stopped with its lifespan."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from agent_rt.mcp import McpConfigError, McpServerError
from agent_rt.relay import create_relay_app
from agent_rt.tools import ToolRegistry, function_tool

from ..mcp.helpers import new_marker, processes_with, stdio_server
from .helpers import peer, running

pytestmark = pytest.mark.anyio
TOKEN = "relay-token-mcp"
SECRET = "mcp-secret-value-0123456789"
SCENARIO = {
    "rules": [
        {
            "regex": r"add and shout (?P<word>\w+)",
            "calls": [
                {"name": "add", "arguments": {"a": 20, "b": 22}},
                {"name": "shout", "arguments": {"text": "{word}"}},
            ],
            "after_output": "{add} and {shout}",
        },
        {"match": "crash", "calls": [{"name": "crash", "arguments": {}}], "after_output": "{output.error}"},
        {"match": "add again", "calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}]},
        {"match": "add words", "calls": [{"name": "add", "arguments": {"a": "one", "b": 2}}]},
    ]
}


@pytest.fixture(autouse=True)
def _no_upstream_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def _outputs(events: list[dict[str, Any]]) -> dict[str, str]:
    """The ``function_call_output`` items the relay added, by call id."""
    items = [e["item"] for e in events if e["type"] == "conversation.item.added"]
    return {i["call_id"]: i["output"] for i in items if i["type"] == "function_call_output"}


async def _turn(client: Any, text: str, responses: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Say ``text``; the events up to the ``responses``-th ``response.done``, and those ``response.done``s."""
    start = len(client.seen)
    await client.ask(text)
    dones = [await client.until("response.done") for _ in range(responses)]
    return client.seen[start:], dones


async def test_sessions_share_one_mcp_server_and_the_relay_answers_its_tools() -> None:
    marker = new_marker()
    registry = ToolRegistry()

    @function_tool
    def local_echo(text: str) -> str:
        """Echo the text."""
        return text

    registry.add(local_echo)
    config = {"mcpServers": {"calc": stdio_server(marker)}}
    app = create_relay_app(tokens=[TOKEN], tools=registry, mcp_servers=config, scenario=SCENARIO)
    with running(app) as relay:

        async def session(word: str) -> None:
            async with peer(relay.url, token=TOKEN) as client:
                await client.until("session.created")
                opening = await client.until("session.updated")
                names = [tool["name"] for tool in opening["session"]["tools"]]
                assert names[0] == "local_echo"  # the application's tools, then the MCP server's
                assert {"add", "shout", "slow"} <= set(names)
                events, (first, second) = await _turn(client, f"add and shout {word}", 2)
                calls = {item["name"]: item["call_id"] for item in first["response"]["output"]}
                outputs = _outputs(events)  # both calls went through the one MCP session at once
                assert json.loads(outputs[calls["add"]]) == 42
                assert json.loads(outputs[calls["shout"]]) == word.upper()
                text = second["response"]["output"][0]["content"][0]
                assert (text.get("text") or text.get("transcript")) == f"42 and {word.upper()}"

        async with anyio.create_task_group() as tasks:
            for word in ("alpha", "beta", "gamma"):
                tasks.start_soon(session, word)
        assert len(processes_with(marker)) == 1  # one MCP server for every session of the process
        assert relay.relay.metrics.sessions_total == 3
    assert processes_with(marker) == []  # shutdown stopped it
    assert registry.names() == ["local_echo"]  # the application's registry was not changed


async def test_a_dead_server_s_tools_get_error_outputs_not_silence() -> None:
    app = create_relay_app(
        tokens=[TOKEN], mcp_servers={"calc": stdio_server(new_marker())}, scenario=SCENARIO
    )
    with running(app) as relay:
        async with peer(relay.url, token=TOKEN) as client:
            await client.until("session.updated")
            # The shared runtime checks the arguments against the server's inputSchema first.
            events, _ = await _turn(client, "add words", 2)
            (output,) = _outputs(events).values()
            assert json.loads(output)["error"].startswith("invalid arguments: ")
            events, (_, said) = await _turn(client, "crash", 2)
            (output,) = _outputs(events).values()
            error = json.loads(output)["error"]
            assert "calling 'crash' failed" in error
            assert said["response"]["output"][0]["content"][0]["transcript"] == error
            # Its tools left the registry, but the session still has them: the relay answers.
            events, (call,) = await _turn(client, "add again", 1)
            assert call["response"]["output"][0]["name"] == "add"
            (output,) = _outputs(await _until_output(client, events)).values()
            assert json.loads(output)["error"] == "unknown tool 'add'"
        assert "add" not in relay.relay.tools  # type: ignore[operator]
        assert relay.relay.tool_definitions == []  # new sessions don't get the dead server's tools


async def _until_output(client: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``events`` plus what arrives until a ``function_call_output`` item was added."""
    while not _outputs(events):
        events.append(await client.next_event())
    return events


async def test_a_server_that_fails_to_start_fails_the_lifespan_in_one_line() -> None:
    marker = new_marker()
    servers = {
        "good": stdio_server(marker),
        "bad": stdio_server(marker, "--fail", env={"API_TOKEN": SECRET}),
    }
    app = create_relay_app("ws://127.0.0.1:9/v1/realtime", mcp_servers=servers)
    relay = app.state.relay
    with anyio.fail_after(60), pytest.raises(McpServerError) as failure:
        async with relay.lifespan():
            pytest.fail("the lifespan started")
    message = str(failure.value)
    assert message.startswith("MCP server(s) failed to start: 'bad': ")
    assert "\n" not in message
    assert SECRET not in message
    assert "good" not in message
    assert relay.startup_error is failure.value
    assert processes_with(marker) == []  # the server that did start was stopped
    assert relay.tools.names() == []


async def test_without_the_lifespan_sessions_are_refused_with_the_reason() -> None:
    app = create_relay_app(tokens=[TOKEN], mcp_servers={"calc": stdio_server(new_marker())})
    with running(app, lifespan="off") as relay:
        async with peer(relay.url, token=TOKEN) as client:
            closed = await client.closed()
    assert closed.code == 1011
    assert "MCP servers are not running" in (closed.reason or "")


def test_bad_configurations_fail_when_the_app_is_made() -> None:
    with pytest.raises(McpConfigError, match="give either 'command'"):
        create_relay_app(mcp_servers={"mcpServers": {"x": {"args": []}}})
    with pytest.raises(McpConfigError, match="cannot read MCP config"):
        create_relay_app(mcp_servers="/nonexistent/mcp.json")
    app = create_relay_app(mcp_servers=None)  # None is no servers: the environment is not read
    assert app.state.relay.mcp is None
    assert app.state.relay.tools is None


def _tool_names(event: dict[str, Any]) -> list[str]:
    return [tool["name"] for tool in event["session"]["tools"]]


async def test_open_sessions_get_the_tools_an_mcp_server_adds_and_keep_the_clients() -> None:
    scenario = {
        "rules": [
            {"match": "grow", "calls": [{"name": "grow", "arguments": {}}], "after_output": "grown"},
            {
                "match": "times",
                "calls": [{"name": "multiply", "arguments": {"a": 6, "b": 7}}],
                "after_output": "{multiply}",
            },
        ]
    }
    config = {"mcpServers": {"calc": stdio_server(new_marker())}}
    app = create_relay_app(tokens=[TOKEN], mcp_servers=config, scenario=scenario)
    mine = {
        "type": "function",
        "name": "client_side",
        "description": "A tool the page answers.",
        "parameters": {"type": "object", "properties": {}},
    }
    with running(app) as relay:
        async with peer(relay.url, token=TOKEN) as client:
            await client.until("session.created")
            assert "multiply" not in _tool_names(await client.until("session.updated"))
            await client.send("session.update", session={"type": "realtime", "tools": [mine]})
            assert _tool_names(await client.until("session.updated"))[0] == "client_side"
            events, _ = await _turn(client, "grow", 2)  # the relay answers grow: the server adds multiply
            updates = [_tool_names(e) for e in events if e["type"] == "session.updated"]
            with anyio.fail_after(10):
                while not any("multiply" in names for names in updates):
                    updates.append(_tool_names(await client.until("session.updated")))
            names = next(names for names in updates if "multiply" in names)
            assert names[0] == "client_side"
            assert {"grow", "add"} <= set(names)
            _, (call, answer) = await _turn(client, "times", 2)
            assert call["response"]["output"][0]["name"] == "multiply"
            assert "42" in json.dumps(answer["response"]["output"])
        # A session opened now gets the tool from the start.
        async with peer(relay.url, token=TOKEN) as client:
            await client.until("session.created")
            assert "multiply" in _tool_names(await client.until("session.updated"))
