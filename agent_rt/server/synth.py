"""Deterministic "speech": a quiet tone per character, so audio length follows the text.

Each character lasts :data:`MS_PER_CHAR` (60 ms); letters and digits get a short sine whose pitch
depends on the character, whitespace and punctuation are silence. A 5 ms fade at both ends of each
tone avoids clicks. The same text always gives the same samples, and ``len(text) * 60 ms`` of
audio, which makes truncation and playback arithmetic testable.
"""

from __future__ import annotations

import numpy as np

from .codec import Samples

MS_PER_CHAR = 60
AMPLITUDE = 0.08 * 32767  # quiet: about -25 dBFS RMS
_FADE_MS = 5


def samples_per_char(rate: int) -> int:
    return rate * MS_PER_CHAR // 1000


def synthesize(text: str, rate: int) -> Samples:
    """Samples for ``text`` at ``rate`` Hz: exactly ``len(text) * samples_per_char(rate)`` of them."""
    per_char = samples_per_char(rate)
    out = np.zeros(len(text) * per_char, dtype=np.int16)
    t = np.arange(per_char, dtype=np.float64) / rate
    fade = max(1, rate * _FADE_MS // 1000)
    envelope = np.ones(per_char)
    envelope[:fade] = np.linspace(0.0, 1.0, fade)
    envelope[-fade:] = np.linspace(1.0, 0.0, fade)
    for index, char in enumerate(text):
        if not char.isalnum():
            continue
        frequency = 180.0 + (ord(char.lower()) % 48) * 12.5
        tone = AMPLITUDE * envelope * np.sin(2 * np.pi * frequency * t)
        out[index * per_char : (index + 1) * per_char] = tone.astype(np.int16)
    return out
