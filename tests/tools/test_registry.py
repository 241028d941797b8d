"""ToolRegistry: registration, removal, and the merge with the session's own tools."""

from __future__ import annotations

from typing import Any

import pytest

from agent_rt.errors import ConfigurationError
from agent_rt.tools import Tool, ToolDefinitionError, ToolRegistry, UnknownToolError


def make(name: str) -> dict[str, Any]:
    return {"name": name, "description": f"The {name} tool.", "parameters": {"type": "object"}}


def handler(arguments: dict[str, Any]) -> str:
    return "done"


def test_add_get_contains_definitions() -> None:
    registry = ToolRegistry()
    tool = registry.add(make("a"), handler)
    registry.add(make("b"), handler)
    assert isinstance(tool, Tool)
    assert registry.get("a") is tool
    assert registry.get("zzz") is None
    assert "a" in registry
    assert "zzz" not in registry
    assert len(registry) == 2
    assert registry.names() == ["a", "b"]
    assert [item.name for item in registry] == ["a", "b"]
    assert registry.definitions() == [{"type": "function", **make("a")}, {"type": "function", **make("b")}]


def test_definitions_are_copies() -> None:
    registry = ToolRegistry()
    registry.add(make("a"), handler)
    registry.definitions()[0]["parameters"]["type"] = "array"
    assert registry.definitions()[0]["parameters"] == {"type": "object"}


def test_add_validates() -> None:
    with pytest.raises(ToolDefinitionError, match="tool 'bad name': name 'bad name' is invalid"):
        ToolRegistry().add(make("bad name"), handler)


def test_add_needs_a_handler_with_a_dict() -> None:
    with pytest.raises(ToolDefinitionError, match="tool 'a': a handler is required"):
        ToolRegistry().add(make("a"))


def test_add_a_ready_tool() -> None:
    registry = ToolRegistry()
    tool = Tool(make("a"), handler, timeout=4)
    assert registry.add(tool) is tool
    with pytest.raises(ToolDefinitionError, match="not with a Tool"):
        registry.add(Tool(make("b"), handler), handler)


def test_timeouts_explicit_then_tool_then_registry_default() -> None:
    registry = ToolRegistry(default_timeout=7)
    assert registry.add(make("a"), handler).timeout == 7
    assert registry.add(make("b"), handler, timeout=2).timeout == 2
    assert registry.add(Tool(make("c"), handler, timeout=3)).timeout == 3
    assert registry.add(Tool(make("d"), handler)).timeout == 7
    assert registry.add(Tool(make("e"), handler, timeout=3), timeout=1).timeout == 1
    assert ToolRegistry().add(make("f"), handler).timeout is None
    with pytest.raises(ToolDefinitionError, match="timeout"):
        ToolRegistry(default_timeout=0)


def test_duplicate_name_is_an_error() -> None:
    registry = ToolRegistry()
    registry.add(make("a"), handler)
    with pytest.raises(ToolDefinitionError, match="tool 'a': already registered"):
        registry.add(make("a"), handler)


def test_reserved_names_are_refused() -> None:
    with pytest.raises(ToolDefinitionError, match="tool 'a': already set in the session tools"):
        ToolRegistry().add(make("a"), handler, reserved_names={"a", None})


def test_remove() -> None:
    registry = ToolRegistry()
    tool = registry.add(make("a"), handler)
    assert registry.remove("a") is tool
    assert "a" not in registry
    registry.add(make("a"), handler)  # the name is free again


def test_remove_unknown_is_a_clear_key_error() -> None:
    with pytest.raises(UnknownToolError) as caught:
        ToolRegistry().remove("ghost")
    assert isinstance(caught.value, KeyError)
    assert isinstance(caught.value, ConfigurationError)
    assert caught.value.tool == "ghost"
    assert str(caught.value) == "tool 'ghost': no such tool is registered"


def test_clear() -> None:
    registry = ToolRegistry()
    registry.add(make("a"), handler)
    registry.clear()
    assert len(registry) == 0
    assert registry.definitions() == []


def test_merge_puts_session_tools_first_and_adds_type() -> None:
    registry = ToolRegistry()
    registry.add(make("mine"), handler)
    session = [make("theirs"), {"type": "mcp", "server_label": "docs", "server_url": "https://x"}]
    merged = registry.merge_with_session_tools(session)
    assert merged == [
        {"type": "function", **make("theirs")},
        {"type": "mcp", "server_label": "docs", "server_url": "https://x"},
        {"type": "function", **make("mine")},
    ]
    assert "type" not in session[0]  # the input is not modified
    merged[0]["parameters"]["type"] = "array"
    assert session[0]["parameters"] == {"type": "object"}


def test_merge_with_no_session_tools() -> None:
    registry = ToolRegistry()
    assert registry.merge_with_session_tools([]) == []
    registry.add(make("mine"), handler)
    assert [tool["name"] for tool in registry.merge_with_session_tools([])] == ["mine"]


def test_merge_clash_names_the_tool() -> None:
    registry = ToolRegistry()
    registry.add(make("both"), handler)
    with pytest.raises(
        ToolDefinitionError, match="tool 'both': set in the session tools and also registered"
    ):
        registry.merge_with_session_tools([make("other"), make("both")])


def test_merge_rejects_duplicates_and_bad_entries() -> None:
    registry = ToolRegistry()
    with pytest.raises(ToolDefinitionError, match="tool 'x': appears twice"):
        registry.merge_with_session_tools([make("x"), make("x")])
    with pytest.raises(ToolDefinitionError, match="session tool #1 must be a dict"):
        registry.merge_with_session_tools([make("x"), "y"])  # type: ignore[list-item]
    with pytest.raises(ToolDefinitionError, match="session tool #0 has no name"):
        registry.merge_with_session_tools([{"description": "nameless"}])
