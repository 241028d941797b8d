"""The demo's own ``get_time`` and ``calculate``, for an install without the clock plugin.

``pip install agentrt`` alone must give a working ``agent-rt demo``; with ``agentrt-clock``
installed, its tools (IANA zones checked, exact arithmetic) are used instead of these.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .tools import Tool, function_tool

__all__ = ["fallback_tools"]

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def _value(node: ast.AST) -> int | float:
    """Numbers, + - * / // %, unary signs and parentheses; anything else is refused (never ``eval``)."""
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    ):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_value(node.left), _value(node.right))  # type: ignore[no-any-return]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_value(node.operand))  # type: ignore[no-any-return]
    raise ValueError(f"not allowed in an expression: {ast.dump(node)[:40]}")


@function_tool
def get_time(timezone: str = "UTC") -> dict[str, Any]:
    """Returns the current time in an IANA time zone."""
    moment = datetime.now(ZoneInfo(timezone))
    return {"timezone": timezone, "time": moment.strftime("%H:%M"), "weekday": moment.strftime("%A")}


@function_tool
def calculate(expression: str) -> dict[str, Any]:
    """Computes an arithmetic expression: numbers, + - * / // % and parentheses."""
    if len(expression) > 200:
        raise ValueError("expression too long")
    result = _value(ast.parse(expression, mode="eval").body)
    if isinstance(result, float) and result.is_integer():
        result = int(result)
    return {"expression": expression, "result": result}


def fallback_tools(present: Collection[str]) -> list[Tool]:
    """The demo tools whose names are not in ``present``."""
    return [tool for tool in (get_time, calculate) if tool.name not in present]
