"""RealtimeConversation fed with server-event dicts, in both dialects."""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pytest

from agent_rt.errors import ConversationError
from agent_rt.protocol.audio_buffer import InputAudioTrack, Int16Array
from agent_rt.protocol.conversation import ConversationUpdate, RealtimeConversation

from .wire import Event, Wire, assistant, pcm16_b64, ramp, user_audio, user_text


@pytest.fixture(params=["ga", "beta"])
def wire(request: pytest.FixtureRequest) -> Wire:
    return Wire(str(request.param))


@pytest.fixture
def conv() -> RealtimeConversation:
    return RealtimeConversation()


def feed(conv: RealtimeConversation, events: Iterable[Event]) -> list[ConversationUpdate]:
    """Process events, checking each one is left exactly as it was given."""
    updates = []
    for event in events:
        before = copy.deepcopy(event)
        updates.append(conv.process(event))
        assert event == before, f"{event['type']} was mutated"
    return updates


def ids(conv: RealtimeConversation) -> list[str]:
    return [item["id"] for item in conv.get_items()]


def appended_ids(updates: list[ConversationUpdate]) -> list[str]:
    return [u.item["id"] for u in updates if u.appended and u.item is not None]


def completed_ids(updates: list[ConversationUpdate]) -> list[str]:
    return [u.item["id"] for u in updates if u.completed and u.item is not None]


def text_response(
    wire: Wire, response_id: str, item_id: str, previous: str | None, deltas: list[str]
) -> list[Event]:
    text = "".join(deltas)
    final = assistant(item_id, "completed", [{"type": wire.names["text_content"], "text": text}])
    events = [
        wire.response_created(response_id),
        wire.output_item_added(response_id, assistant(item_id)),
        wire.item_added(assistant(item_id), previous),
        wire.content_part_added(response_id, item_id, {"type": "text", "text": ""}),
        *[wire.text_delta(response_id, item_id, d) for d in deltas],
        wire.text_done(response_id, item_id, text),
        wire.content_part_done(response_id, item_id, {"type": "text", "text": text}),
    ]
    if wire.ga:
        events.append(wire.item_done(final, previous))
    events.append(wire.output_item_done(response_id, final))
    events.append(wire.response_done(response_id, [final], usage={"total_tokens": 9}))
    return events


def audio_response(
    wire: Wire,
    response_id: str,
    item_id: str,
    previous: str | None,
    chunks: list[Int16Array],
    words: list[str],
) -> list[Event]:
    transcript = "".join(words)
    final = assistant(item_id, "completed", [{"type": wire.names["audio_content"], "transcript": transcript}])
    events = [
        wire.response_created(response_id),
        wire.output_item_added(response_id, assistant(item_id)),
        wire.item_added(assistant(item_id), previous),
        wire.content_part_added(response_id, item_id, {"type": "audio", "transcript": ""}),
    ]
    for i in range(max(len(chunks), len(words))):  # transcript and audio deltas interleave
        if i < len(words):
            events.append(wire.transcript_delta(response_id, item_id, words[i]))
        if i < len(chunks):
            events.append(wire.audio_delta(response_id, item_id, pcm16_b64(chunks[i])))
    events += [
        wire.audio_done(response_id, item_id),
        wire.transcript_done(response_id, item_id, transcript),
        wire.content_part_done(response_id, item_id, {"type": "audio", "transcript": transcript}),
        wire.output_item_done(response_id, final),
    ]
    if wire.ga:
        events.append(wire.item_done(final, previous))
    events.append(wire.response_done(response_id, [final]))
    return events


# -- turns ----------------------------------------------------------------------------------


def test_text_turn(wire: Wire, conv: RealtimeConversation) -> None:
    updates = feed(conv, wire.client_item(user_text("u1", "Hi there")))
    assert appended_ids(updates) == ["u1"]
    assert completed_ids(updates) == ["u1"]  # GA: once, though .added and .done both arrive
    user = conv.get_item("u1")
    assert user is not None
    assert user["formatted"]["text"] == "Hi there"
    assert user["role"] == "user"

    deltas = ["Hel", "lo", ", ", "world", "!"]
    events = text_response(wire, "r1", "a1", "u1", deltas)
    updates = feed(conv, events)
    assert appended_ids(updates) == ["a1"]
    assert completed_ids(updates) == ["a1"]
    completed_at = [u.completed for u in updates].index(True)
    assert events[completed_at]["type"] in ("response.output_item.done", "conversation.item.done")
    assert [u.delta for u in updates if u.delta is not None] == [{"text": d} for d in deltas]

    item = conv.get_item("a1")
    assert item is not None
    assert item["formatted"]["text"] == "Hello, world!"
    assert item["formatted"]["transcript"] == ""
    assert item["status"] == "completed"
    assert item["content"] == [{"type": wire.names["text_content"], "text": "Hello, world!"}]
    assert ids(conv) == ["u1", "a1"]
    assert conv.response_of("a1") == "r1"
    response = conv.get_response("r1")
    assert response is not None
    assert response["status"] == "completed"
    assert response["usage"] == {"total_tokens": 9}
    assert response["output"] == ["a1"]


