"""McpServers against real MCP servers (the SDK's stdio and streamable HTTP), on asyncio and trio."""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import pytest

from agent_rt.mcp import McpServerError, McpServers
from agent_rt.tools import ToolRegistry, execute_tool_call, function_tool

from .helpers import http_calc_server, new_marker, processes_with, stdio_server

pytestmark = pytest.mark.anyio


async def call(registry: ToolRegistry, name: str, arguments: dict[str, Any]) -> tuple[bool, Any]:
    result = await execute_tool_call(registry.get(name), name, "call_1", json.dumps(arguments))
    return result.ok, json.loads(result.output)


async def test_stdio_server_tools_are_registered_called_and_the_process_stopped() -> None:
    marker = new_marker()
    registry = ToolRegistry()
    async with McpServers({"mcpServers": {"calc": stdio_server(marker)}}, registry) as servers:
        assert servers.state("calc") == "running"
        assert len(processes_with(marker)) == 1
        assert {"add", "divide", "shout", "slow", "grow"} <= set(registry.names())
        add = registry.get("add")
        assert add is not None
        assert add.plugin == "mcp:calc"
        assert add.parameters["required"] == ["a", "b"]
        assert await call(registry, "add", {"a": 2, "b": 3}) == (True, 5)
        # inputSchema is the tool's parameters: bad arguments never reach the server
        ok, output = await call(registry, "add", {"a": "two"})
        assert not ok
        assert "'b' is a required property" in output["error"]
    assert processes_with(marker) == []
    assert registry.names() == []
    assert servers.state("calc") == "stopped"


async def test_cancellation_and_errors_stop_the_process_too() -> None:
    marker = new_marker()
    with anyio.move_on_after(30) as scope:
        async with McpServers({"calc": stdio_server(marker)}):
            assert processes_with(marker)
            scope.cancel()
            await anyio.sleep_forever()
    assert scope.cancelled_caught
    assert processes_with(marker) == []

    marker = new_marker()

    async def fail_inside() -> None:
        async with McpServers({"calc": stdio_server(marker)}):
            assert processes_with(marker)
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        await fail_inside()
    assert processes_with(marker) == []


async def test_servers_run_in_a_given_task_group_and_stop_with_it() -> None:
    marker = new_marker()
    registry = ToolRegistry()
    async with anyio.create_task_group() as group:
        servers = McpServers({"calc": stdio_server(marker)}, registry)
        await servers.start(group)
        assert await call(registry, "add", {"a": 1, "b": 1}) == (True, 2)
        group.cancel_scope.cancel()
    assert processes_with(marker) == []


async def test_a_server_that_fails_to_start_is_reported_and_the_others_work(caplog: Any) -> None:
    good, bad = new_marker(), new_marker()
    config = {
        "broken": stdio_server(bad, "--fail"),
        "missing": {"command": "/nonexistent/mcp-server"},
        "calc": stdio_server(good),
        "offline": {"url": "http://127.0.0.1:9/mcp"},
    }
    registry = ToolRegistry()
    with caplog.at_level(logging.INFO, logger="agent_rt.mcp"):
        async with McpServers(config, registry, start_timeout=10) as servers:
            failures = servers.failures
            assert set(failures) == {"broken", "missing", "offline"}
            assert "process ended" in failures["broken"]
            assert "No such file" in failures["missing"]
            assert servers.state("calc") == "running"
            assert await call(registry, "shout", {"text": "still here"}) == (True, "STILL HERE")
    assert processes_with(good) == []
    assert processes_with(bad) == []
    logged = caplog.text
    assert "refusing to start (--fail)" in logged  # the server's stderr went to the log
    assert "MCP server 'missing'" in logged


async def test_name_clash_is_a_clear_error_and_prefix_resolves_it() -> None:
    first, second = new_marker(), new_marker()
    registry = ToolRegistry()
    config = {"one": stdio_server(first), "two": stdio_server(second)}
    async with McpServers(config, registry) as servers:
        assert servers.state("one") == "running"
        assert servers.state("two") == "failed"
        message = servers.failures["two"]
        assert "'add' is already provided by MCP server 'one'" in message
        assert '"prefix"' in message
        add = registry.get("add")
        assert add is not None
        assert add.plugin == "mcp:one"
    assert processes_with(first) == []
    assert processes_with(second) == []

    registry = ToolRegistry()
    config = {"one": stdio_server(first), "two": stdio_server(second, prefix="two_")}
    async with McpServers(config, registry) as servers:
        assert servers.failures == {}
        assert await call(registry, "two_add", {"a": 20, "b": 22}) == (True, 42)
        assert await call(registry, "add", {"a": 1, "b": 2}) == (True, 3)


