"""Arithmetic for the model without ``eval``: parse with ``ast`` and allow numbers and operators only.

Everything not on the allow list is refused, and sizes are bounded before computing, so a hostile or
careless expression can neither run code nor freeze the process with a gigantic power.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable

__all__ = ["MAX_EXPONENT", "MAX_EXPRESSION_LENGTH", "MAX_INT_BITS", "CalculatorError", "evaluate"]

MAX_EXPRESSION_LENGTH = 500
#: Largest absolute exponent accepted by ``**``.
MAX_EXPONENT = 10_000
#: Largest integer (in bits, about 1,200 decimal digits) kept as a result or intermediate value.
MAX_INT_BITS = 4_096

Number = int | float

_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Number], Number]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_ALLOWED = "numbers, parentheses, + - * / // % ** and unary + -"


class CalculatorError(ValueError):
    """The expression is not allowed or can't be computed; the message says which."""


def evaluate(expression: str) -> Number:
    """The value of an arithmetic ``expression``; raises :class:`CalculatorError`."""
    if not isinstance(expression, str):
        raise CalculatorError(f"the expression must be a string, got {type(expression).__name__}")
    text = expression.strip()
    if not text:
        raise CalculatorError("the expression is empty")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise CalculatorError(f"the expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise CalculatorError(f"not an arithmetic expression ({exc.msg}); use {_ALLOWED}") from None
    except (ValueError, RecursionError, MemoryError):
        raise CalculatorError("the expression can't be parsed") from None
    return _eval(tree.body)


def _eval(node: ast.expr) -> Number:
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CalculatorError(f"{value!r} is not a number; use {_ALLOWED}")
        return _checked(value)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _checked(_UNARY[type(node.op)](_eval(node.operand)))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        try:
            result = _BINARY[type(node.op)](left, right)
        except ZeroDivisionError:
            raise CalculatorError("division by zero") from None
        except OverflowError:
            raise CalculatorError("the result is too large") from None
        if isinstance(result, complex):
            raise CalculatorError("the result is not a real number")
        return _checked(result)
    raise CalculatorError(f"{_describe(node)} is not allowed; use {_ALLOWED}")


def _check_power(base: Number, exponent: Number) -> None:
    if abs(exponent) > MAX_EXPONENT:
        raise CalculatorError(f"exponents are limited to ±{MAX_EXPONENT}")
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and _int_power_bits(base, exponent) > MAX_INT_BITS + 64
    ):
        raise CalculatorError("the result is too large")  # checked before computing it


def _int_power_bits(base: int, exponent: int) -> int:
    """An upper bound of the size of ``base ** exponent`` in bits (0 for negative exponents)."""
    return abs(base).bit_length() * max(exponent, 0)


def _checked(value: Number) -> Number:
    if isinstance(value, float) and not math.isfinite(value):
        raise CalculatorError(
            "the result is too large" if math.isinf(value) else "the result is not a number"
        )
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise CalculatorError("the result is too large")
    return value


def _describe(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return f"the name {node.id!r}"
    if isinstance(node, ast.Call):
        return "a function call"
    if isinstance(node, ast.BinOp):
        symbol = {
            ast.BitXor: "^ (use ** for powers)",
            ast.MatMult: "@",
            ast.LShift: "<<",
            ast.RShift: ">>",
            ast.BitAnd: "&",
            ast.BitOr: "|",
        }.get(type(node.op), type(node.op).__name__)
        return f"the operator {symbol}"
    if isinstance(node, ast.UnaryOp):
        return f"the operator {'~' if isinstance(node.op, ast.Invert) else 'not'}"
    return f"{type(node).__name__.lower()} syntax"