def test_text_deltas_accumulate_in_content_part_too(wire: Wire, conv: RealtimeConversation) -> None:
    events = text_response(wire, "r1", "a1", None, ["ab", "cd"])
    feed(conv, events[:5])  # up to and including the first delta
    item = conv.get_item("a1")
    assert item is not None
    assert item["content"][0]["text"] == "ab"
    feed(conv, events[5:6])
    assert item["content"][0]["text"] == "abcd"
    assert item["formatted"]["text"] == "abcd"


def test_process_event_returns_item_and_delta(wire: Wire, conv: RealtimeConversation) -> None:
    events = text_response(wire, "r1", "a1", None, ["x"])
    results = [conv.process_event(event) for event in events]
    delta_result = results[4]
    assert delta_result[0] is conv.get_item("a1")
    assert delta_result[1] == {"text": "x"}
    assert results[0] == (None, None)  # response.created touches no item


def test_audio_turn(wire: Wire, conv: RealtimeConversation) -> None:
    feed(conv, wire.client_item(user_text("u1", "Say something")))
    chunks = [ramp(0, 2400), ramp(2400, 1000), ramp(3400, 7), ramp(3407, 4800)]
    words = ["Sure", ",", " here", " it", " is."]
    events = audio_response(wire, "r1", "a1", "u1", chunks, words)
    updates = feed(conv, events)

    audio_deltas = [u.delta["audio"] for u in updates if u.delta is not None and "audio" in u.delta]
    assert len(audio_deltas) == len(chunks)
    for got, sent in zip(audio_deltas, chunks, strict=True):
        assert got.dtype == np.int16
        np.testing.assert_array_equal(got, sent)
    transcript_deltas = [
        u.delta["transcript"] for u in updates if u.delta is not None and "transcript" in u.delta
    ]
    assert transcript_deltas == words

    item = conv.get_item("a1")
    assert item is not None
    audio = item["formatted"]["audio"]
    assert audio.dtype == np.int16
    np.testing.assert_array_equal(audio, ramp(0, 8207))
    assert audio.nbytes == 8207 * 2  # compacted once complete
    assert item["formatted"]["transcript"] == "Sure, here it is."
    assert item["content"] == [{"type": wire.names["audio_content"], "transcript": "Sure, here it is."}]
    assert completed_ids(updates) == ["a1"]
    assert ids(conv) == ["u1", "a1"]


def test_audio_accumulates_while_streaming(wire: Wire, conv: RealtimeConversation) -> None:
    events = audio_response(wire, "r1", "a1", None, [ramp(0, 100), ramp(100, 100)], [])
    feed(conv, events[:5])
    item = conv.get_item("a1")
    assert item is not None
    np.testing.assert_array_equal(item["formatted"]["audio"], ramp(0, 100))
    feed(conv, events[5:6])
    np.testing.assert_array_equal(item["formatted"]["audio"], ramp(0, 200))


def test_odd_byte_audio_delta_is_tolerated(wire: Wire, conv: RealtimeConversation) -> None:
    feed(conv, [wire.output_item_added("r1", assistant("a1"))])
    raw = ramp(0, 3).astype("<i2").tobytes() + b"\x01"
    (update,) = feed(conv, [wire.audio_delta("r1", "a1", base64.b64encode(raw).decode())])
    assert update.delta is not None
    np.testing.assert_array_equal(update.delta["audio"], ramp(0, 3))


def test_input_audio_transcripts(wire: Wire, conv: RealtimeConversation) -> None:
    feed(conv, wire.client_item(user_audio("u1")))
    updates = feed(conv, [wire.transcription_delta("u1", "Hel"), wire.transcription_delta("u1", "lo.")])
    assert [u.delta for u in updates] == [{"transcript": "Hel"}, {"transcript": "lo."}]
    item = conv.get_item("u1")
    assert item is not None
    assert item["formatted"]["transcript"] == "Hello."
    (update,) = feed(conv, [wire.transcription_completed("u1", "Hello!")])
    assert update.item is item
    assert update.delta == {"transcript": "Hello!"}
    assert item["formatted"]["transcript"] == "Hello!"
    assert item["content"][0]["transcript"] == "Hello!"


def test_input_transcription_failed(wire: Wire, conv: RealtimeConversation) -> None:
    feed(conv, wire.client_item(user_audio("u1")))
    error = {"type": "transcription_error", "code": "audio_unintelligible", "message": "bad", "param": None}
    event = {
        "type": "conversation.item.input_audio_transcription.failed",
        "event_id": "e",
        "item_id": "u1",
        "content_index": 0,
        "error": error,
    }
    (update,) = feed(conv, [event])
    assert update.item is conv.get_item("u1")
    assert update.item is not None
    assert update.item["formatted"]["transcription_error"] == error


# -- function calls ------------------------------------------------------------------------


def _function_call(item_id: str, status: str = "in_progress", arguments: str = "") -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "name": "get_weather",
        "call_id": "call_1",
        "arguments": arguments,
    }


