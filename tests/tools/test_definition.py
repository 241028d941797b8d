"""Tool definitions are checked rule by rule at registration, with errors naming the tool."""

from __future__ import annotations

import copy
import math
from typing import Any

import jsonschema
import pytest

from agent_rt.errors import ConfigurationError
from agent_rt.tools import DEFAULT_TOOL_TIMEOUT, Tool, ToolDefinitionError, validate_definition

PARAMS: dict[str, Any] = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}


def definition(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "do_it", "description": "Does it.", "parameters": copy.deepcopy(PARAMS)}
    base.update(changes)
    return {key: value for key, value in base.items() if value is not DROP}


DROP = object()


def noop(arguments: dict[str, Any]) -> None:
    return None


def test_valid_definition_gets_type_and_is_a_deep_copy() -> None:
    original = definition()
    checked = validate_definition(original)
    assert checked == {"type": "function", "name": "do_it", "description": "Does it.", "parameters": PARAMS}
    original["parameters"]["properties"]["x"]["type"] = "string"  # the caller changes its dict later
    assert checked["parameters"]["properties"]["x"] == {"type": "integer"}


def test_explicit_function_type_is_accepted() -> None:
    assert validate_definition(definition(type="function"))["type"] == "function"


def test_error_is_a_configuration_error_naming_the_tool() -> None:
    with pytest.raises(ToolDefinitionError) as caught:
        validate_definition(definition(description=""))
    assert isinstance(caught.value, ConfigurationError)
    assert caught.value.tool == "do_it"
    assert str(caught.value).startswith("tool 'do_it': ")


def test_definition_must_be_a_dict() -> None:
    with pytest.raises(ToolDefinitionError, match="must be a dict, got list"):
        validate_definition([("name", "x")])  # type: ignore[arg-type]


def test_other_type_is_rejected() -> None:
    with pytest.raises(ToolDefinitionError, match="'type' must be 'function', got 'mcp'"):
        validate_definition(definition(type="mcp"))


def test_nested_chat_completions_shape_gets_a_hint() -> None:
    nested = {"type": "function", "function": {"name": "f", "description": "d", "parameters": PARAMS}}
    with pytest.raises(ToolDefinitionError, match="Realtime tools are flat") as caught:
        validate_definition(nested)
    assert caught.value.tool == "f"


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ToolDefinitionError, match="unknown field\\(s\\) 'strict'"):
        validate_definition(definition(strict=True))


@pytest.mark.parametrize("name", ["a", "A-b_9", "x" * 64])
def test_valid_names(name: str) -> None:
    assert validate_definition(definition(name=name))["name"] == name


@pytest.mark.parametrize("name", ["", "x" * 65, "has space", "dot.name", "ünï", "trailing\n", 12, None, DROP])
def test_invalid_names(name: object) -> None:
    with pytest.raises(ToolDefinitionError, match=r"name .* is invalid: it must be 1 to 64"):
        validate_definition(definition(name=name))


@pytest.mark.parametrize("description", ["", "   ", None, 3, DROP])
def test_description_must_be_a_non_empty_string(description: object) -> None:
    with pytest.raises(ToolDefinitionError, match="'description' must be a non-empty string"):
        validate_definition(definition(description=description))


@pytest.mark.parametrize("parameters", [None, "object", ["type", "object"], DROP])
def test_parameters_must_be_a_dict(parameters: object) -> None:
    with pytest.raises(ToolDefinitionError, match="'parameters' must be a JSON Schema object"):
        validate_definition(definition(parameters=parameters))


@pytest.mark.parametrize("parameters", [{}, {"type": "array"}, {"properties": {}}])
def test_parameters_must_describe_an_object(parameters: dict[str, Any]) -> None:
    with pytest.raises(ToolDefinitionError, match='must have "type": "object"'):
        validate_definition(definition(parameters=parameters))


@pytest.mark.parametrize(
    ("parameters", "where"),
    [
        ({"type": "object", "properties": {"x": {"type": "nonsense"}}}, "$.properties.x.type"),
        ({"type": "object", "required": "x"}, "$.required"),
        ({"type": "object", "properties": {"x": {"minimum": "zero"}}}, "$.properties.x.minimum"),
    ],
)
def test_parameters_must_pass_the_meta_schema(parameters: dict[str, Any], where: str) -> None:
    with pytest.raises(ToolDefinitionError, match="not a valid JSON Schema") as caught:
        validate_definition(definition(parameters=parameters))
    assert f"(at {where})" in str(caught.value)


def test_parameters_must_be_json_encodable() -> None:
    with pytest.raises(ToolDefinitionError, match="not JSON-encodable"):
        validate_definition(definition(parameters={"type": "object", "default": {1, 2}}))
    with pytest.raises(ToolDefinitionError, match="not JSON-encodable"):
        validate_definition(definition(parameters={"type": "object", "maximum": math.nan}))


def test_schema_dialect_of_dollar_schema_is_honoured() -> None:
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "items": [{}]}
    tool = Tool(definition(parameters=draft7), noop)
    assert isinstance(tool.validator, jsonschema.Draft7Validator)
    assert isinstance(Tool(definition(), noop).validator, jsonschema.Draft202012Validator)


def test_tool_validates_and_normalizes_its_definition() -> None:
    tool = Tool(definition(), noop)
    assert tool.definition["type"] == "function"
    assert (tool.name, tool.description, tool.parameters) == ("do_it", "Does it.", PARAMS)
    with pytest.raises(ToolDefinitionError, match="'description'"):
        Tool(definition(description=" "), noop)


def test_tool_handler_must_be_callable() -> None:
    with pytest.raises(ToolDefinitionError, match="handler must be callable, got str"):
        Tool(definition(), "not callable")  # type: ignore[arg-type]


@pytest.mark.parametrize("timeout", [0, -1, math.nan, True, "3"])
def test_tool_timeout_must_be_positive(timeout: object) -> None:
    with pytest.raises(ToolDefinitionError, match="timeout must be a positive number"):
        Tool(definition(), noop, timeout=timeout)  # type: ignore[arg-type]


def test_tool_timeouts() -> None:
    assert Tool(definition(), noop).effective_timeout == DEFAULT_TOOL_TIMEOUT
    assert Tool(definition(), noop, timeout=2).effective_timeout == 2.0
    assert Tool(definition(), noop, timeout=math.inf).effective_timeout == math.inf


async def async_handler(arguments: dict[str, Any]) -> None:
    return None


class AsyncCallable:
    async def __call__(self, arguments: dict[str, Any]) -> None:
        return None


def test_async_handlers_are_detected_once() -> None:
    assert Tool(definition(), async_handler).is_async
    assert Tool(definition(), AsyncCallable()).is_async
    assert not Tool(definition(), noop).is_async
    assert not Tool(definition(), lambda arguments: None).is_async


def test_evolve_keeps_the_compiled_validator() -> None:
    tool = Tool(definition(), noop, timeout=3)
    moved = tool.evolve(plugin="weather")
    assert (moved.plugin, moved.timeout, tool.plugin) == ("weather", 3, None)
    assert moved.validator is tool.validator
    assert tool.evolve(timeout=None).timeout is None
    with pytest.raises(ToolDefinitionError, match="timeout"):
        tool.evolve(timeout=-1)
