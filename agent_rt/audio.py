"""Audio helpers for the Realtime API, vectorised with numpy.

Audio on the wire is PCM16 (24 kHz, mono, little-endian) or G.711 μ-law / A-law (8 kHz), base64 in JSON.
These functions convert between that and numpy arrays without Python loops over samples, and read and
write WAV files (stdlib :mod:`wave`) so applications can feed recordings to the model.

Bad values raise :class:`AudioError` (a ``ValueError`` and a ``RealtimeError``); arguments of the wrong
kind raise ``TypeError``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
import operator
import os
import sys
import wave
from typing import Any, BinaryIO, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import ConfigurationError

__all__ = [
    "SAMPLE_RATE",
    "AudioError",
    "Float32Array",
    "Int16Array",
    "alaw_decode",
    "alaw_encode",
    "base64_to_pcm16",
    "bytes_to_pcm16",
    "coerce_pcm16",
    "float_to_pcm16",
    "load_wav_for_realtime",
    "ms_to_samples",
    "pcm16_to_base64",
    "pcm16_to_bytes",
    "pcm16_to_float",
    "read_wav",
    "resample",
    "samples_to_ms",
    "to_mono",
    "ulaw_decode",
    "ulaw_encode",
    "write_wav",
]

#: The Realtime API's PCM16 sample rate (samples per second).
SAMPLE_RATE: int = 24000

Int16Array: TypeAlias = NDArray[np.int16]
Float32Array: TypeAlias = NDArray[np.float32]

_PCM16_LE = np.dtype("<i2")


class AudioError(ConfigurationError):
    """Audio that cannot be used: bad base64, an odd byte count, a broken or non-PCM WAV file, a bad rate."""


# -- PCM16 <-> float, bytes, base64 ---------------------------------------------------------------


def float_to_pcm16(samples: ArrayLike) -> Int16Array:
    """Float samples in [-1, 1] to int16: clipped (so overs do not wrap around), scaled by 32767, rounded.

    NaN becomes silence rather than an arbitrary integer.
    """
    if isinstance(samples, np.ndarray):
        if samples.dtype.kind != "f":  # an int16 array here would be clipped to ±1 LSB: refuse, don't guess
            raise TypeError(f"float_to_pcm16 needs float samples, got an array of dtype {samples.dtype}")
        values: NDArray[Any] = samples
    else:
        values = np.asarray(samples, dtype=np.float64)
    scaled = np.clip(values, -1.0, 1.0, dtype=np.float64)  # a fresh buffer we may change in place
    scaled *= 32767.0
    np.rint(scaled, out=scaled)
    np.nan_to_num(scaled, copy=False, nan=0.0)
    pcm: Int16Array = scaled.astype(np.int16)
    return pcm


def pcm16_to_float(samples: Int16Array) -> Float32Array:
    """int16 samples to float32 in [-1, 1) (divided by 32768, a power of two, so the scaling is exact)."""
    values = _int16_array(samples, "pcm16_to_float")
    floats: Float32Array = np.multiply(values, np.float32(1.0 / 32768.0), dtype=np.float32)
    return floats


def pcm16_to_bytes(samples: Int16Array) -> bytes:
    """int16 samples as little-endian PCM16 bytes, whatever the host byte order."""
    values = _int16_array(samples, "pcm16_to_bytes")
    return values.astype(_PCM16_LE, copy=False).tobytes()


def bytes_to_pcm16(data: bytes | bytearray | memoryview) -> Int16Array:
    """Little-endian PCM16 bytes to int16 samples.

    On little-endian hosts the result is a view of ``data`` (no copy): read-only for ``bytes``, and
    sharing memory with a ``bytearray``.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"bytes_to_pcm16 needs bytes, bytearray or memoryview, not {type(data).__name__}")
    view = memoryview(data)
    if not view.c_contiguous:
        raise AudioError("PCM16 audio must be a contiguous buffer")
    if view.nbytes % 2:
        raise AudioError(f"PCM16 audio must have an even number of bytes (2 per sample), got {view.nbytes}")
    samples = np.frombuffer(view.cast("B"), dtype=_PCM16_LE)
    return samples if samples.dtype.isnative else samples.astype(np.int16)


