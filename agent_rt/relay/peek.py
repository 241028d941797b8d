"""Read an event's ``type`` without parsing the rest of it.

The relay forwards every frame but acts on only a few event types, so the per-frame path must not
decode a 6 KB base64 audio payload just to learn that it is ``input_audio_buffer.append``. The
scanner walks the top level of the JSON object: it jumps over string values with ``str.find``
(C speed; base64 and most text contain no backslash) and over nested objects and arrays with a
regex for the next structural character, so its cost does not grow with the payload's size when
``type`` comes first (the usual order) and stays linear in C otherwise.
"""

from __future__ import annotations

import json
import re
from typing import Any

_STRUCTURAL = re.compile(r'["{}\[\]]')
_TYPE_VALUE = re.compile(r'\s*:\s*"([^"\\]*)"')
_KEY_START = re.compile(r'\s*(?:,\s*)?"')
_FIRST = ('{"type":"', '{"type": "')
#: Frames this short are cheaper to parse than to scan.
SMALL_FRAME = 256


def _string_end(text: str, start: int) -> int:
    """Index just past the string whose opening quote is at ``start - 1``; -1 if unterminated."""
    position = start
    while True:
        end = text.find('"', position)
        if end < 0:
            return -1
        backslashes = 0
        probe = end - 1
        while probe >= start and text[probe] == "\\":
            backslashes += 1
            probe -= 1
        if backslashes % 2 == 0:
            return end + 1
        position = end + 1


def _skip_nested(text: str, start: int) -> int:
    """Index just past the object or array that opens at ``start``; -1 if it never closes."""
    depth = 0
    position = start
    while True:
        match = _STRUCTURAL.search(text, position)
        if match is None:
            return -1
        char = match.group()
        position = match.end()
        if char == '"':
            position = _string_end(text, position)
            if position < 0:
                return -1
        elif char in "{[":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return position


def _skip_value(text: str, start: int) -> int:
    """Index just past the JSON value that starts at or after ``start`` (whitespace allowed)."""
    length = len(text)
    while start < length and text[start] in " \t\r\n":
        start += 1
    if start >= length:
        return -1
    char = text[start]
    if char == '"':
        return _string_end(text, start + 1)
    if char in "{[":
        return _skip_nested(text, start)
    end = start  # a number, true, false or null
    while end < length and text[end] not in ",}] \t\r\n":
        end += 1
    return end


def peek_type(text: str, *, strict: bool = True) -> str | None:
    """The top-level ``type`` of a JSON event; ``None`` if it has none, or not exactly one.

    ``strict`` (client frames) guards against frames written so that the relay and the upstream's
    parser would see different types: the quick answer stands only if the frame has no backslash
    at all (so no escaped key such as ``"typ\\u0065"``; audio and image payloads never have one)
    and no second top-level ``type`` key; otherwise the parser decides, and then a duplicated key
    at any level gives ``None``. Upstream frames are trusted (``strict=False``).
    """
    found = _quick_type(text)
    if found is not None:
        kind, value_end = found
        if not strict or ("\\" not in text and _unique_type_key(text, value_end)):
            return kind
    try:
        event: Any = json.loads(text, object_pairs_hook=_unique_keys)
    except ValueError:
        return None
    value = event.get("type") if isinstance(event, dict) else None
    return value if isinstance(value, str) else None


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateKey("a key appears twice")
    return result


def _quick_type(text: str) -> tuple[str, int] | None:
    """``(type, index just past its value)`` without parsing, or None when unsure."""
    for prefix in _FIRST:  # the usual shape, from the service and from json.dumps
        if text.startswith(prefix):
            start = len(prefix)
            end = text.find('"', start)
            if end > 0 and "\\" not in text[start:end]:
                return text[start:end], end + 1
            return None
    if len(text) <= SMALL_FRAME:
        return None  # short: the parser is as quick
    return _scan_type(text)


def _unique_type_key(text: str, position: int) -> bool:
    """No second top-level ``type`` key after ``position`` in a frame with no backslash.

    Without backslashes a key can only be spelt ``"type"``, so a frame where that appears once
    (every audio append: base64 has no quote) needs no walk over its keys; the parser upstream
    rejects a frame that is not well-formed.
    """
    return text.count('"type"') == 1 or _no_more_types(text, position)


def _no_more_types(text: str, position: int) -> bool:
    """No other top-level ``type`` key after ``position`` (values are skipped, not read)."""
    while True:
        match = _KEY_START.match(text, position)
        if match is None:
            return text[position:].strip() == "}"
        key_end = _string_end(text, match.end())
        if key_end < 0 or text[match.end() : key_end - 1] == "type":
            return False
        colon = text.find(":", key_end)
        if colon < 0 or text[key_end:colon].strip():
            return False
        position = _skip_value(text, colon + 1)
        if position < 0:
            return False


def _scan_type(text: str) -> tuple[str, int] | None:
    position = text.find("{")
    if position < 0 or text[:position].strip():
        return None
    position += 1
    while True:
        match = _KEY_START.match(text, position)
        if match is None:
            return None
        key_end = _string_end(text, match.end())
        if key_end < 0:
            return None
        key = text[match.end() : key_end - 1]
        colon = text.find(":", key_end)
        if colon < 0 or text[key_end:colon].strip():
            return None
        if key == "type":
            value = _TYPE_VALUE.match(text, key_end)
            return (value.group(1), value.end()) if value else None
        position = _skip_value(text, colon + 1)
        if position < 0:
            return None
