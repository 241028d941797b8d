"""Server VAD on the real PCM: frame energy against a threshold, with prefix padding and hangover.

The audio is cut into 10 ms frames; a frame is *speech* when its RMS level reaches the threshold.
``threshold`` (0.0–1.0, as in ``turn_detection``) maps linearly onto a level in dBFS:
``-60 + 50 * threshold`` (0.5 → -35 dBFS, about RMS 580 on the int16 scale), so higher means
louder speech is needed, like the service. Speech starts at the first speech frame; it stops once
``silence_duration_ms`` of consecutive non-speech frames have passed, and the stop position is
the *end* of that silent run (protocol.md: ``audio_end_ms`` includes the trailing silence).
Prefix padding is applied by the caller, which knows where the input buffer begins.

Positions are absolute sample indices in all audio appended during the session, so the
caller can turn them into ``audio_start_ms`` / ``audio_end_ms`` directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

FRAME_MS = 10
_FULL_SCALE = 32768.0


def threshold_to_rms(threshold: float) -> float:
    """The int16 RMS level a frame needs to count as speech."""
    return _FULL_SCALE * 10 ** ((-60.0 + 50.0 * threshold) / 20.0)


@dataclass(frozen=True)
class VadEvent:
    """A speech boundary: ``kind`` at absolute sample ``position``."""

    kind: Literal["start", "stop"]
    position: int


class EnergyVad:
    """Incremental speech detector over int16 frames at one sample rate."""

    def __init__(
        self, rate: int, *, threshold: float = 0.5, silence_duration_ms: int = 200, position: int = 0
    ) -> None:
        self.rate = rate
        self.frame = max(1, rate * FRAME_MS // 1000)
        self.level = threshold_to_rms(threshold)
        self.silence_frames = max(1, math.ceil(silence_duration_ms / FRAME_MS))
        self.speaking = False
        self._pending = np.zeros(0, dtype=np.int16)
        self._position = position  # absolute sample index of the first sample in ``_pending``
        self._silent_run = 0

    @property
    def position(self) -> int:
        """Absolute index of the first sample not yet judged (a partial frame waits for more)."""
        return self._position

    def reset(self, position: int) -> None:
        """Forget partial frames and speech state; the next sample has index ``position``."""
        self.speaking = False
        self._pending = np.zeros(0, dtype=np.int16)
        self._position = position
        self._silent_run = 0

    def feed(self, samples: NDArray[np.int16]) -> list[VadEvent]:
        """Process appended samples; return the boundaries found, in order."""
        data = np.concatenate((self._pending, samples)) if len(self._pending) else samples
        whole = len(data) // self.frame * self.frame
        events: list[VadEvent] = []
        if whole:
            frames = data[:whole].astype(np.float64).reshape(-1, self.frame)
            rms = np.sqrt(np.mean(frames * frames, axis=1))
            for index, loud in enumerate(rms >= self.level):
                start = self._position + index * self.frame
                if not self.speaking:
                    if loud:
                        self.speaking = True
                        self._silent_run = 0
                        events.append(VadEvent("start", start))
                elif loud:
                    self._silent_run = 0
                else:
                    self._silent_run += 1
                    if self._silent_run >= self.silence_frames:
                        self.speaking = False
                        self._silent_run = 0
                        events.append(VadEvent("stop", start + self.frame))
        self._pending = np.array(data[whole:], dtype=np.int16)
        self._position += whole
        return events
