"""Run one tool call and turn every outcome into the string the model sees.

Failures the model can react to (unknown tool, bad JSON, arguments that break the schema, a handler
error, a timeout, a result that is not JSON) become an ``{"error": ...}`` output instead of an
exception, so that one bad call never stops the session. Cancellation still propagates.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread

from .._secrets import redact, redacting_logger
from .definition import Tool

__all__ = ["ToolResult", "execute_tool_call"]

logger = redacting_logger("agent_rt.tools")  # handler errors may quote secrets

#: Longest schema-error message kept per error, so a huge argument can't flood the output.
_MAX_ERROR_TEXT = 300


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The outcome of one call; ``output`` is what goes into ``function_call_output.output``."""

    name: str
    call_id: str
    output: str
    ok: bool
    error: str | None
    duration: float


async def execute_tool_call(tool: Tool | None, name: str, call_id: str, arguments_json: str) -> ToolResult:
    """Parse, validate, run with the tool's timeout, and encode; never raises except on cancellation.

    An empty ``arguments_json`` counts as ``{}``: the schema still decides whether that's acceptable.
    """
    start = time.perf_counter()
    if tool is None:
        return _failure(name, call_id, f"unknown tool {name!r}", start)
    try:
        arguments = json.loads(arguments_json) if arguments_json.strip() else {}
    except (ValueError, TypeError, AttributeError) as exc:
        return _failure(name, call_id, f"arguments are not valid JSON: {exc}", start)
    if not isinstance(arguments, dict):
        return _failure(
            name, call_id, f"arguments must be a JSON object, got {type(arguments).__name__}", start
        )
    problems = _schema_problems(tool, arguments)
    if problems:
        return _failure(name, call_id, f"invalid arguments: {problems}", start)

    timeout = tool.effective_timeout
    with anyio.move_on_after(timeout) as scope:
        try:
            result = await _run_handler(tool, arguments)
        except Exception as exc:
            logger.warning("tool %r (call %s) raised %s", name, call_id, type(exc).__name__, exc_info=exc)
            return _failure(name, call_id, _describe(exc), start)
    if scope.cancelled_caught:
        return _failure(name, call_id, f"tool {name!r} timed out after {timeout:g} s", start)
    try:
        output = json.dumps(result, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as exc:
        return _failure(name, call_id, f"result is not JSON-encodable: {exc}", start)
    return ToolResult(name, call_id, output, True, None, time.perf_counter() - start)


async def _run_handler(tool: Tool, arguments: dict[str, Any]) -> Any:
    if tool.is_async:
        result = await tool.handler(arguments)
    else:
        # Abandoned on timeout: a thread can't be interrupted, but the call is answered on time.
        (result,) = await anyio.to_thread.run_sync(_boxed, tool.handler, arguments, abandon_on_cancel=True)
    if inspect.isawaitable(result):  # e.g. ``lambda arguments: some_coroutine_function(...)``
        result = await result
    return result


def _boxed(handler: Callable[[dict[str, Any]], Any], arguments: dict[str, Any]) -> tuple[Any]:
    """Run ``handler`` in the worker; boxed so trio accepts a coroutine as the thread's result."""
    return (handler(arguments),)


def _schema_problems(tool: Tool, arguments: dict[str, Any]) -> str:
    errors = list(tool.validator.iter_errors(arguments))
    if not errors:
        return ""
    errors.sort(key=lambda error: (list(map(str, error.absolute_path)), error.message))
    return "; ".join(f"{error.json_path}: {_clip(error.message)}" for error in errors)


def _describe(exc: BaseException) -> str:
    """The error the model reads: secrets a handler's message may quote are masked."""
    message = redact(str(exc))
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_ERROR_TEXT else text[: _MAX_ERROR_TEXT - 1] + "…"


def _failure(name: str, call_id: str, error: str, start: float) -> ToolResult:
    output = json.dumps({"error": error}, ensure_ascii=False, separators=(",", ":"))
    return ToolResult(name, call_id, output, False, error, time.perf_counter() - start)
