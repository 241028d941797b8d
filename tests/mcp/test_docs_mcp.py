"""The snippets of docs/mcp.md run: the JSON config, the Python examples, the commands."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
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


def test_commands(tmp_path: Path) -> None:
    folder = config_dir(tmp_path)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("OPENAI_API_KEY", "AGENT_RT_MCP_CONFIG")
    }
    (commands,) = blocks("bash")
    for line in commands.splitlines():
        if "tools" not in line:
            continue
        command = line.split("#")[0].split()
        assert command[0] == "agent-rt"
        arguments = [part.strip("'") for part in re.findall(r"'[^']*'|\S+", line.split("  #")[0])[1:]]
        result = subprocess.run(
            [sys.executable, "-m", "agent_rt", *arguments],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=folder,
            env=env,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        if "call" in arguments:
            assert result.stdout == "5\n"
        else:
            assert "add (MCP server calc):" in result.stdout
