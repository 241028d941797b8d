"""Tools from typed Python functions: the signature is the schema, the docstring the description.

Writing JSON Schema by hand duplicates what the type hints already say and drifts from the code;
``@function_tool`` derives it, and converts JSON values back into the declared Python types (enums,
dataclasses) before calling the function with keyword arguments.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints, overload

from .definition import Tool, ToolDefinitionError
from .docstrings import parse_docstring

__all__ = ["FunctionTool", "function_schema", "function_tool"]

#: Turns a validated JSON value into the declared Python value; ``None`` means "use as is".
Converter = Callable[[Any], Any] | None

_NONE_TYPE = type(None)
#: The handler calls the function with keyword arguments only.
_UNSUPPORTED_KINDS: dict[object, str] = {
    inspect.Parameter.VAR_POSITIONAL: "*args",
    inspect.Parameter.VAR_KEYWORD: "**kwargs",
    inspect.Parameter.POSITIONAL_ONLY: "positional-only",
}
_PRIMITIVES: dict[type, str] = {str: "string", bool: "boolean", int: "integer", float: "number"}
_REQUIRED_MARKERS: tuple[object, ...] = tuple(
    marker for marker in (getattr(typing, "Required", None), getattr(typing, "NotRequired", None)) if marker
)
_NOT_REQUIRED: tuple[object, ...] = tuple(
    marker for marker in (getattr(typing, "NotRequired", None),) if marker
)
try:  # TypedDicts written with typing_extensions on Python 3.10
    import typing_extensions

    _REQUIRED_MARKERS += (typing_extensions.Required, typing_extensions.NotRequired)
    _NOT_REQUIRED += (typing_extensions.NotRequired,)
    _is_typeddict: Callable[[object], bool] = typing_extensions.is_typeddict
except ImportError:  # pragma: no cover - typing_extensions is almost always installed
    _is_typeddict = typing.is_typeddict


@dataclass(frozen=True, kw_only=True)
class FunctionTool(Tool):
    """A :class:`Tool` built by :func:`function_tool`; still callable as the original function."""

    function: Callable[..., Any]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)


class _Unsupported(Exception):
    """Internal: raised while walking annotations, turned into a ToolDefinitionError with the tool name."""


@overload
def function_tool(func: Callable[..., Any], /) -> FunctionTool: ...


@overload
def function_tool(
    *, name: str | None = None, description: str | None = None, timeout: float | None = None
) -> Callable[[Callable[..., Any]], FunctionTool]: ...


def function_tool(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Make a :class:`FunctionTool` from a typed function; usable bare or with arguments.

    The name defaults to the function's name, the description to its docstring's summary; parameter
    descriptions come from ``Annotated[X, "text"]`` or the docstring. Unsupported annotations raise
    :class:`ToolDefinitionError` naming the parameter.
    """

    def build(target: Callable[..., Any]) -> FunctionTool:
        definition, converters = _build(target, name, description)
        return FunctionTool(definition, _make_handler(target, converters), timeout, function=target)

    return build if func is None else build(func)


def function_schema(
    func: Callable[..., Any], *, name: str | None = None, description: str | None = None
) -> dict[str, Any]:
    """The definition ``@function_tool`` would send for ``func``, without making a tool."""
    return _build(func, name, description)[0]


def _build(
    func: Callable[..., Any], name: str | None, description: str | None
) -> tuple[dict[str, Any], dict[str, Converter]]:
    tool_name = name or getattr(func, "__name__", None) or type(func).__name__
    if not callable(func):
        raise ToolDefinitionError(
            f"@function_tool needs a function, got {type(func).__name__}", tool=tool_name
        )
    doc = parse_docstring(inspect.getdoc(func))
    description = description if description is not None else doc.summary
    if not description:
        raise ToolDefinitionError(
            "no description: give the function a docstring or pass description=", tool=tool_name
        )
    try:
        signature = inspect.signature(func)
        hints = get_type_hints(func, include_extras=True)
    except (NameError, TypeError, ValueError) as exc:
        raise ToolDefinitionError(f"cannot read the signature: {exc}", tool=tool_name) from None

    properties: dict[str, Any] = {}
    required: list[str] = []
    converters: dict[str, Converter] = {}
    for param in signature.parameters.values():
        where = f"parameter {param.name!r}"
        unsupported_kind = _UNSUPPORTED_KINDS.get(param.kind)
        if unsupported_kind:
            raise ToolDefinitionError(
                f"{where}: {unsupported_kind} parameters are not supported", tool=tool_name
            )
        if param.name not in hints:
            raise ToolDefinitionError(f"{where} has no type annotation", tool=tool_name)
        try:
            schema, converter = _schema(hints[param.name], ())
        except _Unsupported as exc:
            raise ToolDefinitionError(f"{where}: {exc}", tool=tool_name) from None
        if "description" not in schema and param.name in doc.params:
            schema = {**schema, "description": doc.params[param.name]}
        if param.default is param.empty:
            required.append(param.name)
        else:
            _record_default(schema, param.default)
        properties[param.name] = schema
        converters[param.name] = converter
    parameters = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    definition = {"type": "function", "name": tool_name, "description": description, "parameters": parameters}
    return definition, {key: value for key, value in converters.items() if value is not None}


