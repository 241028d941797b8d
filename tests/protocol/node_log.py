"""Read server events out of a Node.js ``console.log`` transcript (util.inspect output, not JSON).

util.inspect prints object literals with unquoted keys, strings in ``'…'``, ``"…"`` or ``\\`…\\```
quotes (whichever needs no escaping), long strings split into ``'a' + 'b'`` concatenations, and nested
objects beyond depth 2 elided as ``[Object]`` / ``[Array]``. Events are the top-level blocks that start
with a line ``{`` and end with a line ``}``; other console lines are skipped. Elided values are dropped
with their key (a list holding one drops its key too), so each event keeps only what was really printed.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<elided>\[(?:Object|Array)\])
  | (?P<punct>[{}\[\]:,+])
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`(?:[^`\\]|\\.)*`)
  | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_$][\w$]*)
    """,
    re.VERBOSE | re.DOTALL,
)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
_ESCAPE = re.compile(r"\\(u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)", re.DOTALL)
_NAMES: dict[str, Any] = {"null": None, "undefined": None, "true": True, "false": False}


class NodeLogError(ValueError):
    """The text is not a util.inspect rendering this reader understands."""


class _Elided:
    def __repr__(self) -> str:
        return "<elided>"


ELIDED = _Elided()


def _unescape(body: str) -> str:
    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code.startswith("u{"):
            return chr(int(code[2:-1], 16))
        if code[0] in "ux" and len(code) > 1:
            return chr(int(code[1:], 16))
        return _ESCAPES.get(code, code)

    return _ESCAPE.sub(replace, body)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise NodeLogError(f"unexpected text at {position}: {text[position : position + 30]!r}")
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            tokens.append((kind, match.group()))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self._tokens = tokens
        self._index = 0

    def _peek(self) -> tuple[str, str]:
        if self._index >= len(self._tokens):
            raise NodeLogError("unexpected end of block")
        return self._tokens[self._index]

    def _next(self) -> tuple[str, str]:
        token = self._peek()
        self._index += 1
        return token

    def _expect(self, text: str) -> None:
        kind, value = self._next()
        if value != text or kind not in ("punct",):
            raise NodeLogError(f"expected {text!r}, got {value!r}")

    def parse(self) -> Any:
        value = self._value()
        if self._index != len(self._tokens):
            raise NodeLogError(f"trailing tokens after value: {self._tokens[self._index :][:3]!r}")
        return value

    def _value(self) -> Any:
        kind, text = self._next()
        if kind == "punct" and text == "{":
            return self._object()
        if kind == "punct" and text == "[":
            return self._array()
        if kind == "elided":
            return ELIDED
        if kind == "string":
            value = _unescape(text[1:-1])
            while self._index < len(self._tokens) and self._peek() == ("punct", "+"):
                self._index += 1
                kind, text = self._next()
                if kind != "string":
                    raise NodeLogError(f"'+' must join strings, got {text!r}")
                value += _unescape(text[1:-1])
            return value
        if kind == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "name" and text in _NAMES:
            return _NAMES[text]
        raise NodeLogError(f"unexpected token {text!r}")

    def _object(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while self._peek() != ("punct", "}"):
            kind, key = self._next()
            if kind == "string":
                key = _unescape(key[1:-1])
            elif kind != "name":
                raise NodeLogError(f"bad object key {key!r}")
            self._expect(":")
            result[key] = self._value()
            if self._peek() == ("punct", ","):
                self._index += 1
        self._index += 1
        return result

    def _array(self) -> list[Any]:
        result: list[Any] = []
        while self._peek() != ("punct", "]"):
            result.append(self._value())
            if self._peek() == ("punct", ","):
                self._index += 1
        self._index += 1
        return result


def _drop_elided(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: _drop_elided(inner)
            for key, inner in value.items()
            if inner is not ELIDED and not (isinstance(inner, list) and any(x is ELIDED for x in inner))
        }
    if isinstance(value, list):
        return [_drop_elided(inner) for inner in value]
    return value


def parse_value(text: str) -> Any:
    """One util.inspect value, elisions kept as :data:`ELIDED`."""
    return _Parser(_tokens(text)).parse()


def parse_events(text: str) -> list[dict[str, Any]]:
    """Every top-level ``{ … }`` block of a console log, as a dict without elided fields."""
    events: list[dict[str, Any]] = []
    block: list[str] | None = None
    for line in text.splitlines():
        if block is None:
            if line == "{":
                block = [line]
        else:
            block.append(line)
            if line == "}":
                value = _drop_elided(parse_value("\n".join(block)))
                if not isinstance(value, dict):
                    raise NodeLogError("a block is not an object")
                events.append(value)
                block = None
    if block is not None:
        raise NodeLogError("unterminated block at the end of the log")
    return events
