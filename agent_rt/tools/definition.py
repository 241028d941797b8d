"""Function tool definitions: validated once, at registration, so a bad tool fails early and loudly.

A definition is the dict sent in ``session.tools``: ``{"type": "function", "name", "description",
"parameters"}``. The server would reject a bad one with an ``error`` event long after the application
registered it; checking here names the tool and the problem where the mistake was made.
"""

from __future__ import annotations

import copy
import inspect
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # jsonschema is imported on first use: it is a third of `import agent_rt` otherwise
    from jsonschema.protocols import Validator

from ..errors import ConfigurationError

__all__ = [
    "DEFAULT_TOOL_TIMEOUT",
    "Tool",
    "ToolDefinitionError",
    "ToolHandler",
    "check_parameters_schema",
    "check_timeout",
    "compile_validator",
    "validate_definition",
]

#: Seconds a handler may run before its call is answered with a timeout error.
DEFAULT_TOOL_TIMEOUT = 30.0

#: The names the OpenAI API accepts for functions.
_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_FIELDS = frozenset({"type", "name", "description", "parameters"})

#: A handler takes the arguments dict; it may be sync (run in a worker thread) or async.
ToolHandler = Callable[[dict[str, Any]], Any]


class ToolDefinitionError(ConfigurationError):
    """A tool definition (or a tool registration) is invalid; ``tool`` names the tool when known."""

    def __init__(self, message: str, *, tool: str | None = None) -> None:
        super().__init__(f"tool {tool!r}: {message}" if tool else message)
        self.tool = tool


def validate_definition(definition: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``definition`` and return a normalized deep copy (``type`` added when absent).

    The copy keeps later changes to the caller's dict from desynchronizing the definition sent to the
    server and the validator compiled from it.
    """
    if not isinstance(definition, Mapping):
        raise ToolDefinitionError(f"a tool definition must be a dict, got {type(definition).__name__}")
    raw_name = definition.get("name")
    label = raw_name if isinstance(raw_name, str) and raw_name else None
    if "function" in definition and "name" not in definition:
        raise ToolDefinitionError(
            "nested 'function' object found: Realtime tools are flat "
            "({'type': 'function', 'name', 'description', 'parameters'})",
            tool=_nested_name(definition),
        )
    unknown = sorted(str(key) for key in definition if key not in _FIELDS)
    if unknown:
        raise ToolDefinitionError(f"unknown field(s) {', '.join(map(repr, unknown))}", tool=label)
    kind = definition.get("type", "function")
    if kind != "function":
        raise ToolDefinitionError(f"'type' must be 'function', got {kind!r}", tool=label)
    if not isinstance(raw_name, str) or not _NAME.fullmatch(raw_name):
        raise ToolDefinitionError(
            f"name {raw_name!r} is invalid: it must be 1 to 64 letters, digits, '_' or '-'", tool=label
        )
    description = definition.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ToolDefinitionError("'description' must be a non-empty string", tool=raw_name)
    parameters = definition.get("parameters")
    check_parameters_schema(parameters, tool=raw_name)
    assert isinstance(parameters, Mapping)
    return {
        "type": "function",
        "name": raw_name,
        "description": description,
        "parameters": copy.deepcopy(dict(parameters)),
    }


def check_parameters_schema(parameters: object, *, tool: str | None = None) -> None:
    """Check that ``parameters`` is a valid JSON Schema for an object, encodable as JSON."""
    if not isinstance(parameters, Mapping):
        raise ToolDefinitionError(
            f"'parameters' must be a JSON Schema object (dict), got {type(parameters).__name__}", tool=tool
        )
    if parameters.get("type") != "object":
        raise ToolDefinitionError(
            f'\'parameters\' must have "type": "object", got {parameters.get("type")!r}', tool=tool
        )
    try:
        json.dumps(parameters, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ToolDefinitionError(f"'parameters' is not JSON-encodable: {exc}", tool=tool) from None
    import jsonschema.exceptions
    import jsonschema.validators

    cls = jsonschema.validators.validator_for(parameters, default=jsonschema.validators.Draft202012Validator)
    try:
        cls.check_schema(dict(parameters))
    except jsonschema.exceptions.SchemaError as exc:
        raise ToolDefinitionError(
            f"'parameters' is not a valid JSON Schema: {exc.message} (at {exc.json_path})", tool=tool
        ) from None


def compile_validator(parameters: Mapping[str, Any]) -> Validator:
    """Build the validator once, so that each call only pays for ``iter_errors``."""
    import jsonschema.validators

    cls = jsonschema.validators.validator_for(parameters, default=jsonschema.validators.Draft202012Validator)
    return cls(parameters)


def _nested_name(definition: Mapping[str, Any]) -> str | None:
    nested = definition.get("function")
    name = nested.get("name") if isinstance(nested, Mapping) else None
    return name if isinstance(name, str) else None


def check_timeout(timeout: object, tool: str | None = None) -> None:
    """A timeout is ``None`` (use the default) or a positive number of seconds (``math.inf`` allowed)."""
    if timeout is None:
        return
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or math.isnan(timeout)
        or timeout <= 0
    ):
        raise ToolDefinitionError(f"timeout must be a positive number of seconds, got {timeout!r}", tool=tool)


def _is_async_callable(handler: object) -> bool:
    if inspect.iscoroutinefunction(handler):
        return True
    call = getattr(handler, "__call__", None)  # noqa: B004  (async __call__ on an object)
    return inspect.iscoroutinefunction(call)


class _Keep:
    """Sentinel type for "leave this field as it is"."""


_KEEP = _Keep()


@dataclass(frozen=True)
class Tool:
    """A validated definition with the handler that answers it.

    ``timeout`` of ``None`` means "the registry's default" (:data:`DEFAULT_TOOL_TIMEOUT` when run
    directly). ``plugin`` names the plugin that provided the tool, for error messages and listings.
    """

    definition: dict[str, Any]
    handler: ToolHandler
    timeout: float | None = None
    plugin: str | None = None
    validator: Validator = field(init=False, repr=False, compare=False)
    is_async: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        definition = validate_definition(self.definition)
        name = definition["name"]
        if not callable(self.handler):
            raise ToolDefinitionError(
                f"handler must be callable, got {type(self.handler).__name__}", tool=name
            )
        check_timeout(self.timeout, name)
        object.__setattr__(self, "definition", definition)
        object.__setattr__(self, "validator", compile_validator(definition["parameters"]))
        object.__setattr__(self, "is_async", _is_async_callable(self.handler))

    @property
    def name(self) -> str:
        return str(self.definition["name"])

    @property
    def description(self) -> str:
        return str(self.definition["description"])

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.definition["parameters"])

    def evolve(self, *, timeout: float | _Keep | None = _KEEP, plugin: str | _Keep | None = _KEEP) -> Tool:
        """A copy with another timeout or plugin name, without validating the definition again."""
        clone = copy.copy(self)
        if not isinstance(timeout, _Keep):
            check_timeout(timeout, self.name)
            object.__setattr__(clone, "timeout", timeout)
        if not isinstance(plugin, _Keep):
            object.__setattr__(clone, "plugin", plugin)
        return clone

    @property
    def effective_timeout(self) -> float:
        """The timeout the executor applies."""
        return DEFAULT_TOOL_TIMEOUT if self.timeout is None else float(self.timeout)
