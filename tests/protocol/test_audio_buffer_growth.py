"""AudioBuffer grows in place (realloc) when nothing else holds its storage, and copies otherwise.

In-place growth keeps an hour of audio near 1.1× its PCM size (bench P4); a view handed out
earlier must stay valid, so then the buffer has to copy.
"""

from __future__ import annotations

import base64
import gc

import numpy as np

from agent_rt import RealtimeConversation
from agent_rt.protocol.audio_buffer import AudioBuffer, Int16Array
from bench.common import SAMPLES_PER_DELTA, audio_delta_payload, reply_events


def ramp(start: int, count: int) -> Int16Array:
    return (np.arange(start, start + count) % 30000).astype(np.int16)


def test_held_views_stay_valid_across_growth_and_compaction() -> None:
    buffer = AudioBuffer()
    views = []
    total = 0
    for _ in range(300):
        buffer.append(ramp(total, 997))
        total += 997
        views.append(buffer.view())
    gc.collect()
    for view in views:  # every view still shows what it showed when taken
        np.testing.assert_array_equal(view, ramp(0, len(view)))
    compacted = buffer.compact()
    np.testing.assert_array_equal(compacted, ramp(0, total))
    np.testing.assert_array_equal(views[-1], ramp(0, total))


def test_memoryview_of_the_storage_prevents_in_place_growth() -> None:
    buffer = AudioBuffer()
    buffer.append(ramp(0, 5000))
    exported = buffer.view().data  # a memoryview of the storage
    for index in range(50):
        buffer.append(ramp(5000 + index * 5000, 5000))
    assert bytes(exported) == ramp(0, 5000).tobytes()
    np.testing.assert_array_equal(buffer.view(), ramp(0, 255000))


def test_growth_without_outside_references_is_in_place_and_spare_capacity_is_small() -> None:
    buffer = AudioBuffer()
    for index in range(2000):
        buffer.append(ramp(index * 2400, 2400))
    capacity = len(buffer._data)
    assert capacity <= 1.13 * len(buffer)  # grew by 1/8 in place, not by doubling
    np.testing.assert_array_equal(buffer.compact(), ramp(0, 2000 * 2400))
    assert len(buffer._data) == len(buffer)


def test_conversation_audio_is_exact_while_an_old_formatted_view_is_held() -> None:
    payload = audio_delta_payload()
    conversation = RealtimeConversation()
    held = None
    for index, event in enumerate(reply_events(400, payload)):
        conversation.process_event(event)
        item = conversation.get_item("item_1")
        if index == 50 and item is not None:
            held = item["formatted"]["audio"]
    item = conversation.get_item("item_1")
    assert item is not None
    assert held is not None
    chunk = np.frombuffer(base64.b64decode(payload), dtype="<i2")
    np.testing.assert_array_equal(item["formatted"]["audio"], np.tile(chunk, 400))
    assert len(held) % SAMPLES_PER_DELTA == 0
    np.testing.assert_array_equal(held, np.tile(chunk, len(held) // SAMPLES_PER_DELTA))
