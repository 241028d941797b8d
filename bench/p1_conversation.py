"""P1: RealtimeConversation on a 10-minute audio reply — linear, and close to decode + copy."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np

from agent_rt import RealtimeConversation

from .common import SAMPLES_PER_DELTA, Row, audio_delta_payload, best_of, now, reply_events

NODE_DIR = Path(__file__).resolve().parent / "node"
#: Deltas for the JS side by side (``--js-deltas``); 0: 600 with --quick, else 6,000 (~4 min).
JS_DELTAS = 0


def conversation_time(deltas: int, payload: str) -> float:
    """Seconds spent in ``process_event`` for one reply of ``deltas`` audio deltas."""
    events = list(reply_events(deltas, payload))
    conversation = RealtimeConversation()
    start = now()
    for event in events:
        conversation.process_event(event)
    elapsed = now() - start
    item = conversation.get_item("item_1")
    assert item is not None
    assert len(item["formatted"]["audio"]) == deltas * SAMPLES_PER_DELTA
    return elapsed


def baseline_time(deltas: int, payload: str) -> float:
    """base64-decode + copy into a preallocated int16 array: the least any client must do."""
    target = np.empty(deltas * SAMPLES_PER_DELTA, dtype=np.int16)
    start = now()
    offset = 0
    for _ in range(deltas):
        chunk = np.frombuffer(base64.b64decode(payload), dtype="<i2")
        target[offset : offset + len(chunk)] = chunk
        offset += len(chunk)
    return now() - start


def node_time(deltas: int, payload: str) -> tuple[float | None, str]:
    """The same stream through the npm port of the JavaScript reference client, if Node.js is here."""
    node = shutil.which("node")
    script = NODE_DIR / "p1.mjs"
    if node is None:
        return None, "n/a: node not installed"
    if not (NODE_DIR / "node_modules" / "openai-realtime-api").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            return None, "n/a: npm not installed"
        install = subprocess.run(
            [npm, "install", "--silent", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if install.returncode != 0:
            return None, f"n/a: npm install failed ({install.stderr.strip().splitlines()[-1:]})"
    result = subprocess.run(
        [node, str(script), str(deltas), payload], capture_output=True, text=True, timeout=1800, check=False
    )
    if result.returncode != 0:
        return None, f"n/a: node run failed: {result.stderr.strip()[-200:]}"
    return float(json.loads(result.stdout)["seconds"]), ""


def run(quick: bool) -> list[Row]:
    payload = audio_delta_payload()
    large = 600 if quick else 6000
    small_time = best_of(7, lambda: conversation_time(100, payload)) / 100
    large_time = best_of(3, lambda: conversation_time(large, payload)) / large
    base = best_of(3, lambda: baseline_time(large, payload)) / large
    rows = [
        Row(
            f"P1 per-delta cost at {large} vs 100 deltas",
            f"{large_time * 1e6:.1f} µs",
            f"{small_time * 1e6:.1f} µs",
            large_time / small_time,
            "≤ 1.3×",
            large_time / small_time <= 1.3,
        ),
        Row(
            f"P1 per-delta cost vs decode+copy ({large} deltas)",
            f"{large_time * 1e6:.1f} µs",
            f"{base * 1e6:.1f} µs",
            large_time / base,
            "(report)",
            None,
        ),
    ]
    js_deltas = JS_DELTAS or (600 if quick else 6000)
    js, reason = node_time(js_deltas, payload)
    if js is None:
        rows.append(Row(f"P1 JS port at {js_deltas} deltas", reason, "", None, "≥ 20× faster", None))
        return rows
    ours = best_of(3, lambda: conversation_time(js_deltas, payload))
    rows.append(
        Row(
            f"P1 vs JS port (openai-realtime-api), {js_deltas} deltas",
            f"{ours:.3f} s",
            f"{js:.2f} s (JS)",
            js / ours,
            "≥ 20× faster",
            js / ours >= 20,
        )
    )
    if js_deltas < large:
        # The JS cache re-copies all audio on every delta: total time grows with the square of the
        # length (600 → 6,000 deltas measured 90×). The full run (no --quick) measures
        # 6,000 deltas directly, in about 4 minutes.
        factor = (large / js_deltas) ** 2
        ours_large = large_time * large
        rows.append(
            Row(
                f"P1 vs JS port, {large} deltas (JS extrapolated ×{factor:.0f}, quadratic)",
                f"{ours_large:.3f} s",
                f"~{js * factor:.0f} s (JS, est.)",
                js * factor / ours_large,
                "≥ 20× faster",
                js * factor / ours_large >= 20,
            )
        )
    return rows
