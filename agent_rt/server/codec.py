"""Audio on the wire: base64 in the session's format (PCM16 24 kHz, G.711 μ-law / A-law 8 kHz).

The server keeps audio as int16 samples at the format's own rate (G.711 is decoded to PCM so the
VAD works on real levels) and encodes back only when an event carries audio.
"""

from __future__ import annotations

import base64
import binascii

import numpy as np
from numpy.typing import NDArray

from ..audio import alaw_decode, alaw_encode, base64_to_pcm16, pcm16_to_base64, ulaw_decode, ulaw_encode
from . import errors
from .config import AudioFormat

Samples = NDArray[np.int16]

PCM_RATE = 24000
G711_RATE = 8000


def rate_of(fmt: AudioFormat) -> int:
    """Samples per second of a wire format."""
    return PCM_RATE if fmt == "pcm16" else G711_RATE


def samples_to_ms(count: int, rate: int) -> float:
    return count * 1000.0 / rate


def ms_to_samples(ms: float, rate: int) -> int:
    return round(ms * rate / 1000.0)


def decode(data: str, fmt: AudioFormat, *, param: str = "audio") -> Samples:
    """Decode a base64 audio payload; malformed input raises ``ClientEventError``."""
    if not isinstance(data, str):
        raise errors.invalid_type(param, "a string", data)
    if fmt == "pcm16":
        try:
            return np.asarray(base64_to_pcm16(data), dtype=np.int16)
        except ValueError as exc:
            raise _bad_audio(param, str(exc)) from None
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _bad_audio(param, str(exc)) from None
    decoded = ulaw_decode(raw) if fmt == "g711_ulaw" else alaw_decode(raw)
    return np.asarray(decoded, dtype=np.int16)


def encode(samples: Samples, fmt: AudioFormat) -> str:
    """Base64 of ``samples`` in ``fmt`` (samples are already at the format's rate)."""
    if fmt == "pcm16":
        return pcm16_to_base64(samples)
    raw = ulaw_encode(samples) if fmt == "g711_ulaw" else alaw_encode(samples)
    return base64.b64encode(bytes(raw)).decode("ascii")


def _bad_audio(param: str, detail: str) -> errors.ClientEventError:
    return errors.ClientEventError(
        "invalid_value", f"Invalid '{param}': the audio is not valid base64 ({detail}).", param=param
    )