async def test_a_clash_with_a_plugin_tool_names_the_plugin() -> None:
    @function_tool
    def shout(text: str) -> str:
        """Shouts, the plugin way."""
        return text

    registry = ToolRegistry()
    registry.add(shout.evolve(plugin="loud"))
    async with McpServers({"calc": stdio_server(new_marker())}, registry) as servers:
        assert "already provided by plugin 'loud'" in servers.failures["calc"]
        assert registry.names() == ["shout"]


async def test_reserved_session_tool_names_clash_too() -> None:
    registry = ToolRegistry()
    async with McpServers(
        {"calc": stdio_server(new_marker())}, registry, reserved_names=lambda: {"divide"}
    ) as servers:
        assert "'divide' is already provided by the session tools" in servers.failures["calc"]


async def test_is_error_results_become_error_outputs_the_model_reads() -> None:
    registry = ToolRegistry()
    async with McpServers({"calc": stdio_server(new_marker())}, registry):
        ok, output = await call(registry, "divide", {"a": 1, "b": 0})
        assert not ok
        assert output["error"].startswith("McpToolError:")
        assert "cannot divide by zero" in output["error"]
        assert await call(registry, "divide", {"a": 1, "b": 4}) == (True, 0.25)


async def test_a_call_past_the_tool_timeout_is_an_error_and_the_server_goes_on() -> None:
    registry = ToolRegistry()
    config = {"calc": stdio_server(new_marker(), timeout=0.5)}
    async with McpServers(config, registry):
        slow = registry.get("slow")
        assert slow is not None
        assert slow.timeout == 0.5
        ok, output = await call(registry, "slow", {"seconds": 30})
        assert not ok
        assert "timed out after 0.5 s" in output["error"]
        assert await call(registry, "slow", {"seconds": 0}) == (True, "awake")


async def test_tools_list_changed_updates_the_registry_and_calls_back() -> None:
    registry = ToolRegistry()
    changed = anyio.Event()
    async with McpServers(
        {"calc": stdio_server(new_marker())}, registry, on_tools_changed=changed.set
    ) as servers:
        assert "multiply" not in registry
        assert await call(registry, "grow", {}) == (True, "grown")
        with anyio.fail_after(10):
            await changed.wait()
        assert "multiply" in servers.tool_names("calc")
        assert await call(registry, "multiply", {"a": 6, "b": 7}) == (True, 42)


async def test_a_server_killed_mid_call_gives_an_error_output_and_its_tools_go() -> None:
    marker = new_marker()
    registry = ToolRegistry()

    @function_tool
    def ping() -> str:
        """Replies pong."""
        return "pong"

    registry.add(ping)
    changed = anyio.Event()
    async with McpServers({"calc": stdio_server(marker)}, registry, on_tools_changed=changed.set) as servers:
        ok, output = await call(registry, "crash", {})
        assert not ok
        assert "MCP server 'calc'" in output["error"]
        with anyio.fail_after(10):
            await changed.wait()
        assert servers.state("calc") == "failed"
        assert registry.names() == ["ping"]  # the dead server's tools are gone, others stay
        ok, output = await call(registry, "add", {"a": 1, "b": 1})
        assert not ok
        assert "unknown tool" in output["error"]
        assert await call(registry, "ping", {}) == (True, "pong")
    assert processes_with(marker) == []


async def test_descriptions_env_and_cwd(tmp_path: Any) -> None:
    registry = ToolRegistry()
    config = {"calc": stdio_server(new_marker(), env={"CALC_GREETING": "hej"}, cwd=str(tmp_path))}
    async with McpServers(config, registry):
        shout = registry.get("shout")
        assert shout is not None
        assert shout.description == "shout (a tool of the MCP server 'calc')"
        ok, who = await call(registry, "whoami", {})
        assert ok
        assert who["greeting"] == "hej"
        assert who["cwd"] == str(tmp_path)
        ok, picture = await call(registry, "picture", {})
        assert ok
        assert picture == ["a red dot", {"type": "image", "mime_type": "image/png", "bytes": 12}]


async def test_streamable_http_server() -> None:
    registry = ToolRegistry()
    with http_calc_server() as url:
        async with McpServers({"web": {"url": url, "headers": {"X-Test": "1"}}}, registry) as servers:
            assert servers.failures == {}
            assert await call(registry, "add", {"a": 2, "b": 3}) == (True, 5)
            ok, output = await call(registry, "divide", {"a": 2, "b": 0})
            assert not ok
            assert "cannot divide by zero" in output["error"]


async def test_start_twice_and_unknown_server() -> None:
    async with McpServers({"calc": stdio_server(new_marker())}) as servers:
        async with anyio.create_task_group() as group:
            with pytest.raises(RuntimeError, match="already"):
                await servers.start(group)
        with pytest.raises(McpServerError, match="no such server"):
            await servers.call("nope", "add", {})
    with pytest.raises(McpServerError, match="not running"):
        await servers.call("calc", "add", {"a": 1, "b": 2})
