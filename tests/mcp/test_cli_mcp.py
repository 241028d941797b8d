"""``agent-rt tools list|call --mcp-config FILE``, run as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .helpers import free_port, http_calc_server, new_marker, processes_with, stdio_server, wait_for_port


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {
        key: value
        for key, value in os.environ.items()
        if key not in ("OPENAI_API_KEY", "AGENT_RT_MCP_CONFIG")
    }
    return subprocess.run(
        [sys.executable, "-m", "agent_rt", *args],
        capture_output=True,
        text=True,
        timeout=90,
        env={**base, **(env or {})},
        check=False,
    )


def write_config(tmp_path: Path, servers: dict[str, Any]) -> str:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": servers}))
    return str(path)


def test_tools_list_shows_mcp_tools_beside_plugin_tools(tmp_path: Path) -> None:
    marker = new_marker()
    with http_calc_server() as url:
        config = write_config(tmp_path, {"calc": stdio_server(marker), "web": {"url": url, "prefix": "web_"}})
        result = run("tools", "list", "--mcp-config", config)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "get_time (plugin clock):" in out  # the plugin tools are still listed
    assert "add (MCP server calc):" in out
    assert "web_add (MCP server web):" in out
    assert "MCP server calc [stdio:" in out
    assert "MCP server web [http: " in out
    assert '"required": [\n      "a",\n      "b"\n    ]' in out
    assert processes_with(marker) == []


def test_tools_call_prints_the_result_or_the_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"calc": stdio_server(new_marker())})
    result = run("tools", "call", "add", '{"a": 2, "b": 3}', "--mcp-config", config)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "5\n"

    result = run("tools", "call", "divide", '{"a": 2, "b": 0}', "--mcp-config", config)
    assert result.returncode == 1
    assert "cannot divide by zero" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""

    result = run("tools", "call", "add", '{"a": 2}', "--mcp-config", config)
    assert result.returncode == 1
    assert "'b' is a required property" in result.stderr


def test_streamable_http_and_the_environment_variable(tmp_path: Path) -> None:
    with http_calc_server() as url:
        config = write_config(tmp_path, {"web": {"url": url}})
        result = run("tools", "call", "add", '{"a": 20, "b": 22}', env={"AGENT_RT_MCP_CONFIG": config})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "42\n"


def test_a_failing_server_is_reported_and_the_others_work(tmp_path: Path) -> None:
    marker = new_marker()
    config = write_config(tmp_path, {"broken": {"command": "/nonexistent/mcp"}, "calc": stdio_server(marker)})
    listed = run("tools", "list", "--mcp-config", config)
    assert listed.returncode == 1
    assert "MCP server broken [stdio: /nonexistent/mcp]: error: FileNotFoundError" in listed.stdout
    assert "add (MCP server calc):" in listed.stdout
    called = run("tools", "call", "shout", '{"text": "hi"}', "--mcp-config", config)
    assert called.returncode == 0, called.stderr
    assert called.stdout == '"HI"\n'
    assert "MCP server 'broken' not available" in called.stderr
    assert processes_with(marker) == []


def test_bad_config_and_unknown_tool_are_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"mcpServers": {"x": {"url": "ftp://nope"}}}')
    result = run("tools", "call", "add", "{}", "--mcp-config", str(bad))
    assert result.returncode == 1
    assert (
        result.stderr.strip() == "agent-rt: error: MCP server 'x': 'url' must be an http:// or https:// URL"
    )
    config = write_config(tmp_path, {"calc": stdio_server(new_marker())})
    result = run("tools", "call", "nope", "{}", "--mcp-config", config)
    assert result.returncode == 1
    assert "unknown tool 'nope'" in result.stderr
    assert "add" in result.stderr


def _interruptible() -> None:
    """Ctrl-C reaches the command as from a terminal, even when pytest itself runs as a background
    job: a shell starts those with SIGINT ignored, the child inherits that, and Python (like any
    well-behaved program) then keeps ignoring it, so the signal would never arrive."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("backend", [[], ["--trio"]], ids=["asyncio", "trio"])
def test_a_signal_mid_call_leaves_no_orphan(tmp_path: Path, signum: int, backend: list[str]) -> None:
    marker = new_marker()
    config = write_config(tmp_path, {"calc": stdio_server(marker)})
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("OPENAI_API_KEY", "AGENT_RT_MCP_CONFIG")
    }
    command = [sys.executable, "-m", "agent_rt", "--debug", *backend]
    process = subprocess.Popen(
        [*command, "tools", "call", "slow", '{"seconds": 60}', "--mcp-config", config],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        preexec_fn=_interruptible,
    )
    assert process.stderr is not None
    try:
        for line in process.stderr:  # the server says so once the call is in flight
            if "slow: sleeping 60" in line:
                break
        assert len(processes_with(marker)) == 1
        process.send_signal(signum)
        status = process.wait(30)
    finally:
        process.kill()
        process.stderr.close()
    assert status == (130 if signum == signal.SIGINT else 143)
    assert processes_with(marker) == []


def test_chat_with_mcp_tools_against_a_served_scenario(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.json"
    rule = {
        "match": "add",
        "calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}],
        "after_output": "It is {output}.",
    }
    scenario.write_text(json.dumps({"rules": [rule]}))
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("OPENAI_API_KEY", "AGENT_RT_MCP_CONFIG")
    }
    command = [sys.executable, "-m", "agent_rt", "serve", "--port", str(port), "--scenario", str(scenario)]
    serve = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    marker = new_marker()
    try:
        wait_for_port(port, serve)
        config = write_config(tmp_path, {"calc": stdio_server(marker)})
        url = f"ws://127.0.0.1:{port}/v1/realtime"
        result = subprocess.run(
            [sys.executable, "-m", "agent_rt", "chat", "--url", url, "--mcp-config", config],
            input="please add two and three\n",
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
    finally:
        serve.terminate()
        serve.wait(10)
    assert result.returncode == 0, result.stderr
    assert 'tool call  add({"a": 2, "b": 3})' in result.stdout
    assert "assistant> It is 5." in result.stdout
    assert processes_with(marker) == []
