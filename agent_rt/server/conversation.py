"""The server's copy of the default conversation: ordered items plus their audio.

Items are stored in their wire shape *without* audio bytes (that is how every event except
``conversation.item.retrieved`` shows them); audio is kept beside them as samples, per content
index, so truncation and retrieval can work on it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .codec import Samples, encode, rate_of, samples_to_ms
from .config import AudioFormat
from .responder import ContextItem


@dataclass
class StoredItem:
    """One conversation item and what the server knows beside its wire shape."""

    item: dict[str, Any]
    audio: dict[int, Samples] = field(default_factory=dict)
    audio_format: dict[int, AudioFormat] = field(default_factory=dict)
    heard: str | None = None

    @property
    def id(self) -> str:
        return str(self.item["id"])

    def public(self) -> dict[str, Any]:
        """The item as item events show it (no audio bytes)."""
        return copy.deepcopy(self.item)

    def audio_ms(self, content_index: int) -> float:
        samples = self.audio.get(content_index)
        if samples is None:
            return 0.0
        return samples_to_ms(len(samples), rate_of(self.audio_format[content_index]))

    def with_audio(self, *, ga: bool) -> dict[str, Any]:
        """The item as ``conversation.item.retrieved`` shows it: audio parts carry base64 audio.

        GA assistant audio parts come back as ``type: "audio"`` with ``format: "pcm16"`` — the
        shape of the service's own example (protocol.md Appendix A.4).
        """
        item = self.public()
        for index, part in enumerate(item.get("content") or []):
            samples = self.audio.get(index)
            if samples is None:
                continue
            fmt = self.audio_format[index]
            part["audio"] = encode(samples, fmt)
            if part.get("type") in ("audio", "output_audio"):
                if ga:
                    part["type"] = "audio"
                part["format"] = fmt
        return item


class Conversation:
    """Ordered items with lookup by id."""

    def __init__(self) -> None:
        self._items: list[StoredItem] = []
        self._by_id: dict[str, StoredItem] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._by_id

    def get(self, item_id: str) -> StoredItem | None:
        return self._by_id.get(item_id)

    @property
    def last_id(self) -> str | None:
        return self._items[-1].id if self._items else None

    def items(self) -> list[StoredItem]:
        return list(self._items)

    def insert(self, stored: StoredItem, after: str | None = None, *, at_start: bool = False) -> str | None:
        """Insert ``stored`` at the end, at the start, or after ``after``; return its predecessor's id."""
        if at_start:
            position = 0
        elif after is not None:
            position = next(i for i, existing in enumerate(self._items) if existing.id == after) + 1
        else:
            position = len(self._items)
        self._items.insert(position, stored)
        self._by_id[stored.id] = stored
        return self._items[position - 1].id if position > 0 else None

    def delete(self, item_id: str) -> None:
        stored = self._by_id.pop(item_id)
        self._items.remove(stored)

    def context(self) -> list[ContextItem]:
        return [ContextItem(item=s.item, heard=s.heard) for s in self._items]


def empty_samples() -> Samples:
    return np.zeros(0, dtype=np.int16)