def pcm16_to_base64(samples: Int16Array | bytes) -> str:
    """Base64 of int16 samples (as little-endian PCM16), or of bytes that are already encoded audio."""
    if isinstance(samples, (bytes, bytearray, memoryview)):
        raw: bytes | bytearray | memoryview = samples
    else:
        raw = pcm16_to_bytes(samples)
    return base64.b64encode(raw).decode("ascii")


def base64_to_pcm16(data: str) -> Int16Array:
    """Base64 text of little-endian PCM16 audio to int16 samples (a read-only view of the decoded bytes)."""
    if not isinstance(data, str):
        raise TypeError(f"base64_to_pcm16 needs a str, not {type(data).__name__}")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AudioError(f"audio is not valid base64: {exc}") from None
    return bytes_to_pcm16(raw)


def coerce_pcm16(
    audio: Int16Array | NDArray[np.floating[Any]] | bytes | bytearray | memoryview | str,
) -> Int16Array:
    """The one entry point for user audio: any accepted form to 1-D int16 samples.

    Accepted: a 1-D int16 array (returned as is), a 1-D float array in [-1, 1] (converted), PCM16
    little-endian bytes, or base64 text of those bytes. Anything else is refused rather than guessed at:
    an int32 array could be 16-bit or 32-bit audio, a 2-D array could be channels or frames.
    """
    if isinstance(audio, str):
        return base64_to_pcm16(audio)
    if isinstance(audio, (bytes, bytearray, memoryview)):
        return bytes_to_pcm16(audio)
    if not isinstance(audio, np.ndarray):
        raise TypeError(
            "audio must be a 1-D int16 or float numpy array, PCM16 bytes or a base64 str, "
            f"not {type(audio).__name__}"
        )
    is_int16 = audio.dtype.kind == "i" and audio.dtype.itemsize == 2
    if not is_int16 and audio.dtype.kind != "f":
        raise TypeError(
            f"audio arrays must be int16 (PCM16) or float in [-1, 1], not {audio.dtype}; "
            "convert other integer widths explicitly"
        )
    if audio.ndim != 1:
        raise AudioError(
            f"audio must be 1-D mono samples, got shape {audio.shape}; use to_mono() for (n, channels) arrays"
        )
    if is_int16:
        return np.asarray(audio, dtype=np.int16)  # the same array unless its byte order is foreign
    return float_to_pcm16(audio)


def _int16_array(samples: Any, caller: str) -> Int16Array:
    """``samples`` as an int16 array in native byte order (no copy when it already is one)."""
    values = np.asarray(samples)
    if values.dtype.kind != "i" or values.dtype.itemsize != 2:
        raise TypeError(f"{caller} needs int16 samples, got an array of dtype {values.dtype}")
    return values if values.dtype.isnative else values.astype(np.int16)


# -- channels and rates ---------------------------------------------------------------------------


def to_mono(samples: NDArray[Any]) -> NDArray[Any]:
    """Mix ``(n, channels)`` down to ``(n,)`` by the mean of the channels, keeping the dtype.

    Integer input is averaged in float and rounded, so int16 stays int16 without overflow. 1-D input
    is already mono and is returned unchanged.
    """
    values = np.asarray(samples)
    if values.ndim == 1:
        return values
    if values.ndim != 2 or values.shape[1] == 0:
        raise AudioError(f"expected samples of shape (n,) or (n, channels), got {values.shape}")
    if values.shape[1] == 1:
        return values[:, 0]
    mixed: NDArray[Any]
    if values.dtype.kind in "iu":
        mixed = np.rint(values.mean(axis=1)).astype(values.dtype)
    elif values.dtype.kind == "f":
        mixed = values.mean(axis=1, dtype=values.dtype)
    else:
        raise TypeError(f"to_mono needs integer or float samples, got dtype {values.dtype}")
    return mixed


# Resampler design: windowed sinc (Kaiser window), evaluated polyphase. See resample().
# Measured for 44.1 -> 24 kHz: flat (-0.2 dB) to 10 kHz, -6 dB at 10.8 kHz, aliases of anything above the
# new 12 kHz Nyquist frequency down by more than 85 dB; about 0.8 s per minute of audio.
_ZERO_CROSSINGS = 24  # sinc lobes each side of the centre, at the filter's cutoff: sets the transition width
_KAISER_BETA = 8.0  # window shape: about 80 dB stop-band attenuation
_ROLLOFF = 0.9  # cutoff as a fraction of the lower Nyquist frequency, so the transition ends before it