def test_function_call(wire: Wire, conv: RealtimeConversation) -> None:
    pieces = ['{"', "city", '":', ' "Par', 'is"}']
    arguments = "".join(pieces)
    final = _function_call("f1", "completed", arguments)
    events = [
        wire.response_created("r1"),
        wire.output_item_added("r1", _function_call("f1")),
        wire.item_added(_function_call("f1")),
        *[wire.arguments_delta("r1", "f1", "call_1", p) for p in pieces],
        wire.arguments_done("r1", "f1", "call_1", "get_weather", arguments),
        wire.output_item_done("r1", final),
    ]
    if wire.ga:
        events.append(wire.item_done(final))
    events.append(wire.response_done("r1", [final]))
    updates = feed(conv, events)
    assert [u.delta for u in updates if u.delta] == [{"arguments": p} for p in pieces]
    assert completed_ids(updates) == ["f1"]
    item = conv.get_item("f1")
    assert item is not None
    assert item["formatted"]["tool"] == {
        "type": "function",
        "name": "get_weather",
        "call_id": "call_1",
        "arguments": arguments,
    }
    assert item["arguments"] == arguments
    assert item["formatted"]["text"] == ""


def test_function_call_arguments_visible_while_streaming(wire: Wire, conv: RealtimeConversation) -> None:
    feed(conv, [wire.output_item_added("r1", _function_call("f1")), wire.item_added(_function_call("f1"))])
    item = conv.get_item("f1")
    assert item is not None
    assert item["formatted"]["tool"]["arguments"] == ""
    feed(conv, [wire.arguments_delta("r1", "f1", "call_1", "{")])
    assert item["formatted"]["tool"] == {
        "type": "function",
        "name": "get_weather",
        "call_id": "call_1",
        "arguments": "{",
    }


def test_function_call_output(wire: Wire, conv: RealtimeConversation) -> None:
    output_item = {"id": "o1", "type": "function_call_output", "call_id": "call_1", "output": '{"temp": 21}'}
    if not wire.ga:
        output_item["status"] = "completed"
    updates = feed(conv, wire.client_item(output_item))
    item = conv.get_item("o1")
    assert item is not None
    assert item["formatted"]["output"] == '{"temp": 21}'
    assert "tool" not in item["formatted"]
    assert appended_ids(updates) == ["o1"]
    assert completed_ids(updates) == ["o1"]


# -- completion and appending -----------------------------------------------------------------


def test_incomplete_item_is_never_completed(wire: Wire, conv: RealtimeConversation) -> None:
    partial = assistant("a1", "incomplete", [{"type": wire.names["audio_content"], "transcript": "Okay, to"}])
    events = [
        wire.response_created("r1"),
        wire.output_item_added("r1", assistant("a1")),
        wire.item_added(assistant("a1")),
        wire.content_part_added("r1", "a1", {"type": "audio", "transcript": ""}),
        wire.transcript_delta("r1", "a1", "Okay, to"),
        wire.content_part_done("r1", "a1", {"type": "audio", "transcript": "Okay, to"}),
        wire.output_item_done("r1", partial),
    ]
    if wire.ga:
        events.append(wire.item_done(partial))
    events.append(
        wire.response_done(
            "r1",
            [partial],
            status="cancelled",
            status_details={"type": "cancelled", "reason": "turn_detected"},
        )
    )
    updates = feed(conv, events)
    assert completed_ids(updates) == []
    item = conv.get_item("a1")
    assert item is not None
    assert item["status"] == "incomplete"
    response = conv.get_response("r1")
    assert response is not None
    assert response["status"] == "cancelled"
    assert response["status_details"] == {"type": "cancelled", "reason": "turn_detected"}


def test_in_progress_item_is_not_completed_by_added(wire: Wire, conv: RealtimeConversation) -> None:
    (update,) = feed(conv, [wire.item_added(assistant("a1"))])
    assert update.appended
    assert not update.completed


def test_completed_only_once_even_if_done_repeats(wire: Wire, conv: RealtimeConversation) -> None:
    final = assistant("a1", "completed", [{"type": wire.names["text_content"], "text": "x"}])
    updates = feed(
        conv,
        [
            wire.output_item_added("r1", assistant("a1")),
            wire.item_added(assistant("a1")),
            wire.output_item_done("r1", final),
            wire.output_item_done("r1", final),
            wire.item_added(final),
        ],
    )
    assert [u.completed for u in updates] == [False, False, True, False, False]
    assert [u.appended for u in updates] == [False, True, False, False, False]
    assert ids(conv) == ["a1"]


def test_conversation_item_added_before_output_item_added(wire: Wire, conv: RealtimeConversation) -> None:
    updates = feed(conv, [wire.item_added(assistant("a1")), wire.output_item_added("r1", assistant("a1"))])
    assert [u.appended for u in updates] == [True, False]
    assert updates[0].item is updates[1].item
    assert conv.response_of("a1") == "r1"
    response = conv.get_response("r1")
    assert response is not None
    assert response["output"] == ["a1"]


def test_ga_item_done_without_added_appends_once() -> None:
    wire, conv = Wire("ga"), RealtimeConversation()
    item = user_text("u1", "x")
    updates = feed(conv, [wire.item_done(item), wire.item_done(item)])
    assert [(u.appended, u.completed) for u in updates] == [(True, True), (False, False)]
    assert ids(conv) == ["u1"]


