"""Smoke check of P6's code paths at tiny sizes (no timing thresholds: the figures live in bench/)."""

from __future__ import annotations

import asyncio

from bench.p6_relay import _process, _realtime_sessions, _round_trips, _throughput, paired_sessions


def test_p6_drives_both_forwarders_end_to_end() -> None:
    with _process("upstream") as (_, upstream_port):
        upstream = f"ws://127.0.0.1:{upstream_port}/v1/realtime"
        with _process("bare", upstream) as bare, _process("relay", upstream) as relay:
            for name, (pid, port) in (("bare", bare), ("relay", relay)):
                url = f"ws://127.0.0.1:{port}/v1/realtime"
                auth = name == "relay"
                rtts = asyncio.run(_round_trips(url, auth, 40))
                assert len(rtts) == 36
                assert all(rtt > 0 for rtt in rtts)
                rate, per_core = asyncio.run(_throughput(url, auth, 50, pid))  # asserts all 50 arrived
                assert rate > 0
                assert per_core > 0
                run = asyncio.run(_realtime_sessions(url, auth, 2, 0.5, pid))
                # CPU time comes in 10 ms ticks: a short run may show none
                assert run.streaming_cpu >= 0
                assert run.setup_cpu >= 0
                assert run.lag_p99_ms >= 0


def test_sessions_per_core_is_the_median_of_the_paired_rounds_ratios() -> None:
    results = {
        "relay": {"rounds": [(300.0, 5.0), (200.0, 6.0), (390.0, 4.0)]},
        "bare": {"rounds": [(300.0, 5.0), (250.0, 7.0), (300.0, 4.0)]},
    }
    paired = paired_sessions(results)
    assert paired["ratio"] == 1.0  # ratios 1.0, 0.8, 1.3: the round with a busy machine hits both
    assert (paired["low"], paired["high"], paired["rounds"]) == (0.8, 1.3, 3)
    assert (paired["relay"], paired["bare"]) == (300.0, 300.0)
    assert (paired["relay_lag"], paired["bare_lag"]) == (5.0, 5.0)
