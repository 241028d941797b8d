"""A speech-like test signal: what a fake microphone plays to the console and the server's VAD."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np


def speech_like(seconds: float, rate: int = 48000, seed: int = 7) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Voiced "syllables": a gliding pitch with formant-shaped harmonics under a 4 Hz envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 135 + 25 * np.sin(2 * np.pi * 0.7 * t) + 3 * rng.standard_normal(len(t)).cumsum() / np.sqrt(rate)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    vowels = [(700, 1200, 2500), (350, 2000, 2800), (500, 900, 2400), (300, 850, 2300)]
    syllable = (t * 4).astype(int)
    signal = np.zeros(len(t))
    for k in range(1, 30):
        freq = k * f0
        gain = np.zeros(len(t))
        for index, formants in enumerate(vowels):
            mask = syllable % len(vowels) == index
            gain[mask] = sum(np.exp(-(((freq[mask] - f) / 110) ** 2)) for f in formants) / k**0.5
        signal += gain * np.sin(k * phase)
    envelope = np.clip(np.sin(np.pi * ((t * 4) % 1.0)) * 1.6, 0, 1) ** 0.7
    signal *= envelope
    scaled: np.ndarray[Any, np.dtype[np.float64]] = 0.3 * signal / np.max(np.abs(signal))
    return scaled


def write_wav(path: Path, samples: np.ndarray[Any, np.dtype[np.float64]], rate: int = 48000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def speech_then_silence(path: Path, speech_s: float, silence_s: float, rate: int = 48000) -> Path:
    """A WAV of ``speech_s`` of speech then ``silence_s`` of silence (Chromium loops it)."""
    samples = np.concatenate((speech_like(speech_s, rate), np.zeros(int(silence_s * rate))))
    return write_wav(path, samples, rate)