# -- ordering -----------------------------------------------------------------------------------


def test_previous_item_id_ordering(wire: Wire, conv: RealtimeConversation) -> None:
    feed(conv, wire.client_item(user_text("a", "1")))
    feed(conv, wire.client_item(user_text("b", "2"), "a"))
    feed(conv, wire.client_item(user_text("c", "3"), "a"))  # inserted after a, before b
    assert ids(conv) == ["a", "c", "b"]
    feed(conv, wire.client_item(user_text("r", "0"), "root"))
    assert ids(conv) == ["r", "a", "c", "b"]
    feed(conv, wire.client_item(user_text("z", "4"), "no_such_item"))
    assert ids(conv) == ["r", "a", "c", "b", "z"]
    feed(conv, wire.client_item(user_text("y", "5"), None))
    assert ids(conv) == ["r", "a", "c", "b", "z", "y"]
    feed(conv, wire.client_item(user_text("x", "6"), "y"))
    assert ids(conv) == ["r", "a", "c", "b", "z", "y", "x"]


def test_get_items_returns_a_new_list(conv: RealtimeConversation) -> None:
    feed(conv, Wire("ga").client_item(user_text("a", "1")))
    items = conv.get_items()
    items.clear()
    assert ids(conv) == ["a"]


# -- truncation and deletion ----------------------------------------------------------------


def test_truncation_cuts_audio_and_clears_transcript(wire: Wire, conv: RealtimeConversation) -> None:
    events = audio_response(wire, "r1", "a1", None, [ramp(0, 24000), ramp(24000, 24000)], ["Hello", " there"])
    feed(conv, events)
    (update,) = feed(conv, [wire.truncated("a1", 1250)])
    item = conv.get_item("a1")
    assert update.item is item
    assert item is not None
    np.testing.assert_array_equal(item["formatted"]["audio"], ramp(0, 30000))
    assert item["formatted"]["transcript"] == ""
    assert item["content"][0]["transcript"] == ""
    # truncating beyond the end keeps everything that is left
    feed(conv, [wire.truncated("a1", 60000)])
    assert len(item["formatted"]["audio"]) == 30000
    feed(conv, [wire.truncated("a1", 0)])
    assert len(item["formatted"]["audio"]) == 0


def test_truncation_without_audio(wire: Wire, conv: RealtimeConversation) -> None:
    """WebRTC: no audio deltas, only a transcript; truncation still clears the transcript."""
    feed(conv, audio_response(wire, "r1", "a1", None, [], ["Hi"]))
    feed(conv, [wire.truncated("a1", 1860)])
    item = conv.get_item("a1")
    assert item is not None
    assert item["formatted"]["transcript"] == ""
    assert len(item["formatted"]["audio"]) == 0


def test_deletion(wire: Wire, conv: RealtimeConversation) -> None:
    feed(conv, wire.client_item(user_text("u1", "a")))
    feed(conv, text_response(wire, "r1", "a1", "u1", ["b"]))
    (update,) = feed(conv, [wire.deleted("u1")])
    assert update.item is not None
    assert update.item["id"] == "u1"
    assert ids(conv) == ["a1"]
    assert conv.get_item("u1") is None
    with pytest.raises(ConversationError):
        conv.process(wire.deleted("u1"))
    with pytest.raises(ConversationError):
        conv.process(wire.truncated("u1", 0))
    feed(conv, wire.client_item(user_text("u2", "c"), "u1"))  # previous id is gone: appended at the end
    assert ids(conv) == ["a1", "u2"]


@pytest.mark.parametrize(
    "make",
    [
        lambda w: w.text_delta("r1", "nope", "x"),
        lambda w: w.text_done("r1", "nope", "x"),
        lambda w: w.audio_delta("r1", "nope", pcm16_b64(ramp(0, 2))),
        lambda w: w.transcript_delta("r1", "nope", "x"),
        lambda w: w.transcript_done("r1", "nope", "x"),
        lambda w: w.arguments_delta("r1", "nope", "c", "{"),
        lambda w: w.arguments_done("r1", "nope", "c", "f", "{}"),
        lambda w: w.content_part_added("r1", "nope", {"type": "text", "text": ""}),
        lambda w: w.content_part_done("r1", "nope", {"type": "text", "text": ""}),
        lambda w: w.truncated("nope", 100),
        lambda w: w.deleted("nope"),
    ],
    ids=[
        "text_delta",
        "text_done",
        "audio_delta",
        "transcript_delta",
        "transcript_done",
        "arguments_delta",
        "arguments_done",
        "content_part_added",
        "content_part_done",
        "truncated",
        "deleted",
    ],
)
def test_unknown_item_id_raises_conversation_error(wire: Wire, conv: RealtimeConversation, make: Any) -> None:
    feed(conv, wire.client_item(user_text("u1", "a")))
    event = make(wire)
    before = copy.deepcopy(event)
    with pytest.raises(ConversationError, match="nope") as info:
        conv.process(event)
    assert info.value.event == before
    assert event == before
    assert ids(conv) == ["u1"]  # still usable
    feed(conv, text_response(wire, "r2", "a2", "u1", ["ok"]))
    assert ids(conv) == ["u1", "a2"]


