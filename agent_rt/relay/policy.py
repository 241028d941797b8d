"""Pure rewrites of the few client events the relay acts on: the session lock and model allow-lists.

A relay owner may fix session fields (``instructions``, ``tools``, ``voice`` ...; flat names, GA
nesting or dotted paths, translated to each session's GA or beta shape). The relay sends them
upstream when the session opens, and strips them from a client's ``session.update`` (and from a
``response.create``'s per-response overrides), answering with an ``error``-shaped event that
names what was not applied: never silently.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection, Mapping
from typing import Any

from ..protocol.dialect import config_to_wire

#: Client event types of the Realtime API (GA and beta): the default allow-list.
CLIENT_EVENT_TYPES = frozenset(
    {
        "session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "conversation.item.create",
        "conversation.item.retrieve",
        "conversation.item.truncate",
        "conversation.item.delete",
        "response.create",
        "response.cancel",
        "output_audio_buffer.clear",
        "transcription_session.update",
    }
)


def relay_error(code: str, message: str, *, param: str | None = None, event_id: str | None = None) -> str:
    """An ``error`` event in the service's shape, from the relay (its ``event_id`` starts ``relay_``)."""
    event = {
        "type": "error",
        "event_id": f"relay_{secrets.token_hex(8)}",
        "error": {
            "type": "invalid_request_error",
            "code": code,
            "message": message,
            "param": param,
            "event_id": event_id,
        },
    }
    return json.dumps(event)


def _get(container: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    node: Any = container
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _pop(container: dict[str, Any], path: str) -> None:
    *parents, last = path.split(".")
    node: Any = container
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(last, None)


def _put(container: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = container
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[last] = value


def wire_lock(lock: Mapping[str, Any], *, beta: bool) -> dict[str, Any]:
    """The locked fields as dotted paths of the session's wire shape (GA or beta).

    ``lock`` may use the reference client's flat names (``voice``), GA's nested fields
    (``{"audio": {"output": {"voice": ...}}}``) or dotted paths (``audio.output.voice``); each
    session gets them in its own generation's shape. ``model`` is not a session field here: it
    goes into the upstream URL.
    """
    nested: dict[str, Any] = {}
    for path, value in lock.items():
        if path != "model":
            _put(nested, path, value)
    wire = config_to_wire(nested, "beta" if beta else "ga")
    wire.pop("type", None)
    paths: dict[str, Any] = {}
    for key, value in wire.items():
        if key == "audio" and isinstance(value, dict):
            for side, part in value.items():
                for field, setting in part.items() if isinstance(part, dict) else ():
                    paths[f"audio.{side}.{field}"] = setting
        else:
            paths[key] = value
    return paths


def locked_session(paths: Mapping[str, Any], *, beta: bool) -> dict[str, Any] | None:
    """The ``session`` of the relay's opening ``session.update`` (``paths`` from :func:`wire_lock`)."""
    if not paths:
        return None
    session: dict[str, Any] = {} if beta else {"type": "realtime"}
    for path, value in paths.items():
        _put(session, path, value)
    return session


def strip_locked(session: dict[str, Any], lock: Mapping[str, Any]) -> list[str]:
    """Remove locked fields (dotted paths of :func:`wire_lock`); return those set to another value."""
    overridden = []
    for path, value in lock.items():
        present, current = _get(session, path)
        if present:
            _pop(session, path)
            if current != value:
                overridden.append(path)
    return overridden


def strip_model(session: dict[str, Any], allowed: Collection[str] | None) -> str | None:
    """Remove a ``model`` the allow-list does not have; return it (None if it was fine)."""
    model = session.get("model")
    if allowed is None or model is None or model in allowed:
        return None
    session.pop("model", None)
    return str(model)


def merge_tools(session: dict[str, Any], relay_tools: list[dict[str, Any]]) -> list[str] | None:
    """Add the relay's tools to a ``session.update``'s ``tools``; the names the client declared.

    ``None`` when the update leaves the tools alone. A tool the client declares is the client's,
    even under the name of one of the relay's: its definition stays and the client answers its
    calls (the relay adds only the tools the client did not declare).
    """
    theirs = session.get("tools")
    if not isinstance(theirs, list):
        return None
    names = [str(t["name"]) for t in theirs if isinstance(t, dict) and isinstance(t.get("name"), str)]
    declared = set(names)
    session["tools"] = theirs + [tool for tool in relay_tools if tool["name"] not in declared]
    return names
