"""MCP tool definitions and results in agent_rt's terms. Pure: plain dicts in, plain values out.

The model sees one ``function_call_output`` string, so a ``tools/call`` result (a list of content
blocks, maybe structured content, maybe ``isError``) is folded into one JSON value:

- one text block: its text, parsed as JSON when it is JSON (a tool returning ``5`` gives ``5``);
- else, with any non-text block, a list of blocks: text as strings, images/audio/blobs as a short
  description (the model can't use base64 in a text output, and it would flood the context),
  resources by URI and text;
- else structured content when the server sent some;
- else the texts joined by newlines.

Tool definitions: the MCP ``inputSchema`` becomes ``parameters``; a missing description is derived
from the title or name (MCP allows none, agent_rt requires one); names outside the characters the
Realtime API accepts are rewritten (the call still uses the server's own name).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["describe_tool", "function_name", "result_error_text", "result_value"]

_INVALID = re.compile(r"[^A-Za-z0-9_-]")
_MAX_NAME = 64


def function_name(prefix: str, name: str) -> str:
    """The function name the model sees for an MCP tool ``name`` (prefix added, bad characters ``_``)."""
    cleaned = _INVALID.sub("_", prefix + name)
    return cleaned[:_MAX_NAME] or "_"


def describe_tool(tool: Mapping[str, Any], server: str) -> str:
    """The tool's description; without one, its title or a sentence from its name."""
    for key in ("description", "title"):
        value = tool.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    annotations = tool.get("annotations")
    if isinstance(annotations, Mapping):
        title = annotations.get("title")
        if isinstance(title, str) and title.strip():
            return title.strip()
    words = str(tool.get("name", "tool")).replace("_", " ").replace("-", " ").strip()
    return f"{words or 'tool'} (a tool of the MCP server {server!r})"


def _block(block: Mapping[str, Any]) -> Any:
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind in ("image", "audio"):
        return {"type": kind, "mime_type": block.get("mimeType"), "bytes": _decoded_size(block.get("data"))}
    if kind == "resource":
        resource = block.get("resource")
        resource = resource if isinstance(resource, Mapping) else {}
        entry: dict[str, Any] = {"type": "resource", "uri": resource.get("uri")}
        if resource.get("mimeType"):
            entry["mime_type"] = resource["mimeType"]
        if isinstance(resource.get("text"), str):
            entry["text"] = resource["text"]
        elif "blob" in resource:
            entry["bytes"] = _decoded_size(resource.get("blob"))
        return entry
    if kind == "resource_link":
        link = {"type": "resource_link", "uri": block.get("uri"), "name": block.get("name")}
        if block.get("description"):
            link["description"] = block["description"]
        return link
    return {"type": kind}


def _decoded_size(data: Any) -> int | None:
    if not isinstance(data, str):
        return None
    try:
        return len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        return None


def _blocks(result: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    content = result.get("content")
    if not isinstance(content, Sequence) or isinstance(content, (str, bytes)):
        return []
    return [block for block in content if isinstance(block, Mapping)]


def result_value(result: Mapping[str, Any]) -> Any:
    """The JSON value a successful result becomes (``result`` in the wire shape, camelCase keys)."""
    blocks = _blocks(result)
    structured = result.get("structuredContent")
    if len(blocks) == 1 and blocks[0].get("type") == "text":
        text = str(blocks[0].get("text", ""))
        try:
            return json.loads(text)
        except ValueError:
            return text
    converted = [_block(block) for block in blocks]
    if any(not isinstance(entry, str) for entry in converted):
        return converted
    if structured is not None:
        return structured
    if not blocks:
        return None
    return "\n".join(str(entry) for entry in converted)


def result_error_text(result: Mapping[str, Any]) -> str:
    """The message of an ``isError`` result: its texts (else a JSON rendering of its content)."""
    blocks = _blocks(result)
    texts = [str(block.get("text", "")) for block in blocks if block.get("type") == "text"]
    message = "\n".join(text for text in texts if text).strip()
    if message:
        return message
    if result.get("structuredContent") is not None:
        return json.dumps(result["structuredContent"], ensure_ascii=False)
    if blocks:
        return json.dumps([_block(block) for block in blocks], ensure_ascii=False)
    return "the tool reported an error without a message"
