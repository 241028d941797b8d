"""P4: peak memory for an hour of assistant audio vs the raw PCM it holds."""

from __future__ import annotations

import tracemalloc

from agent_rt import RealtimeConversation

from .common import SAMPLES_PER_DELTA, Row, audio_delta_payload, reply_events


def run(quick: bool) -> list[Row]:
    minutes = 5 if quick else 60
    deltas = minutes * 600
    payload = audio_delta_payload()
    raw = deltas * SAMPLES_PER_DELTA * 2
    conversation = RealtimeConversation()
    tracemalloc.start()
    for event in reply_events(deltas, payload):  # events are made one at a time, as a socket would
        conversation.process_event(event)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    item = conversation.get_item("item_1")
    assert item is not None
    assert len(item["formatted"]["audio"]) * 2 == raw
    ratio = peak / raw
    return [
        Row(
            f"P4 peak memory, {minutes} min of audio",
            f"{peak / 1e6:.1f} MB",
            f"{raw / 1e6:.1f} MB raw PCM",
            ratio,
            "≤ 1.2×",
            ratio <= 1.2,
        )
    ]
