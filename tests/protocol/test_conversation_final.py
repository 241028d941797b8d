"""``.done`` values are the final word on text and transcripts; queues for missing items are bounded."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from agent_rt.protocol.conversation import MAX_QUEUED_ITEMS, RealtimeConversation

Event = dict[str, Any]
ITEM = {"id": "i1", "type": "message", "role": "assistant", "status": "in_progress", "content": []}


def feed(events: list[Event]) -> dict[str, Any]:
    conversation = RealtimeConversation()
    for event in events:
        conversation.process_event(event)
    item = conversation.get_item("i1")
    assert item is not None
    formatted: dict[str, Any] = item["formatted"]
    return formatted


def started(kind: str, beta: bool = False) -> list[Event]:
    """A response whose first part streamed a wrong delta ("Helo" for "Hello")."""
    part = {"type": "text", "text": ""} if kind == "text" else {"type": "audio", "transcript": ""}
    if kind == "text":
        delta_type = "response.text.delta" if beta else "response.output_text.delta"
    else:
        delta_type = "response.audio_transcript.delta" if beta else "response.output_audio_transcript.delta"
    return [
        {"type": "response.created", "response": {"id": "r1"}},
        {"type": "response.output_item.added", "response_id": "r1", "item": ITEM},
        {"type": "response.content_part.added", "item_id": "i1", "content_index": 0, "part": part},
        {"type": delta_type, "item_id": "i1", "content_index": 0, "delta": "Helo"},
    ]


@pytest.mark.parametrize("kind", ["text", "transcript"])
def test_content_part_done_corrects_what_the_deltas_built(kind: str) -> None:
    part = {"type": "text", "text": "Hello"} if kind == "text" else {"type": "audio", "transcript": "Hello"}
    done = {"type": "response.content_part.done", "item_id": "i1", "content_index": 0, "part": part}
    assert feed([*started(kind), done])[kind] == "Hello"


@pytest.mark.parametrize("kind", ["text", "transcript"])
def test_output_item_done_corrects_what_the_deltas_built(kind: str) -> None:
    part = {"type": "text", "text": "Hello"} if kind == "text" else {"type": "audio", "transcript": "Hello"}
    final = {**ITEM, "status": "completed", "content": [part]}
    assert feed([*started(kind), {"type": "response.output_item.done", "item": final}])[kind] == "Hello"


@pytest.mark.parametrize("beta", [False, True], ids=["ga", "beta"])
@pytest.mark.parametrize("kind", ["text", "transcript"])
def test_the_done_event_of_a_part_is_authoritative_in_both_dialects(kind: str, beta: bool) -> None:
    if kind == "text":
        done: Event = {"type": "response.text.done" if beta else "response.output_text.done", "text": "Hello"}
    else:
        name = "response.audio_transcript.done" if beta else "response.output_audio_transcript.done"
        done = {"type": name, "transcript": "Hello"}
    done.update(item_id="i1", content_index=0)
    assert feed([*started(kind, beta), done])[kind] == "Hello"


def test_a_done_part_keeps_the_other_parts_of_the_item() -> None:
    events = [
        *started("text"),
        {"type": "response.output_text.done", "item_id": "i1", "content_index": 0, "text": "Hello"},
        {
            "type": "response.content_part.added",
            "item_id": "i1",
            "content_index": 1,
            "part": {"type": "text", "text": ""},
        },
        {"type": "response.output_text.delta", "item_id": "i1", "content_index": 1, "delta": " wrld"},
        {"type": "response.output_text.done", "item_id": "i1", "content_index": 1, "text": " world"},
    ]
    assert feed(events)["text"] == "Hello world"


def test_deltas_without_parts_are_kept_when_nothing_final_names_them() -> None:
    events: list[Event] = [
        {"type": "response.output_item.added", "response_id": "r1", "item": ITEM},
        {"type": "response.output_text.delta", "item_id": "i1", "content_index": 0, "delta": "Hi"},
        {"type": "response.output_item.done", "item": {**ITEM, "status": "completed"}},
    ]
    assert feed(events)["text"] == "Hi"


@pytest.mark.parametrize(
    "make",
    [
        lambda n: {"type": "conversation.item.input_audio_transcription.delta", "item_id": n, "delta": "x"},
        lambda n: {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": n,
            "transcript": "x",
        },
        lambda n: {"type": "input_audio_buffer.speech_started", "item_id": n, "audio_start_ms": 0},
    ],
    ids=["transcription-delta", "transcription-completed", "speech-started"],
)
def test_events_for_items_that_never_arrive_are_bounded(make: Any, caplog: pytest.LogCaptureFixture) -> None:
    conversation = RealtimeConversation()
    with caplog.at_level(logging.WARNING, logger="agent_rt.conversation"):
        for index in range(MAX_QUEUED_ITEMS * 3):
            conversation.process_event(make(f"ghost_{index}"))
    queues = (conversation._queued_transcripts, conversation._queued_speech, conversation._queued_audio)
    assert sum(len(queue) for queue in queues) == MAX_QUEUED_ITEMS
    assert f"ghost_{MAX_QUEUED_ITEMS * 3 - 1}" in [key for queue in queues for key in queue]  # newest kept
    assert "ghost_0" not in [key for queue in queues for key in queue]  # oldest dropped
    assert "dropped the queued" in caplog.text
    assert "ghost_0" in caplog.text


def test_a_queued_transcript_still_reaches_its_item_when_it_arrives() -> None:
    conversation = RealtimeConversation()
    conversation.process_event(
        {"type": "conversation.item.input_audio_transcription.completed", "item_id": "u1", "transcript": "hi"}
    )
    user = {
        "id": "u1",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": None}],
    }
    conversation.process_event({"type": "conversation.item.created", "item": user})
    item = conversation.get_item("u1")
    assert item is not None
    assert item["formatted"]["transcript"] == "hi"
