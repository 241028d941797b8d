"""The tools a client answers by itself, and how they combine with the session's own tools.

Semantics follow the reference client: tools set by hand with ``update_session(tools=[...])`` have no
handler (the application answers them) and come first; registered tools are appended. A name in
both sets would make the server see a duplicate, so it is an error.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any

from .definition import Tool, ToolDefinitionError, check_timeout

__all__ = ["ToolRegistry", "UnknownToolError"]


class UnknownToolError(KeyError, ToolDefinitionError):
    """``remove`` was given a name that is not registered."""

    def __init__(self, name: str) -> None:
        ToolDefinitionError.__init__(self, "no such tool is registered", tool=name)

    def __str__(self) -> str:  # KeyError would show the repr of the message
        return str(self.args[0])


class ToolRegistry:
    """Registered tools by name, in registration order.

    ``default_timeout`` applies to tools added without a timeout of their own.
    """

    def __init__(self, *, default_timeout: float | None = None) -> None:
        check_timeout(default_timeout)
        self.default_timeout = default_timeout
        self._tools: dict[str, Tool] = {}

    def add(
        self,
        definition: Mapping[str, Any] | Tool,
        handler: Callable[..., Any] | None = None,
        *,
        timeout: float | None = None,
        reserved_names: Collection[object] = (),
    ) -> Tool:
        """Validate and register a tool; returns the stored :class:`Tool`.

        ``definition`` is a definition dict (then ``handler`` is required) or a ready :class:`Tool`
        (then ``handler`` must be omitted). ``reserved_names`` are names already used elsewhere (the
        session's own tools), which a registered tool may not reuse.
        """
        if isinstance(definition, Tool):
            if handler is not None:
                raise ToolDefinitionError(
                    "pass a handler with a definition dict, not with a Tool", tool=definition.name
                )
            tool = definition
            if timeout is not None or (tool.timeout is None and self.default_timeout is not None):
                tool = tool.evolve(timeout=timeout if timeout is not None else self.default_timeout)
        else:
            if handler is None:
                name = definition.get("name") if isinstance(definition, Mapping) else None
                raise ToolDefinitionError(
                    "a handler is required", tool=name if isinstance(name, str) else None
                )
            chosen = timeout if timeout is not None else self.default_timeout
            tool = Tool(dict(definition) if isinstance(definition, Mapping) else definition, handler, chosen)
        name = tool.name
        if name in self._tools:
            raise ToolDefinitionError("already registered; remove it first", tool=name)
        if name in reserved_names:
            raise ToolDefinitionError(
                "already set in the session tools (update_session(tools=...))", tool=name
            )
        self._tools[name] = tool
        return tool

    def remove(self, name: str) -> Tool:
        """Unregister ``name`` and return its tool; :class:`UnknownToolError` when absent."""
        try:
            return self._tools.pop(name)
        except KeyError:
            raise UnknownToolError(name) from None

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def clear(self) -> None:
        self._tools.clear()

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[Tool]:
        return iter(list(self._tools.values()))

    def names(self) -> list[str]:
        return list(self._tools)

    def definitions(self) -> list[dict[str, Any]]:
        """Copies of the registered definitions, as sent in ``session.tools``."""
        return [copy.deepcopy(tool.definition) for tool in self._tools.values()]

    def merge_with_session_tools(self, session_tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Session tools first (``type`` defaulted to ``"function"``), then registered tools.

        Raises :class:`ToolDefinitionError` when a name appears twice (in both sets, or twice in the
        session tools). Non-function session tools (GA ``mcp`` servers) have no name and are kept as is.
        """
        merged: list[dict[str, Any]] = []
        seen: set[str] = set()
        for index, tool in enumerate(session_tools):
            if not isinstance(tool, Mapping):
                raise ToolDefinitionError(f"session tool #{index} must be a dict, got {type(tool).__name__}")
            entry = {"type": "function", **copy.deepcopy(dict(tool))}
            name = entry.get("name")
            if entry["type"] == "function":
                if not isinstance(name, str) or not name:
                    raise ToolDefinitionError(f"session tool #{index} has no name")
                if name in self._tools:
                    raise ToolDefinitionError(
                        "set in the session tools and also registered with a handler (add_tool); "
                        "remove one of them",
                        tool=name,
                    )
                if name in seen:
                    raise ToolDefinitionError("appears twice in the session tools", tool=name)
                seen.add(name)
            merged.append(entry)
        merged.extend(self.definitions())
        return merged
