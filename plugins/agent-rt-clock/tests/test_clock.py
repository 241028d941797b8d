"""agent_rt_clock: time zones and the ast-based calculator, without network."""

from __future__ import annotations

import importlib.metadata
import json
import operator
from datetime import datetime, timezone, tzinfo
from typing import Any

import agent_rt_clock
import pytest
from agent_rt_clock import CalculatorError, UnknownTimeZoneError, evaluate, load_zone, make_clock_tools
from agent_rt_clock.calculator import MAX_EXPRESSION_LENGTH
from hypothesis import given
from hypothesis import strategies as st

from agent_rt.plugins import load_plugins
from agent_rt.tools import Tool, execute_tool_call

WINTER = datetime(2025, 1, 15, 11, 30, 5, tzinfo=timezone.utc)
SUMMER = datetime(2025, 7, 15, 11, 30, 5, tzinfo=timezone.utc)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def tools_at(moment: datetime) -> dict[str, Tool]:
    def now(zone: tzinfo) -> datetime:
        return moment.astimezone(zone)

    return {tool.name: tool for tool in make_clock_tools(now=now)}


async def call(tool: Tool, arguments: dict[str, Any]) -> Any:
    result = await execute_tool_call(tool, tool.name, "call_1", json.dumps(arguments))
    return json.loads(result.output)


# -- get_time ----------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("moment", "zone", "expected"),
    [
        (
            WINTER,
            "Europe/Paris",
            {
                "timezone": "Europe/Paris",
                "iso": "2025-01-15T12:30:05+01:00",
                "date": "2025-01-15",
                "time": "12:30:05",
                "weekday": "Wednesday",
                "utc_offset": "+01:00",
                "abbreviation": "CET",
            },
        ),
        (
            SUMMER,
            "Europe/Paris",
            {
                "timezone": "Europe/Paris",
                "iso": "2025-07-15T13:30:05+02:00",
                "date": "2025-07-15",
                "time": "13:30:05",
                "weekday": "Tuesday",
                "utc_offset": "+02:00",
                "abbreviation": "CEST",
            },
        ),
        (
            WINTER,
            "America/St_Johns",
            {
                "timezone": "America/St_Johns",
                "iso": "2025-01-15T08:00:05-03:30",
                "date": "2025-01-15",
                "time": "08:00:05",
                "weekday": "Wednesday",
                "utc_offset": "-03:30",
                "abbreviation": "NST",
            },
        ),
    ],
)
async def test_get_time(moment: datetime, zone: str, expected: dict[str, str]) -> None:
    assert await call(tools_at(moment)["get_time"], {"timezone": zone}) == expected


@pytest.mark.anyio
async def test_get_time_defaults_to_utc() -> None:
    output = await call(tools_at(WINTER)["get_time"], {})
    assert (output["timezone"], output["iso"], output["utc_offset"]) == (
        "UTC",
        "2025-01-15T11:30:05+00:00",
        "+00:00",
    )


@pytest.mark.anyio
@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "America", "../../etc/passwd", "", "   "])
async def test_unknown_zone_is_a_clear_error(zone: str) -> None:
    output = await call(tools_at(WINTER)["get_time"], {"timezone": zone})
    assert output["error"].startswith("UnknownTimeZoneError: ")
    assert "use an IANA name such as 'Europe/Paris'" in output["error"]


def test_load_zone() -> None:
    assert load_zone(" Asia/Tokyo ").key == "Asia/Tokyo"
    with pytest.raises(UnknownTimeZoneError, match="unknown time zone 'Nowhere'"):
        load_zone("Nowhere")


def test_the_real_clock_is_used_by_default() -> None:
    tool = {tool.name: tool for tool in make_clock_tools()}["get_time"]
    before = datetime.now(timezone.utc).replace(microsecond=0)
    output = tool.handler({"timezone": "UTC"})
    after = datetime.now(timezone.utc)
    assert before <= datetime.fromisoformat(output["iso"]) <= after