MALFORMED: list[Event] = [
    {},
    {"type": 5},
    {"type": "conversation.item.added"},
    {"type": "conversation.item.created", "item": {"type": "message"}},
    {"type": "conversation.item.added", "item": "item_1"},
    {"type": "conversation.item.done"},
    {"type": "conversation.item.retrieved"},
    {"type": "response.created"},
    {"type": "response.created", "response": {}},
    {"type": "response.done"},
    {"type": "response.output_item.added"},
    {"type": "response.output_item.added", "response_id": "r", "item": {"type": "message"}},
    {"type": "response.output_item.done"},
    {"type": "input_audio_buffer.speech_started", "audio_start_ms": 1},
    {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 1},
    {"type": "input_audio_buffer.committed", "previous_item_id": None},
    {"type": "input_audio_buffer.timeout_triggered", "audio_start_ms": 0, "audio_end_ms": 5},
    {"type": "conversation.item.input_audio_transcription.delta", "delta": "x"},
    {"type": "conversation.item.input_audio_transcription.completed", "transcript": "x"},
    {"type": "conversation.item.input_audio_transcription.failed"},
    {"type": "conversation.item.truncated", "audio_end_ms": 5},
    {"type": "conversation.item.deleted"},
    {"type": "response.output_text.delta", "delta": "x"},
    {"type": "response.text.delta", "delta": "x"},
    {"type": "response.audio.delta", "delta": "AAAA"},
    {"type": "response.function_call_arguments.delta", "delta": "x"},
]


@pytest.mark.parametrize("event", MALFORMED, ids=repr)
def test_malformed_events_raise_conversation_error(conv: RealtimeConversation, event: Event) -> None:
    before = copy.deepcopy(event)
    with pytest.raises(ConversationError) as info:
        conv.process(event)
    assert info.value.event == before
    assert event == before


EXISTING_ITEM_MALFORMED: list[Event] = [
    {"type": "response.content_part.added", "item_id": "a1", "content_index": 0},
    {"type": "response.content_part.done", "item_id": "a1", "content_index": 0},
    {"type": "response.output_audio.delta", "item_id": "a1", "delta": "abc"},  # bad base64 padding
    {"type": "response.output_text.delta", "item_id": "a1", "delta": 5},
    {"type": "conversation.item.truncated", "item_id": "a1", "content_index": 0},  # no audio_end_ms
    {"type": "conversation.item.truncated", "item_id": "a1", "content_index": 0, "audio_end_ms": "x"},
]


@pytest.mark.parametrize("event", EXISTING_ITEM_MALFORMED, ids=repr)
def test_malformed_events_for_a_known_item(conv: RealtimeConversation, event: Event) -> None:
    wire = Wire("ga")
    feed(conv, audio_response(wire, "r1", "a1", None, [ramp(0, 480)], ["Hi"]))
    item = conv.get_item("a1")
    assert item is not None
    with pytest.raises(ConversationError) as info:
        conv.process(event)
    assert info.value.event == event
    np.testing.assert_array_equal(item["formatted"]["audio"], ramp(0, 480))  # left alone
    assert item["formatted"]["transcript"] == "Hi"


@pytest.mark.parametrize(
    "event_type",
    [
        "session.created",
        "session.updated",
        "transcription_session.updated",
        "rate_limits.updated",
        "output_audio_buffer.started",
        "output_audio_buffer.stopped",
        "output_audio_buffer.cleared",
        "response.output_audio.done",
        "response.audio.done",
        "error",
        "conversation.created",
        "mcp_list_tools.completed",
        "something.brand.new",
    ],
)
def test_events_without_cache_effect_return_nothing(conv: RealtimeConversation, event_type: str) -> None:
    event = {"type": event_type, "event_id": "e1", "session": {}, "rate_limits": [], "response_id": "r"}
    assert conv.process_event(event) == (None, None)
    assert conv.process(event) == ConversationUpdate(None, None, False, False)
    assert conv.get_items() == []


# -- input audio: VAD and manual turns ------------------------------------------------------


def test_vad_turn_gets_exact_audio_slice(wire: Wire, conv: RealtimeConversation) -> None:
    conv.input_audio.append(ramp(0, 24000))  # 1 s before speech
    feed(conv, [wire.speech_started("u1", 700)])
    conv.input_audio.append(ramp(24000, 48000))  # speech and trailing silence
    feed(conv, [wire.speech_stopped("u1", 2500), wire.committed("u1")])
    conv.input_audio.append(ramp(72000, 12000))  # the next turn is already streaming in
    updates = feed(conv, wire.client_item(user_audio("u1")))
    assert appended_ids(updates) == ["u1"]
    assert completed_ids(updates) == ["u1"]
    item = conv.get_item("u1")
    assert item is not None
    np.testing.assert_array_equal(item["formatted"]["audio"], ramp(16800, 60000 - 16800))
    # the audio after audio_end_ms stays for the next turn
    feed(conv, [wire.speech_started("u2", 2600)])
    conv.input_audio.append(ramp(84000, 2400))
    feed(
        conv,
        [
            wire.speech_stopped("u2", 3400),
            wire.committed("u2", "u1"),
            *wire.client_item(user_audio("u2"), "u1"),
        ],
    )
    second = conv.get_item("u2")
    assert second is not None
    np.testing.assert_array_equal(second["formatted"]["audio"], ramp(62400, 81600 - 62400))
    assert ids(conv) == ["u1", "u2"]


