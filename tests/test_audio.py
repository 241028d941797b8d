"""agent_rt.audio: PCM16 conversions, base64, WAV files, resampling, G.711 and durations."""

from __future__ import annotations

import base64
import hashlib
import io
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray

from agent_rt import audio
from agent_rt.audio import (
    SAMPLE_RATE,
    AudioError,
    Float32Array,
    Int16Array,
    alaw_decode,
    alaw_encode,
    base64_to_pcm16,
    bytes_to_pcm16,
    coerce_pcm16,
    float_to_pcm16,
    load_wav_for_realtime,
    ms_to_samples,
    pcm16_to_base64,
    pcm16_to_bytes,
    pcm16_to_float,
    read_wav,
    resample,
    samples_to_ms,
    to_mono,
    ulaw_decode,
    ulaw_encode,
    write_wav,
)
from agent_rt.errors import RealtimeError

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)


def pcm(*values: int) -> Int16Array:
    return np.array(values, dtype=np.int16)


def sine(freq: float, rate: int, seconds: float = 1.0, amplitude: float = 0.5) -> NDArray[np.float64]:
    t = np.arange(round(rate * seconds)) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def peak_hz(samples: NDArray[Any], rate: int) -> float:
    """Frequency of the strongest FFT bin."""
    spectrum = np.abs(np.fft.rfft(np.asarray(samples, dtype=np.float64)))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def middle(samples: NDArray[Any]) -> NDArray[Any]:
    """The central half, away from the edges where the resampler sees padding."""
    n = len(samples)
    return samples[n // 4 : 3 * n // 4]


# -- constants and errors ----------------------------------------------------------------------------


def test_sample_rate_and_aliases() -> None:
    assert SAMPLE_RATE == 24000
    assert Int16Array == NDArray[np.int16]
    assert Float32Array == NDArray[np.float32]


def test_audio_error_is_a_value_error_and_a_realtime_error() -> None:
    assert issubclass(AudioError, ValueError)
    assert issubclass(AudioError, RealtimeError)


# -- float <-> PCM16 -----------------------------------------------------------------------------------


@pytest.mark.filterwarnings("error")  # NaN must be mapped, not cast (an "invalid value" warning)
def test_float_to_pcm16_clips_scales_and_rounds() -> None:
    out = float_to_pcm16(np.array([0.0, 1.0, -1.0, 0.25, 2.0, -3.0, 1e-5, float("nan")]))
    assert out.dtype == np.int16
    assert out.tolist() == [0, 32767, -32767, 8192, 32767, -32767, 0, 0]


def test_float_to_pcm16_accepts_lists_and_float32() -> None:
    assert float_to_pcm16([0.5, -0.5]).tolist() == [16384, -16384]  # 16383.5 rounds to even
    assert float_to_pcm16(np.array([0.1], dtype=np.float32)).tolist() == [3277]


def test_float_to_pcm16_refuses_integer_arrays() -> None:
    with pytest.raises(TypeError, match="float"):
        float_to_pcm16(pcm(1, 2))


def test_pcm16_to_float_divides_by_32768() -> None:
    out = pcm16_to_float(pcm(-32768, 0, 16384, 32767))
    assert out.dtype == np.float32
    assert out.tolist() == [-1.0, 0.0, 0.5, np.float32(32767 / 32768)]


def test_float_round_trip_is_within_one_lsb() -> None:
    back = float_to_pcm16(pcm16_to_float(ALL_INT16))
    assert np.max(np.abs(back.astype(np.int32) - ALL_INT16)) <= 1
    floats = np.random.default_rng(1).uniform(-1, 1, 10000)
    error = np.abs(pcm16_to_float(float_to_pcm16(floats)) - floats)
    # Half a step of rounding, plus the 32767-in / 32768-out scale difference (|x| / 32768).
    assert np.all(error <= (0.5 + np.abs(floats)) / 32768 + 1e-7)
    assert error.max() > 1 / 32768  # the scale difference is real: this bound is not slack


# -- bytes and base64 -------------------------------------------------------------------------------


def test_wire_bytes_are_little_endian() -> None:
    assert pcm16_to_bytes(pcm(1)) == b"\x01\x00"
    assert pcm16_to_bytes(pcm(0x1234, -2)) == b"\x34\x12\xfe\xff"
    big_endian = np.array([0x1234, -2], dtype=">i2")
    assert pcm16_to_bytes(big_endian) == b"\x34\x12\xfe\xff"
    assert bytes_to_pcm16(b"\x01\x00\xff\x7f\x00\x80").tolist() == [1, 32767, -32768]


def test_bytes_round_trip_is_exact() -> None:
    data = pcm16_to_bytes(ALL_INT16)
    assert len(data) == 2 * 65536
    back = bytes_to_pcm16(data)
    assert back.dtype == np.int16
    assert np.array_equal(back, ALL_INT16)


@given(st.lists(st.integers(-32768, 32767), max_size=200))
def test_bytes_and_base64_round_trip_any_samples(values: list[int]) -> None:
    samples = np.array(values, dtype=np.int16)
    assert bytes_to_pcm16(pcm16_to_bytes(samples)).tolist() == values
    assert base64_to_pcm16(pcm16_to_base64(samples)).tolist() == values


def test_bytes_to_pcm16_is_a_view_not_a_copy() -> None:
    buffer = bytearray(b"\x01\x00\x02\x00")
    samples = bytes_to_pcm16(buffer)
    buffer[0] = 9
    assert samples.tolist() == [9, 2]


def test_bytes_to_pcm16_takes_memoryviews_of_any_format() -> None:
    source = np.array([5, -6], dtype=np.int16)
    assert bytes_to_pcm16(source.data).tolist() == [5, -6]  # format "h": nbytes, not len, counts
    assert bytes_to_pcm16(memoryview(b"\x07\x00")).tolist() == [7]


def test_bytes_to_pcm16_rejects_odd_lengths_and_other_types() -> None:
    with pytest.raises(ValueError, match="even number of bytes"):
        bytes_to_pcm16(b"\x01\x00\x02")
    with pytest.raises(TypeError, match="bytes"):
        bytes_to_pcm16([1, 0])  # type: ignore[arg-type]


def test_base64_known_value_and_round_trip() -> None:
    assert pcm16_to_base64(pcm(1, 2)) == "AQACAA=="
    assert base64_to_pcm16("AQACAA==").tolist() == [1, 2]
    samples = ALL_INT16[::7]
    assert np.array_equal(base64_to_pcm16(pcm16_to_base64(samples)), samples)


def test_pcm16_to_base64_passes_bytes_through() -> None:
    assert pcm16_to_base64(b"\xff\x00\x10") == base64.b64encode(b"\xff\x00\x10").decode()


@pytest.mark.parametrize("garbage", ["not base64!", "AQACAA=", "AQAC AA==", "ÀQAC", "AQ\nAC"])
def test_base64_to_pcm16_rejects_garbage(garbage: str) -> None:
    with pytest.raises(ValueError, match="not valid base64"):
        base64_to_pcm16(garbage)


def test_base64_to_pcm16_rejects_odd_byte_counts_and_non_strings() -> None:
    with pytest.raises(ValueError, match="even number of bytes"):
        base64_to_pcm16("AQ==")
    with pytest.raises(TypeError, match="str"):
        base64_to_pcm16(b"AQACAA==")  # type: ignore[arg-type]


# -- coerce_pcm16 -----------------------------------------------------------------------------------


def test_coerce_keeps_int16_arrays_as_they_are() -> None:
    samples = pcm(1, -2, 3)
    assert coerce_pcm16(samples) is samples


def test_coerce_converts_foreign_byte_order() -> None:
    out = coerce_pcm16(np.array([1, -2], dtype=">i2"))
    assert out.dtype == np.int16
    assert out.dtype.isnative
    assert out.tolist() == [1, -2]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_coerce_converts_float_arrays(dtype: type[np.floating[Any]]) -> None:
    out = coerce_pcm16(np.array([0.0, 0.5, -1.0, 1.5], dtype=dtype))
    assert out.dtype == np.int16
    assert out.tolist() == [0, 16384, -32767, 32767]


@pytest.mark.parametrize(
    "given_audio",
    [b"\x01\x00\xfe\xff", bytearray(b"\x01\x00\xfe\xff"), memoryview(b"\x01\x00\xfe\xff"), "AQD+/w=="],
)
def test_coerce_decodes_bytes_and_base64(given_audio: bytes | bytearray | memoryview | str) -> None:
    out = coerce_pcm16(given_audio)
    assert out.dtype == np.int16
    assert out.tolist() == [1, -2]


@pytest.mark.parametrize(
    "bad",
    [np.zeros((4, 2), dtype=np.int16), np.zeros((4, 2), dtype=np.float32), np.array(3, dtype=np.int16)],
)
def test_coerce_rejects_arrays_that_are_not_1d(bad: NDArray[Any]) -> None:
    with pytest.raises(ValueError, match="1-D"):
        coerce_pcm16(bad)


@pytest.mark.parametrize(
    "bad", [np.zeros(4, dtype=np.int32), np.zeros(4, dtype=np.uint8), np.zeros(4, dtype=np.complex64)]
)
def test_coerce_rejects_other_dtypes(bad: NDArray[Any]) -> None:
    with pytest.raises(TypeError, match="int16"):
        coerce_pcm16(bad)


@pytest.mark.parametrize("bad", [[1, 2, 3], None, 3, (0.5,)])
def test_coerce_rejects_other_objects(bad: Any) -> None:
    with pytest.raises(TypeError, match="numpy array, PCM16 bytes or a base64 str"):
        coerce_pcm16(bad)


def test_coerce_rejects_bad_bytes_and_base64() -> None:
    with pytest.raises(ValueError, match="even"):
        coerce_pcm16(b"\x01")
    with pytest.raises(ValueError, match="base64"):
        coerce_pcm16("%%%")


# -- to_mono ----------------------------------------------------------------------------------------


def test_to_mono_averages_channels_and_keeps_int16() -> None:
    stereo = np.array([[100, 200], [-3, -4], [32767, 32767], [-32768, -32768], [1, 2]], dtype=np.int16)
    out = to_mono(stereo)
    assert out.dtype == np.int16
    assert out.tolist() == [150, -4, 32767, -32768, 2]  # halves round to even


def test_to_mono_keeps_float_dtype() -> None:
    out = to_mono(np.array([[0.5, 0.25, 0.0]], dtype=np.float32))
    assert out.dtype == np.float32
    assert out.tolist() == [0.25]


def test_to_mono_passes_mono_through() -> None:
    mono = pcm(1, 2)
    assert to_mono(mono) is mono
    assert to_mono(np.array([[4], [5]], dtype=np.int16)).tolist() == [4, 5]


def test_to_mono_rejects_other_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(n, channels\)"):
        to_mono(np.zeros((2, 2, 2), dtype=np.int16))


# -- resample -------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000, 44101])
def test_resample_one_second_gives_24000_samples(rate: int) -> None:
    out = resample(float_to_pcm16(sine(440, rate)), rate)
    assert out.dtype == np.int16
    assert out.shape == (24000,)


def test_resample_length_rounds_up() -> None:
    assert resample(np.zeros(10, dtype=np.int16), 44100).shape == (6,)  # 10 * 24000 / 44100 = 5.44
    assert resample(np.zeros(0, dtype=np.int16), 16000).shape == (0,)


@pytest.mark.parametrize(
    ("rate", "freq"), [(16000, 1000), (44100, 440), (44100, 5000), (8000, 3000), (44101, 700)]
)
def test_resample_preserves_a_sines_frequency_and_level(rate: int, freq: int) -> None:
    out = resample(sine(freq, rate), rate)
    assert out.dtype == np.float32
    assert peak_hz(out, SAMPLE_RATE) == freq
    assert np.max(np.abs(middle(out))) == pytest.approx(0.5, rel=0.01)


def test_resample_down_to_8k_for_telephony() -> None:
    out = resample(sine(1000, SAMPLE_RATE), SAMPLE_RATE, 8000)
    assert out.shape == (8000,)
    assert peak_hz(out, 8000) == 1000


def test_resample_rejects_what_would_alias() -> None:
    # 15 kHz is above the new 12 kHz Nyquist frequency; linear interpolation would fold it to 9 kHz at
    # a large fraction of its level. The low-pass must remove it (here by more than 60 dB).
    out = resample(sine(15000, 44100), 44100)
    assert np.max(np.abs(middle(out))) < 0.5e-3


@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000, 44101])
def test_resample_keeps_a_constant_constant(rate: int) -> None:
    # Every filter phase must sum to one, or a constant comes out rippled (by ~2e-5 unnormalised).
    out = resample(np.ones(rate // 10), rate)
    assert np.max(np.abs(middle(out) - 1.0)) < 1e-6
    assert set(middle(resample(np.full(rate // 10, 1000, dtype=np.int16), rate)).tolist()) == {1000}


def test_resample_clips_int16_overshoot_instead_of_wrapping() -> None:
    square = np.where(np.sin(2 * np.pi * 100 * np.arange(44100) / 44100) >= 0, 32767, -32768).astype(np.int16)
    out = resample(square, 44100).astype(np.int32)
    expected = np.where(np.sin(2 * np.pi * 100 * np.arange(24000) / 24000) >= 0, 1, -1)
    settled = np.abs(np.sin(2 * np.pi * 100 * np.arange(24000) / 24000)) > 0.3  # away from the edges
    assert np.all(out[settled] * expected[settled] > 30000)


def test_resample_stereo_matches_each_channel() -> None:
    left, right = float_to_pcm16(sine(440, 16000)), float_to_pcm16(sine(1000, 16000, amplitude=0.2))
    out = resample(np.stack([left, right], axis=1), 16000)
    assert out.shape == (24000, 2)
    assert np.array_equal(out[:, 0], resample(left, 16000))
    assert np.array_equal(out[:, 1], resample(right, 16000))


def test_resample_same_rate_returns_the_input() -> None:
    samples = pcm(1, 2, 3)
    assert resample(samples, SAMPLE_RATE) is samples


@pytest.mark.parametrize(
    ("from_rate", "to_rate"), [(0, 24000), (-8000, 24000), (16000, 0), (1.5, 24000), (True, 2)]
)
def test_resample_rejects_bad_rates(from_rate: Any, to_rate: Any) -> None:
    with pytest.raises(ValueError, match="positive integer"):
        resample(pcm(1, 2), from_rate, to_rate)


def test_resample_rejects_other_dtypes_and_shapes() -> None:
    with pytest.raises(TypeError, match="int16 or float"):
        resample(np.zeros(4, dtype=np.int32), 16000)
    with pytest.raises(ValueError, match="shape"):
        resample(np.zeros((2, 2, 2), dtype=np.int16), 16000)


# -- WAV --------------------------------------------------------------------------------------------


def wav_file(
    data: bytes, *, bits: int = 16, channels: int = 1, rate: int = 8000, tag: int = 1, size: int | None = None
) -> bytes:
    """A WAV file built by hand (not by the code under test): RIFF header, fmt chunk, data chunk."""
    block = channels * ((bits + 7) // 8)
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data) if size is None else size) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def little_endian(values: list[int], width: int) -> bytes:
    """Signed integers as ``width``-byte little-endian, concatenated."""
    return b"".join(value.to_bytes(width, "little", signed=True) for value in values)


def test_write_wav_bytes_are_standard_pcm() -> None:
    out = io.BytesIO()
    write_wav(out, pcm(1, -2), 16000)
    data = out.getvalue()
    assert data[:4] == b"RIFF"
    assert data[8:16] == b"WAVEfmt "
    tag, channels, rate, byte_rate, block, bits = struct.unpack("<HHIIHH", data[20:36])
    assert (tag, channels, rate, byte_rate, block, bits) == (1, 1, 16000, 32000, 2, 16)
    assert data[36:44] == b"data" + struct.pack("<I", 4)
    assert data[44:] == b"\x01\x00\xfe\xff"


def test_wav_round_trip_mono(tmp_path: Path) -> None:
    path = tmp_path / "mono.wav"
    write_wav(path, ALL_INT16)  # default rate
    samples, rate = read_wav(path)
    assert rate == SAMPLE_RATE
    assert samples.dtype == np.int16
    assert np.array_equal(samples, ALL_INT16)
    samples_again, _ = read_wav(str(path))
    assert np.array_equal(samples_again, ALL_INT16)


def test_wav_round_trip_stereo_through_a_file_object() -> None:
    stereo = np.stack([ALL_INT16[:1000], ALL_INT16[-1000:]], axis=1)
    buffer = io.BytesIO()
    write_wav(buffer, stereo, 44100)
    buffer.seek(0)
    samples, rate = read_wav(buffer)
    assert rate == 44100
    assert samples.shape == (1000, 2)
    assert np.array_equal(samples, stereo)


def test_write_wav_works_on_a_stream_that_cannot_seek() -> None:
    class WriteOnly:
        def __init__(self) -> None:
            self.data = bytearray()

        def write(self, chunk: bytes) -> int:
            self.data += chunk
            return len(chunk)

        def flush(self) -> None:
            pass

    stream = WriteOnly()
    write_wav(stream, pcm(7, 8), 8000)  # type: ignore[arg-type]
    samples, rate = read_wav(io.BytesIO(bytes(stream.data)))
    assert (samples.tolist(), rate) == ([7, 8], 8000)


def test_write_wav_rejects_non_int16_and_bad_shapes() -> None:
    with pytest.raises(TypeError, match="int16"):
        write_wav(io.BytesIO(), np.zeros(4, dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        write_wav(io.BytesIO(), np.zeros((2, 2, 2), dtype=np.int16))
    with pytest.raises(ValueError, match="positive integer"):
        write_wav(io.BytesIO(), pcm(1), 0)


def test_read_8bit_unsigned() -> None:
    samples, rate = read_wav(io.BytesIO(wav_file(bytes([0, 128, 255, 64]), bits=8, rate=11025)))
    assert rate == 11025
    assert samples.dtype == np.int16
    assert samples.tolist() == [-32768, 0, 32512, -16384]


def test_read_16bit() -> None:
    samples, _ = read_wav(io.BytesIO(wav_file(little_endian([1, -2, 32767, -32768], 2))))
    assert samples.tolist() == [1, -2, 32767, -32768]


def test_read_24bit_keeps_the_top_16_bits() -> None:
    values = [0x7FFFFF, -0x800000, 0x000100, 0x0000FF, -1, 0x123456, -0x123456]
    samples, _ = read_wav(io.BytesIO(wav_file(little_endian(values, 3), bits=24)))
    assert samples.dtype == np.int16
    assert samples.tolist() == [value >> 8 for value in values]
    assert samples.tolist() == [32767, -32768, 1, 0, -1, 0x1234, -0x1235]


def test_read_24bit_stereo() -> None:
    data = little_endian([0x010000, -0x020000, 0x030000, -0x040000], 3)
    samples, _ = read_wav(io.BytesIO(wav_file(data, bits=24, channels=2)))
    assert samples.shape == (2, 2)
    assert samples.tolist() == [[0x0100, -0x0200], [0x0300, -0x0400]]


def test_read_32bit_keeps_the_top_16_bits() -> None:
    values = [0x7FFFFFFF, -0x80000000, 0x00010000, 0x12345678, -1, 0x0000FFFF]
    samples, _ = read_wav(io.BytesIO(wav_file(little_endian(values, 4), bits=32)))
    assert samples.dtype == np.int16
    assert samples.tolist() == [32767, -32768, 1, 0x1234, -1, 0]


def test_read_wav_with_unknown_data_size_from_a_streaming_writer() -> None:
    data = wav_file(little_endian([3, 4, 5], 2), size=0xFFFFFFFF)
    samples, _ = read_wav(io.BytesIO(data))
    assert samples.tolist() == [3, 4, 5]


def test_read_wav_rejects_float_wav() -> None:
    data = wav_file(np.array([0.5], dtype="<f4").tobytes(), bits=32, tag=3)
    with pytest.raises(ValueError, match=r"format tag 3 \(IEEE float\) is not integer PCM"):
        read_wav(io.BytesIO(data))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"this is not a wav file at all", "RIFF"),
        (b"RIFF\x04\x00\x00\x00WAVX", "not a WAVE file"),
        (b"RIFF\x10\x00\x00", "ends inside its header"),
        (wav_file(b"\x01\x00\x02\x00", size=40), "truncated file, 2 of 20"),
        (wav_file(b"\x01\x00\x02", size=4), "ends inside a frame"),
        (wav_file(b"\x01\x00", rate=0), "bad sample rate 0"),
        (wav_file(b"\x00" * 10, bits=40), "40-bit samples are not supported"),
    ],
)
def test_read_wav_rejects_broken_files_with_the_reason(data: bytes, reason: str) -> None:
    with pytest.raises(AudioError, match=reason):
        read_wav(io.BytesIO(data))


def test_read_wav_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_wav(tmp_path / "absent.wav")


def test_load_wav_for_realtime_mixes_and_resamples(tmp_path: Path) -> None:
    left = float_to_pcm16(sine(1000, 48000, seconds=0.5, amplitude=0.4))
    right = float_to_pcm16(sine(1000, 48000, seconds=0.5, amplitude=0.2))
    path = tmp_path / "stereo48k.wav"
    write_wav(path, np.stack([left, right], axis=1), 48000)
    out = load_wav_for_realtime(path)
    assert out.dtype == np.int16
    assert out.shape == (12000,)
    assert peak_hz(out, SAMPLE_RATE) == 1000
    assert np.max(np.abs(middle(out))) == pytest.approx(0.3 * 32767, rel=0.01)  # mean of the two channels


# -- G.711 ----------------------------------------------------------------------------------------

# CPython's audioop.ulaw2lin / alaw2lin (C, Sun g711.c lineage) over codes 0..255, as little-endian int16.
ULAW_DECODE_REFERENCE = bytes.fromhex(
    "84828486848a848e84928496849a849e84a284a684aa84ae84b284b684ba84be84c184c384c584c784c984cb84cd84cf"
    "84d184d384d584d784d984db84dd84df04e104e204e304e404e504e604e704e804e904ea04eb04ec04ed04ee04ef04f0"
    "c4f044f1c4f144f2c4f244f3c4f344f4c4f444f5c4f544f6c4f644f7c4f744f8a4f8e4f824f964f9a4f9e4f924fa64fa"
    "a4fae4fa24fb64fba4fbe4fb24fc64fc94fcb4fcd4fcf4fc14fd34fd54fd74fd94fdb4fdd4fdf4fd14fe34fe54fe74fe"
    "8cfe9cfeacfebcfeccfedcfeecfefcfe0cff1cff2cff3cff4cff5cff6cff7cff88ff90ff98ffa0ffa8ffb0ffb8ffc0ff"
    "c8ffd0ffd8ffe0ffe8fff0fff8ff00007c7d7c797c757c717c6d7c697c657c617c5d7c597c557c517c4d7c497c457c41"
    "7c3e7c3c7c3a7c387c367c347c327c307c2e7c2c7c2a7c287c267c247c227c20fc1efc1dfc1cfc1bfc1afc19fc18fc17"
    "fc16fc15fc14fc13fc12fc11fc10fc0f3c0fbc0e3c0ebc0d3c0dbc0c3c0cbc0b3c0bbc0a3c0abc093c09bc083c08bc07"
    "5c071c07dc069c065c061c06dc059c055c051c05dc049c045c041c04dc039c036c034c032c030c03ec02cc02ac028c02"
    "6c024c022c020c02ec01cc01ac018c0174016401540144013401240114010401f400e400d400c400b400a40094008400"
    "7800700068006000580050004800400038003000280020001800100008000000"
)
ALAW_DECODE_REFERENCE = bytes.fromhex(
    "80ea80eb80e880e980ee80ef80ec80ed80e280e380e080e180e680e780e480e540f5c0f540f4c0f440f7c0f740f6c0f6"
    "40f1c0f140f0c0f040f3c0f340f2c0f200aa00ae00a200a600ba00be00b200b6008a008e00820086009a009e00920096"
    "00d500d700d100d300dd00df00d900db00c500c700c100c300cd00cf00c900cba8feb8fe88fe98fee8fef8fec8fed8fe"
    "28fe38fe08fe18fe68fe78fe48fe58fea8ffb8ff88ff98ffe8fff8ffc8ffd8ff28ff38ff08ff18ff68ff78ff48ff58ff"
    "a0fae0fa20fa60faa0fbe0fb20fb60fba0f8e0f820f860f8a0f9e0f920f960f950fd70fd10fd30fdd0fdf0fd90fdb0fd"
    "50fc70fc10fc30fcd0fcf0fc90fcb0fc80158014801780168011801080138012801d801c801f801e80198018801b801a"
    "c00a400ac00b400bc0084008c0094009c00e400ec00f400fc00c400cc00d400d00560052005e005a00460042004e004a"
    "00760072007e007a00660062006e006a002b0029002f002d0023002100270025003b0039003f003d0033003100370035"
    "58014801780168011801080138012801d801c801f801e80198018801b801a80158004800780068001800080038002800"
    "d800c800f800e80098008800b800a80060052005e005a00560042004e004a00460072007e007a00760062006e006a006"
    "b0029002f002d0023002100270025002b0039003f003d0033003100370035003"
)
# SHA-256 of audioop.lin2alaw over all int16 values -32768..32767, and of audioop.lin2ulaw over 0..32767.
ALAW_ENCODE_ALL_SHA256 = "38488f6fd710f4686360edc4d38639f96c491595ef93f8eb8d62d5e07ca6ce7b"
ULAW_ENCODE_NON_NEGATIVE_SHA256 = "912062bf9c931c7ebc1dc1fd1d74faf0cfefcd47e8408a3ed4d07aa59f0f1c20"

CODES = bytes(range(256))


def test_g711_silence_codes() -> None:
    assert ulaw_encode(pcm(0)).tolist() == [0xFF]
    assert alaw_encode(pcm(0)).tolist() == [0xD5]
    assert ulaw_decode(b"\xff\x7f").tolist() == [0, 0]
    assert alaw_decode(b"\xd5\x55").tolist() == [8, -8]


def test_g711_known_extremes() -> None:
    assert ulaw_encode(pcm(32767, -32768, 32124, -32124)).tolist() == [0x80, 0x00, 0x80, 0x00]
    assert ulaw_decode(b"\x80\x00").tolist() == [32124, -32124]
    assert alaw_encode(pcm(32767, -32768)).tolist() == [0xAA, 0x2A]
    assert alaw_decode(b"\xaa\x2a").tolist() == [32256, -32256]
    assert ulaw_decode(b"\xf0").tolist() == [120]  # top of segment 0: 15 steps of 8


def test_ulaw_decode_table_matches_the_reference() -> None:
    assert ulaw_decode(CODES).tolist() == np.frombuffer(ULAW_DECODE_REFERENCE, dtype="<i2").tolist()


def test_alaw_decode_table_matches_the_reference() -> None:
    assert alaw_decode(CODES).tolist() == np.frombuffer(ALAW_DECODE_REFERENCE, dtype="<i2").tolist()


def test_alaw_encode_matches_the_reference_for_every_int16() -> None:
    assert hashlib.sha256(alaw_encode(ALL_INT16).tobytes()).hexdigest() == ALAW_ENCODE_ALL_SHA256


def test_ulaw_encode_matches_the_reference_for_non_negative_values() -> None:
    encoded = ulaw_encode(ALL_INT16[32768:])
    assert hashlib.sha256(encoded.tobytes()).hexdigest() == ULAW_ENCODE_NON_NEGATIVE_SHA256


def test_ulaw_encode_is_symmetric() -> None:
    positive = ALL_INT16[32769:]  # 1 .. 32767
    assert np.array_equal(ulaw_encode(-positive), ulaw_encode(positive) ^ 0x80)


def test_g711_decode_tables_are_monotonic_and_symmetric() -> None:
    ulaw = ulaw_decode(CODES).astype(np.int32)
    assert np.all(np.diff(ulaw[0xFF:0x7F:-1]) > 0)  # positive codes: 0xFF (zero) down to 0x80 (max)
    assert np.all(np.diff(ulaw[0x7F::-1]) < 0)  # negative codes: 0x7F (zero) down to 0x00 (min)
    assert np.array_equal(ulaw[np.arange(256) ^ 0x80], -ulaw)
    alaw = alaw_decode(CODES).astype(np.int32)
    by_magnitude = np.arange(0x80, 0x100) ^ 0x55  # sign bit set, magnitude 0..127, even bits inverted
    assert np.all(np.diff(alaw[by_magnitude]) > 0)
    assert np.array_equal(alaw[np.arange(256) ^ 0x80], -alaw)


def half_step(decoded: NDArray[np.int32], law: str) -> NDArray[np.int32]:
    """Half the quantisation step of the segment each decoded level is in."""
    magnitude = np.abs(decoded)
    if law == "ulaw":  # segments start at 0, 132, 396, 924, ... with steps 8, 16, 32, ...
        segment = np.floor(np.log2((magnitude + 132) // 132)).astype(np.int32)
        return np.asarray(4 << segment, dtype=np.int32)
    segment = np.maximum(np.floor(np.log2(np.maximum(magnitude, 1) / 256)).astype(np.int32) + 1, 0)
    return np.asarray(8 << np.maximum(segment - 1, 0), dtype=np.int32)


def test_ulaw_round_trip_error_is_within_half_a_step() -> None:
    decoded = ulaw_decode(ulaw_encode(ALL_INT16)).astype(np.int32)
    inside = np.abs(ALL_INT16.astype(np.int32)) <= 32635  # beyond that the top level saturates
    error = np.abs(decoded - ALL_INT16)
    assert np.all(error[inside] <= half_step(decoded, "ulaw")[inside])
    assert np.all(np.abs(decoded[~inside]) == 32124)
    assert np.all(np.diff(decoded) >= 0)  # quantisation never reorders samples


def test_alaw_round_trip_error_is_within_half_a_step() -> None:
    decoded = alaw_decode(alaw_encode(ALL_INT16)).astype(np.int32)
    error = np.abs(decoded - ALL_INT16)
    assert error.max() == 512  # top segment, step 1024
    assert np.all(error <= half_step(decoded, "alaw"))
    assert np.all(np.diff(decoded) >= 0)


def test_g711_levels_are_fixed_points() -> None:
    for encode, decode in ((ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)):
        levels = decode(CODES)
        assert np.array_equal(decode(encode(levels)), levels)


def test_g711_accepts_byte_kinds_and_keeps_shape() -> None:
    encoded = ulaw_encode(pcm(0, 1000, -1000))
    assert encoded.dtype == np.uint8
    for data in (encoded, encoded.tobytes(), bytearray(encoded.tobytes()), memoryview(encoded.tobytes())):
        assert ulaw_decode(data).tolist() == [0, 988, -988]  # segment 3: steps of 64 from 924
    assert alaw_encode(np.zeros((2, 3), dtype=np.int16)).shape == (2, 3)
    assert alaw_decode(b"").shape == (0,)


def test_g711_rejects_wrong_types() -> None:
    with pytest.raises(TypeError, match="int16"):
        ulaw_encode(np.zeros(3, dtype=np.float32))
    with pytest.raises(TypeError, match="int16"):
        alaw_encode(np.zeros(3, dtype=np.int32))
    with pytest.raises(TypeError, match="bytes or a uint8 array"):
        ulaw_decode([1, 2])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bytes or a uint8 array"):
        alaw_decode(np.zeros(3, dtype=np.int16))


# -- durations ------------------------------------------------------------------------------------


def test_ms_to_samples_floors() -> None:
    assert ms_to_samples(1000) == 24000
    assert ms_to_samples(0.5) == 12
    assert ms_to_samples(0.03) == 0  # 0.72 samples
    assert ms_to_samples(1.99, 1000) == 1
    assert ms_to_samples(10, 8000) == 80


def test_samples_to_ms_floors_like_the_reference_client() -> None:
    assert samples_to_ms(24000) == 1000
    assert samples_to_ms(23999) == 999
    assert samples_to_ms(12) == 0
    assert samples_to_ms(8000, 8000) == 1000
    # floor(24024 / 24000 * 1000): the float division gives 1000.9999999999999, so the reference client's
    # formula says 1000 where exact arithmetic says 1001; audio_end_ms must agree with the reference.
    assert samples_to_ms(24024) == 1000


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_ms_to_samples_rejects_bad_durations(bad: float) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        ms_to_samples(bad)


def test_duration_helpers_reject_bad_rates_and_counts() -> None:
    with pytest.raises(ValueError, match="positive integer"):
        ms_to_samples(10, 0)
    with pytest.raises(ValueError, match="positive integer"):
        samples_to_ms(10, -1)
    with pytest.raises(ValueError, match="non-negative"):
        samples_to_ms(-1)


def test_module_exports_its_public_names() -> None:
    assert set(audio.__all__) >= {"coerce_pcm16", "read_wav", "resample", "ulaw_encode", "Int16Array"}
    assert all(hasattr(audio, name) for name in audio.__all__)
