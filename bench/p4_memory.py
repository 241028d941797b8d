"""P4: peak memory for an hour of assistant audio vs the raw PCM it holds.

Two views of the same run: tracemalloc's peak (what Python and numpy allocated), and, in a fresh
subprocess, the growth of the peak resident set size (what the OS actually gave the process,
which also counts anything tracemalloc cannot see, such as a ``realloc`` that copied).
"""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

from agent_rt import RealtimeConversation

from .common import SAMPLES_PER_DELTA, Row, audio_delta_payload, reply_events

RSS_SCRIPT = """
import sys
from agent_rt import RealtimeConversation
from bench.common import audio_delta_payload, reply_events

def status(field):  # kB in /proc/self/status; VmHWM is this process's own peak (ru_maxrss can
    with open("/proc/self/status") as lines:  # carry the parent's across fork+exec)
        return next(int(line.split()[1]) * 1024 for line in lines if line.startswith(field + ":"))

deltas = int(sys.argv[1])
payload = audio_delta_payload()
conversation = RealtimeConversation()
before = status("VmRSS")
for event in reply_events(deltas, payload):
    conversation.process_event(event)
print(status("VmHWM") - before)
"""


def traced_peak(deltas: int) -> int:
    """tracemalloc's peak while ``deltas`` audio deltas go through one RealtimeConversation."""
    payload = audio_delta_payload()
    conversation = RealtimeConversation()
    tracemalloc.start()
    try:
        for event in reply_events(deltas, payload):  # events are made one at a time, as a socket would
            conversation.process_event(event)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    item = conversation.get_item("item_1")
    assert item is not None
    assert len(item["formatted"]["audio"]) == deltas * SAMPLES_PER_DELTA
    return peak


def rss_growth(deltas: int) -> int | None:
    """Peak RSS of a fresh process doing the same, above its resident size before (Linux), or None."""
    if not sys.platform.startswith("linux"):
        return None
    out = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, str(deltas)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return int(out.stdout.strip())


def run(quick: bool) -> list[Row]:
    minutes = 5 if quick else 60
    deltas = minutes * 600
    raw = deltas * SAMPLES_PER_DELTA * 2
    peak = traced_peak(deltas)
    rows = [
        Row(
            f"P4 peak memory (tracemalloc), {minutes} min of audio",
            f"{peak / 1e6:.1f} MB",
            f"{raw / 1e6:.1f} MB raw PCM",
            peak / raw,
            "≤ 1.2×",
            peak / raw <= 1.2,
        )
    ]
    rss = rss_growth(deltas)
    if rss is not None:
        rows.append(
            Row(
                f"P4 peak RSS growth (subprocess), {minutes} min of audio",
                f"{rss / 1e6:.1f} MB",
                f"{raw / 1e6:.1f} MB raw PCM",
                rss / raw,
                "(cross-check)",
                None,
            )
        )
    return rows
