"""Every example runs offline against the local server (no key), as a user would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

EXPECTED = {
    "text_chat.py": ["assistant: I'm a local stand-in model. Nice to meet you!", "s of audio)"],
    "event_logger.py": ['"source": "client"', '"type": "response.done"', "chars>"],
    "wav_conversation.py": ["heard: 'what is a websocket'", "reply: 'A two-way pipe.'", "reply.wav"],
    "interruption.py": ["the item keeps 7200 samples", "response status: cancelled"],
    "weather.py": ["offline: a loopback stand-in", "Right now in Paris it is 9.5°C, with wind at 14.2 km/h."],
    "custom_tool.py": ["[tool] ok=True", "For 3 cups use 45.9 g of coffee and 750.0 ml."],
    "mcp_tools.py": [
        "tools from the MCP server: add, divide",
        "2 plus 3 is 5.",
        "The calculator refused: McpToolError: Error executing tool divide: cannot divide by zero",
        "MCP server stopped: True",
    ],
    "reconnect.py": [
        "Nice to meet you, Ada!",
        "reconnecting: attempt 1",
        "2 items lost",
        "the cache holds 0 items",
        "Welcome back! Where were we?",
    ],
}


def test_every_example_is_covered() -> None:
    scripts = {path.name for path in EXAMPLES.glob("*.py") if not path.name.startswith("_")}
    assert scripts == set(EXPECTED)


@pytest.mark.parametrize("backend", [[], ["--trio"]], ids=["asyncio", "trio"])
@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_example_runs_offline(script: str, backend: list[str]) -> None:
    env = {key: value for key, value in os.environ.items() if key != "OPENAI_API_KEY"}
    env.pop("AGENT_RT_WEATHER_URL", None)
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *backend],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=EXAMPLES,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "using the local Realtime server" in result.stdout
    for line in EXPECTED[script]:
        assert line in result.stdout