def _make_handler(
    func: Callable[..., Any], converters: dict[str, Converter]
) -> Callable[[dict[str, Any]], Any]:
    def convert(arguments: dict[str, Any]) -> dict[str, Any]:
        if not converters:
            return arguments
        return {key: _apply(converters.get(key), value) for key, value in arguments.items()}

    if inspect.iscoroutinefunction(func):

        async def async_handler(arguments: dict[str, Any]) -> Any:
            return await func(**convert(arguments))

        return async_handler

    def handler(arguments: dict[str, Any]) -> Any:
        return func(**convert(arguments))

    return handler


def _apply(converter: Converter, value: Any) -> Any:
    return value if converter is None else converter(value)


def _record_default(schema: dict[str, Any], default: object) -> None:
    """Record a default the model can read, when it has a JSON form."""
    value = default.value if isinstance(default, enum.Enum) else default
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return
    schema["default"] = value


# -- annotation → (schema, converter) ------------------------------------------------------


def _schema(tp: Any, stack: tuple[type, ...]) -> tuple[dict[str, Any], Converter]:
    origin = get_origin(tp)
    if origin is Annotated:
        base, *metadata = get_args(tp)
        schema, converter = _schema(base, stack)
        text = next((item for item in metadata if isinstance(item, str)), None)
        return ({**schema, "description": text} if text else schema), converter
    if origin is not None and origin in _REQUIRED_MARKERS:  # TypedDict Required[X] / NotRequired[X]
        return _schema(get_args(tp)[0], stack)
    if tp is Any:
        return {}, None
    if tp is None or tp is _NONE_TYPE:
        return {"type": "null"}, None
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum_schema(tp)
    if tp in _PRIMITIVES:
        return {"type": _PRIMITIVES[tp]}, (_to_float if tp is float else None)
    if hasattr(tp, "__supertype__"):  # typing.NewType
        return _schema(tp.__supertype__, stack)
    if origin is Literal:
        return _literal_schema(get_args(tp))
    if origin is Union or origin is types.UnionType:
        return _union_schema(get_args(tp), stack)
    if tp is list or origin is list:
        return _list_schema(get_args(tp), stack)
    if tp is dict or origin is dict:
        return _dict_schema(get_args(tp), stack)
    if _is_typeddict(tp):
        return _typeddict_schema(tp, stack)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_schema(tp, stack)
    raise _Unsupported(f"unsupported annotation {_show(tp)}")


def _show(tp: object) -> str:
    if isinstance(tp, type) and get_origin(tp) is None:  # list[int] is a "type" on 3.10
        return tp.__name__
    return repr(tp)


def _to_float(value: Any) -> Any:
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _json_type(values: list[Any]) -> str | None:
    kinds = {"boolean" if isinstance(v, bool) else _PRIMITIVES.get(type(v), "null") for v in values}
    if kinds == {"integer", "number"}:
        return "number"
    return kinds.pop() if len(kinds) == 1 else None


def _enum_schema(cls: type[enum.Enum]) -> tuple[dict[str, Any], Converter]:
    values = [member.value for member in cls]
    if not values or not all(value is None or type(value) in _PRIMITIVES for value in values):
        raise _Unsupported(f"enum {cls.__name__} must have str, int, float or bool values")
    schema: dict[str, Any] = {"enum": values}
    kind = _json_type(values)
    if kind:
        schema = {"type": kind, **schema}
    return schema, cls


def _literal_schema(values: tuple[Any, ...]) -> tuple[dict[str, Any], Converter]:
    if not all(value is None or type(value) in _PRIMITIVES for value in values):
        raise _Unsupported(f"Literal values must be str, int, float, bool or None, got {values!r}")
    schema: dict[str, Any] = {"enum": list(values)}
    kind = _json_type(list(values))
    if kind:
        schema = {"type": kind, **schema}
    return schema, None


def _union_schema(members: tuple[Any, ...], stack: tuple[type, ...]) -> tuple[dict[str, Any], Converter]:
    others = [member for member in members if member is not _NONE_TYPE]
    nullable = len(others) < len(members)
    if len(others) == 1:
        schema, converter = _schema(others[0], stack)
        if not nullable:
            return schema, converter
        return _nullable(schema), (None if converter is None else _optional(converter))
    parts: list[dict[str, Any]] = []
    for member in others:
        schema, converter = _schema(member, stack)
        if converter is not None and converter is not _to_float:
            raise _Unsupported(
                f"{_show(member)} in a union of several types can't be converted back; use one type"
            )
        parts.append(schema)
    if nullable:
        parts.append({"type": "null"})
    return {"anyOf": parts}, None


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str) and "anyOf" not in schema and "const" not in schema:
        result = {**schema, "type": [kind, "null"]}
        if "enum" in result:
            result["enum"] = [*result["enum"], None]
        return result
    return {"anyOf": [schema, {"type": "null"}]}