def resample(samples: NDArray[Any], from_rate: int, to_rate: int = SAMPLE_RATE) -> NDArray[Any]:
    """Change the sample rate of ``(n,)`` or ``(n, channels)`` samples.

    Band-limited interpolation with a Kaiser-windowed sinc low-pass, computed polyphase: the rate ratio
    is reduced to ``up/down``, so only ``up`` distinct filter phases exist and their taps are tabulated
    once. Chosen over linear interpolation (``np.interp``) because that aliases everything above the new
    Nyquist frequency back into the band when downsampling (44.1 kHz music/speech to 24 kHz) and dulls
    highs when upsampling; the windowed sinc keeps the pass band flat and rejects aliases by > 80 dB.

    The work is vectorised over samples: the only Python loop runs over the filter taps (a few dozen).
    Samples outside the input count as silence. The output has ``ceil(n * to_rate / from_rate)``
    samples. int16 in gives int16 out (rounded and clipped); float in gives float32 out. The same rate
    returns ``samples`` itself.
    """
    source_rate = _rate(from_rate, "from_rate")
    target_rate = _rate(to_rate, "to_rate")
    values = np.asarray(samples)
    if values.ndim not in (1, 2):
        raise AudioError(f"expected samples of shape (n,) or (n, channels), got {values.shape}")
    is_int16 = values.dtype.kind == "i" and values.dtype.itemsize == 2
    if not is_int16 and values.dtype.kind != "f":
        raise TypeError(f"resample needs int16 or float samples, got dtype {values.dtype}")
    if source_rate == target_rate:
        return samples
    out = _resample_float64(values, source_rate, target_rate)
    if is_int16:
        np.rint(out, out=out)
        np.clip(out, -32768, 32767, out=out)
        return out.astype(np.int16)
    return out.astype(np.float32)