def test_vad_turn_after_long_idle_period(wire: Wire, conv: RealtimeConversation) -> None:
    for i in range(60):  # 30 s of silence before anyone speaks
        conv.input_audio.append(ramp(i * 12000, 12000))
    feed(conv, [wire.speech_started("u1", 29500)])
    conv.input_audio.append(ramp(720000, 24000))
    feed(conv, [wire.speech_stopped("u1", 30800), wire.committed("u1"), *wire.client_item(user_audio("u1"))])
    item = conv.get_item("u1")
    assert item is not None
    np.testing.assert_array_equal(item["formatted"]["audio"], ramp(708000, 739200 - 708000))


def test_manual_commit_takes_all_pending_audio(wire: Wire, conv: RealtimeConversation) -> None:
    conv.input_audio.append(ramp(0, 12000))
    conv.input_audio.append(ramp(12000, 6000))
    updates = feed(conv, [wire.committed("u1"), *wire.client_item(user_audio("u1"))])
    assert completed_ids(updates) == ["u1"]
    item = conv.get_item("u1")
    assert item is not None
    np.testing.assert_array_equal(item["formatted"]["audio"], ramp(0, 18000))
    assert conv.input_audio.pending_samples == 0
    conv.input_audio.append(ramp(18000, 100))
    feed(conv, [wire.committed("u2", "u1"), *wire.client_item(user_audio("u2"), "u1")])
    second = conv.get_item("u2")
    assert second is not None
    np.testing.assert_array_equal(second["formatted"]["audio"], ramp(18000, 100))


def _session_event(wire: Wire, turn_detection: dict[str, Any] | None) -> Event:
    if wire.ga:
        session: dict[str, Any] = {"type": "realtime", "audio": {"input": {"turn_detection": turn_detection}}}
    else:
        session = {"turn_detection": turn_detection}
    return {"type": "session.updated", "event_id": "e", "session": session}


def test_manual_turn_longer_than_idle_limit_keeps_all_audio(wire: Wire, conv: RealtimeConversation) -> None:
    """With turn detection off (push-to-talk) there is no speech_started: nothing may be trimmed."""
    feed(conv, [_session_event(wire, None)])
    seconds = int(InputAudioTrack.MAX_IDLE_SECONDS) + 5
    for i in range(seconds):
        conv.input_audio.append(ramp(i * 24000, 24000))
    feed(conv, [wire.committed("u1"), *wire.client_item(user_audio("u1"))])
    item = conv.get_item("u1")
    assert item is not None
    assert len(item["formatted"]["audio"]) == seconds * 24000
    np.testing.assert_array_equal(item["formatted"]["audio"], ramp(0, seconds * 24000))


def test_idle_trimming_resumes_when_turn_detection_is_on(wire: Wire, conv: RealtimeConversation) -> None:
    feed(conv, [_session_event(wire, None), _session_event(wire, {"type": "server_vad"})])
    for i in range(30):
        conv.input_audio.append(ramp(i * 24000, 24000))
    assert conv.input_audio.pending_samples == int(InputAudioTrack.MAX_IDLE_SECONDS * 24000)


def test_ga_idle_timeout_commits_the_silent_stretch() -> None:
    wire, conv = Wire("ga"), RealtimeConversation()
    for i in range(20):  # 20 s of silence after the last reply
        conv.input_audio.append(ramp(i * 24000, 24000))
    timeout = {
        "type": "input_audio_buffer.timeout_triggered",
        "event_id": "e",
        "audio_start_ms": 13216,
        "audio_end_ms": 19232,
        "item_id": "u1",
    }
    updates = feed(conv, [timeout, wire.committed("u1"), *wire.client_item(user_audio("u1"))])
    assert [(u.item, u.delta) for u in updates[:2]] == [(None, None), (None, None)]
    item = conv.get_item("u1")
    assert item is not None
    np.testing.assert_array_equal(item["formatted"]["audio"], ramp(317184, 461568 - 317184))
    np.testing.assert_array_equal(conv.input_audio.take_all(), ramp(461568, 480000 - 461568))


def test_item_with_audio_bytes_decodes_them(wire: Wire, conv: RealtimeConversation) -> None:
    """A user audio message created by the client may echo its audio: it lands in formatted, not content."""
    item = user_audio("u1")
    item["content"] = [{"type": "input_audio", "audio": pcm16_b64(ramp(0, 480)), "transcript": None}]
    feed(conv, wire.client_item(item))
    cached = conv.get_item("u1")
    assert cached is not None
    np.testing.assert_array_equal(cached["formatted"]["audio"], ramp(0, 480))
    assert cached["content"] == [{"type": "input_audio", "transcript": None}]


