"""Conversation items in each dialect's shape, and validation of client-created ones.

Beta items always carry ``object: "realtime.item"``; GA items from the service usually omit it
(protocol.md §5.4, Appendix A.7), so GA items here omit it. Assistant content is
``output_text`` / ``output_audio`` in GA and ``text`` / ``audio`` in beta. Clients may create
user, system and assistant *text* messages, function calls and function call outputs, but no
assistant audio (§3).
"""

from __future__ import annotations

from typing import Any

from . import errors
from .codec import decode
from .config import AudioFormat
from .conversation import StoredItem
from .ids import IdFactory
from .responder import McpCallOutput
from .validate import check_enum, check_list, check_object, check_str

_ITEM_TYPES = ["message", "function_call", "function_call_output"]
_ROLES = ["user", "assistant", "system"]


def text_type(ga: bool) -> str:
    return "output_text" if ga else "text"


def audio_type(ga: bool) -> str:
    return "output_audio" if ga else "audio"


def _envelope(item_id: str, ga: bool) -> dict[str, Any]:
    return {"id": item_id} if ga else {"id": item_id, "object": "realtime.item"}


def user_audio_item(item_id: str, *, ga: bool) -> dict[str, Any]:
    """The user item a buffer commit creates (transcript filled in later by transcription)."""
    item = _envelope(item_id, ga)
    item.update(
        {
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
    )
    return item


def assistant_item(item_id: str, *, ga: bool) -> dict[str, Any]:
    """An assistant message as ``response.output_item.added`` shows it: empty, in progress."""
    item = _envelope(item_id, ga)
    item.update({"type": "message", "status": "in_progress", "role": "assistant", "content": []})
    return item


def function_call_item(item_id: str, *, name: str, call_id: str, ga: bool) -> dict[str, Any]:
    item = _envelope(item_id, ga)
    item.update(
        {"type": "function_call", "status": "in_progress", "name": name, "call_id": call_id, "arguments": ""}
    )
    return item


def mcp_call_item(item_id: str, call: McpCallOutput, *, ga: bool) -> dict[str, Any]:
    """An ``mcp_call`` item as ``response.output_item.added`` shows it (GA only: remote MCP)."""
    item = _envelope(item_id, ga)
    item.update(
        {
            "type": "mcp_call",
            "status": "in_progress",
            "server_label": call.server_label,
            "name": call.name,
            "arguments": "",
        }
    )
    if call.approval_request_id is not None:
        item["approval_request_id"] = call.approval_request_id
    return item


def client_item(
    raw: Any, *, ga: bool, ids: IdFactory, input_format: AudioFormat, param: str = "item"
) -> StoredItem:
    """Validate a client-supplied item and build what the conversation stores."""
    given = check_object(raw, param)
    kind = given.get("type", "message")
    check_enum(kind, f"{param}.type", [*_ITEM_TYPES, "mcp_approval_response"] if ga else _ITEM_TYPES)
    item_id = given.get("id")
    if item_id is None:
        item_id = ids.item()
    else:
        if not check_str(item_id, f"{param}.id"):
            raise errors.invalid_value(f"{param}.id", item_id)
    item = _envelope(item_id, ga)
    item["type"] = kind
    item["status"] = "completed"
    stored = StoredItem(item=item)
    if kind == "message":
        _message(given, stored, ga=ga, input_format=input_format, param=param)
    elif kind == "mcp_approval_response":
        if "approval_request_id" not in given:
            raise errors.missing_parameter(f"{param}.approval_request_id")
        item["approval_request_id"] = check_str(given["approval_request_id"], f"{param}.approval_request_id")
        if not isinstance(given.get("approve"), bool):
            raise errors.invalid_type(f"{param}.approve", "a boolean", given.get("approve"))
        item["approve"] = given["approve"]
        if given.get("reason") is not None:
            item["reason"] = check_str(given["reason"], f"{param}.reason")
        del item["status"]
    elif kind == "function_call":
        if "name" not in given:
            raise errors.missing_parameter(f"{param}.name")
        item["name"] = check_str(given["name"], f"{param}.name")
        item["call_id"] = (
            check_str(given["call_id"], f"{param}.call_id") if "call_id" in given else ids.call()
        )
        if "arguments" not in given:
            raise errors.missing_parameter(f"{param}.arguments")
        item["arguments"] = check_str(given["arguments"], f"{param}.arguments")
    else:
        for key in ("call_id", "output"):
            if key not in given:
                raise errors.missing_parameter(f"{param}.{key}")
            item[key] = check_str(given[key], f"{param}.{key}")
    return stored


def _message(
    given: dict[str, Any], stored: StoredItem, *, ga: bool, input_format: AudioFormat, param: str
) -> None:
    if "role" not in given:
        raise errors.missing_parameter(f"{param}.role")
    role = check_enum(given["role"], f"{param}.role", _ROLES)
    if "content" not in given:
        raise errors.missing_parameter(f"{param}.content")
    allowed = {
        "user": ["input_text", "input_audio", "input_image"] if ga else ["input_text", "input_audio"],
        "system": ["input_text"],
        "assistant": [text_type(ga)],
    }[role]
    content: list[dict[str, Any]] = []
    for index, raw_part in enumerate(check_list(given["content"], f"{param}.content")):
        where = f"{param}.content[{index}]"
        part = dict(check_object(raw_part, where))
        kind = check_enum(part.get("type"), f"{where}.type", allowed)
        if kind in ("input_text", "output_text", "text"):
            part["text"] = check_str(part.get("text"), f"{where}.text")
        elif kind == "input_image":
            check_str(part.get("image_url"), f"{where}.image_url")
            part.setdefault("detail", "auto")
        else:  # input_audio
            audio = part.pop("audio", None)
            if audio is not None:
                stored.audio[index] = decode(audio, input_format, param=f"{where}.audio")
                stored.audio_format[index] = input_format
            part.setdefault("transcript", None)
        content.append(part)
    stored.item["role"] = role
    stored.item["content"] = content
