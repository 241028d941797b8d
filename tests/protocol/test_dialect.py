"""The dialect layer: beta event renames and session-config translation between flat, GA and beta shapes."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_rt.errors import ConfigurationError
from agent_rt.protocol.dialect import (
    config_to_wire,
    flatten_config,
    has_key,
    merge_config,
    normalize_event_type,
    normalize_format,
    read_setting,
    turn_detection_enabled,
)

# -- events ----------------------------------------------------------------------------------

BETA_RENAMES = [
    ("response.text.delta", "response.output_text.delta"),
    ("response.text.done", "response.output_text.done"),
    ("response.audio.delta", "response.output_audio.delta"),
    ("response.audio.done", "response.output_audio.done"),
    ("response.audio_transcript.delta", "response.output_audio_transcript.delta"),
    ("response.audio_transcript.done", "response.output_audio_transcript.done"),
    ("transcription_session.created", "session.created"),
    ("transcription_session.updated", "session.updated"),
]


@pytest.mark.parametrize(("beta", "ga"), BETA_RENAMES)
def test_normalize_event_type_renames_beta(beta: str, ga: str) -> None:
    assert normalize_event_type(beta) == ga


@pytest.mark.parametrize(("beta", "ga"), BETA_RENAMES)
def test_normalize_event_type_keeps_ga_names(beta: str, ga: str) -> None:
    assert normalize_event_type(ga) == ga


@pytest.mark.parametrize(
    "name",
    [
        "conversation.item.created",  # split in GA, handled by the conversation, not renamed
        "conversation.item.added",
        "conversation.item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.function_call_arguments.delta",
        "input_audio_buffer.speech_started",
        "error",
        "something.new",
        "",
    ],
)
def test_normalize_event_type_leaves_other_names(name: str) -> None:
    assert normalize_event_type(name) == name


# -- flat -> GA --------------------------------------------------------------------------------

FULL_FLAT: dict[str, Any] = {
    "modalities": ["text", "audio"],
    "instructions": "Be brief.",
    "voice": "verse",
    "speed": 1.25,
    "input_audio_format": "pcm16",
    "output_audio_format": "g711_ulaw",
    "input_audio_transcription": {"model": "whisper-1", "language": "en"},
    "turn_detection": {"threshold": 0.4, "silence_duration_ms": 300},
    "input_audio_noise_reduction": {"type": "near_field"},
    "tools": [{"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"}}],
    "tool_choice": "auto",
    "temperature": 0.8,
    "max_response_output_tokens": 4096,
}


def test_flat_session_to_ga_full() -> None:
    wire = config_to_wire(FULL_FLAT, "ga")
    assert wire == {
        "type": "realtime",
        "output_modalities": ["audio"],
        "instructions": "Be brief.",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "whisper-1", "language": "en"},
                "turn_detection": {"type": "server_vad", "threshold": 0.4, "silence_duration_ms": 300},
                "noise_reduction": {"type": "near_field"},
            },
            "output": {"voice": "verse", "speed": 1.25, "format": {"type": "audio/pcmu"}},
        },
        "tools": [{"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"}}],
        "tool_choice": "auto",
        "max_output_tokens": 4096,
    }
    for beta_only in (
        "temperature",
        "modalities",
        "voice",
        "input_audio_format",
        "max_response_output_tokens",
    ):
        assert beta_only not in wire


@pytest.mark.parametrize(
    ("flat", "ga"),
    [
        ("pcm16", {"type": "audio/pcm", "rate": 24000}),
        ("g711_ulaw", {"type": "audio/pcmu"}),
        ("g711_alaw", {"type": "audio/pcma"}),
    ],
)
def test_formats_to_ga(flat: str, ga: dict[str, Any]) -> None:
    wire = config_to_wire({"input_audio_format": flat, "output_audio_format": flat}, "ga")
    assert wire["audio"] == {"input": {"format": ga}, "output": {"format": ga}}


def test_format_objects_are_fresh_per_call() -> None:
    first = config_to_wire({"input_audio_format": "pcm16"}, "ga")
    first["audio"]["input"]["format"]["rate"] = 1
    second = config_to_wire({"input_audio_format": "pcm16"}, "ga")
    assert second["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}


@pytest.mark.parametrize(
    ("modalities", "expected"),
    [
        (["text", "audio"], ["audio"]),
        (["audio", "text"], ["audio"]),
        (["audio"], ["audio"]),
        (["text"], ["text"]),
        (("text",), ["text"]),
    ],
)
def test_modalities_to_ga(modalities: Any, expected: list[str]) -> None:
    assert config_to_wire({"modalities": modalities}, "ga")["output_modalities"] == expected


def test_turn_detection_to_ga_keeps_given_type() -> None:
    wire = config_to_wire({"turn_detection": {"type": "semantic_vad", "eagerness": "low"}}, "ga")
    assert wire["audio"]["input"]["turn_detection"] == {"type": "semantic_vad", "eagerness": "low"}


@pytest.mark.parametrize("off", [None, {"type": "none"}])
def test_turn_detection_off_to_ga_is_null(off: Any) -> None:
    wire = config_to_wire({"turn_detection": off}, "ga")
    assert wire["audio"] == {"input": {"turn_detection": None}}


def test_transcription_null_to_ga() -> None:
    assert config_to_wire({"input_audio_transcription": None}, "ga")["audio"] == {
        "input": {"transcription": None}
    }


def test_session_gets_type_realtime_response_override_does_not() -> None:
    assert config_to_wire({"instructions": "x"}, "ga") == {"type": "realtime", "instructions": "x"}
    override = config_to_wire(
        {"instructions": "x", "voice": "ash", "modalities": ["text"], "max_response_output_tokens": 5},
        "ga",
        session=False,
    )
    assert override == {
        "instructions": "x",
        "audio": {"output": {"voice": "ash"}},
        "output_modalities": ["text"],
        "max_output_tokens": 5,
    }


def test_explicit_session_type_is_kept() -> None:
    assert config_to_wire({"type": "transcription"}, "ga")["type"] == "transcription"


def test_ga_only_fields_pass_through_to_ga() -> None:
    ga_only = {
        "truncation": {"type": "retention_ratio", "retention_ratio": 0.5},
        "reasoning": {"effort": "low"},
        "parallel_tool_calls": True,
        "tracing": "auto",
        "prompt": {"id": "pmpt_1"},
        "include": ["item.input_audio_transcription.logprobs"],
        "tool_choice": {"type": "function", "name": "f"},
        "max_output_tokens": "inf",
        "output_modalities": ["text"],
    }
    wire = config_to_wire(ga_only, "ga")
    assert wire == {"type": "realtime", **ga_only}


def test_nested_ga_audio_is_kept_and_merged_with_flat_fields() -> None:
    config = {
        "audio": {
            "input": {"format": {"type": "audio/pcma"}, "noise_reduction": {"type": "far_field"}},
            "output": {"voice": "marin", "speed": 1.0, "future_field": 7},
        },
        "voice": "cedar",  # flat field given later: it wins
        "turn_detection": {"type": "server_vad", "idle_timeout_ms": 6000},
    }
    wire = config_to_wire(config, "ga")
    assert wire["audio"] == {
        "input": {
            "format": {"type": "audio/pcma"},
            "noise_reduction": {"type": "far_field"},
            "turn_detection": {"type": "server_vad", "idle_timeout_ms": 6000},
        },
        "output": {"voice": "cedar", "speed": 1.0, "future_field": 7},
    }


def test_nested_ga_format_objects_pass_through() -> None:
    config = {"audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}}}}
    assert config_to_wire(config, "ga")["audio"] == {
        "output": {"format": {"type": "audio/pcm", "rate": 24000}}
    }


# -- GA -> beta --------------------------------------------------------------------------------

FULL_GA: dict[str, Any] = {
    "type": "realtime",
    "output_modalities": ["audio"],
    "instructions": "Be brief.",
    "audio": {
        "input": {
            "format": {"type": "audio/pcmu"},
            "transcription": {"model": "gpt-4o-transcribe"},
            "turn_detection": {"type": "semantic_vad", "eagerness": "high"},
            "noise_reduction": None,
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy", "speed": 0.9},
    },
    "tools": [],
    "max_output_tokens": 300,
}


def test_ga_session_to_beta_full() -> None:
    assert config_to_wire(FULL_GA, "beta") == {
        "modalities": ["text", "audio"],
        "instructions": "Be brief.",
        "input_audio_format": "g711_ulaw",
        "input_audio_transcription": {"model": "gpt-4o-transcribe"},
        "turn_detection": {"type": "semantic_vad", "eagerness": "high"},
        "input_audio_noise_reduction": None,
        "output_audio_format": "pcm16",
        "voice": "alloy",
        "speed": 0.9,
        "tools": [],
        "max_response_output_tokens": 300,
    }


@pytest.mark.parametrize(
    ("ga", "flat"),
    [
        ({"type": "audio/pcm", "rate": 24000}, "pcm16"),
        ({"type": "audio/pcmu"}, "g711_ulaw"),
        ({"type": "audio/pcma"}, "g711_alaw"),
    ],
)
def test_formats_to_beta(ga: dict[str, Any], flat: str) -> None:
    wire = config_to_wire({"audio": {"input": {"format": ga}, "output": {"format": ga}}}, "beta")
    assert wire == {"input_audio_format": flat, "output_audio_format": flat}


@pytest.mark.parametrize(("ga", "flat"), [(["audio"], ["text", "audio"]), (["text"], ["text"])])
def test_output_modalities_to_beta(ga: list[str], flat: list[str]) -> None:
    assert config_to_wire({"output_modalities": ga}, "beta") == {"modalities": flat}


def test_flat_config_passes_through_beta_unchanged() -> None:
    assert config_to_wire(FULL_FLAT, "beta") == FULL_FLAT


def test_turn_detection_none_spelling_to_beta_is_null() -> None:
    assert config_to_wire({"turn_detection": {"type": "none"}}, "beta") == {"turn_detection": None}
    nested = {"audio": {"input": {"turn_detection": {"type": "none"}}}}
    assert config_to_wire(nested, "beta") == {"turn_detection": None}


def test_beta_response_override() -> None:
    override = config_to_wire(
        {"output_modalities": ["text"], "audio": {"output": {"voice": "ash"}}, "max_output_tokens": "inf"},
        "beta",
        session=False,
    )
    assert override == {"modalities": ["text"], "voice": "ash", "max_response_output_tokens": "inf"}


@pytest.mark.parametrize("config", [FULL_FLAT, {k: v for k, v in FULL_FLAT.items() if k != "temperature"}])
def test_flat_to_ga_to_beta_round_trip(config: dict[str, Any]) -> None:
    """Flat -> GA -> beta gives back the flat config, except what GA can't carry (temperature, text+audio)."""
    back = config_to_wire(config_to_wire(config, "ga"), "beta")
    expected = {k: v for k, v in config.items() if k != "temperature"}
    expected["turn_detection"] = {"type": "server_vad", **config["turn_detection"]}
    assert back == expected


