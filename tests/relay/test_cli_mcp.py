"""``agent-rt relay|console --mcp-config FILE`` as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ..mcp.helpers import new_marker, processes_with, stdio_server
from .helpers import peer
from .test_cli import TOKEN, relay_command

SECRET = "mcp-secret-value-9876543210"


def _write(tmp_path: Path, servers: dict[str, Any]) -> str:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": servers}))
    return str(path)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "AGENT_RT_MCP_CONFIG")}
    return subprocess.run(
        [sys.executable, "-m", "agent_rt.cli", *args],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        check=False,
    )


@pytest.mark.anyio
async def test_the_relay_answers_mcp_tools_and_stops_the_server_on_sigterm(tmp_path: Path) -> None:
    marker = new_marker()
    config = _write(tmp_path, {"calc": stdio_server(marker)})
    scenario = tmp_path / "scenario.json"
    rule = {"match": "add", "calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}]}
    scenario.write_text(json.dumps({"rules": [rule], "after_output": "It is {output}."}))
    args = ("--port", "0", "--mcp-config", config, "--scenario", str(scenario))
    async with relay_command(*args, ready="relay: listening at") as lines:  # after the MCP servers
        url = next(line for line in lines if "listening at" in line).split()[3]
        async with peer(url, token=TOKEN) as client:
            opening = await client.until("session.updated")
            assert "add" in [tool["name"] for tool in opening["session"]["tools"]]
            call = await client.text_turn("please add")
            assert call["response"]["output"][0]["name"] == "add"
            answer = await client.until("response.done")
            assert answer["response"]["output"][0]["content"][0]["transcript"] == "It is 5."
        assert len(processes_with(marker)) == 1
    # relay_command sent SIGTERM and waited for the relay: its MCP server went with it.
    assert processes_with(marker) == []
    assert any("relay: MCP server 'calc' (stdio): add, " in line for line in lines)


@pytest.mark.parametrize("command", ["relay", "console"])
def test_a_bad_file_is_one_line_and_exit_1(tmp_path: Path, command: str) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"mcpServers": {')
    for path, expected in (
        (broken, "is not valid JSON"),
        (tmp_path / "missing.json", "cannot read MCP config"),
    ):
        result = _run(
            command,
            "--port",
            "0",
            "--no-browser" if command == "console" else "--no-tools",
            "--mcp-config",
            str(path),
        )
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith("agent-rt: error: ")
        assert expected in result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        assert "listening" not in result.stderr + result.stdout  # nothing started


@pytest.mark.parametrize(
    "args", [("relay",), ("relay", "--workers", "2"), ("console", "--no-browser")], ids=" ".join
)
def test_a_server_that_fails_to_start_is_one_error_line_and_exit_1(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    marker = new_marker()
    config = _write(
        tmp_path,
        {"good": stdio_server(marker), "bad": stdio_server(marker, "--fail", env={"API_TOKEN": SECRET})},
    )
    result = _run(*args, "--port", "0", "--mcp-config", config)
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("agent-rt: error: ")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("agent-rt: error: MCP server(s) failed to start: 'bad': ")
    assert "Traceback" not in result.stderr
    assert "listening" not in result.stderr + result.stdout  # said only once the startup succeeded
    assert "console: open" not in result.stdout
    assert SECRET not in result.stderr + result.stdout
    assert processes_with(marker) == []
