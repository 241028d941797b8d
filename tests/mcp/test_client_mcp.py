"""RealtimeClient(mcp_servers=...) on the local server: the model calls MCP tools in a text turn."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from agent_rt import RealtimeClient
from agent_rt.server import LocalRealtimeServer

from .helpers import http_calc_server, new_marker, processes_with, stdio_server

pytestmark = pytest.mark.anyio

SCENARIO = {
    "rules": [
        {
            "match": "crash",
            "calls": [{"name": "crash", "arguments": {}}],
            "after_output": "Crash said {output.error}",
        },
        {"match": "grow", "calls": [{"name": "grow", "arguments": {}}], "after_output": "Grew: {output}"},
        {
            "match": "add",
            "calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}],
            "after_output": "2 plus 3 is {output}.",
        },
        {
            "match": "remote",
            "calls": [{"name": "remote_add", "arguments": {"a": 2, "b": 3}}],
            "after_output": "remote says {output}",
        },
    ]
}


async def answer(client: RealtimeClient, text: str) -> dict[str, Any]:
    await client.send_user_message_content([{"type": "input_text", "text": text}])
    while True:
        item = await client.wait_for_next_completed_item(timeout=20)
        if item.get("type") == "message" and item.get("role") == "assistant":
            return item


async def test_the_model_calls_an_mcp_tool_and_answers_with_the_result() -> None:
    marker = new_marker()
    finished: list[dict[str, Any]] = []
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client = RealtimeClient(
            url=server.url,
            api_key="test",
            plugins=False,
            mcp_servers={"mcpServers": {"calc": stdio_server(marker)}},
        )
        client.on("tool.call.finished", finished.append)
        await client.update_session(modalities=["text"])
        async with client:
            assert len(processes_with(marker)) == 1
            assert "add" in client.tools.names()
            session = await client.wait_for_session_created(timeout=10)
            assert session is not None
            item = await answer(client, "please add")
            assert item["formatted"]["text"] == "2 plus 3 is 5."
            assert finished[-1]["name"] == "add"
            assert finished[-1]["ok"]
            # the session the server holds has the MCP tools
            tools = server.connections[0].session.config.tools
            assert "add" in [tool.get("name") for tool in tools]
        assert processes_with(marker) == []
        assert client.tools.names() == []
        assert client.mcp.servers is None


async def test_a_server_killed_mid_call_gives_an_error_output_and_the_session_goes_on() -> None:
    marker = new_marker()
    config = {"mcpServers": {"calc": stdio_server(marker)}}
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client = RealtimeClient(url=server.url, api_key="test", plugins=False, mcp_servers=config)
        await client.update_session(modalities=["text"])
        async with client:
            item = await answer(client, "crash now")
            assert item["formatted"]["text"].startswith("Crash said McpServerError: MCP server 'calc'")
            # the dead server's tools left the session; the conversation goes on
            item = await answer(client, "hello")
            assert item["formatted"]["text"] == "You said: hello"
            with anyio.fail_after(10):
                while "add" in [t.get("name") for t in server.connections[0].session.config.tools]:
                    await client.wait_for_next("realtime.event")
            assert client.mcp.failures == {"calc": "connection lost during a call to 'crash'"}
        assert processes_with(marker) == []


async def test_list_changed_updates_the_session() -> None:
    config = {"mcpServers": {"calc": stdio_server(new_marker())}}
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client = RealtimeClient(url=server.url, api_key="test", plugins=False, mcp_servers=config)
        await client.update_session(modalities=["text"])
        async with client:
            item = await answer(client, "grow")
            assert item["formatted"]["text"] == "Grew: grown"
            with anyio.fail_after(10):
                while "multiply" not in [t.get("name") for t in server.connections[0].session.config.tools]:
                    await client.wait_for_next("realtime.event")


async def test_a_failing_server_does_not_stop_the_client_and_prefix_works() -> None:
    config = {
        "mcpServers": {
            "broken": {"command": "/nonexistent/mcp"},
            "calc": stdio_server(new_marker()),
        }
    }
    with http_calc_server() as url:
        config["mcpServers"]["remote"] = {"url": url, "prefix": "remote_"}
        async with LocalRealtimeServer(scenario=SCENARIO) as server:
            client = RealtimeClient(url=server.url, api_key="test", plugins=False, mcp_servers=config)
            await client.update_session(modalities=["text"])
            async with client:
                assert set(client.mcp.failures) == {"broken"}
                item = await answer(client, "remote")
                assert item["formatted"]["text"] == "remote says 5"


async def test_the_environment_variable_and_a_bad_config(tmp_path: Any, monkeypatch: Any) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"calc": stdio_server(new_marker())}}))
    monkeypatch.setenv("AGENT_RT_MCP_CONFIG", str(path))
    client = RealtimeClient(api_key="test", plugins=False)
    assert [c.name for c in client.mcp.configs] == ["calc"]
    from agent_rt.mcp import McpConfigError

    with pytest.raises(McpConfigError):
        RealtimeClient(api_key="test", plugins=False, mcp_servers={"mcpServers": {"x": {}}})


async def test_remote_mcp_approval_through_the_client() -> None:
    scenario = {"rules": [{"match": "add", "calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}]}]}
    with http_calc_server() as url:
        async with LocalRealtimeServer(scenario=scenario) as server:
            client = RealtimeClient(url=server.url, api_key="test", plugins=False)
            await client.update_session(
                modalities=["text"], tools=[{"type": "mcp", "server_label": "calc", "server_url": url}]
            )
            async with client:
                listing = await client.wait_for_next_completed_item(timeout=20)
                assert listing["type"] == "mcp_list_tools"
                assert "add" in [tool["name"] for tool in listing["formatted"]["tools"]]
                await client.send_user_message_content([{"type": "input_text", "text": "add"}])
                while True:
                    item = await client.wait_for_next_completed_item(timeout=20)
                    if item["type"] == "mcp_approval_request":
                        break
                await client.approve_mcp(item["id"], approve=True)
                while True:
                    done = await client.wait_for_next_completed_item(timeout=20)
                    if done["type"] == "message" and done.get("role") == "assistant":
                        break
                assert done["formatted"]["text"] == "Here is the result: 5"
                calls = [i for i in client.conversation.get_items() if i["type"] == "mcp_call"]
                assert calls[0]["formatted"]["output"] == "5"
                assert calls[0]["approval_request_id"] == item["id"]


async def test_the_servers_survive_a_reconnect_and_the_new_session_gets_their_tools() -> None:
    from agent_rt.reconnect import ReconnectPolicy

    marker = new_marker()
    config = {"mcpServers": {"calc": stdio_server(marker)}}
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client = RealtimeClient(
            url=server.url,
            api_key="test",
            plugins=False,
            mcp_servers=config,
            reconnect=ReconnectPolicy(initial_delay=0.01),
        )
        await client.update_session(modalities=["text"])
        async with client:
            (pid,) = processes_with(marker)
            await client.wait_for_session_created(timeout=10)
            server.connections[0].end(1006)  # the link drops
            await client.wait_for_next("reconnected", timeout=10)
            assert processes_with(marker) == [pid]  # the same server process
            tools = [tool.get("name") for tool in server.connections[1].session.config.tools]
            assert "add" in tools
            item = await answer(client, "add please")
            assert item["formatted"]["text"] == "2 plus 3 is 5."
        assert processes_with(marker) == []


async def test_connect_cancelled_while_the_servers_start_leaves_nothing_running() -> None:
    marker = new_marker()
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        hanging = {"calc": stdio_server(marker, "--hang")}  # runs, but never answers initialize
        client = RealtimeClient(url=server.url, api_key="test", plugins=False, mcp_servers=hanging)
        with anyio.move_on_after(3) as scope:  # connect() waits for the server (30 s start timeout)
            await client.connect()
        assert scope.cancelled_caught
        assert not client.is_connected()
        assert processes_with(marker) == []  # stopped: stdin closed, then SIGTERM (it ignores EOF)
        assert client.tools.names() == []
        assert len(server.connections) == 1  # the Realtime connection was open, and is closed
        with anyio.fail_after(10):
            await server.connections[0].closed.wait()