# -- bad values ------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["ga", "beta"])
@pytest.mark.parametrize(
    "config",
    [
        {"modalities": []},
        {"modalities": ["video"]},
        {"modalities": "audio"},
        {"input_audio_format": "mp3"},
        {"output_audio_format": "pcm24"},
        {"input_audio_format": 16},
        {"output_audio_format": {"type": "audio/mp3"}},
        {"audio": {"output": {"format": {"type": "audio/opus"}}}},
        {"audio": "x"},
        {"audio": {"input": "x"}},
        {"audio": {"output": 5}},
        {"audio": {"inputs": {"format": {"type": "audio/pcmu"}}}},
    ],
    ids=repr,
)
def test_bad_values_raise_configuration_error(config: dict[str, Any], dialect: Any) -> None:
    with pytest.raises(ConfigurationError):
        config_to_wire(config, dialect)


@pytest.mark.parametrize("dialect", ["ga", "beta"])
@pytest.mark.parametrize("config", [{"turn_detection": "server_vad"}, {"turn_detection": 1}])
def test_bad_turn_detection_raises(config: dict[str, Any], dialect: Any) -> None:
    with pytest.raises(ConfigurationError, match="turn_detection"):
        config_to_wire(config, dialect)


@pytest.mark.parametrize("dialect", ["GA", "v1", "", "realtime"])
def test_unknown_dialect_raises(dialect: Any) -> None:
    with pytest.raises(ConfigurationError):
        config_to_wire({"voice": "alloy"}, dialect)


