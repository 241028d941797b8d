"""@function_tool: JSON schemas from signatures and docstrings, and calls with converted arguments."""

from __future__ import annotations

import enum
import json
import threading
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NewType, Optional, TypedDict, Union

import pytest
from typing_extensions import NotRequired

from agent_rt.tools import (
    FunctionTool,
    Tool,
    ToolDefinitionError,
    execute_tool_call,
    function_schema,
    function_tool,
)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclass
class Point:
    """A point on the map.

    Attributes:
        x: Horizontal position.
    """

    x: float
    y: float = 0.0
    tags: list[str] = field(default_factory=list)


@dataclass
class Route:
    start: Point
    color: Color = Color.RED


class Options(TypedDict):
    verbose: bool
    color: NotRequired[Color]


class Loose(TypedDict, total=False):
    depth: int


UserId = NewType("UserId", int)


def parameters_of(func: Any) -> dict[str, Any]:
    schema: dict[str, Any] = function_tool(func).definition["parameters"]
    return schema


def prop(annotation_holder: Any) -> Any:
    return parameters_of(annotation_holder)["properties"]["v"]


# -- one function per annotation (module level so that string annotations resolve) ---------


def f_str(v: str) -> None:
    """Doc."""


def f_int(v: int) -> None:
    """Doc."""


def f_float(v: float) -> None:
    """Doc."""


def f_bool(v: bool) -> None:
    """Doc."""


def f_any(v: Any) -> None:
    """Doc."""


def f_literal_str(v: Literal["a", "b"]) -> None:
    """Doc."""


def f_literal_int(v: Literal[1, 2, 3]) -> None:
    """Doc."""


def f_literal_mixed(v: Literal["a", 1]) -> None:
    """Doc."""


def f_enum(v: Color) -> None:
    """Doc."""


def f_int_enum(v: Level) -> None:
    """Doc."""


def f_optional(v: Optional[int]) -> None:  # noqa: UP045 (the old spelling is what we test)
    """Doc."""


def f_pep604(v: int | None) -> None:
    """Doc."""


def f_optional_enum(v: Color | None) -> None:
    """Doc."""


def f_union(v: Union[int, str]) -> None:  # noqa: UP007
    """Doc."""


def f_list(v: list[int]) -> None:
    """Doc."""


def f_bare_list(v: list) -> None:  # type: ignore[type-arg]
    """Doc."""


def f_dict(v: dict[str, float]) -> None:
    """Doc."""


def f_bare_dict(v: dict) -> None:  # type: ignore[type-arg]
    """Doc."""


def f_newtype(v: UserId) -> None:
    """Doc."""


def f_annotated(v: Annotated[int, "How many."]) -> None:
    """Doc."""


POINT_SCHEMA = {
    "type": "object",
    "properties": {
        "x": {"type": "number", "description": "Horizontal position."},
        "y": {"type": "number", "default": 0.0},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["x"],
    "additionalProperties": False,
    "description": "A point on the map.",
}


def f_dataclass(v: Point) -> None:
    """Doc."""


def f_typeddict(v: Options) -> None:
    """Doc."""


def f_loose(v: Loose) -> None:
    """Doc."""


@pytest.mark.parametrize(
    ("func", "expected"),
    [
        (f_str, {"type": "string"}),
        (f_int, {"type": "integer"}),
        (f_float, {"type": "number"}),
        (f_bool, {"type": "boolean"}),
        (f_any, {}),
        (f_literal_str, {"type": "string", "enum": ["a", "b"]}),
        (f_literal_int, {"type": "integer", "enum": [1, 2, 3]}),
        (f_literal_mixed, {"enum": ["a", 1]}),
        (f_enum, {"type": "string", "enum": ["red", "blue"]}),
        (f_int_enum, {"type": "integer", "enum": [1, 2]}),
        (f_optional, {"type": ["integer", "null"]}),
        (f_pep604, {"type": ["integer", "null"]}),
        (f_optional_enum, {"type": ["string", "null"], "enum": ["red", "blue", None]}),
        (f_union, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
        (f_list, {"type": "array", "items": {"type": "integer"}}),
        (f_bare_list, {"type": "array"}),
        (f_dict, {"type": "object", "additionalProperties": {"type": "number"}}),
        (f_bare_dict, {"type": "object"}),
        (f_newtype, {"type": "integer"}),
        (f_annotated, {"type": "integer", "description": "How many."}),
        (f_dataclass, POINT_SCHEMA),
        (
            f_typeddict,
            {
                "type": "object",
                "properties": {
                    "verbose": {"type": "boolean"},
                    "color": {"type": "string", "enum": ["red", "blue"]},
                },
                "required": ["verbose"],
                "additionalProperties": False,
            },
        ),
        (
            f_loose,
            {
                "type": "object",
                "properties": {"depth": {"type": "integer"}},
                "required": [],
                "additionalProperties": False,
            },
        ),
    ],
)
def test_annotation_schemas(func: Any, expected: dict[str, Any]) -> None:
    assert prop(func) == expected


def nested(route: Route, points: list[Point], colors: dict[str, Color]) -> None:
    """Doc."""


def test_nested_structures() -> None:
    properties = parameters_of(nested)["properties"]
    assert properties["route"] == {
        "type": "object",
        "properties": {
            "start": POINT_SCHEMA,
            "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
        },
        "required": ["start"],
        "additionalProperties": False,
    }
    assert properties["points"] == {"type": "array", "items": POINT_SCHEMA}
    assert properties["colors"] == {
        "type": "object",
        "additionalProperties": {"type": "string", "enum": ["red", "blue"]},
    }


def google(city: str, days: int = 3, unit: Literal["c", "f"] = "c", color: Color = Color.BLUE) -> None:
    """Forecast for a city.

    Longer explanation that the model
    also reads.

    Args:
        city: Name of the city.
        days: How many days ahead.
    """


def test_whole_definition_with_defaults_and_google_docstring() -> None:
    tool = function_tool(google)
    assert tool.definition == {
        "type": "function",
        "name": "google",
        "description": "Forecast for a city.\n\nLonger explanation that the model also reads.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "Name of the city."},
                "days": {"type": "integer", "description": "How many days ahead.", "default": 3},
                "unit": {"type": "string", "enum": ["c", "f"], "default": "c"},
                "color": {"type": "string", "enum": ["red", "blue"], "default": "blue"},
            },
            "required": ["city"],
            "additionalProperties": False,
        },
    }
    assert function_schema(google) == tool.definition


