"""Shared pieces: result rows, timing, and the GA event stream of one long audio reply."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

SAMPLES_PER_DELTA = 2400  # 100 ms at 24 kHz


@dataclass(frozen=True)
class Row:
    figure: str
    value: str
    baseline: str
    ratio: float | None
    target: str
    met: bool | None


def best_of(repeats: int, run: Callable[[], float]) -> float:
    """The smallest of ``repeats`` measurements (the least disturbed by the machine)."""
    return min(run() for _ in range(repeats))


def now() -> float:
    return time.perf_counter()


def audio_delta_payload(seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    samples = rng.integers(-8000, 8000, SAMPLES_PER_DELTA, dtype=np.int16)
    return base64.b64encode(samples.astype("<i2").tobytes()).decode()


def reply_events(
    deltas: int, payload: str, response_id: str = "resp_1", item_id: str = "item_1"
) -> Iterator[Any]:
    """response.created ... ``deltas`` × response.output_audio.delta ... response.done (GA)."""
    item = {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "role": "assistant",
        "status": "in_progress",
        "content": [],
    }
    yield {"type": "response.created", "response": {"id": response_id, "status": "in_progress", "output": []}}
    yield {"type": "response.output_item.added", "response_id": response_id, "output_index": 0, "item": item}
    yield {"type": "conversation.item.added", "previous_item_id": None, "item": item}
    part = {"type": "output_audio", "transcript": ""}
    yield {
        "type": "response.content_part.added",
        "response_id": response_id,
        "item_id": item_id,
        "output_index": 0,
        "content_index": 0,
        "part": part,
    }
    for _ in range(deltas):
        yield {
            "type": "response.output_audio.delta",
            "response_id": response_id,
            "item_id": item_id,
            "output_index": 0,
            "content_index": 0,
            "delta": payload,
        }
    yield {
        "type": "response.output_audio.done",
        "response_id": response_id,
        "item_id": item_id,
        "output_index": 0,
        "content_index": 0,
    }
    done_item = dict(item, status="completed", content=[{"type": "output_audio", "transcript": ""}])
    yield {
        "type": "response.output_item.done",
        "response_id": response_id,
        "output_index": 0,
        "item": done_item,
    }
    yield {
        "type": "response.done",
        "response": {"id": response_id, "status": "completed", "output": [done_item]},
    }