def _optional(converter: Callable[[Any], Any]) -> Converter:
    return lambda value: None if value is None else converter(value)


def _list_schema(args: tuple[Any, ...], stack: tuple[type, ...]) -> tuple[dict[str, Any], Converter]:
    if not args:
        return {"type": "array"}, None
    items, converter = _schema(args[0], stack)
    if converter is None:
        return {"type": "array", "items": items}, None
    return {"type": "array", "items": items}, lambda values: [converter(value) for value in values]


def _dict_schema(args: tuple[Any, ...], stack: tuple[type, ...]) -> tuple[dict[str, Any], Converter]:
    if not args:
        return {"type": "object"}, None
    key, value_type = args
    if key is not str:
        raise _Unsupported(f"dict keys must be str (JSON object keys), got {_show(key)}")
    values, converter = _schema(value_type, stack)
    schema = {"type": "object", "additionalProperties": values}
    if converter is None:
        return schema, None
    return schema, lambda mapping: {name: converter(value) for name, value in mapping.items()}


def _enter(cls: type, stack: tuple[type, ...]) -> tuple[type, ...]:
    if cls in stack:
        raise _Unsupported(f"recursive type {cls.__name__} is not supported")
    return (*stack, cls)


def _class_description(cls: type) -> tuple[str, dict[str, str]]:
    doc = cls.__doc__ or ""
    if dataclasses.is_dataclass(cls) and doc.startswith(f"{cls.__name__}("):
        doc = ""  # the signature dataclasses put there when there is no docstring
    parsed = parse_docstring(doc)
    return parsed.summary, parsed.params


def _object_schema(
    cls: type, fields: Sequence[tuple[str, Any, bool, object]], stack: tuple[type, ...]
) -> tuple[dict[str, Any], dict[str, Converter]]:
    """``fields``: (name, annotation, required, default or MISSING)."""
    summary, field_docs = _class_description(cls)
    properties: dict[str, Any] = {}
    converters: dict[str, Converter] = {}
    for name, annotation, _, default in fields:
        try:
            schema, converter = _schema(annotation, stack)
        except _Unsupported as exc:
            raise _Unsupported(f"field {cls.__name__}.{name}: {exc}") from None
        if "description" not in schema and name in field_docs:
            schema = {**schema, "description": field_docs[name]}
        if default is not dataclasses.MISSING:
            _record_default(schema, default)
        properties[name] = schema
        if converter is not None:
            converters[name] = converter
    schema = {
        "type": "object",
        "properties": properties,
        "required": [name for name, _, required, _ in fields if required],
        "additionalProperties": False,
    }
    if summary:
        schema["description"] = summary
    return schema, converters


def _typeddict_schema(cls: Any, stack: tuple[type, ...]) -> tuple[dict[str, Any], Converter]:
    stack = _enter(cls, stack)
    try:
        hints = get_type_hints(cls, include_extras=True)
    except (NameError, TypeError) as exc:
        raise _Unsupported(f"cannot resolve the annotations of {cls.__name__}: {exc}") from None
    required_keys = getattr(cls, "__required_keys__", frozenset(hints))
    fields = [
        (name, hint, _is_required(hint, name in required_keys), dataclasses.MISSING)
        for name, hint in hints.items()
    ]
    schema, converters = _object_schema(cls, fields, stack)
    if not converters:
        return schema, None
    return schema, lambda mapping: {key: _apply(converters.get(key), value) for key, value in mapping.items()}


def _is_required(hint: Any, declared: bool) -> bool:
    """``Required``/``NotRequired`` in the hint win: with string annotations the class can't see them."""
    while get_origin(hint) is Annotated:
        hint = get_args(hint)[0]
    marker = get_origin(hint)
    if marker is not None and marker in _NOT_REQUIRED:
        return False
    if marker is not None and marker in _REQUIRED_MARKERS:
        return True
    return declared


def _dataclass_schema(cls: type, stack: tuple[type, ...]) -> tuple[dict[str, Any], Converter]:
    stack = _enter(cls, stack)
    try:
        hints = get_type_hints(cls, include_extras=True)
    except (NameError, TypeError) as exc:
        raise _Unsupported(f"cannot resolve the annotations of {cls.__name__}: {exc}") from None
    fields = []
    for item in dataclasses.fields(cls):
        if not item.init:
            continue
        required = item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
        fields.append((item.name, hints.get(item.name, item.type), required, item.default))
    schema, converters = _object_schema(cls, fields, stack)

    def convert(mapping: Mapping[str, Any]) -> Any:
        return cls(**{key: _apply(converters.get(key), value) for key, value in mapping.items()})

    return schema, convert
