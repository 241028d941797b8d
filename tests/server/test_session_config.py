"""session.created / session.update in both dialects, and the errors of bad updates."""

from __future__ import annotations

import json

import pytest

from agent_rt.errors import ConfigurationError
from agent_rt.server import RealtimeSession

from .helpers import error_of, types


def test_ga_session_created_has_the_observed_defaults() -> None:
    session = RealtimeSession(model="gpt-realtime-2", now=1_700_000_000)
    [created] = session.start()
    assert created["type"] == "session.created"
    assert created["event_id"].startswith("event_")
    s = created["session"]
    assert s["type"] == "realtime"
    assert s["object"] == "realtime.session"
    assert s["id"].startswith("sess_")
    assert s["model"] == "gpt-realtime-2"
    assert s["output_modalities"] == ["audio"]
    assert s["expires_at"] == 1_700_000_000 + 3600
    assert s["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert s["audio"]["input"]["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 200,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    }
    assert s["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "voice": "alloy",
        "speed": 1.0,
    }
    assert "voice" not in s
    assert "modalities" not in s
    assert "temperature" not in s


def test_beta_session_created_is_flat() -> None:
    [created] = RealtimeSession(dialect="beta").start()
    s = created["session"]
    assert s["model"] == "gpt-4o-realtime-preview-2024-12-17"
    assert s["modalities"] == ["text", "audio"]
    assert s["voice"] == "alloy"
    assert s["input_audio_format"] == s["output_audio_format"] == "pcm16"
    assert s["turn_detection"]["silence_duration_ms"] == 200
    assert s["turn_detection"]["create_response"] is True
    assert s["temperature"] == 0.8
    assert s["max_response_output_tokens"] == "inf"
    assert "audio" not in s
    assert "type" not in s


def test_ga_update_merges_nested_fields_and_returns_the_full_session() -> None:
    session = RealtimeSession()
    session.start()
    events = session.receive(
        {
            "type": "session.update",
            "event_id": "evt_1",
            "session": {
                "type": "realtime",
                "instructions": "Be brief.",
                "audio": {"output": {"voice": "marin"}, "input": {"turn_detection": {"type": "server_vad"}}},
            },
        }
    )
    [updated] = events
    assert updated["type"] == "session.updated"
    s = updated["session"]
    assert s["instructions"] == "Be brief."
    assert s["audio"]["output"]["voice"] == "marin"
    assert s["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 24000}  # untouched sibling kept
    assert s["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 200  # defaults filled in
    second = session.receive({"type": "session.update", "session": {"type": "realtime", "tools": []}})
    assert second[0]["session"]["instructions"] == "Be brief."  # earlier changes persist


def test_beta_update_uses_flat_fields() -> None:
    session = RealtimeSession(dialect="beta")
    session.start()
    [updated] = session.receive(
        {
            "type": "session.update",
            "session": {
                "modalities": ["text"],
                "voice": "verse",
                "input_audio_transcription": {"model": "whisper-1"},
                "turn_detection": None,
            },
        }
    )
    s = updated["session"]
    assert s["modalities"] == ["text"]
    assert s["voice"] == "verse"
    assert s["input_audio_transcription"] == {"model": "whisper-1", "language": None, "prompt": None}
    assert s["turn_detection"] is None


@pytest.mark.parametrize(
    ("patch", "code", "param"),
    [
        ({"instructions": "x"}, "missing_required_parameter", "session.type"),
        ({"type": "realtime", "voice": "alloy"}, "unknown_parameter", "session.voice"),
        ({"type": "realtime", "modalities": ["text"]}, "unknown_parameter", "session.modalities"),
        (
            {"type": "realtime", "output_modalities": ["text", "audio"]},
            "invalid_value",
            "session.output_modalities",
        ),
        (
            {"type": "realtime", "audio": {"output": {"voice": "robot"}}},
            "invalid_value",
            "session.audio.output.voice",
        ),
        (
            {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}},
            "invalid_value",
            "session.audio.input.format.rate",
        ),
        ({"type": "realtime", "instructions": 5}, "invalid_type", "session.instructions"),
        (
            {"type": "realtime", "max_output_tokens": 5000},
            "integer_above_max_value",
            "session.max_output_tokens",
        ),
        (
            {
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 2}}},
            },
            "decimal_above_max_value",
            "session.audio.input.turn_detection.threshold",
        ),
        ({"type": "transcription"}, "invalid_value", "session.type"),
    ],
)
def test_invalid_ga_updates_are_errors_and_change_nothing(
    patch: dict[str, object], code: str, param: str
) -> None:
    session = RealtimeSession()
    session.start()
    before = session.config.snapshot()
    error = error_of(session.receive({"type": "session.update", "event_id": "evt_bad", "session": patch}))
    assert error["type"] == "invalid_request_error"
    assert error["code"] == code
    assert error["param"] == param
    assert error["event_id"] == "evt_bad"
    assert error["message"]
    assert session.config.snapshot() == before


