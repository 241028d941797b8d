"""The clock tools, written as typed functions, and the plugin hook that offers them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Annotated, Any

from agent_rt.hookspecs import hookimpl
from agent_rt.tools import Tool, function_tool

from .calculator import evaluate
from .zones import describe_time, load_zone

__all__ = ["agent_rt_tools", "make_clock_tools"]

#: Both tools are instant; a short timeout keeps a stuck worker thread from holding a response.
_TIMEOUT = 5.0


def make_clock_tools(now: Callable[[tzinfo], datetime] | None = None) -> list[Tool]:
    """``get_time`` and ``calculate``; ``now(zone)`` replaces the system clock (tests)."""
    clock: Callable[[tzinfo], datetime] = now or datetime.now

    @function_tool(timeout=_TIMEOUT)
    def get_time(
        timezone: Annotated[
            str, "IANA time zone name, e.g. 'Europe/Paris', 'America/New_York' or 'UTC'"
        ] = "UTC",
    ) -> dict[str, Any]:
        """Returns the current date, time and weekday in a time zone."""
        zone = load_zone(timezone)
        return {"timezone": zone.key, **describe_time(clock(zone))}

    @function_tool(timeout=_TIMEOUT)
    def calculate(expression: str) -> dict[str, Any]:
        """Computes an arithmetic expression exactly; use it instead of mental arithmetic.

        Args:
            expression: numbers with + - * / // % ** and parentheses, e.g. "(2 + 3) * 4 ** 2".
        """
        return {"expression": expression, "result": evaluate(expression)}

    return [get_time, calculate]


@hookimpl
def agent_rt_tools() -> list[Tool]:
    return make_clock_tools()
