"""The input audio buffer: manual commits, clear, server VAD on real PCM, input transcription."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from agent_rt.audio import base64_to_pcm16, ulaw_encode
from agent_rt.server import RealtimeSession, threshold_to_rms

from .helpers import RATE, append, append_in_chunks, error_of, manual_session, one, only, silence, tone, types

VAD_FRAME_MS = 10


def test_manual_commit_creates_a_user_audio_item_without_a_response() -> None:
    session = manual_session()
    assert session.receive(append(tone(300))) == []  # append is never acknowledged
    events = session.receive({"type": "input_audio_buffer.commit"})
    assert types(events) == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    committed = events[0]
    assert committed["previous_item_id"] is None
    item = events[1]["item"]
    assert item["id"] == committed["item_id"]
    assert item["content"] == [{"type": "input_audio", "transcript": None}]
    assert not session.streaming
    [retrieved] = session.receive({"type": "conversation.item.retrieve", "item_id": item["id"]})
    assert len(base64_to_pcm16(retrieved["item"]["content"][0]["audio"])) == RATE * 300 // 1000
    assert session.input_buffer.size == 0


def test_beta_commit_answers_conversation_item_created() -> None:
    session = manual_session(dialect="beta")
    session.receive(append(tone(150)))
    assert types(session.receive({"type": "input_audio_buffer.commit"})) == [
        "input_audio_buffer.committed",
        "conversation.item.created",
    ]


@pytest.mark.parametrize(("ms", "shown"), [(0, "0.00"), (50, "50.00")])
def test_commit_under_100_ms_is_the_real_error(ms: int, shown: str) -> None:
    session = manual_session()
    if ms:
        session.receive(append(tone(ms)))
    error = error_of(session.receive({"type": "input_audio_buffer.commit", "event_id": "commit_1"}))
    assert error["code"] == "input_audio_buffer_commit_empty"
    assert error["event_id"] == "commit_1"
    assert error["message"] == (
        "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
        f"but buffer only has {shown}ms of audio."
    )
    assert len(session.conversation) == 0


def test_clear_empties_the_buffer() -> None:
    session = manual_session()
    session.receive(append(tone(500)))
    assert types(session.receive({"type": "input_audio_buffer.clear"})) == ["input_audio_buffer.cleared"]
    assert (
        error_of(session.receive({"type": "input_audio_buffer.commit"}))["code"]
        == "input_audio_buffer_commit_empty"
    )


def test_append_needs_valid_base64() -> None:
    session = manual_session()
    assert (
        error_of(session.receive({"type": "input_audio_buffer.append", "audio": "@@@"}))["param"] == "audio"
    )
    assert (
        error_of(session.receive({"type": "input_audio_buffer.append"}))["code"]
        == "missing_required_parameter"
    )


def _vad_session(**td: object) -> RealtimeSession:
    session = RealtimeSession(seed=11)
    session.start()
    turn_detection = {"type": "server_vad", "create_response": False, **td}
    session.receive(
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"turn_detection": turn_detection}}},
        }
    )
    return session


@pytest.mark.parametrize(("prefix", "silence_ms"), [(300, 200), (100, 500), (0, 300)])
def test_vad_finds_one_second_of_tone_within_one_frame(prefix: int, silence_ms: int) -> None:
    session = _vad_session(prefix_padding_ms=prefix, silence_duration_ms=silence_ms)
    audio = np.concatenate([silence(1000), tone(1000), silence(1000)])
    events = append_in_chunks(session, audio)
    assert types(events) == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    started, stopped, committed = events[0], events[1], events[2]
    assert abs(started["audio_start_ms"] - (1000 - prefix)) <= VAD_FRAME_MS
    assert abs(stopped["audio_end_ms"] - (2000 + silence_ms)) <= VAD_FRAME_MS
    assert started["item_id"] == stopped["item_id"] == committed["item_id"]
    # the committed item holds exactly the padded speech segment
    [retrieved] = session.receive({"type": "conversation.item.retrieve", "item_id": committed["item_id"]})
    samples = base64_to_pcm16(retrieved["item"]["content"][0]["audio"])
    expected_ms = stopped["audio_end_ms"] - started["audio_start_ms"]
    assert abs(len(samples) * 1000 / RATE - expected_ms) <= 1


def test_vad_positions_count_from_the_first_audio_of_the_session() -> None:
    session = _vad_session()
    first = append_in_chunks(session, np.concatenate([silence(500), tone(400), silence(600)]))
    second = append_in_chunks(session, np.concatenate([silence(500), tone(400), silence(600)]))
    assert one(first, "input_audio_buffer.speech_started")["audio_start_ms"] == pytest.approx(
        200, abs=VAD_FRAME_MS
    )
    assert one(second, "input_audio_buffer.speech_started")["audio_start_ms"] == pytest.approx(
        1700, abs=VAD_FRAME_MS
    )
    assert (
        one(second, "input_audio_buffer.committed")["previous_item_id"]
        == one(first, "input_audio_buffer.committed")["item_id"]
    )


def test_vad_one_big_append_gives_the_same_boundaries() -> None:
    session = _vad_session()
    events = session.receive(append(np.concatenate([silence(1000), tone(1000), silence(1000)])))
    assert one(events, "input_audio_buffer.speech_started")["audio_start_ms"] == pytest.approx(
        700, abs=VAD_FRAME_MS
    )
    assert one(events, "input_audio_buffer.speech_stopped")["audio_end_ms"] == pytest.approx(
        2200, abs=VAD_FRAME_MS
    )


def test_vad_threshold_is_applied_to_the_signal_level() -> None:
    quiet = tone(800, amplitude=0.005)  # about -49 dBFS RMS: below the 0.5 threshold (-35 dBFS)
    session = _vad_session()
    assert append_in_chunks(session, np.concatenate([quiet, silence(500)])) == []
    medium = tone(800, amplitude=0.05)  # about -29 dBFS: speech at 0.5, not at 0.9 (-15 dBFS)
    assert only(
        append_in_chunks(session, np.concatenate([medium, silence(500)])), "input_audio_buffer.speech_started"
    )
    strict = _vad_session(threshold=0.9)
    assert append_in_chunks(strict, np.concatenate([medium, silence(500)])) == []
    assert threshold_to_rms(0.9) > 0.05 * 32767 / np.sqrt(2) > threshold_to_rms(0.5)


def test_vad_creates_a_response_when_configured() -> None:
    session = RealtimeSession(
        seed=5, scenario={"transcripts": ["hello there"], "rules": [{"match": "hello", "reply": "Hi!"}]}
    )
    session.start()
    events = append_in_chunks(session, np.concatenate([silence(200), tone(600), silence(400)]))
    assert types(events)[-1] == "response.created"
    rest = session.drain()
    assert one(rest, "response.output_audio_transcript.done")["transcript"] == "Hi!"


def test_no_vad_events_with_turn_detection_off() -> None:
    session = manual_session()
    assert append_in_chunks(session, np.concatenate([silence(200), tone(600), silence(400)])) == []


def test_input_transcription_reports_the_scenario_text() -> None:
    session = RealtimeSession(seed=2, scenario={"transcripts": ["what time is it"]})
    session.start()
    session.receive(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "audio": {"input": {"turn_detection": None, "transcription": {"model": "gpt-4o-transcribe"}}},
            },
        }
    )
    session.receive(append(tone(500)))
    events = session.receive({"type": "input_audio_buffer.commit"})
    item_id = events[0]["item_id"]
    deltas = only(events, "conversation.item.input_audio_transcription.delta")
    assert "".join(d["delta"] for d in deltas) == "what time is it"
    assert len(deltas) == 4  # gpt-4o-transcribe streams word by word
    assert all(d["item_id"] == item_id and d["content_index"] == 0 for d in deltas)
    completed = one(events, "conversation.item.input_audio_transcription.completed")
    assert completed["transcript"] == "what time is it"
    assert completed["usage"]["type"] == "tokens"
    assert types(events).index("conversation.item.done") < types(events).index(
        "conversation.item.input_audio_transcription.delta"
    )
    [retrieved] = session.receive({"type": "conversation.item.retrieve", "item_id": item_id})
    assert retrieved["item"]["content"][0]["transcript"] == "what time is it"


def test_transcription_falls_back_to_the_duration_placeholder_whisper_style() -> None:
    session = RealtimeSession(dialect="beta", seed=2)
    session.start()
    session.receive(
        {
            "type": "session.update",
            "session": {"turn_detection": None, "input_audio_transcription": {"model": "whisper-1"}},
        }
    )
    session.receive(append(tone(1500)))
    events = session.receive({"type": "input_audio_buffer.commit"})
    [delta] = only(events, "conversation.item.input_audio_transcription.delta")  # whisper-1: one delta
    assert delta["delta"] == "[1.5 s of audio]"
    assert "usage" not in one(events, "conversation.item.input_audio_transcription.completed")


def test_vad_works_on_g711_ulaw_input() -> None:
    session = RealtimeSession(seed=9)
    session.start()
    session.receive(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcmu"},
                        "turn_detection": {"type": "server_vad", "create_response": False},
                    }
                },
            },
        }
    )
    pcm = np.concatenate([silence(1000, 8000), tone(1000, rate=8000), silence(1000, 8000)])
    payload = base64.b64encode(bytes(ulaw_encode(pcm))).decode()
    events = session.receive({"type": "input_audio_buffer.append", "audio": payload})
    assert one(events, "input_audio_buffer.speech_started")["audio_start_ms"] == pytest.approx(
        700, abs=VAD_FRAME_MS
    )
    assert one(events, "input_audio_buffer.speech_stopped")["audio_end_ms"] == pytest.approx(
        2200, abs=VAD_FRAME_MS
    )