def test_error_messages_use_the_service_wording() -> None:
    session = RealtimeSession()
    session.start()
    unknown = error_of(
        session.receive({"type": "session.update", "session": {"type": "realtime", "voice": "x"}})
    )
    assert unknown["message"] == "Unknown parameter: 'session.voice'."
    both = error_of(
        session.receive(
            {
                "type": "session.update",
                "session": {"type": "realtime", "output_modalities": ["text", "audio"]},
            }
        )
    )
    assert both["message"] == (
        "Invalid modalities: ['text', 'audio']. Supported combinations are: ['text'] and ['audio']."
    )


@pytest.mark.parametrize(
    ("patch", "param"),
    [
        ({"modalities": ["audio"]}, "session.modalities"),
        ({"type": "realtime"}, "session.type"),
        ({"input_audio_format": "mp3"}, "session.input_audio_format"),
        ({"temperature": 2.0}, "session.temperature"),
        ({"audio": {}}, "session.audio"),
    ],
)
def test_invalid_beta_updates_are_errors(patch: dict[str, object], param: str) -> None:
    session = RealtimeSession(dialect="beta")
    session.start()
    before = session.config.snapshot()
    error = error_of(session.receive({"type": "session.update", "session": patch}))
    assert error["param"] == param
    assert session.config.snapshot() == before


def test_voice_cannot_change_after_audio_was_produced() -> None:
    session = RealtimeSession()
    session.start()
    session.receive({"type": "response.create"})
    session.drain()
    error = error_of(
        session.receive(
            {"type": "session.update", "session": {"type": "realtime", "audio": {"output": {"voice": "ash"}}}}
        )
    )
    assert error["code"] == "cannot_update_voice"
    same = session.receive(
        {"type": "session.update", "session": {"type": "realtime", "audio": {"output": {"voice": "alloy"}}}}
    )
    assert types(same) == ["session.updated"]


def test_model_cannot_change() -> None:
    session = RealtimeSession(model="gpt-realtime")
    session.start()
    ok = session.receive({"type": "session.update", "session": {"type": "realtime", "model": "gpt-realtime"}})
    assert types(ok) == ["session.updated"]
    error = error_of(
        session.receive({"type": "session.update", "session": {"type": "realtime", "model": "other"}})
    )
    assert error["param"] == "session.model"


def test_without_a_url_model_the_first_update_may_choose_one() -> None:
    session = RealtimeSession()
    session.start()
    [updated] = session.receive(
        {"type": "session.update", "session": {"type": "realtime", "model": "gpt-realtime-2"}}
    )
    assert updated["session"]["model"] == "gpt-realtime-2"
    error = error_of(
        session.receive({"type": "session.update", "session": {"type": "realtime", "model": "gpt-realtime"}})
    )
    assert error["param"] == "session.model"


def test_unknown_event_type_lists_the_supported_ones() -> None:
    session = RealtimeSession()
    error = error_of(session.receive({"type": "session.destroy", "event_id": "e1"}))
    assert error["code"] == "invalid_value"
    assert error["param"] == "type"
    assert error["event_id"] == "e1"
    assert error["message"].startswith(
        "Invalid value: 'session.destroy'. Supported values are: 'session.update'"
    )


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json at all", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        ("[1, 2]", "invalid_event"),
        ("{}", "invalid_event"),
    ],
)
def test_bad_frames_become_error_events(frame: str | bytes, code: str) -> None:
    session = RealtimeSession()
    error = error_of(session.receive(frame))
    assert error["code"] == code
    # the session still works afterwards
    assert types(session.receive(json.dumps({"type": "input_audio_buffer.clear"}))) == [
        "input_audio_buffer.cleared"
    ]


def test_bad_dialect_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        RealtimeSession(dialect="v2")  # type: ignore[arg-type]


def test_seed_makes_ids_reproducible() -> None:
    first = RealtimeSession(seed=42).start()
    second = RealtimeSession(seed=42).start()
    assert first[0]["event_id"] == second[0]["event_id"]
    assert first[0]["session"]["id"] == second[0]["session"]["id"]
