"""``agent-rt demo`` with the main package alone (no clock plugin): its own get_time and calculate."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from agent_rt._demo_tools import calculate, fallback_tools, get_time


@pytest.mark.parametrize(
    ("expression", "result"),
    [
        ("(17 + 4) * 23", 483),
        ("7 / 2", 3.5),
        ("8 / 2", 4),
        ("-3 + 1", -2),
        ("17 // 5 % 3", 0),
        ("1.5 * 2", 3),
    ],
)
def test_calculate(expression: str, result: Any) -> None:
    assert calculate(expression) == {"expression": expression, "result": result}


@pytest.mark.parametrize("expression", ["__import__('os')", "2 ** 10", "a + 1", "True + 1", "[1]", "1" * 201])
def test_calculate_refuses_anything_else(expression: str) -> None:
    with pytest.raises((ValueError, SyntaxError)):
        calculate(expression)


def test_get_time_and_which_tools_are_missing() -> None:
    assert set(get_time("Asia/Tokyo")) == {"timezone", "time", "weekday"}
    assert [tool.name for tool in fallback_tools(["get_time"])] == ["calculate"]
    assert fallback_tools(["get_time", "calculate", "other"]) == []


def test_the_demo_works_without_any_plugin() -> None:
    env = {key: value for key, value in os.environ.items() if key != "OPENAI_API_KEY"}
    env["AGENT_RT_PLUGINS"] = "none"
    result = subprocess.run(
        [sys.executable, "-m", "agent_rt", "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "tools: get_time, calculate  (plugins: none)" in result.stdout
    assert "assistant> (17 + 4) * 23 is 483." in result.stdout
    assert "{output" not in result.stdout