def test_retrieved_item_replaces_audio(wire: Wire, conv: RealtimeConversation) -> None:
    feed(conv, audio_response(wire, "r1", "a1", None, [ramp(0, 4800)], ["Hi"]))
    feed(conv, [wire.truncated("a1", 100)])
    part = {"type": wire.names["audio_content"], "audio": pcm16_b64(ramp(0, 2400)), "transcript": ""}
    retrieved = {
        "type": "conversation.item.retrieved",
        "event_id": "e",
        "item": assistant("a1", "incomplete", [part]),
    }
    (update,) = feed(conv, [retrieved])
    assert not update.appended
    assert not update.completed
    item = conv.get_item("a1")
    assert update.item is item
    assert item is not None
    np.testing.assert_array_equal(item["formatted"]["audio"], ramp(0, 2400))
    assert item["status"] == "incomplete"
    assert item["content"] == [{"type": wire.names["audio_content"], "transcript": ""}]
    assert ids(conv) == ["a1"]
    # an item retrieved that the cache never saw is tracked, not listed
    unknown = {"type": "conversation.item.retrieved", "event_id": "e2", "item": user_text("old", "earlier")}
    feed(conv, [unknown])
    assert conv.get_item("old") is not None
    assert ids(conv) == ["a1"]


def test_cleared_input_buffer_is_forgotten(wire: Wire, conv: RealtimeConversation) -> None:
    conv.input_audio.append(ramp(0, 4800))
    feed(conv, [{"type": "input_audio_buffer.cleared", "event_id": "e"}])
    conv.input_audio.append(ramp(4800, 2400))
    feed(conv, [wire.committed("u1"), *wire.client_item(user_audio("u1"))])
    item = conv.get_item("u1")
    assert item is not None
    np.testing.assert_array_equal(item["formatted"]["audio"], ramp(4800, 2400))


def test_transcription_before_item_is_applied_when_it_arrives(wire: Wire, conv: RealtimeConversation) -> None:
    early = [
        wire.transcription_delta("u1", "Good "),
        wire.transcription_delta("u1", "morning"),
        wire.transcription_completed("u1", "Good morning."),
    ]
    assert [(u.item, u.delta) for u in feed(conv, early)] == [(None, None)] * 3
    assert conv.get_items() == []
    feed(conv, wire.client_item(user_audio("u1")))
    item = conv.get_item("u1")
    assert item is not None
    assert item["formatted"]["transcript"] == "Good morning."
    assert item["content"][0]["transcript"] == "Good morning."


def test_transcription_delta_only_before_item(wire: Wire, conv: RealtimeConversation) -> None:
    feed(conv, [wire.transcription_delta("u1", "Hal"), wire.transcription_delta("u1", "lo")])
    feed(conv, wire.client_item(user_audio("u1")))
    item = conv.get_item("u1")
    assert item is not None
    assert item["formatted"]["transcript"] == "Hallo"
    feed(conv, [wire.transcription_completed("u1", "Hallo!")])
    assert item["formatted"]["transcript"] == "Hallo!"


def test_ga_item_done_after_transcription_keeps_transcript() -> None:
    """GA sends the user item's .done with ``transcript: null``; a transcript that came first must stay."""
    wire, conv = Wire("ga"), RealtimeConversation()
    feed(conv, [wire.item_added(user_audio("u1")), wire.transcription_completed("u1", "Yes.")])
    feed(conv, [wire.item_done(user_audio("u1"))])
    item = conv.get_item("u1")
    assert item is not None
    assert item["formatted"]["transcript"] == "Yes."
    assert item["content"][0]["transcript"] == "Yes."


# -- responses and out-of-band items ---------------------------------------------------------


def test_out_of_band_response_items_are_tracked_not_listed(wire: Wire, conv: RealtimeConversation) -> None:
    feed(conv, wire.client_item(user_text("u1", "a")))
    final = assistant("x1", "completed", [{"type": wire.names["text_content"], "text": "summary"}])
    updates = feed(
        conv,
        [
            wire.response_created("r9", conversation_id=None),
            wire.output_item_added("r9", assistant("x1")),
            wire.content_part_added("r9", "x1", {"type": "text", "text": ""}),
            wire.text_delta("r9", "x1", "summary"),
            wire.output_item_done("r9", final),
            wire.response_done("r9", [final]),
        ],
    )
    assert appended_ids(updates) == []
    assert completed_ids(updates) == ["x1"]
    item = conv.get_item("x1")
    assert item is not None
    assert item["formatted"]["text"] == "summary"
    assert ids(conv) == ["u1"]
    assert conv.response_of("x1") == "r9"
    response = conv.get_response("r9")
    assert response is not None
    assert response["output"] == ["x1"]
    assert response["conversation_id"] is None


def test_response_done_records_status_usage_and_output(wire: Wire, conv: RealtimeConversation) -> None:
    usage = {"total_tokens": 10, "input_tokens": 7, "output_tokens": 3}
    feed(conv, [wire.response_created("r1")])
    response = conv.get_response("r1")
    assert response is not None
    assert response["status"] == "in_progress"
    feed(
        conv,
        [
            wire.response_done(
                "r1", [], status="cancelled", usage=usage, status_details={"type": "cancelled", "reason": "x"}
            )
        ],
    )
    response = conv.get_response("r1")
    assert response is not None
    assert response["status"] == "cancelled"
    assert response["usage"] == usage
    assert response["output"] == []
    assert response["status_details"] == {"type": "cancelled", "reason": "x"}