def rest(city: str, days: Annotated[int, "From Annotated."] = 1) -> None:
    """Forecast.

    :param city: From the docstring.
    :param days: Loses to Annotated.
    """


def test_rest_docstring_and_annotated_precedence() -> None:
    properties = parameters_of(rest)["properties"]
    assert properties["city"]["description"] == "From the docstring."
    assert properties["days"]["description"] == "From Annotated."


def unencodable_default(when: Any = object()) -> None:  # noqa: B008
    """Doc."""


def test_default_without_json_form_is_not_recorded_but_still_optional() -> None:
    parameters = parameters_of(unencodable_default)
    assert parameters["properties"]["when"] == {}
    assert parameters["required"] == []


def test_decorator_with_arguments() -> None:
    @function_tool(name="renamed", description="Explicit.", timeout=2.5)
    def original(x: int) -> int:
        """Docstring summary loses."""
        return x + 1

    assert isinstance(original, FunctionTool)
    assert isinstance(original, Tool)
    assert (original.name, original.description, original.timeout) == ("renamed", "Explicit.", 2.5)
    assert original(41) == 42  # still callable as the function


def test_bare_decorator() -> None:
    @function_tool
    def plain(x: int) -> int:
        """Adds one."""
        return x + 1

    assert (plain.name, plain.description, plain.timeout) == ("plain", "Adds one.", None)
    assert plain(x=1) == 2


def test_missing_description_is_an_error() -> None:
    def undocumented(x: int) -> None:
        pass

    with pytest.raises(ToolDefinitionError, match="tool 'undocumented': no description"):
        function_tool(undocumented)
    assert function_tool(description="Given.")(undocumented).description == "Given."


def test_invalid_name_is_reported() -> None:
    with pytest.raises(ToolDefinitionError, match="name 'has space' is invalid"):
        function_tool(name="has space")(f_int)


# -- unsupported annotations name the parameter -----------------------------------------------


class Opaque:
    pass


class Weird(enum.Enum):
    A = object()


@dataclass
class Node:
    child: Node | None = None


def u_set(v: set[int]) -> None:
    """Doc."""


def u_tuple(v: tuple[int, int]) -> None:
    """Doc."""


def u_class(v: Opaque) -> None:
    """Doc."""


def u_bytes(v: bytes) -> None:
    """Doc."""


def u_int_keys(v: dict[int, str]) -> None:
    """Doc."""


def u_weird_enum(v: Weird) -> None:
    """Doc."""


def u_literal(v: Literal[Color.RED]) -> None:
    """Doc."""


def u_recursive(v: Node) -> None:
    """Doc."""


def u_union_of_dataclasses(v: Point | Route) -> None:
    """Doc."""