# -- calculate -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("1 + 2", 3),
        ("(2 + 3) * 4 ** 2", 80),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 // 2", -4),
        ("7 % 3", 1),
        ("2 ** -1", 0.5),
        ("-(3 - 5)", 2),
        ("+4", 4),
        ("1_000 * 3", 3000),
        ("0.1 * 3", 0.1 * 3),
        ("2 ** 64", 18446744073709551616),
        ("10 ** 1000", 10**1000),
        ("  1.5e3 + 1 ", 1501.0),
        ("-" * 499 + "1", -1),  # deep nesting within the length limit is fine
    ],
)
def test_calculate_values(expression: str, value: float) -> None:
    result = evaluate(expression)
    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os').system('true')", "a function call is not allowed"),
        ("x + 1", "the name 'x' is not allowed"),
        ("(1).real", "attribute syntax is not allowed"),
        ("2 ^ 3", "the operator ^ (use ** for powers) is not allowed"),
        ("1 << 100", "the operator << is not allowed"),
        ("~1", "the operator ~ is not allowed"),
        ("not 1", "the operator not is not allowed"),
        ("1 < 2", "compare syntax is not allowed"),
        ("'a' * 3", "'a' is not a number"),
        ("True + 1", "True is not a number"),
        ("1j", "1j is not a number"),
        ("[1, 2]", "list syntax is not allowed"),
        ("lambda: 1", "lambda syntax is not allowed"),
        ("1 +", "not an arithmetic expression"),
        ("import os", "not an arithmetic expression"),
        ("", "the expression is empty"),
        ("1 / 0", "division by zero"),
        ("1 % 0", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("9 ** 9 ** 9", "exponents are limited to ±10000"),
        ("2 ** 5000", "the result is too large"),
        ("(10 ** 1000) * (10 ** 1000)", "the result is too large"),
        ("2.0 ** 5000", "the result is too large"),
        ("1e308 * 10", "the result is too large"),
        ("1e400", "the result is too large"),
        ("(-8) ** 0.5", "the result is not a real number"),
        ("1" * (MAX_EXPRESSION_LENGTH + 1), f"longer than {MAX_EXPRESSION_LENGTH} characters"),
        ("(" * 249 + "1" + ")" * 249, "too many nested parentheses"),
    ],
)
def test_calculate_refuses(expression: str, message: str) -> None:
    with pytest.raises(CalculatorError) as caught:
        evaluate(expression)
    assert message in str(caught.value)


@given(
    st.integers(-(10**12), 10**12),
    st.sampled_from(["+", "-", "*", "//", "%"]),
    st.integers(-(10**12), 10**12),
)
def test_calculate_agrees_with_python_on_integers(left: int, symbol: str, right: int) -> None:
    operations = {
        "+": operator.add,
        "-": operator.sub,
        "*": operator.mul,
        "//": operator.floordiv,
        "%": operator.mod,
    }
    expression = f"({left}) {symbol} ({right})"
    if symbol in ("//", "%") and right == 0:
        with pytest.raises(CalculatorError, match="division by zero"):
            evaluate(expression)
    else:
        assert evaluate(expression) == operations[symbol](left, right)


@pytest.mark.anyio
async def test_calculate_through_the_executor() -> None:
    tool = tools_at(WINTER)["calculate"]
    assert await call(tool, {"expression": "6 * 7"}) == {"expression": "6 * 7", "result": 42}
    assert await call(tool, {"expression": "open('x')"}) == {
        "error": "CalculatorError: a function call is not allowed; use numbers, parentheses, + - * / // % ** "
        "and unary + -"
    }
    assert "'expression' is a required property" in (await call(tool, {}))["error"]


def test_tools_are_function_tools_with_schemas() -> None:
    tools = tools_at(WINTER)
    assert tools["calculate"].parameters["required"] == ["expression"]
    assert tools["calculate"].parameters["properties"]["expression"]["type"] == "string"
    assert tools["get_time"].parameters["properties"]["timezone"]["default"] == "UTC"
    assert all(tool.timeout == 5.0 for tool in tools.values())


# -- as a plugin -----------------------------------------------------------------------------


def test_loads_as_an_explicit_plugin() -> None:
    loaded = load_plugins({"clock": agent_rt_clock}, entry_points=False, environ={})
    assert [(tool.name, tool.plugin) for tool in loaded.tools] == [
        ("get_time", "clock"),
        ("calculate", "clock"),
    ]


def test_installed_package_is_found_through_its_entry_point() -> None:
    # Installed by the README's test command; its absence is a failure, not a reason to skip.
    importlib.metadata.distribution("agentrt-clock")
    loaded = load_plugins(enabled=["clock"], environ={})
    assert loaded.errors == ()
    [info] = loaded.plugins
    assert (info.name, info.source, info.dist) == ("clock", "entry point", "agentrt-clock")
    assert [tool.name for tool in info.tools] == ["get_time", "calculate"]