def test_response_done_without_created(wire: Wire, conv: RealtimeConversation) -> None:
    feed(conv, [wire.response_done("r5", [assistant("a1", "completed")], status="failed")])
    response = conv.get_response("r5")
    assert response is not None
    assert response["status"] == "failed"
    assert response["output"] == ["a1"]


# -- G.711 -----------------------------------------------------------------------------------


def ulaw_reference(code: int) -> int:
    """ITU-T G.711 mu-law expansion to 16-bit linear (the classic bias-0x84 table)."""
    inverted = ~code & 0xFF
    magnitude = (((inverted & 0x0F) << 3) + 0x84) << ((inverted >> 4) & 0x07)
    return 0x84 - magnitude if inverted & 0x80 else magnitude - 0x84


def alaw_reference(code: int) -> int:
    """ITU-T G.711 A-law expansion to 16-bit linear."""
    toggled = code ^ 0x55
    segment = (toggled >> 4) & 0x07
    value = (toggled & 0x0F) << 4
    value = value + 8 if segment == 0 else (value + 0x108) << (segment - 1)
    return value if toggled & 0x80 else -value


def test_reference_tables_sanity() -> None:
    assert ulaw_reference(0xFF) == 0
    assert ulaw_reference(0x00) == -32124
    assert ulaw_reference(0x80) == 32124
    assert alaw_reference(0xD5) == 8
    assert alaw_reference(0x55) == -8
    assert alaw_reference(0xAA) == 32256


@pytest.mark.parametrize(
    ("audio_format", "reference"), [("g711_ulaw", ulaw_reference), ("g711_alaw", alaw_reference)]
)
def test_g711_output_audio_decodes(wire: Wire, audio_format: str, reference: Any) -> None:
    conv = RealtimeConversation(output_audio_format=audio_format)
    codes = bytes(range(256))
    feed(conv, [wire.output_item_added("r1", assistant("a1")), wire.item_added(assistant("a1"))])
    (update,) = feed(conv, [wire.audio_delta("r1", "a1", base64.b64encode(codes).decode())])
    expected = np.array([reference(c) for c in codes], dtype=np.int16)
    assert update.delta is not None
    np.testing.assert_array_equal(update.delta["audio"], expected)
    item = conv.get_item("a1")
    assert item is not None
    assert item["formatted"]["audio"].dtype == np.int16
    np.testing.assert_array_equal(item["formatted"]["audio"], expected)
    # G.711 is 8 kHz: 10 ms is 80 samples
    feed(conv, [wire.truncated("a1", 10)])
    np.testing.assert_array_equal(item["formatted"]["audio"], expected[:80])


def test_g711_input_track_runs_at_8khz() -> None:
    conv = RealtimeConversation(input_audio_format="g711_ulaw")
    assert conv.input_audio.sample_rate == 8000
    conv.input_audio_format = "pcm16"
    assert conv.input_audio.sample_rate == 24000
    assert conv.input_audio_format == "pcm16"


# -- hygiene ---------------------------------------------------------------------------------


def _containers(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        yield value
        for inner in value.values():
            yield from _containers(inner)
    elif isinstance(value, list):
        yield value
        for inner in value:
            yield from _containers(inner)


def test_cache_does_not_alias_event_dicts(wire: Wire, conv: RealtimeConversation) -> None:
    """Applications may edit cached items; that must not reach the raw events other listeners see."""
    user = user_text("u1", "hi") | {"metadata": {"k": ["v"]}}
    events = [
        *wire.client_item(user),
        *text_response(wire, "r1", "a1", "u1", ["a", "b"]),
    ]
    events[-1]["response"]["usage"] = {"total_tokens": 3, "input_token_details": {"text_tokens": 1}}
    events[-1]["response"]["metadata"] = {"topic": "x"}
    feed(conv, events)
    event_ids = {id(c) for event in events for c in _containers(event)}
    cached: list[Any] = [*conv.get_items()]
    response = conv.get_response("r1")
    assert response is not None
    cached.append(response)
    shared = [c for entry in cached for c in _containers(entry) if id(c) in event_ids]
    assert shared == []


def test_clear_forgets_everything(wire: Wire, conv: RealtimeConversation) -> None:
    feed(conv, wire.client_item(user_text("u1", "a")))
    feed(conv, text_response(wire, "r1", "a1", "u1", ["b"]))
    feed(conv, [wire.transcription_completed("later", "x")])
    conv.input_audio.append(ramp(0, 100))
    conv.clear()
    assert conv.get_items() == []
    assert conv.get_item("a1") is None
    assert conv.get_response("r1") is None
    assert conv.input_audio.pending_samples == 0
    feed(conv, wire.client_item(user_audio("later")))
    item = conv.get_item("later")
    assert item is not None
    assert item["formatted"]["transcript"] == ""  # the queued transcript went with clear()
