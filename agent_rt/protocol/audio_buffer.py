"""Growable PCM16 storage for the conversation cache.

The JavaScript reference client rebuilds an item's whole audio array on every delta, which is
quadratic in the length of a reply. :class:`AudioBuffer` appends in amortized O(1) (geometric
growth) and hands out views, and :meth:`AudioBuffer.compact` trims the spare capacity once an
item is finished so a long session holds close to 2 bytes per sample.

Up to 2 MiB the capacity doubles (allocate and copy). Beyond, growth happens in place
(``ndarray.resize``: ``realloc``, which moves pages rather than copying them for large
buffers) by 1/8, so an hour of audio peaks near 1.1× its PCM size rather than the 2-3× of
allocate-and-copy doubling. ``resize`` refuses while anything else references
the array (a view handed out earlier, a memoryview): then the buffer is copied into a new one,
doubling, and the old views stay valid.

:class:`InputAudioTrack` remembers the audio the client appended to the server's input buffer,
addressed by the session-wide sample offset that ``audio_start_ms`` / ``audio_end_ms`` use, so
user items can carry their audio. It forgets audio once it was committed.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Int16Array = NDArray[np.int16]

_MIN_CAPACITY = 4096
#: Below this many samples (2 MiB, ~44 s at 24 kHz) capacity doubles into a new array (cheaper
#: than realloc for small blocks, which copies and zero-fills too). Above it, it grows by 1/8 in
#: place, which bounds the spare room of long audio to 12.5% and needs no second copy.
_DOUBLING_LIMIT = 1 << 20
_EMPTY: Int16Array = np.zeros(0, dtype=np.int16)
_EMPTY.setflags(write=False)


def empty_audio() -> Int16Array:
    """A shared, read-only empty int16 array."""
    return _EMPTY


class AudioBuffer:
    """Append-only int16 samples with amortized O(1) appends."""

    __slots__ = ("_data", "_size")

    def __init__(self, initial: Int16Array | None = None) -> None:
        if initial is not None and len(initial):
            self._data: Int16Array = np.array(initial, dtype=np.int16)
            self._size = len(initial)
        else:
            self._data = _EMPTY
            self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, samples: Int16Array) -> None:
        count = len(samples)
        if not count:
            return
        end = self._size + count
        if end > len(self._data) and (end < _DOUBLING_LIMIT or not self._resize_in_place(end + (end >> 3))):
            grown = np.empty(max(end, 2 * len(self._data), _MIN_CAPACITY), dtype=np.int16)
            grown[: self._size] = self._data[: self._size]
            self._data = grown
        self._data[self._size : end] = samples
        self._size = end

    def _resize_in_place(self, capacity: int) -> bool:
        """``realloc`` the storage when nothing else references it (else False: caller copies)."""
        if self._data is _EMPTY:
            return False
        try:
            # No local name for the array: refcheck counts references, and must see only ours.
            self._data.resize(capacity, refcheck=True)
        except ValueError:
            return False
        return True

    def view(self) -> Int16Array:
        """All samples so far, as a view (no copy). Later appends may not show in an old view.

        Holding the view makes the next growth copy (see the module docstring): drop it first.
        """
        return self._data[: self._size]

    def truncate(self, size: int) -> None:
        self._size = max(0, min(size, self._size))

    def compact(self) -> Int16Array:
        """Drop spare capacity (in place when possible, else one copy); return the exact-size array."""
        if len(self._data) != self._size:
            if not self._size:
                self._data = _EMPTY
            elif not self._resize_in_place(self._size):
                self._data = self._data[: self._size].copy()
        return self._data


class InputAudioTrack:
    """The client's own copy of audio sent to the server's input buffer, by session sample offset."""

    #: Audio kept before the current point when no speech is in progress, for VAD prefix padding.
    MAX_IDLE_SECONDS = 10.0

    def __init__(self, sample_rate: int = 24000) -> None:
        self.sample_rate = sample_rate
        self._chunks: list[Int16Array] = []
        self._base = 0  # session offset of the first kept sample
        self._kept = 0  # number of samples kept
        self._speech_open = False
        #: Trim idle audio to ``MAX_IDLE_SECONDS``: right with server VAD only (a manual commit takes it all).
        self.trim_idle = True

    @property
    def total_samples(self) -> int:
        """Samples appended since the session started (the server's clock for ``audio_*_ms``)."""
        return self._base + self._kept

    @property
    def pending_samples(self) -> int:
        return self._kept

    def append(self, samples: Int16Array) -> None:
        """Keep a copy of ``samples``: callers often reuse their capture buffer for the next chunk."""
        if len(samples):
            self._chunks.append(np.array(samples, dtype=np.int16))
            self._kept += len(samples)
            if self.trim_idle and not self._speech_open:
                self._forget_before(self.total_samples - int(self.MAX_IDLE_SECONDS * self.sample_rate))

    def ms_to_offset(self, ms: float) -> int:
        return int(ms * self.sample_rate // 1000)

    def speech_started(self) -> None:
        self._speech_open = True

    def slice_ms(self, start_ms: float, end_ms: float) -> Int16Array:
        """The kept audio between two session times (clamped to what is kept)."""
        start = max(self.ms_to_offset(start_ms) - self._base, 0)
        end = min(self.ms_to_offset(end_ms) - self._base, self._kept)
        if end <= start:
            return _EMPTY
        piece: Int16Array = self._joined()[start:end].copy()
        return piece

    def take_all(self) -> Int16Array:
        """Everything kept (a manual commit sends all of it), then forget it."""
        joined = self._joined()
        self._forget_before(self.total_samples)
        self._speech_open = False
        return joined

    def commit_until_ms(self, end_ms: float) -> None:
        """The server committed audio up to ``end_ms``; keep only what follows."""
        self._speech_open = False
        self._forget_before(self.ms_to_offset(end_ms))

    def clear(self) -> None:
        self._forget_before(self.total_samples)
        self._speech_open = False

    def _joined(self) -> Int16Array:
        if not self._chunks:
            return _EMPTY
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0]

    def _forget_before(self, offset: int) -> None:
        drop = min(offset - self._base, self._kept)
        if drop <= 0:
            return
        self._base += drop
        self._kept -= drop
        chunks = self._chunks
        index = 0
        while drop and drop >= len(chunks[index]):
            drop -= len(chunks[index])
            index += 1
        if drop:
            chunks[index] = chunks[index][drop:]  # a view: no copy
        del chunks[:index]