def u_nested_field(v: list[Opaque]) -> None:
    """Doc."""


def u_no_annotation(v) -> None:  # type: ignore[no-untyped-def]
    """Doc."""


def u_var_args(*v: int) -> None:
    """Doc."""


def u_var_kwargs(**v: int) -> None:
    """Doc."""


def u_positional_only(v: int, /) -> None:
    """Doc."""


def u_unresolvable(v: NoSuchType) -> None:  # type: ignore[name-defined]  # noqa: F821
    """Doc."""


@pytest.mark.parametrize(
    ("func", "message"),
    [
        (u_set, "parameter 'v': unsupported annotation set[int]"),
        (u_tuple, "parameter 'v': unsupported annotation tuple[int, int]"),
        (u_class, "parameter 'v': unsupported annotation Opaque"),
        (u_bytes, "parameter 'v': unsupported annotation bytes"),
        (u_int_keys, "parameter 'v': dict keys must be str"),
        (u_weird_enum, "parameter 'v': enum Weird must have str, int, float or bool values"),
        (u_literal, "parameter 'v': Literal values must be"),
        (u_recursive, "parameter 'v': field Node.child: recursive type Node is not supported"),
        (u_union_of_dataclasses, "parameter 'v': Point in a union of several types"),
        (u_nested_field, "parameter 'v': unsupported annotation"),
        (u_no_annotation, "parameter 'v' has no type annotation"),
        (u_var_args, "parameter 'v': *args parameters are not supported"),
        (u_var_kwargs, "parameter 'v': **kwargs parameters are not supported"),
        (u_positional_only, "parameter 'v': positional-only parameters are not supported"),
        (u_unresolvable, "cannot read the signature: name 'NoSuchType' is not defined"),
    ],
)
def test_unsupported_annotations(func: Any, message: str) -> None:
    with pytest.raises(ToolDefinitionError) as caught:
        function_tool(func)
    assert message in str(caught.value)
    assert caught.value.tool == func.__name__


# -- calls: keyword arguments, converted ------------------------------------------------------

received: list[dict[str, Any]] = []


@function_tool
def record(
    route: Route,
    points: list[Point],
    colors: dict[str, Color],
    options: Options,
    level: Level,
    scale: float,
    maybe: Color | None = None,
    limit: int = 10,
) -> str:
    """Records its arguments."""
    received.append(dict(locals()) | {"thread": threading.get_ident()})
    return "recorded"


@pytest.mark.anyio
async def test_call_converts_json_into_declared_types() -> None:
    received.clear()
    arguments = {
        "route": {"start": {"x": 1, "tags": ["a"]}, "color": "blue"},
        "points": [{"x": 2, "y": 3}],
        "colors": {"k": "red"},
        "options": {"verbose": True, "color": "blue"},
        "level": 2,
        "scale": 3,
        "maybe": None,
    }
    result = await execute_tool_call(record, "record", "c", json.dumps(arguments))
    assert result.ok, result.error
    assert result.output == '"recorded"'
    [call] = received
    assert call["route"] == Route(start=Point(x=1.0, y=0.0, tags=["a"]), color=Color.BLUE)
    assert call["points"] == [Point(2.0, 3.0)]
    assert call["colors"] == {"k": Color.RED}
    assert call["options"] == {"verbose": True, "color": Color.BLUE}
    assert call["level"] is Level.HIGH
    assert call["scale"] == 3.0
    assert isinstance(call["scale"], float)
    assert call["maybe"] is None
    assert call["limit"] == 10  # the Python default applies
    assert call["thread"] != threading.get_ident()  # a sync function runs in a worker thread


@pytest.mark.anyio
async def test_extra_and_wrong_arguments_are_rejected_before_the_call() -> None:
    received.clear()
    result = await execute_tool_call(record, "record", "c", json.dumps({"surprise": 1}))
    assert not result.ok
    assert "Additional properties are not allowed ('surprise' was unexpected)" in str(result.error)
    assert "'route' is a required property" in str(result.error)
    result = await execute_tool_call(
        record, "record", "c", '{"route": {"start": {"x": 1}, "color": "green"}}'
    )
    assert "$.route.color: 'green' is not one of ['red', 'blue']" in str(result.error)
    assert received == []


@pytest.mark.anyio
async def test_async_function_tool() -> None:
    @function_tool
    async def double(value: int, color: Color = Color.RED) -> dict[str, Any]:
        """Doubles."""
        return {"value": value * 2, "color": color.value}

    assert double.is_async
    result = await execute_tool_call(double, "double", "c", '{"value": 21, "color": "blue"}')
    assert json.loads(result.output) == {"value": 42, "color": "blue"}
