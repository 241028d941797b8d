"""The input audio buffer: audio appended since the last commit, addressed by session-wide samples.

``audio_start_ms`` / ``audio_end_ms`` count from the start of *all* audio appended in the
session, so the buffer remembers the absolute index of its first sample. In VAD mode the
service throws away leading silence; :meth:`InputAudioBuffer.discard_before` does the same so a
long silent stream does not grow memory without bound.
"""

from __future__ import annotations

import numpy as np

from .codec import Samples, samples_to_ms


class InputAudioBuffer:
    """Uncommitted input samples at one rate."""

    def __init__(self, rate: int, *, offset_ms: float = 0.0) -> None:
        self.rate = rate
        self.offset_ms = offset_ms  # session time before this buffer's first sample (format changes)
        self.total = 0  # samples appended during the whole session
        self.start = 0  # absolute index of the buffer's first sample
        self._chunks: list[Samples] = []
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    @property
    def duration_ms(self) -> float:
        return samples_to_ms(self._size, self.rate)

    def ms(self, position: int) -> int:
        """Absolute sample index → whole milliseconds since the session's first sample."""
        return int(self.offset_ms + samples_to_ms(position, self.rate))

    def append(self, samples: Samples) -> None:
        if len(samples):
            self._chunks.append(samples)
            self._size += len(samples)
            self.total += len(samples)

    def _joined(self) -> Samples:
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0] if self._chunks else np.zeros(0, dtype=np.int16)

    def take(self, begin: int | None = None, end: int | None = None) -> Samples:
        """Remove and return absolute samples ``[begin, end)`` (default: everything buffered).

        Samples before ``begin`` are dropped too; samples from ``end`` on stay buffered.
        """
        data = self._joined()
        lo = max(0, (begin if begin is not None else self.start) - self.start)
        hi = min(len(data), (end if end is not None else self.total) - self.start)
        taken = np.array(data[lo:hi], dtype=np.int16) if hi > lo else np.zeros(0, dtype=np.int16)
        rest = data[max(hi, 0) :]
        self._chunks = [rest] if len(rest) else []
        self._size = len(rest)
        self.start = self.total - self._size
        return taken

    def discard_before(self, position: int) -> None:
        """Drop buffered samples before absolute index ``position`` (cheap when nothing to drop)."""
        if position <= self.start:
            return
        data = self._joined()
        cut = min(len(data), position - self.start)
        rest = data[cut:]
        self._chunks = [rest] if len(rest) else []
        self._size = len(rest)
        self.start = self.total - self._size

    def clear(self) -> None:
        self._chunks = []
        self._size = 0
        self.start = self.total