def _resample_float64(values: NDArray[Any], source_rate: int, target_rate: int) -> NDArray[np.float64]:
    gcd = math.gcd(source_rate, target_rate)
    up, down = target_rate // gcd, source_rate // gcd
    count = values.shape[0]
    out_count = -(-count * up // down)
    if count == 0:
        return np.zeros((0, *values.shape[1:]), dtype=np.float64)
    # Output sample k sits at input position k * down / up = base + phase / up.
    positions = np.arange(out_count, dtype=np.int64) * down
    base, phase = np.divmod(positions, up)
    cutoff = _ROLLOFF * min(1.0, up / down)  # as a fraction of the input Nyquist frequency
    half_width = _ZERO_CROSSINGS / cutoff  # in input samples
    width = math.ceil(half_width)
    offsets = np.arange(-width + 1, width + 1)  # tap j weighs input sample base + j
    # Filter weights for each distinct phase (at most min(up, out_count) rows), normalised so that a
    # constant signal stays constant whatever the phase.
    if up <= out_count:
        rows, row_of_output = np.arange(up), phase
    else:
        rows, row_of_output = phase, np.arange(out_count)
    distance = rows[None, :] / up - offsets[:, None]  # shape (taps, rows)
    taps = cutoff * np.sinc(cutoff * distance)
    inside = np.clip(1.0 - (distance / half_width) ** 2, 0.0, None)
    taps *= np.i0(_KAISER_BETA * np.sqrt(inside)) / np.i0(_KAISER_BETA)
    taps[np.abs(distance) >= half_width] = 0.0
    taps /= taps.sum(axis=0)
    # Taps reaching further than the input is long would only ever read padding: drop them.
    reach = min(width, count)
    taps = taps[width - reach : width + reach]
    padded = np.pad(values.astype(np.float64), [(reach, reach)] + [(0, 0)] * (values.ndim - 1))
    # Tap j reads input sample base + j, which is padded[base + j + reach]; j starts at 1 - reach.
    index = base  # advanced by one before each tap, so the first tap reads padded[base + 1]
    out = np.zeros((out_count, *values.shape[1:]), dtype=np.float64)
    gathered = np.empty_like(out)
    weights = np.empty(out_count, dtype=np.float64)
    scale = weights if values.ndim == 1 else weights[:, None]
    for row in taps:  # one vectorised pass per tap, reusing the buffers
        index += 1
        np.take(padded, index, axis=0, out=gathered)
        np.take(row, row_of_output, out=weights)
        gathered *= scale
        out += gathered
    return out


def _rate(rate: int, name: str) -> int:
    if isinstance(rate, bool):
        raise AudioError(f"{name} must be a positive integer number of samples per second, got {rate!r}")
    try:
        value = operator.index(rate)
    except TypeError:
        raise AudioError(
            f"{name} must be a positive integer number of samples per second, got {rate!r}"
        ) from None
    if value <= 0:
        raise AudioError(f"{name} must be a positive integer number of samples per second, got {value}")
    return value


# -- WAV files ------------------------------------------------------------------------------------

_FORMAT_NAMES = {3: "IEEE float", 6: "A-law", 7: "μ-law", 0xFFFE: "WAVE_FORMAT_EXTENSIBLE"}


def read_wav(source: str | os.PathLike[str] | BinaryIO) -> tuple[NDArray[Any], int]:
    """Read a PCM WAV file: ``(samples, rate)`` with int16 samples shaped ``(n,)`` or ``(n, channels)``.

    8-bit (unsigned), 16-bit, 24-bit and 32-bit integer PCM are accepted; wider samples keep their top
    16 bits. 16-bit samples are a read-only view of the data read (no copy). Non-PCM encodings and
    broken or truncated files raise :class:`AudioError` with the reason; a missing file raises ``OSError``.
    """
    try:
        with wave.open(os.fspath(source) if isinstance(source, os.PathLike) else source, "rb") as reader:
            return _read_frames(reader)
    except wave.Error as exc:
        raise AudioError(f"cannot read WAV: {_explain_wave_error(exc)}") from None
    except EOFError:
        raise AudioError("cannot read WAV: the file ends inside its header") from None


def _explain_wave_error(exc: wave.Error) -> str:
    message = str(exc)
    prefix = "unknown format: "
    if message.startswith(prefix):
        tag_text = message[len(prefix) :]
        tag = int(tag_text) if tag_text.isdigit() else None
        name = _FORMAT_NAMES.get(tag, "unknown") if tag is not None else "unknown"
        return f"format tag {tag_text} ({name}) is not integer PCM; only integer PCM WAV files are supported"
    return message


def _read_frames(reader: wave.Wave_read) -> tuple[NDArray[Any], int]:
    channels, width, rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
    declared = reader.getnframes()
    if rate <= 0:
        raise AudioError(f"cannot read WAV: bad sample rate {rate}")
    if width not in (1, 2, 3, 4):
        raise AudioError(f"cannot read WAV: {width * 8}-bit samples are not supported (8, 16, 24 or 32-bit)")
    frames = reader.readframes(declared)
    frame_size = channels * width
    if len(frames) % frame_size:
        raise AudioError(
            f"cannot read WAV: the data ends inside a frame "
            f"({len(frames)} bytes for {frame_size}-byte frames)"
        )
    streamed = declared == 0xFFFFFFFF // frame_size  # size left unknown by a writer that could not seek
    if len(frames) // frame_size < declared and not streamed:
        raise AudioError(
            f"cannot read WAV: truncated file, "
            f"{len(frames) // frame_size} of {declared} declared frames present"
        )
    samples = _frames_to_int16(frames, width)
    return (samples if channels == 1 else samples.reshape(-1, channels)), rate


def _frames_to_int16(frames: bytes, width: int) -> Int16Array:
    """Interleaved samples of ``width`` bytes to int16. ``wave`` hands over host byte order."""
    if width == 1:  # 8-bit WAV is unsigned, silence at 128
        widened = np.frombuffer(frames, dtype=np.uint8).astype(np.int16)
        widened -= 128
        widened <<= 8
        return widened
    if width == 2:
        return np.frombuffer(frames, dtype=np.int16)
    if width == 4:
        return (np.frombuffer(frames, dtype=np.int32) >> 16).astype(np.int16)
    triples = np.frombuffer(frames, dtype=np.uint8).reshape(-1, 3)
    # The top 16 bits of each 24-bit sample are its two most significant bytes.
    if sys.byteorder == "little":
        return np.ascontiguousarray(triples[:, 1:]).view("<i2").reshape(-1).astype(np.int16, copy=False)
    return np.ascontiguousarray(triples[:, :2]).view(">i2").reshape(-1).astype(np.int16, copy=False)


def write_wav(
    target: str | os.PathLike[str] | BinaryIO, samples: Int16Array, rate: int = SAMPLE_RATE
) -> None:
    """Write int16 samples, ``(n,)`` or ``(n, channels)``, as a 16-bit PCM WAV file."""
    values = _int16_array(samples, "write_wav")
    if values.ndim not in (1, 2) or (values.ndim == 2 and values.shape[1] == 0):
        raise AudioError(f"expected samples of shape (n,) or (n, channels), got {values.shape}")
    channels = 1 if values.ndim == 1 else values.shape[1]
    sample_rate = _rate(rate, "rate")
    frames = np.ascontiguousarray(values).tobytes()  # host order: wave swaps to little-endian itself
    with wave.open(os.fspath(target) if isinstance(target, os.PathLike) else target, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.setnframes(values.shape[0])  # known up front, so non-seekable streams work
        writer.writeframes(frames)


def load_wav_for_realtime(source: str | os.PathLike[str] | BinaryIO) -> Int16Array:
    """A WAV file as the API wants it: mono int16 at 24 kHz."""
    samples, rate = read_wav(source)
    mono: Int16Array = resample(to_mono(samples), rate, SAMPLE_RATE)
    return mono


# -- G.711 (ITU-T) --------------------------------------------------------------------------------
#
# Both codecs compress a 16-bit sample to sign, a 3-bit segment (exponent) and a 4-bit mantissa.
# Encoding is tabulated for all 65536 int16 values on first use (vectorised, a few milliseconds kept
# out of import time), so encoding is one gather; decoding is a 256-entry table built at import.

_ULAW_BIAS = 0x84  # 33 in 14-bit units: shifts segment boundaries so each segment is a power of two
_ULAW_CLIP = 32635  # largest magnitude that still fits in the top segment once the bias is added


def _ulaw_encode_values(values: NDArray[np.int64]) -> NDArray[np.uint8]:
    """μ-law codes for int16 values: the magnitude is biased, then segment = position of its top bit.

    Negative samples are quantised by magnitude, so ``encode(-x)`` mirrors ``encode(x)`` and the error
    never exceeds half a step. (Sun's g711.c, and so ``audioop``, shift before negating and land one
    step lower for some negative values; decoding is the same table either way.)
    """
    negative = values < 0
    magnitude = np.minimum(np.abs(values), _ULAW_CLIP) + _ULAW_BIAS  # 132 .. 32767
    segment = np.floor(np.log2(magnitude >> 7)).astype(np.int64)  # 0 .. 7
    mantissa = (magnitude >> (segment + 3)) & 0x0F
    code = np.where(negative, 0x80, 0) | (segment << 4) | mantissa
    wire: NDArray[np.uint8] = (~code & 0xFF).astype(np.uint8)  # all bits inverted on the wire
    return wire


def _ulaw_decode_values(codes: NDArray[np.int64]) -> Int16Array:
    inverted = ~codes & 0xFF
    segment = (inverted >> 4) & 0x07
    magnitude = (((inverted & 0x0F) << 3) + _ULAW_BIAS) << segment
    return np.where(inverted & 0x80, _ULAW_BIAS - magnitude, magnitude - _ULAW_BIAS).astype(np.int16)


def _alaw_encode_values(values: NDArray[np.int64]) -> NDArray[np.uint8]:
    """A-law codes for int16 values: negatives use the one's complement, so x and ~x mirror each other."""
    negative = values < 0
    magnitude = np.where(negative, ~values, values)  # 0 .. 32767
    high = magnitude >> 8
    segment = np.where(high == 0, 0, np.floor(np.log2(np.maximum(high, 1))).astype(np.int64) + 1)  # 0 .. 7
    mantissa = (magnitude >> np.where(segment == 0, 4, segment + 3)) & 0x0F
    code = np.where(negative, 0, 0x80) | (segment << 4) | mantissa
    wire: NDArray[np.uint8] = (code ^ 0x55).astype(np.uint8)  # even bits inverted on the wire
    return wire


def _alaw_decode_values(codes: NDArray[np.int64]) -> Int16Array:
    plain = codes ^ 0x55
    segment = (plain >> 4) & 0x07
    level = ((plain & 0x0F) << 4) + 8  # middle of the mantissa step
    magnitude = np.where(segment == 0, level, (level + 0x100) << np.maximum(segment - 1, 0))
    return np.where(plain & 0x80, magnitude, -magnitude).astype(np.int16)


def _read_only(array: NDArray[Any]) -> NDArray[Any]:
    array.flags.writeable = False
    return array


@functools.cache
def _encode_table(law: str) -> NDArray[np.uint8]:
    """Codes for every int16 value, indexed by the value's bits read as uint16 (0..32767, then negatives)."""
    values = np.arange(65536, dtype=np.int64).astype(np.uint16).view(np.int16).astype(np.int64)
    encode = _ulaw_encode_values if law == "ulaw" else _alaw_encode_values
    return _read_only(encode(values))


_ULAW_DECODE = _read_only(_ulaw_decode_values(np.arange(256, dtype=np.int64)))
_ALAW_DECODE = _read_only(_alaw_decode_values(np.arange(256, dtype=np.int64)))


def ulaw_encode(samples: Int16Array) -> NDArray[np.uint8]:
    """int16 samples to G.711 μ-law bytes (one per sample); ``.tobytes()`` gives the wire bytes."""
    values = _int16_array(samples, "ulaw_encode")
    return _encode_table("ulaw")[values.view(np.uint16)]


def ulaw_decode(data: bytes | bytearray | memoryview | NDArray[np.uint8]) -> Int16Array:
    """G.711 μ-law bytes to int16 samples."""
    return _ULAW_DECODE[_codes(data, "ulaw_decode")]


def alaw_encode(samples: Int16Array) -> NDArray[np.uint8]:
    """int16 samples to G.711 A-law bytes (one per sample); ``.tobytes()`` gives the wire bytes."""
    values = _int16_array(samples, "alaw_encode")
    return _encode_table("alaw")[values.view(np.uint16)]


def alaw_decode(data: bytes | bytearray | memoryview | NDArray[np.uint8]) -> Int16Array:
    """G.711 A-law bytes to int16 samples."""
    return _ALAW_DECODE[_codes(data, "alaw_decode")]


def _codes(data: Any, caller: str) -> NDArray[np.uint8]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    if isinstance(data, np.ndarray) and data.dtype == np.uint8:
        return data
    raise TypeError(f"{caller} needs bytes or a uint8 array, not {type(data).__name__}")


# -- durations ------------------------------------------------------------------------------------


def ms_to_samples(ms: float, rate: int = SAMPLE_RATE) -> int:
    """How many whole samples fit in ``ms`` milliseconds (rounded down)."""
    sample_rate = _rate(rate, "rate")
    if not math.isfinite(ms) or ms < 0:
        raise AudioError(f"ms must be a finite, non-negative number, got {ms!r}")
    return math.floor(ms * sample_rate / 1000)


def samples_to_ms(count: int, rate: int = SAMPLE_RATE) -> int:
    """Whole milliseconds in ``count`` samples, computed as the reference client does
    (``floor(n / rate * 1000)``) so ``audio_end_ms`` values match it exactly."""
    sample_rate = _rate(rate, "rate")
    if count < 0:
        raise AudioError(f"count must be non-negative, got {count}")
    return math.floor(count / sample_rate * 1000)


def encode_input_audio(audio: Any, fmt: str) -> tuple[str, Int16Array]:
    """Audio for ``input_audio_buffer.append`` in the session's input format ``fmt``.

    Returns the base64 text to send and the int16 samples the conversation's input track keeps.
    ``audio`` is anything :func:`coerce_pcm16` takes; for the G.711 formats, bytes are taken as
    already encoded.
    """
    if fmt == "pcm16":
        samples = coerce_pcm16(audio)
        return pcm16_to_base64(samples), samples
    law_decode = ulaw_decode if fmt == "g711_ulaw" else alaw_decode
    law_encode = ulaw_encode if fmt == "g711_ulaw" else alaw_encode
    if isinstance(audio, (bytes, bytearray, memoryview)):
        encoded = bytes(audio)
    else:
        encoded = law_encode(coerce_pcm16(audio)).tobytes()
    return pcm16_to_base64(encoded), law_decode(encoded)
