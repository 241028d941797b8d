"""Smoke checks of the benchmark code paths (small sizes; no timing thresholds: figures live in bench/)."""

from __future__ import annotations

from bench.common import SAMPLES_PER_DELTA, audio_delta_payload
from bench.p1_conversation import baseline_time, conversation_time
from bench.p4_memory import run as run_memory


def test_p1_measures_positive_times_for_the_same_audio() -> None:
    payload = audio_delta_payload()
    assert conversation_time(50, payload) > 0
    assert baseline_time(50, payload) > 0


def test_p4_reports_peak_against_raw_pcm() -> None:
    row = run_memory(quick=True)[0]  # tracemalloc; a second row cross-checks with RSS
    assert row.ratio is not None
    assert row.ratio >= 1.0  # the cache holds at least the raw PCM
    assert f"{5 * 600 * SAMPLES_PER_DELTA * 2 / 1e6:.1f} MB raw PCM" == row.baseline


def test_p2_blaster_feeds_every_client_the_whole_stream() -> None:
    import anyio

    from bench.p2_throughput import measure

    rates = anyio.run(measure, 400, 1, "audio")
    for name in ("bare", "bare+decode", "agent_rt"):
        assert isinstance(rates[name], float)
        assert rates[name] > 0  # type: ignore[operator]


def test_import_agent_rt_defers_the_heavy_dependencies() -> None:
    """P5 stays well under 150 ms because these load on first use (connect, plugins, secrets, schemas)."""
    import subprocess
    import sys

    deferred = (
        "websockets",
        "ssl",
        "httpx",
        "pluggy",
        "jsonschema",
        "agent_rt.transport",
    )
    code = f"import sys, agent_rt; print([m for m in {deferred!r} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_server_memory_measures_a_real_serve_process() -> None:
    """bench/server_memory.py drives ``agent-rt serve`` in its own process (figures live in the bench)."""
    import sys

    import pytest

    from bench.server_memory import measure

    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc")
    before, after = measure(5, audio_seconds=1.0)
    assert before > 10_000_000  # a Python process with numpy loaded, not a misread
    assert after > 0
