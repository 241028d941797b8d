"""The snippets of docs/mcp.md run: the JSON config, the Python examples, the commands."""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import agent_rt
from agent_rt import RealtimeClient
from agent_rt.mcp import parse_mcp_config
from agent_rt.server import LocalRealtimeServer

from .helpers import SERVER

DOC = Path(__file__).resolve().parents[2] / "docs" / "mcp.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def config_dir(tmp_path: Path) -> Path:
    """The documented config with its stdio server (the calc test server as server.py); no HTTP server."""
    (config,) = blocks("json")
    raw = json.loads(config)
    assert [c.name for c in parse_mcp_config(raw)] == ["calc", "web"]
    del raw["mcpServers"]["web"]
    raw["mcpServers"]["calc"]["command"] = sys.executable
    (tmp_path / "mcp.json").write_text(json.dumps(raw))
    shutil.copy(SERVER, tmp_path / "server.py")
    return tmp_path


@pytest.mark.anyio
async def test_python_snippets(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(config_dir(tmp_path))
    printed: list[Any] = []
    async with LocalRealtimeServer() as server:
        local = functools.partial(RealtimeClient, url=server.url, api_key="test", plugins=False)
        monkeypatch.setattr(agent_rt, "RealtimeClient", local)  # what the snippet imports
        for snippet in blocks("python"):
            namespace: dict[str, Any] = {"client": local(), "print": printed.append}
            source = "async def _snippet():\n" + textwrap.indent(snippet, "    ")
            exec(compile(source, str(DOC), "exec"), namespace)
            await namespace["_snippet"]()
    assert "add" in printed[0]


#: The commands of the doc's bash block this test runs, by how their line starts (the rest of the line, the
#: arguments, is the doc's), with the check of each one's output: the calc server's tool listed, add's sum.
COMMANDS: dict[str, Callable[[str], bool]] = {
    "agent-rt tools list": lambda stdout: "add (MCP server calc):" in stdout,
    "agent-rt tools call": lambda stdout: stdout == "5\n",
}


def doc_command(start: str) -> list[str]:
    """The doc's command line starting with ``start``, split as a shell would (its comment dropped)."""
    (commands,) = blocks("bash")
    lines = [line for line in commands.splitlines() if line.startswith(start + " ")]
    assert len(lines) == 1, f"docs/mcp.md: expected one `{start} ...` line in its bash block, found {lines}"
    return shlex.split(lines[0], comments=True)


@pytest.mark.parametrize("start", list(COMMANDS))
def test_commands(tmp_path: Path, start: str) -> None:
    folder = config_dir(tmp_path)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("OPENAI_API_KEY", "AGENT_RT_MCP_CONFIG")
    }
    command = doc_command(start)
    assert command[0] == "agent-rt"
    result = subprocess.run(
        [sys.executable, "-m", "agent_rt", *command[1:]],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=folder,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert COMMANDS[start](result.stdout), f"unexpected output of {start}: {result.stdout!r}"
