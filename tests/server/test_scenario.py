"""Scenario parsing, matching and templates (the scripted responder on its own)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_rt.errors import ConfigurationError
from agent_rt.server import CallOutput, ContextItem, ResponseRequest, Scenario, TextOutput, render


def _user(text: str) -> ContextItem:
    return ContextItem({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})


def _request(*items: ContextItem, tool_choice: str = "auto") -> ResponseRequest:
    counter = iter(range(100))
    return ResponseRequest(
        items=list(items), new_call_id=lambda: f"call_{next(counter)}", tool_choice=tool_choice
    )


def test_render_fills_paths_and_leaves_unknown_fields() -> None:
    fields = {"output": {"temperature": 21, "tags": ["a", "b"], "ok": True}, "name": "Ada"}
    assert render("{name}: {output.temperature}C {output.tags.1} {output.ok}", fields) == "Ada: 21C b true"
    assert render("{missing} {output.nope} {{literal}}", fields) == "{missing} {output.nope} {literal}"
    assert render("{output}", {"output": {"a": 1}}) == '{"a": 1}'


def test_rules_match_in_order_by_substring_or_regex() -> None:
    responder = Scenario.load(
        [
            {"match": "HELLO", "reply": "hi"},
            {"regex": r"my name is (?P<name>\w+)", "reply": "Nice to meet you, {name}."},
        ]
    ).responder()
    assert responder.respond(_request(_user("well hello"))) == [TextOutput("hi")]
    assert responder.respond(_request(_user("My name is Grace"))) == [TextOutput("Nice to meet you, Grace.")]
    assert responder.respond(_request(_user("nothing"))) == [TextOutput("You said: nothing")]


def test_reply_lists_are_used_in_turn() -> None:
    responder = Scenario.load([{"match": "", "reply": ["one", "two"]}]).responder()
    said = [responder.respond(_request(_user("x")))[0] for _ in range(3)]
    assert said == [TextOutput("one"), TextOutput("two"), TextOutput("one")]


def test_latest_user_message_decides_and_audio_uses_the_heard_text() -> None:
    responder = Scenario.load([{"match": "bye", "reply": "Goodbye!"}]).responder()
    audio = ContextItem(
        {"type": "message", "role": "user", "content": [{"type": "input_audio", "transcript": None}]},
        heard="bye now",
    )
    assistant = ContextItem({"type": "message", "role": "assistant", "content": []})
    assert responder.respond(_request(_user("hello"), audio, assistant)) == [TextOutput("Goodbye!")]


def test_calls_render_arguments_and_the_follow_up_uses_outputs() -> None:
    scenario = Scenario.load(
        {
            "rules": [
                {
                    "regex": r"weather in (?P<city>\w+)",
                    "say": "Checking {city}.",
                    "calls": [{"name": "get_weather", "arguments": {"city": "{city}", "days": 2}}],
                    "after_output": "{city}: {get_weather.temp} ({output.temp})",
                }
            ]
        }
    )
    responder = scenario.responder()
    plan = responder.respond(_request(_user("weather in Lima please")))
    assert plan == [
        TextOutput("Checking Lima."),
        CallOutput("get_weather", json.dumps({"city": "Lima", "days": 2}), "call_0"),
    ]
    output = ContextItem({"type": "function_call_output", "call_id": "call_0", "output": '{"temp": 18}'})
    assert responder.respond(_request(_user("weather in Lima please"), output)) == [
        TextOutput("Lima: 18 (18)")
    ]
    unknown = ContextItem({"type": "function_call_output", "call_id": "call_x", "output": "plain"})
    assert responder.respond(_request(unknown)) == [TextOutput("Here is the result: plain")]


def test_transcripts_are_consumed_then_the_placeholder_is_used() -> None:
    responder = Scenario.load({"transcripts": ["first"]}).responder()
    assert responder.transcribe(800) == "first"
    assert responder.transcribe(2340) == "[2.3 s of audio]"
    assert Scenario.load({"transcripts": ["first"]}).responder().transcribe(1) == "first"  # per-session state


def test_scenario_loads_from_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps({"rules": [{"match": "a", "reply": "b"}], "greeting": "Yo"}), encoding="utf-8")
    scenario = Scenario.load(path)
    assert scenario.greeting == "Yo"
    assert Scenario.load(str(path)) == scenario
    assert scenario.responder().respond(_request()) == [TextOutput("Yo")]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"rules": [{"match": "a"}]}, "exactly one of 'reply' or 'calls'"),
        ({"rules": [{"match": "a", "regex": "b", "reply": "c"}]}, "not both"),
        ({"rules": [{"regex": "(", "reply": "c"}]}, "invalid regular expression"),
        ({"rules": [{"reply": "c", "colour": "red"}]}, "unknown rule keys"),
        ({"rules": [{"calls": []}]}, "non-empty list"),
        ({"rules": [{"calls": [{"name": "f", "arguments": "x"}]}]}, "arguments"),
        ({"rules": [{"reply": "c", "say": "d"}]}, "only go with 'calls'"),
        ({"rulez": []}, "unknown keys"),
        ({"transcripts": "x"}, "transcripts"),
    ],
)
def test_bad_scenarios_are_configuration_errors(raw: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        Scenario.load(raw)


def test_unreadable_scenario_files_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        Scenario.load(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        Scenario.load(broken)
