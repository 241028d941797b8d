"""AudioBuffer (growable int16 storage) and InputAudioTrack (the client's copy of appended input audio)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_rt.protocol.audio_buffer import AudioBuffer, InputAudioTrack, Int16Array, empty_audio


def ramp(start: int, count: int) -> Int16Array:
    """Samples whose values are their own (wrapped) session offsets, so any slice is checkable."""
    return (np.arange(start, start + count) % 30000).astype(np.int16)


# -- AudioBuffer -------------------------------------------------------------------------------


def test_empty_buffer() -> None:
    buffer = AudioBuffer()
    assert len(buffer) == 0
    assert buffer.view().dtype == np.int16
    assert len(buffer.view()) == 0
    assert len(buffer.compact()) == 0


def test_empty_audio_is_read_only_and_empty() -> None:
    empty = empty_audio()
    assert empty.dtype == np.int16
    assert len(empty) == 0
    assert not empty.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        empty[:] = 1


def test_initial_samples_are_copied() -> None:
    initial = ramp(0, 10)
    buffer = AudioBuffer(initial)
    initial[:] = -1
    np.testing.assert_array_equal(buffer.view(), ramp(0, 10))


def test_appends_give_exact_content() -> None:
    rng = np.random.default_rng(1234)
    buffer = AudioBuffer()
    expected: list[Int16Array] = []
    for _ in range(500):
        chunk = rng.integers(-32768, 32767, size=int(rng.integers(0, 700)), dtype=np.int16)
        buffer.append(chunk)
        expected.append(chunk)
    whole = np.concatenate(expected)
    assert len(buffer) == len(whole)
    np.testing.assert_array_equal(buffer.view(), whole)
    np.testing.assert_array_equal(buffer.compact(), whole)


def test_append_copies_the_samples() -> None:
    chunk = ramp(0, 100)
    buffer = AudioBuffer()
    buffer.append(chunk)
    chunk[:] = 0
    np.testing.assert_array_equal(buffer.view(), ramp(0, 100))


def test_append_empty_is_a_no_op() -> None:
    buffer = AudioBuffer(ramp(0, 5))
    buffer.append(np.zeros(0, dtype=np.int16))
    np.testing.assert_array_equal(buffer.view(), ramp(0, 5))


def test_view_is_not_a_copy() -> None:
    buffer = AudioBuffer()
    buffer.append(ramp(0, 100))
    view = buffer.view()
    assert view.base is not None
    assert np.shares_memory(view, buffer.view())


def test_growth_is_geometric() -> None:
    """10,000 appends reallocate O(log n) times (each reallocation makes a new backing array)."""
    buffer = AudioBuffer()
    backing: list[Any] = []
    for i in range(10_000):
        buffer.append(ramp(i * 100, 100))
        base = buffer.view().base
        assert base is not None
        if not backing or base is not backing[-1]:
            backing.append(base)
    total = 10_000 * 100
    assert len(buffer) == total
    # 1.5x growth from 4096 samples: ceil(log_1.5(10**6 / 4096)) + 1 = 15; copying per append: 10,000.
    assert len(backing) <= 20
    capacities = [len(b) for b in backing]
    assert capacities == sorted(capacities)
    assert all(later >= 1.4 * earlier for earlier, later in itertools.pairwise(capacities[1:]))
    np.testing.assert_array_equal(buffer.view(), ramp(0, total))


def test_compact_drops_spare_capacity() -> None:
    buffer = AudioBuffer()
    buffer.append(ramp(0, 5000))
    compacted = buffer.compact()
    assert len(compacted) == 5000
    assert compacted.base is None  # owns exactly its samples
    assert compacted.nbytes == 5000 * 2
    np.testing.assert_array_equal(compacted, ramp(0, 5000))
    assert buffer.compact() is compacted  # already compact: no second copy


def test_append_after_compact_keeps_compacted_array_intact() -> None:
    buffer = AudioBuffer()
    buffer.append(ramp(0, 10))
    compacted = buffer.compact()
    buffer.append(ramp(10, 10))
    np.testing.assert_array_equal(compacted, ramp(0, 10))
    np.testing.assert_array_equal(buffer.view(), ramp(0, 20))


@pytest.mark.parametrize(("size", "kept"), [(0, 0), (-5, 0), (40, 40), (100, 100), (1000, 100)])
def test_truncate(size: int, kept: int) -> None:
    buffer = AudioBuffer(ramp(0, 100))
    buffer.truncate(size)
    assert len(buffer) == kept
    np.testing.assert_array_equal(buffer.view(), ramp(0, kept))
    np.testing.assert_array_equal(buffer.compact(), ramp(0, kept))


def test_append_after_truncate() -> None:
    buffer = AudioBuffer(ramp(0, 100))
    buffer.truncate(30)
    buffer.append(ramp(1000, 5))
    np.testing.assert_array_equal(buffer.view(), np.concatenate([ramp(0, 30), ramp(1000, 5)]))


# -- InputAudioTrack -------------------------------------------------------------------------

RATE = 24000


def test_track_counts_and_slices_by_ms() -> None:
    track = InputAudioTrack()
    assert track.sample_rate == RATE
    for i in range(10):
        track.append(ramp(i * 2400, 2400))  # 100 ms chunks
    assert track.total_samples == 24000
    assert track.pending_samples == 24000
    np.testing.assert_array_equal(track.slice_ms(250, 750), ramp(6000, 12000))
    np.testing.assert_array_equal(track.slice_ms(0, 1000), ramp(0, 24000))
    assert track.ms_to_offset(1000) == 24000
    assert track.ms_to_offset(12.5) == 300


def test_track_slice_is_clamped_and_a_copy() -> None:
    track = InputAudioTrack()
    track.append(ramp(0, 2400))
    np.testing.assert_array_equal(track.slice_ms(50, 5000), ramp(1200, 1200))
    assert len(track.slice_ms(200, 300)) == 0
    assert len(track.slice_ms(80, 20)) == 0
    piece = track.slice_ms(0, 50)
    piece[:] = -7
    np.testing.assert_array_equal(track.slice_ms(0, 50), ramp(0, 1200))


def test_track_keeps_its_own_copy_of_appended_audio() -> None:
    """Callers reuse their capture buffers: the track must not alias them."""
    track = InputAudioTrack()
    chunk = ramp(0, 2400)
    track.append(chunk)
    chunk[:] = 0  # the application refills its buffer with the next capture
    np.testing.assert_array_equal(track.slice_ms(0, 100), ramp(0, 2400))
    taken = track.take_all()
    np.testing.assert_array_equal(taken, ramp(0, 2400))
    assert not np.shares_memory(taken, chunk)


def test_track_commit_until_ms_forgets_committed_audio() -> None:
    track = InputAudioTrack()
    track.speech_started()
    track.append(ramp(0, 48000))  # 2 s
    track.commit_until_ms(1500)
    assert track.total_samples == 48000
    assert track.pending_samples == 12000
    assert len(track.slice_ms(0, 1500)) == 0  # forgotten
    np.testing.assert_array_equal(track.slice_ms(1000, 2000), ramp(36000, 12000))
    track.append(ramp(48000, 2400))
    np.testing.assert_array_equal(track.slice_ms(1500, 2100), ramp(36000, 14400))


def test_track_take_all_then_offsets_keep_counting() -> None:
    track = InputAudioTrack()
    track.append(ramp(0, 1000))
    track.append(ramp(1000, 500))
    np.testing.assert_array_equal(track.take_all(), ramp(0, 1500))
    assert track.pending_samples == 0
    assert track.total_samples == 1500
    assert len(track.take_all()) == 0
    track.append(ramp(1500, 300))
    assert track.total_samples == 1800
    np.testing.assert_array_equal(track.take_all(), ramp(1500, 300))


def test_track_clear() -> None:
    track = InputAudioTrack()
    track.append(ramp(0, 4800))
    track.clear()
    assert track.pending_samples == 0
    assert track.total_samples == 4800
    assert len(track.slice_ms(0, 200)) == 0
    track.append(ramp(4800, 2400))
    np.testing.assert_array_equal(track.slice_ms(0, 300), ramp(4800, 2400))


def test_track_idle_trimming_keeps_at_most_max_idle_seconds() -> None:
    track = InputAudioTrack()
    limit = int(InputAudioTrack.MAX_IDLE_SECONDS * RATE)
    chunk = 4800  # 200 ms
    for i in range(100):  # 20 s, no speech open
        track.append(ramp(i * chunk, chunk))
        assert track.pending_samples <= limit
    total = 100 * chunk
    assert track.total_samples == total
    assert track.pending_samples == limit
    # offsets keep counting: what is kept is exactly the last 10 s, addressed by session time
    end_ms = total * 1000 // RATE
    start_ms = end_ms - int(InputAudioTrack.MAX_IDLE_SECONDS * 1000)
    np.testing.assert_array_equal(track.slice_ms(start_ms, end_ms), ramp(total - limit, limit))
    assert len(track.slice_ms(0, start_ms)) == 0


def test_track_trimming_with_chunks_not_aligned_to_the_limit() -> None:
    track = InputAudioTrack()
    limit = int(InputAudioTrack.MAX_IDLE_SECONDS * RATE)
    offset = 0
    for size in [1000, 77777, 3, 150000, 12345, 99999, 1]:
        track.append(ramp(offset, size))
        offset += size
        kept = min(offset, limit)
        assert track.pending_samples == kept
        start = offset - kept
        np.testing.assert_array_equal(track.slice_ms(0, 10**9), ramp(start, kept))


def test_track_does_not_trim_while_speech_is_open() -> None:
    track = InputAudioTrack()
    track.speech_started()
    for i in range(75):  # 15 s of speech
        track.append(ramp(i * 4800, 4800))
    assert track.pending_samples == 75 * 4800
    np.testing.assert_array_equal(track.slice_ms(0, 15000), ramp(0, 75 * 4800))
    track.commit_until_ms(15000)
    assert track.pending_samples == 0
    track.append(ramp(75 * 4800, 4800))
    assert track.total_samples == 76 * 4800
    np.testing.assert_array_equal(track.slice_ms(15000, 15200), ramp(75 * 4800, 4800))


def test_track_at_g711_rate() -> None:
    track = InputAudioTrack(8000)
    track.append(ramp(0, 8000))
    assert track.ms_to_offset(500) == 4000
    np.testing.assert_array_equal(track.slice_ms(500, 750), ramp(4000, 2000))


def test_track_without_idle_trimming_keeps_everything() -> None:
    """Without server VAD (push-to-talk) a manual commit takes all pending audio, however long."""
    track = InputAudioTrack()
    track.trim_idle = False
    for i in range(30):
        track.append(ramp(i * RATE, RATE))
    assert track.pending_samples == 30 * RATE
    np.testing.assert_array_equal(track.take_all(), ramp(0, 30 * RATE))
    track.trim_idle = True
    for i in range(30, 45):
        track.append(ramp(i * RATE, RATE))
    assert track.pending_samples == int(InputAudioTrack.MAX_IDLE_SECONDS * RATE)
    assert track.total_samples == 45 * RATE


# -- model-based checks ------------------------------------------------------------------------

_BUFFER_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(0, 5000)),
        st.tuples(st.just("truncate"), st.integers(-10, 20000)),
        st.tuples(st.just("compact"), st.just(0)),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(_BUFFER_OPS)
def test_audio_buffer_matches_a_plain_array(ops: list[tuple[str, int]]) -> None:
    buffer = AudioBuffer()
    model = np.zeros(0, dtype=np.int16)
    written = 0
    for op, value in ops:
        if op == "append":
            chunk = ramp(written, value)
            written += value
            buffer.append(chunk)
            model = np.concatenate([model, chunk])
        elif op == "truncate":
            buffer.truncate(value)
            model = model[: max(0, value)]
        else:
            np.testing.assert_array_equal(buffer.compact(), model)
        assert len(buffer) == len(model)
        np.testing.assert_array_equal(buffer.view(), model)


_TRACK_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(0, 700)),
        st.tuples(st.just("speech_started"), st.just(0)),
        st.tuples(st.just("commit_until_ms"), st.integers(0, 60_000)),
        st.tuples(st.just("take_all"), st.just(0)),
        st.tuples(st.just("clear"), st.just(0)),
        st.tuples(st.just("slice_ms"), st.integers(0, 60_000)),
        st.tuples(st.just("trim_idle"), st.integers(0, 1)),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(_TRACK_OPS, st.integers(0, 60_000))
def test_input_track_matches_a_model(ops: list[tuple[str, int]], width_ms: int) -> None:
    """At 100 Hz the idle limit is 1,000 samples; the model keeps the whole history and a start offset."""
    rate = 100
    limit = int(InputAudioTrack.MAX_IDLE_SECONDS * rate)
    track = InputAudioTrack(rate)
    total = base = 0
    speech_open = False
    trim = True
    for op, value in ops:
        if op == "append":
            track.append(ramp(total, value))
            total += value
            if value and trim and not speech_open:
                base = max(base, total - limit)
        elif op == "speech_started":
            track.speech_started()
            speech_open = True
        elif op == "commit_until_ms":
            track.commit_until_ms(value)
            base = min(max(base, value * rate // 1000), total)
            speech_open = False
        elif op == "take_all":
            np.testing.assert_array_equal(track.take_all(), ramp(base, total - base))
            base, speech_open = total, False
        elif op == "clear":
            track.clear()
            base, speech_open = total, False
        elif op == "slice_ms":
            start, end = max(value * rate // 1000, base), min((value + width_ms) * rate // 1000, total)
            np.testing.assert_array_equal(
                track.slice_ms(value, value + width_ms), ramp(start, max(0, end - start))
            )
        else:
            track.trim_idle = trim = bool(value)
        assert track.total_samples == total
        assert track.pending_samples == total - base
