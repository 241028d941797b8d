"""Scripted, deterministic replies for the local server.

A scenario is a JSON file, a dict, or just a list of rules (then every other key takes its
default)::

    {
      "rules": [
        {"match": "hello", "reply": "Hi there! How can I help?"},
        {"regex": "weather in (?P<location>[a-z ]+)",
         "say": "Let me check that.",
         "calls": [{"name": "get_weather", "arguments": {"location": "{location}"}}],
         "after_output": "The weather in {location} is {output.temperature} degrees."},
        {"match": "time and weather",
         "calls": [{"name": "get_time", "arguments": {}},
                   {"name": "get_weather", "arguments": {"location": "Paris"}}],
         "after_output": "It is {get_time.time} and {get_weather.temperature} degrees."}
      ],
      "default_reply": "You said: {text}",
      "greeting": "Hello! How can I help you today?",
      "after_output": "Here is the result: {output}",
      "transcripts": ["what's the weather in paris"]
    }

Rules are tried in order against the latest user text (``input_text`` parts, and for user audio
the transcript the server "heard"); the first match wins.

* ``match``: case-insensitive substring; ``regex``: case-insensitive ``re.search`` whose named
  groups become template fields. A rule with neither matches everything.
* ``reply``: the answer (a list of strings is used in turn, one per match); or ``calls``: one or
  more function calls in one response (``name`` + ``arguments`` object whose string values are
  templates), optionally preceded by ``say``, a spoken/written preamble message.
* ``after_output``: the answer once ``function_call_output`` items for those calls are the last
  items of the conversation and the client asks for a response. A call of a tool that a session
  ``mcp`` tool listed (remote MCP) is made by the server itself, within the same response, which
  then says ``after_output`` with the call's result as ``{output}``.

Templates use ``{field}`` and dotted paths into JSON (``{output.temperature}``,
``{outputs.1.time}``, ``{get_weather.temperature}``); ``{{``/``}}`` are literal braces; a field
that does not resolve is left as written. Fields: ``text`` (the user text), the regex's named
groups, and after outputs also ``output`` (the first output, parsed as JSON when it is JSON),
``outputs`` (all of them, in order) and each called function's name (its output).

``transcripts`` are the texts "heard" in successive committed user audio items (and reported by
input transcription when it is on); once used up, an audio item is heard as
``"[1.2 s of audio]"``. With no user text the ``greeting`` is said, with no matching rule the
``default_reply`` (``{text}`` echoes the user). With ``tool_choice: "none"`` a call rule says its
``say`` text (or the default reply) instead of calling.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from ..errors import ConfigurationError
from .responder import (
    CallOutput,
    McpCallOutput,
    McpResult,
    PlannedOutput,
    ResponseRequest,
    TextOutput,
    user_text,
)

DEFAULT_REPLY = "You said: {text}"
DEFAULT_GREETING = "Hello! How can I help you today?"
DEFAULT_AFTER_OUTPUT = "Here is the result: {output}"

_RULE_KEYS = {"match", "regex", "reply", "say", "calls", "after_output"}
_SCENARIO_KEYS = {"rules", "default_reply", "greeting", "after_output", "transcripts"}
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]+)\}")
_MISSING = object()


# -- templates -----------------------------------------------------------------------------------


def _lookup(fields: Mapping[str, Any], path: str) -> Any:
    parts = path.strip().split(".")
    value: Any = fields.get(parts[0], _MISSING)
    for part in parts[1:]:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value)


def render(template: str, fields: Mapping[str, Any]) -> str:
    """Fill ``{field}`` / ``{a.b.0}`` placeholders; unresolved ones stay as written."""

    def substitute(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        value = _lookup(fields, match.group(1))
        return token if value is _MISSING else _as_text(value)

    return _PLACEHOLDER.sub(substitute, template)


def _render_value(value: Any, fields: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return render(value, fields)
    if isinstance(value, list):
        return [_render_value(entry, fields) for entry in value]
    if isinstance(value, dict):
        return {key: _render_value(entry, fields) for key, entry in value.items()}
    return value


# -- definition ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallTemplate:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Rule:
    """One scripted rule (see the module docstring)."""

    substring: str | None = None
    pattern: re.Pattern[str] | None = None
    replies: tuple[str, ...] = ()
    say: str | None = None
    calls: tuple[CallTemplate, ...] = ()
    after_output: str | None = None

    def match(self, text: str) -> dict[str, Any] | None:
        """Template fields if the rule applies to ``text``, else ``None``."""
        fields: dict[str, Any] = {"text": text}
        if self.pattern is not None:
            found = self.pattern.search(text)
            if found is None:
                return None
            fields.update({k: (v or "").strip() for k, v in found.groupdict().items()})
        elif self.substring is not None and self.substring.lower() not in text.lower():
            return None
        return fields

    @classmethod
    def parse(cls, raw: Any, where: str) -> Rule:
        if not isinstance(raw, Mapping):
            raise ConfigurationError(f"{where}: a rule must be an object, got {type(raw).__name__}")
        unknown = set(raw) - _RULE_KEYS
        if unknown:
            raise ConfigurationError(f"{where}: unknown rule keys {sorted(unknown)}")
        if "match" in raw and "regex" in raw:
            raise ConfigurationError(f"{where}: give 'match' or 'regex', not both")
        substring = _optional_str(raw, "match", where)
        pattern: re.Pattern[str] | None = None
        if "regex" in raw:
            try:
                pattern = re.compile(_str(raw["regex"], f"{where}.regex"), re.IGNORECASE)
            except re.error as exc:
                raise ConfigurationError(f"{where}.regex: invalid regular expression: {exc}") from None
        has_reply, has_calls = "reply" in raw, "calls" in raw
        if has_reply == has_calls:
            raise ConfigurationError(f"{where}: a rule needs exactly one of 'reply' or 'calls'")
        replies: tuple[str, ...] = ()
        if has_reply:
            reply = raw["reply"]
            entries = reply if isinstance(reply, list) else [reply]
            replies = tuple(_str(entry, f"{where}.reply") for entry in entries)
            if not replies:
                raise ConfigurationError(f"{where}.reply: the list is empty")
            if "say" in raw or "after_output" in raw:
                raise ConfigurationError(f"{where}: 'say' and 'after_output' only go with 'calls'")
        calls: tuple[CallTemplate, ...] = ()
        if has_calls:
            if not isinstance(raw["calls"], list) or not raw["calls"]:
                raise ConfigurationError(f"{where}.calls: expected a non-empty list")
            calls = tuple(_call(entry, f"{where}.calls[{i}]") for i, entry in enumerate(raw["calls"]))
        return cls(
            substring=substring,
            pattern=pattern,
            replies=replies,
            say=_optional_str(raw, "say", where),
            calls=calls,
            after_output=_optional_str(raw, "after_output", where),
        )


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"{where}: expected a string, got {type(value).__name__}")
    return value


def _optional_str(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    return _str(raw[key], f"{where}.{key}") if key in raw else None


def _call(raw: Any, where: str) -> CallTemplate:
    if not isinstance(raw, Mapping) or set(raw) - {"name", "arguments"}:
        raise ConfigurationError(f"{where}: a call is an object with 'name' and 'arguments'")
    arguments = raw.get("arguments", {})
    if not isinstance(arguments, dict):
        raise ConfigurationError(f"{where}.arguments: expected an object")
    return CallTemplate(name=_str(raw.get("name"), f"{where}.name"), arguments=dict(arguments))


ScenarioSource = Union[
    "Scenario", Mapping[str, Any], Sequence[Mapping[str, Any]], str, "os.PathLike[str]", None
]


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario: immutable, shareable between connections."""

    rules: tuple[Rule, ...] = ()
    default_reply: str = DEFAULT_REPLY
    greeting: str = DEFAULT_GREETING
    after_output: str = DEFAULT_AFTER_OUTPUT
    transcripts: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Scenario:
        unknown = set(raw) - _SCENARIO_KEYS
        if unknown:
            raise ConfigurationError(f"scenario: unknown keys {sorted(unknown)}")
        rules_raw = raw.get("rules", [])
        if not isinstance(rules_raw, list):
            raise ConfigurationError("scenario.rules: expected a list")
        transcripts = raw.get("transcripts", [])
        if not isinstance(transcripts, list):
            raise ConfigurationError("scenario.transcripts: expected a list of strings")
        return cls(
            rules=tuple(Rule.parse(rule, f"scenario.rules[{i}]") for i, rule in enumerate(rules_raw)),
            default_reply=_str(raw.get("default_reply", DEFAULT_REPLY), "scenario.default_reply"),
            greeting=_str(raw.get("greeting", DEFAULT_GREETING), "scenario.greeting"),
            after_output=_str(raw.get("after_output", DEFAULT_AFTER_OUTPUT), "scenario.after_output"),
            transcripts=tuple(_str(t, f"scenario.transcripts[{i}]") for i, t in enumerate(transcripts)),
        )

    @classmethod
    def load(cls, source: ScenarioSource) -> Scenario:
        """Accept a Scenario, a dict, a list of rules, a JSON file path, or ``None`` (defaults only)."""
        if source is None:
            return cls()
        if isinstance(source, Scenario):
            return source
        if isinstance(source, (str, os.PathLike)):
            path = Path(source)
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
            except OSError as exc:
                raise ConfigurationError(f"cannot read scenario file {str(path)!r}: {exc.strerror}") from None
            except json.JSONDecodeError as exc:
                raise ConfigurationError(f"scenario file {str(path)!r} is not valid JSON: {exc}") from None
            return cls.load(raw)
        if isinstance(source, Mapping):
            return cls.from_dict(source)
        if isinstance(source, Sequence):
            return cls.from_dict({"rules": list(source)})
        raise ConfigurationError(f"unsupported scenario source: {type(source).__name__}")

    def responder(self) -> ScriptedResponder:
        """A fresh per-session responder (it remembers calls made and transcripts used)."""
        return ScriptedResponder(self)


