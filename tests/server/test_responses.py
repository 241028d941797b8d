"""Responses: event order in both dialects, audio, function calls, cancellation and barge-in."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from agent_rt.audio import base64_to_pcm16
from agent_rt.server import MS_PER_CHAR, RealtimeSession

from .helpers import RATE, append_in_chunks, error_of, one, only, silence, tone, types, user_text

WEATHER = {
    "rules": [
        {
            "regex": r"weather in (?P<location>[a-z]+)",
            "say": "Let me check.",
            "calls": [{"name": "get_weather", "arguments": {"location": "{location}", "unit": "celsius"}}],
            "after_output": "The weather in {location} is {output.temperature} degrees.",
        },
        {
            "match": "time and weather",
            "calls": [
                {"name": "get_time", "arguments": {"zone": "UTC"}},
                {"name": "get_weather", "arguments": {"location": "Oslo"}},
            ],
            "after_output": "It is {get_time.time} and {get_weather.temperature} degrees.",
        },
        {"match": "hello", "reply": "Hi there, friend!"},
    ]
}


def _session(dialect: str = "ga", scenario: object = None, **update: object) -> RealtimeSession:
    session = RealtimeSession(dialect=dialect, scenario=scenario, seed=21)  # type: ignore[arg-type]
    session.start()
    if update:
        session.receive({"type": "session.update", "session": update})
    return session


def _turn(
    session: RealtimeSession, text: str, response: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    session.receive(user_text(text))
    create: dict[str, object] = {"type": "response.create"}
    if response is not None:
        create["response"] = response
    events = session.receive(create)
    return events + session.drain()


def test_ga_text_response_follows_the_documented_order() -> None:
    session = _session(scenario=WEATHER)
    events = _turn(session, "hello!", {"output_modalities": ["text"]})
    assert types(events) == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
        "rate_limits.updated",
    ]
    created = events[0]["response"]
    assert created["status"] == "in_progress"
    assert created["output"] == []
    assert created["usage"] is None
    assert created["output_modalities"] == ["text"]
    assert created["conversation_id"].startswith("conv_")
    assert "".join(e["delta"] for e in only(events, "response.output_text.delta")) == "Hi there, friend!"
    assert one(events, "response.content_part.added")["part"] == {"type": "text", "text": ""}
    assert one(events, "response.content_part.done")["part"] == {"type": "text", "text": "Hi there, friend!"}
    item = one(events, "response.output_item.done")["item"]
    assert item["status"] == "completed"
    assert item["content"] == [{"type": "output_text", "text": "Hi there, friend!"}]
    done = one(events, "response.done")["response"]
    assert done["status"] == "completed"
    assert done["status_details"] is None
    assert done["output"] == [item]
    usage = done["usage"]
    assert usage["output_token_details"]["audio_tokens"] == 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
    assert one(events, "rate_limits.updated")["rate_limits"][0]["name"] == "tokens"
    response_id = created["id"]
    assert all(e["response_id"] == response_id for e in events if "response_id" in e)


def test_beta_text_response_uses_beta_names() -> None:
    session = _session("beta", WEATHER, modalities=["text"])
    events = _turn(session, "hello")
    assert types(events) == [
        "response.created",
        "response.output_item.added",
        "conversation.item.created",
        "response.content_part.added",
        "response.text.delta",
        "response.text.delta",
        "response.text.delta",
        "response.text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
        "rate_limits.updated",
    ]
    item = one(events, "response.output_item.done")["item"]
    assert item["object"] == "realtime.item"
    assert item["content"] == [{"type": "text", "text": "Hi there, friend!"}]
    response = one(events, "response.done")["response"]
    assert response["modalities"] == ["text"]
    assert response["temperature"] == 0.8
    assert "cached_tokens_details" in response["usage"]["input_token_details"]
    limits = one(events, "rate_limits.updated")["rate_limits"]
    assert [r["name"] for r in limits] == ["requests", "tokens"]


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_audio_response_streams_audio_proportional_to_the_text(dialect: str) -> None:
    session = _session(dialect, WEATHER)
    events = _turn(session, "hello")
    prefix = "response.output_" if dialect == "ga" else "response."
    transcript_deltas = only(events, prefix + "audio_transcript.delta")
    audio_deltas = only(events, prefix + "audio.delta")
    assert len(audio_deltas) == len(transcript_deltas) > 1
    # transcript and audio deltas alternate
    kinds = [t for t in types(events) if t in (prefix + "audio_transcript.delta", prefix + "audio.delta")]
    assert kinds == [prefix + "audio_transcript.delta", prefix + "audio.delta"] * len(audio_deltas)
    samples = np.concatenate([base64_to_pcm16(e["delta"]) for e in audio_deltas])
    text = "Hi there, friend!"
    assert len(samples) == len(text) * MS_PER_CHAR * RATE // 1000
    assert 0 < np.abs(samples).max() < 0.2 * 32767  # a quiet tone, not silence
    assert one(events, prefix + "audio_transcript.done")["transcript"] == text
    assert one(events, "response.content_part.added")["part"] == {"type": "audio", "transcript": ""}
    assert one(events, "response.content_part.done")["part"] == {"type": "audio", "transcript": text}
    content = one(events, "response.output_item.done")["item"]["content"]
    assert content == [{"type": "output_audio" if dialect == "ga" else "audio", "transcript": text}]
    assert one(events, "response.done")["response"]["usage"]["output_token_details"]["audio_tokens"] > 0
    if dialect == "ga":
        assert all("obfuscation" in e for e in transcript_deltas)


def test_longer_text_means_proportionally_longer_audio() -> None:
    session = _session(scenario=[{"match": "short", "reply": "Ok."}, {"match": "long", "reply": "Ok. " * 10}])
    short = _turn(session, "short")
    long = _turn(session, "long")
    length = {
        name: sum(len(base64_to_pcm16(e["delta"])) for e in only(ev, "response.output_audio.delta"))
        for name, ev in (("short", short), ("long", long))
    }
    assert length["long"] / length["short"] == pytest.approx(len("Ok. " * 10) / len("Ok."))


def test_function_calls_stream_arguments_then_the_answer_after_outputs() -> None:
    session = _session(scenario=WEATHER)
    events = _turn(session, "What's the weather in Paris?")
    assert types(events)[:7] == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_audio_transcript.delta",
        "response.output_audio.delta",
        "response.output_audio_transcript.delta",
    ]
    added = only(events, "response.output_item.added")
    assert [a["item"]["type"] for a in added] == ["message", "function_call"]
    call_item = added[1]["item"]
    assert added[1]["output_index"] == 1
    assert call_item["status"] == "in_progress"
    assert call_item["arguments"] == ""
    assert call_item["name"] == "get_weather"
    assert call_item["call_id"].startswith("call_")
    deltas = only(events, "response.function_call_arguments.delta")
    assert len(deltas) > 2
    arguments = "".join(d["delta"] for d in deltas)
    assert json.loads(arguments) == {"location": "Paris", "unit": "celsius"}
    args_done = one(events, "response.function_call_arguments.done")
    assert args_done["name"] == "get_weather"
    assert args_done["call_id"] == call_item["call_id"]
    assert args_done["arguments"] == arguments
    assert "content_index" not in args_done
    assert types(events).index("response.function_call_arguments.done") < types(events).index("response.done")
    output = one(events, "response.done")["response"]["output"]
    assert [o["type"] for o in output] == ["message", "function_call"]
    assert output[1]["arguments"] == arguments
    assert output[1]["status"] == "completed"

    session.receive(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "function_call_output",
                "call_id": call_item["call_id"],
                "output": '{"temperature": 21}',
            },
        }
    )
    answer = session.receive({"type": "response.create"}) + session.drain()
    assert (
        one(answer, "response.output_audio_transcript.done")["transcript"]
        == "The weather in Paris is 21 degrees."
    )


def test_several_calls_in_one_response_and_a_joint_answer() -> None:
    session = _session(scenario=WEATHER, output_modalities=["text"], type="realtime")
    events = _turn(session, "what about the time and weather?")
    calls = [a["item"] for a in only(events, "response.output_item.added")]
    assert [c["name"] for c in calls] == ["get_time", "get_weather"]
    assert [a["output_index"] for a in only(events, "response.output_item.added")] == [0, 1]
    assert len({c["call_id"] for c in calls}) == 2
    assert not only(events, "response.content_part.added")  # no content parts for function calls
    for call, result in zip(calls, ('{"time": "10:30"}', '{"temperature": -3}'), strict=True):
        session.receive(
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": call["call_id"], "output": result},
            }
        )
    answer = session.receive({"type": "response.create"}) + session.drain()
    assert one(answer, "response.output_text.done")["text"] == "It is 10:30 and -3 degrees."


def test_second_response_create_while_active_is_the_real_error() -> None:
    ga = _session(scenario=WEATHER)
    ga.receive(user_text("hello"))
    response_id = ga.receive({"type": "response.create"})[0]["response"]["id"]
    error = error_of(ga.receive({"type": "response.create", "event_id": "again"}))
    assert error["code"] == "conversation_already_has_active_response"
    assert error["message"] == (
        f"Conversation already has an active response in progress: {response_id}. "
        "Wait until the response is finished before creating a new one."
    )
    assert error["event_id"] == "again"
    beta = _session("beta", WEATHER)
    beta.receive({"type": "response.create"})
    beta_error = error_of(beta.receive({"type": "response.create"}))
    assert beta_error["code"] is None
    assert beta_error["message"] == "Conversation already has an active response"


def test_out_of_band_responses_run_beside_the_default_one() -> None:
    session = _session(scenario=WEATHER)
    session.receive(user_text("hello"))
    session.receive({"type": "response.create"})
    extra = session.receive(
        {
            "type": "response.create",
            "response": {
                "conversation": "none",
                "output_modalities": ["text"],
                "metadata": {"purpose": "summary"},
                "input": [
                    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}
                ],
            },
        }
    )
    created = one(extra, "response.created")["response"]
    assert created["conversation_id"] is None
    assert created["metadata"] == {"purpose": "summary"}
    events = session.drain()
    done = {e["response"]["id"]: e["response"] for e in only(events, "response.done")}
    assert len(done) == 2
    oob_items = {item["id"] for item in done[created["id"]]["output"]}
    assert len(oob_items) == 1
    conversation_events = [e for e in events if e["type"].startswith("conversation.item.")]
    assert len(conversation_events) == 2  # added + done of the default response's item only
    assert all(e["item"]["id"] not in oob_items for e in conversation_events)
    assert len(session.conversation) == 2  # the user item and the default response's item


def test_input_item_reference_must_exist() -> None:
    session = _session()
    error = error_of(
        session.receive(
            {
                "type": "response.create",
                "response": {
                    "conversation": "none",
                    "input": [{"type": "item_reference", "id": "item_gone"}],
                },
            }
        )
    )
    assert error["param"] == "response.input[0].id"
    assert not session.streaming


def test_invalid_response_overrides_are_errors() -> None:
    session = _session()
    assert error_of(session.receive({"type": "response.create", "response": {"voice": "alloy"}}))[
        "param"
    ] == ("response.voice")
    assert error_of(session.receive({"type": "response.create", "response": {"conversation": "other"}}))[
        "param"
    ] == ("response.conversation")
    assert not session.streaming


def test_response_cancel_mid_stream_sends_partial_done_events() -> None:
    session = _session(scenario=[{"reply": "one two three four five six"}])
    session.receive(user_text("go"))
    events = session.receive({"type": "response.create"})
    for _ in range(3):  # item added, then two words
        events += session.step()
    cancel = session.receive({"type": "response.cancel", "event_id": "stop"})
    assert types(cancel) == [
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
        "rate_limits.updated",
    ]
    assert one(cancel, "response.output_audio_transcript.done")["transcript"] == "one two"
    item = one(cancel, "response.output_item.done")["item"]
    assert item["status"] == "incomplete"
    response = one(cancel, "response.done")["response"]
    assert response["status"] == "cancelled"
    assert response["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert response["output"] == [item]
    assert not session.streaming
    assert session.step() == []
    # the partial audio is what a truncate can address
    item_id = item["id"]
    assert session.conversation.get(item_id) is not None
    stored = session.conversation.get(item_id)
    assert stored is not None
    assert stored.audio_ms(0) == len("one two") * MS_PER_CHAR
    # a new response may start now
    assert types(session.receive({"type": "response.create"})) == ["response.created"]


def test_cancel_before_any_output_has_empty_output_and_zero_usage() -> None:
    session = _session()
    session.receive({"type": "response.create"})
    cancel = session.receive({"type": "response.cancel"})
    assert types(cancel) == ["response.done", "rate_limits.updated"]
    response = cancel[0]["response"]
    assert response["output"] == []
    assert response["usage"]["total_tokens"] == 0


def test_cancel_with_nothing_active_is_the_real_error() -> None:
    session = _session()
    error = error_of(session.receive({"type": "response.cancel", "event_id": "c"}))
    assert error == {
        "type": "invalid_request_error",
        "code": "response_cancel_not_active",
        "message": "Cancellation failed: no active response found",
        "param": None,
        "event_id": "c",
    }
    session.receive({"type": "response.create"})
    assert error_of(session.receive({"type": "response.cancel", "response_id": "resp_other"}))["code"] == (
        "response_cancel_not_active"
    )


def test_barge_in_cancels_the_active_response_with_turn_detected() -> None:
    session = RealtimeSession(
        seed=4, scenario={"transcripts": ["stop please"], "rules": [{"reply": "a b c d e f g h"}]}
    )
    session.start()
    session.receive(user_text("talk"))
    session.receive({"type": "response.create"})
    session.step()
    session.step()  # one word streamed
    events = append_in_chunks(session, np.concatenate([silence(100), tone(500)]))
    assert types(events)[0] == "input_audio_buffer.speech_started"
    assert types(events)[1:8] == [
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
        "rate_limits.updated",
    ]
    done = one(events, "response.done")["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    assert one(events, "response.output_item.done")["item"]["status"] == "incomplete"
    assert not session.streaming
    after = append_in_chunks(session, silence(400))
    assert types(after)[:2] == ["input_audio_buffer.speech_stopped", "input_audio_buffer.committed"]
    assert types(after)[-1] == "response.created"  # create_response: the next turn starts


def test_no_barge_in_when_interrupt_response_is_off() -> None:
    session = RealtimeSession(seed=4, scenario=[{"reply": "a b c d e f g h"}])
    session.start()
    session.receive(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "server_vad", "interrupt_response": False}}},
            },
        }
    )
    session.receive({"type": "response.create"})
    session.step()
    events = append_in_chunks(session, np.concatenate([tone(500), silence(400)]))
    assert "response.done" not in types(events)
    assert "response.created" not in types(events)  # one active response at a time
    assert session.streaming


def test_max_output_tokens_ends_the_response_incomplete() -> None:
    session = _session(scenario=[{"reply": "abcdefghij klmnopqrst"}])
    events = _turn(session, "x", {"max_output_tokens": 2, "output_modalities": ["text"]})
    assert one(events, "response.output_text.done")["text"] == "abcdefgh"
    response = one(events, "response.done")["response"]
    assert response["status"] == "incomplete"
    assert response["status_details"] == {"type": "incomplete", "reason": "max_output_tokens"}
    assert response["output"][0]["status"] == "incomplete"


def test_tool_choice_none_says_the_preamble_instead_of_calling() -> None:
    session = _session(scenario=WEATHER)
    events = _turn(session, "weather in rome", {"tool_choice": "none", "output_modalities": ["text"]})
    assert not only(events, "response.function_call_arguments.done")
    assert one(events, "response.output_text.done")["text"] == "Let me check."


def test_default_reply_echoes_the_user_and_greeting_without_one() -> None:
    session = _session(output_modalities=["text"], type="realtime")
    greeting = session.receive({"type": "response.create"}) + session.drain()
    assert one(greeting, "response.output_text.done")["text"] == "Hello! How can I help you today?"
    echo = _turn(session, "tell me a joke")
    assert one(echo, "response.output_text.done")["text"] == "You said: tell me a joke"


def test_response_audio_in_g711_when_the_output_format_says_so() -> None:
    session = _session(
        scenario=[{"reply": "abc"}], type="realtime", audio={"output": {"format": {"type": "audio/pcmu"}}}
    )
    events = _turn(session, "x")
    total = sum(session.audio_ms(e) for e in only(events, "response.output_audio.delta"))
    assert total == pytest.approx(3 * MS_PER_CHAR)
    assert one(events, "response.created")["response"]["audio"]["output"]["format"] == {"type": "audio/pcmu"}