def test_configuration_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="modalities"):
        config_to_wire({"modalities": []}, "ga")


# -- purity ------------------------------------------------------------------------------------


def _containers(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        yield value
        for inner in value.values():
            yield from _containers(inner)
    elif isinstance(value, list):
        yield value
        for inner in value:
            yield from _containers(inner)


def _assert_no_shared_containers(output: Any, given: Any) -> None:
    given_ids = {id(c) for c in _containers(given)}
    shared = [c for c in _containers(output) if id(c) in given_ids]
    assert shared == [], f"output shares mutable containers with the input: {shared!r}"


@pytest.mark.parametrize("dialect", ["ga", "beta"])
@pytest.mark.parametrize("config", [FULL_FLAT, FULL_GA], ids=["flat", "ga"])
def test_inputs_never_mutated_or_aliased(config: dict[str, Any], dialect: Any) -> None:
    given = copy.deepcopy(config)
    wire = config_to_wire(given, dialect)
    assert given == config
    _assert_no_shared_containers(wire, given)
    override = config_to_wire(given, dialect, session=False)
    assert given == config
    _assert_no_shared_containers(override, given)


def test_flatten_and_merge_never_mutate_or_alias() -> None:
    base = flatten_config(copy.deepcopy(FULL_FLAT))
    base["audio"] = {"input": {"kept": [0]}}
    update_src = copy.deepcopy(FULL_GA)
    update_src["audio"]["output"]["future"] = {"a": [1]}
    update_src["audio"]["input"]["future"] = {"b": [2]}
    frozen_update = copy.deepcopy(update_src)
    flat = flatten_config(update_src)
    assert update_src == frozen_update
    _assert_no_shared_containers(flat, update_src)
    frozen_base, frozen_flat = copy.deepcopy(base), copy.deepcopy(flat)
    merge_config(base, flat)
    assert base == frozen_base
    assert flat == frozen_flat


# -- flatten_config / merge_config ----------------------------------------------------------


def test_flatten_config_maps_ga_fields_to_flat_names() -> None:
    flat = flatten_config(FULL_GA)
    assert flat == {
        "type": "realtime",
        "modalities": ["text", "audio"],
        "instructions": "Be brief.",
        "input_audio_format": {"type": "audio/pcmu"},
        "input_audio_transcription": {"model": "gpt-4o-transcribe"},
        "turn_detection": {"type": "semantic_vad", "eagerness": "high"},
        "input_audio_noise_reduction": None,
        "output_audio_format": {"type": "audio/pcm", "rate": 24000},
        "voice": "alloy",
        "speed": 0.9,
        "tools": [],
        "max_response_output_tokens": 300,
    }
    assert normalize_format(flat["input_audio_format"]) == "g711_ulaw"


def test_flatten_config_keeps_unknown_nested_fields_per_side() -> None:
    flat = flatten_config(
        {"audio": {"input": {"x": 1, "format": {"type": "audio/pcmu"}}, "output": {"y": 2}}}
    )
    assert flat == {
        "input_audio_format": {"type": "audio/pcmu"},
        "audio": {"input": {"x": 1}, "output": {"y": 2}},
    }


def test_flatten_config_of_flat_config_is_identity() -> None:
    assert flatten_config(FULL_FLAT) == FULL_FLAT


@pytest.mark.parametrize(
    "config", [{"audio": "x"}, {"audio": {"inputs": {}}}, {"audio": {"input": 3}}], ids=repr
)
def test_flatten_config_bad_audio(config: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        flatten_config(config)


def _merged(*updates: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for update in updates:
        config = merge_config(config, flatten_config(update))
    return config


def test_merge_later_update_wins_flat_then_ga() -> None:
    config = _merged({"voice": "alloy", "turn_detection": None}, {"audio": {"output": {"voice": "verse"}}})
    assert config["voice"] == "verse"
    assert config_to_wire(config, "ga")["audio"]["output"] == {"voice": "verse"}
    assert config_to_wire(config, "beta")["voice"] == "verse"


def test_merge_later_update_wins_ga_then_flat() -> None:
    config = _merged(
        {"audio": {"input": {"turn_detection": {"type": "server_vad"}}, "output": {"voice": "verse"}}},
        {"voice": "alloy", "turn_detection": None},
    )
    assert config_to_wire(config, "ga")["audio"] == {
        "input": {"turn_detection": None},
        "output": {"voice": "alloy"},
    }
    beta = config_to_wire(config, "beta")
    assert beta["voice"] == "alloy"
    assert beta["turn_detection"] is None


def test_merge_modalities_and_token_limit_either_spelling() -> None:
    config = _merged(
        {"modalities": ["text"], "max_response_output_tokens": 10}, {"output_modalities": ["audio"]}
    )
    assert config_to_wire(config, "ga")["output_modalities"] == ["audio"]
    config = merge_config(config, flatten_config({"max_output_tokens": 20}))
    assert config_to_wire(config, "ga")["max_output_tokens"] == 20
    assert config_to_wire(config, "beta")["max_response_output_tokens"] == 20
    config = merge_config(config, flatten_config({"modalities": ["text"]}))
    assert config_to_wire(config, "ga")["output_modalities"] == ["text"]


def test_merge_residual_audio_fields_per_side() -> None:
    config = _merged(
        {"audio": {"input": {"x": 1}, "output": {"y": 2}}},
        {"audio": {"input": {"z": 3}}},
        {"audio": {"input": {"x": 4}}},
    )
    assert config["audio"] == {"input": {"x": 4, "z": 3}, "output": {"y": 2}}
    assert config_to_wire(config, "ga")["audio"] == {"input": {"x": 4, "z": 3}, "output": {"y": 2}}


def test_merge_is_shallow_for_other_fields() -> None:
    config = _merged({"turn_detection": {"threshold": 0.2, "prefix_padding_ms": 100}}, {"turn_detection": {}})
    assert config["turn_detection"] == {}


# -- reading settings ------------------------------------------------------------------------


def test_read_setting_either_shape() -> None:
    assert read_setting(FULL_FLAT, "voice") == "verse"
    assert read_setting(FULL_GA, "voice") == "alloy"
    assert read_setting(FULL_GA, "turn_detection") == {"type": "semantic_vad", "eagerness": "high"}
    assert read_setting(FULL_GA, "modalities") == ["audio"]
    assert read_setting(FULL_GA, "max_response_output_tokens") == 300
    assert read_setting({}, "voice") is None
    assert read_setting({"voice": "ash", "audio": {"output": {"voice": "coral"}}}, "voice") == "ash"


def test_has_key_either_shape() -> None:
    assert has_key({"turn_detection": None}, "turn_detection")
    assert has_key({"audio": {"input": {"turn_detection": None}}}, "turn_detection")
    assert not has_key({"audio": {"output": {"voice": "x"}}}, "turn_detection")
    assert not has_key({}, "voice")


@pytest.mark.parametrize(
    ("config", "enabled"),
    [
        ({"turn_detection": None}, False),
        ({"turn_detection": {"type": "none"}}, False),
        ({"turn_detection": {"type": "server_vad"}}, True),
        ({"turn_detection": {"threshold": 0.5}}, True),
        ({"audio": {"input": {"turn_detection": {"type": "semantic_vad"}}}}, True),
        ({"audio": {"input": {"turn_detection": None}}}, False),
    ],
)
def test_turn_detection_enabled(config: dict[str, Any], enabled: bool) -> None:
    assert turn_detection_enabled(config) is enabled


# -- properties ------------------------------------------------------------------------------

_FORMATS = st.sampled_from(["pcm16", "g711_ulaw", "g711_alaw"])
_SETTINGS: dict[str, st.SearchStrategy[Any]] = {
    "modalities": st.sampled_from([["text"], ["audio"], ["text", "audio"], ["audio", "text"]]),
    "instructions": st.text(max_size=5),
    "voice": st.sampled_from(["alloy", "verse", "marin"]),
    "speed": st.sampled_from([0.5, 1.0, 1.5]),
    "input_audio_format": _FORMATS,
    "output_audio_format": _FORMATS,
    "input_audio_transcription": st.sampled_from([None, {"model": "whisper-1"}]),
    "turn_detection": st.sampled_from(
        [None, {"type": "server_vad", "threshold": 0.3}, {"type": "semantic_vad", "eagerness": "low"}]
    ),
    "input_audio_noise_reduction": st.sampled_from([None, {"type": "far_field"}]),
    "tool_choice": st.sampled_from(["auto", "none", "required"]),
    "max_response_output_tokens": st.sampled_from([1, 4096, "inf"]),
}
_FLAT_CONFIGS = st.fixed_dictionaries({}, optional=_SETTINGS)


@settings(max_examples=200, deadline=None)
@given(_FLAT_CONFIGS)
def test_ga_wire_survives_flatten_and_back(config: dict[str, Any]) -> None:
    """What the client keeps (flattened) and sends (GA) describe the same session."""
    ga = config_to_wire(config, "ga")
    assert config_to_wire(flatten_config(ga), "ga") == ga
    beta = config_to_wire(config, "beta")
    assert config_to_wire(flatten_config(ga), "beta") == config_to_wire(ga, "beta")
    assert config_to_wire(beta, "ga") == ga
    assert all(key not in ga for key in _SETTINGS if key not in ("instructions", "tool_choice"))


@settings(max_examples=100, deadline=None)
@given(_FLAT_CONFIGS, _FLAT_CONFIGS)
def test_merging_flat_or_ga_spelling_gives_the_same_session(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    as_flat = merge_config(flatten_config(first), flatten_config(second))
    as_ga = merge_config(
        flatten_config(config_to_wire(first, "ga")), flatten_config(config_to_wire(second, "ga"))
    )
    assert config_to_wire(as_flat, "ga") == config_to_wire(as_ga, "ga")
