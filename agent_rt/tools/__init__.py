"""Tools the client answers by itself: definitions, a registry, execution, and typed-function tools."""

from __future__ import annotations

from .definition import DEFAULT_TOOL_TIMEOUT, Tool, ToolDefinitionError, ToolHandler, validate_definition
from .executor import ToolResult, execute_tool_call
from .functions import FunctionTool, function_schema, function_tool
from .registry import ToolRegistry, UnknownToolError

__all__ = [
    "DEFAULT_TOOL_TIMEOUT",
    "FunctionTool",
    "Tool",
    "ToolDefinitionError",
    "ToolHandler",
    "ToolRegistry",
    "ToolResult",
    "UnknownToolError",
    "execute_tool_call",
    "function_schema",
    "function_tool",
    "validate_definition",
]
