"""Small field checkers that raise :class:`ClientEventError` with the service's wording.

Each takes the value and its dotted ``param`` path (``session.audio.output.voice``) so the
error names the exact field, like the real server does.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from . import errors


def check_object(value: Any, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise errors.invalid_type(param, "an object", value)
    return value


def check_keys(value: Mapping[str, Any], param: str, allowed: Collection[str]) -> None:
    for key in value:
        if key not in allowed:
            raise errors.unknown_parameter(f"{param}.{key}")


def check_str(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise errors.invalid_type(param, "a string", value)
    return value


def check_optional_str(value: Any, param: str) -> str | None:
    return None if value is None else check_str(value, param)


def check_bool(value: Any, param: str) -> bool:
    if not isinstance(value, bool):
        raise errors.invalid_type(param, "a boolean", value)
    return value


def check_enum(value: Any, param: str, allowed: Sequence[Any]) -> Any:
    if isinstance(value, (dict, list)) or value not in allowed:
        raise errors.invalid_value(param, value, allowed)
    return value


def check_int(value: Any, param: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.invalid_type(param, "an integer", value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise errors.out_of_range(param, value, minimum=minimum, maximum=maximum)
    return value


def check_number(
    value: Any, param: str, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise errors.invalid_type(param, "a number", value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise errors.out_of_range(param, float(value), minimum=minimum, maximum=maximum)
    return float(value)


def check_token_limit(value: Any, param: str) -> int | str:
    """``max_output_tokens``: an integer 1–4096 or ``"inf"``."""
    if value == "inf":
        return "inf"
    if isinstance(value, str):
        raise errors.invalid_value(param, value, ["inf"])
    return check_int(value, param, minimum=1, maximum=4096)


def check_list(value: Any, param: str) -> list[Any]:
    if not isinstance(value, list):
        raise errors.invalid_type(param, "an array", value)
    return value


def check_tools(value: Any, param: str, *, allow_mcp: bool) -> list[dict[str, Any]]:
    tools = check_list(value, param)
    kinds = ["function", "mcp"] if allow_mcp else ["function"]
    for index, tool in enumerate(tools):
        where = f"{param}[{index}]"
        check_object(tool, where)
        kind = check_enum(tool.get("type", "function"), f"{where}.type", kinds)
        if kind == "function":
            check_keys(tool, where, ("type", "name", "description", "parameters"))
            if "name" not in tool:
                raise errors.missing_parameter(f"{where}.name")
            check_str(tool["name"], f"{where}.name")
            if "description" in tool:
                check_str(tool["description"], f"{where}.description")
            if "parameters" in tool:
                check_object(tool["parameters"], f"{where}.parameters")
        elif "server_label" not in tool:
            raise errors.missing_parameter(f"{where}.server_label")
    return tools


def check_tool_choice(value: Any, param: str, *, allow_objects: bool) -> Any:
    if isinstance(value, str):
        return check_enum(value, param, ["auto", "none", "required"])
    if not allow_objects:
        raise errors.invalid_type(param, "a string", value)
    choice = check_object(value, param)
    kind = check_enum(choice.get("type"), f"{param}.type", ["function", "mcp"])
    if kind == "function":
        check_str(choice.get("name"), f"{param}.name")
    else:
        check_str(choice.get("server_label"), f"{param}.server_label")
    return choice


def check_metadata(value: Any, param: str) -> dict[str, str] | None:
    if value is None:
        return None
    metadata = check_object(value, param)
    if len(metadata) > 16:
        raise errors.ClientEventError(
            "object_above_max_properties",
            f"Invalid '{param}': too many properties. Expected an object with at most 16 properties, "
            f"but got an object with {len(metadata)} properties instead.",
            param=param,
        )
    for key, item in metadata.items():
        if len(key) > 64:
            raise errors.invalid_value(f"{param}.{key}", key)
        check_str(item, f"{param}.{key}")
        if len(item) > 512:
            raise errors.ClientEventError(
                "string_above_max_length",
                f"Invalid '{param}.{key}': string too long. Expected a string with maximum length 512, "
                f"but got a string with length {len(item)} instead.",
                param=f"{param}.{key}",
            )
    return metadata