@dataclass
class _IssuedCall:
    rule: Rule | None
    name: str
    fields: dict[str, Any]


class ScriptedResponder:
    """The per-session state of a :class:`Scenario`: implements :class:`~.responder.Responder`."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self._transcripts = list(scenario.transcripts)
        self._reply_turns: dict[int, int] = {}
        self._calls: dict[str, _IssuedCall] = {}

    def transcribe(self, duration_ms: float) -> str:
        if self._transcripts:
            return self._transcripts.pop(0)
        return f"[{duration_ms / 1000:.1f} s of audio]"

    def respond(self, request: ResponseRequest) -> list[PlannedOutput]:
        items = list(request.items)
        outputs: list[dict[str, Any]] = []
        for context in reversed(items):
            if context.item.get("type") != "function_call_output":
                break
            outputs.insert(0, context.item)
        if outputs:
            return [TextOutput(self._after_outputs(outputs))]
        text = next(
            (
                user_text(c)
                for c in reversed(items)
                if c.item.get("type") == "message" and c.item.get("role") == "user"
            ),
            None,
        )
        if text is None or not text:
            return [TextOutput(render(self.scenario.greeting, {"text": ""}))]
        for index, rule in enumerate(self.scenario.rules):
            fields = rule.match(text)
            if fields is not None:
                return self._apply(index, rule, fields, request)
        return [TextOutput(render(self.scenario.default_reply, {"text": text}))]

    def _apply(
        self, index: int, rule: Rule, fields: dict[str, Any], request: ResponseRequest
    ) -> list[PlannedOutput]:
        if rule.replies:
            turn = self._reply_turns.get(index, 0)
            self._reply_turns[index] = turn + 1
            return [TextOutput(render(rule.replies[turn % len(rule.replies)], fields))]
        if request.tool_choice == "none":
            return [TextOutput(render(rule.say or self.scenario.default_reply, fields))]
        planned: list[PlannedOutput] = []
        if rule.say:
            planned.append(TextOutput(render(rule.say, fields)))
        for call in rule.calls:
            arguments = json.dumps(_render_value(call.arguments, fields))
            label = request.mcp_tools.get(call.name)
            if label is not None:  # a tool of an mcp session tool: the server calls it (remote MCP)
                planned.append(
                    McpCallOutput(label, call.name, arguments, self._mcp_follow(rule, call.name, fields))
                )
                continue
            call_id = request.new_call_id()
            self._calls[call_id] = _IssuedCall(rule, call.name, fields)
            planned.append(CallOutput(call.name, arguments, call_id))
        return planned

    def _mcp_follow(
        self, rule: Rule, name: str, fields: dict[str, Any]
    ) -> Callable[[McpResult], list[TextOutput]]:
        """What the response says once a remote MCP call is done (its ``after_output``)."""

        def follow(result: McpResult) -> list[TextOutput]:
            value = _parse_output(result.output) if result.ok else {"error": result.error}
            filled = {**fields, "output": value, "outputs": [value], name: value}
            template = rule.after_output or self.scenario.after_output
            return [TextOutput(render(template, filled))]

        return follow

    def _after_outputs(self, outputs: list[dict[str, Any]]) -> str:
        fields: dict[str, Any] = {}
        rule: Rule | None = None
        parsed: list[Any] = []
        for item in outputs:
            value = _parse_output(item.get("output"))
            parsed.append(value)
            issued = self._calls.get(str(item.get("call_id")))
            if issued is not None:
                if rule is None:
                    rule = issued.rule
                    fields.update(issued.fields)
                fields.setdefault(issued.name, value)
        fields["output"] = parsed[0]
        fields["outputs"] = parsed
        template = rule.after_output if rule is not None and rule.after_output else self.scenario.after_output
        return render(template, fields)


def _parse_output(output: Any) -> Any:
    if not isinstance(output, str):
        return output
    try:
        return json.loads(output)
    except json.JSONDecodeError:
        return output
