"""P6: the relay against a bare forwarder, in one run.

Four processes: an upstream (websockets' asyncio server answering like the service), the two
forwarders under test, each pinned to the same CPU core (``sched_setaffinity``), and this process
driving clients. The bare forwarder is a websockets asyncio server whose connection handler opens
a websockets client to the upstream and pipes frames both ways untouched. The relay is
``create_relay_app(upstream)`` under uvicorn as ``agent-rt relay`` runs it (``make_server``: the
relay's websockets-sansio protocol, uvloop), with a token, its default event allow-list and limits
(the events-per-second limit set high enough for the ping-pong, but still checked on every event).

Figures:

* added latency: round trips of small events (``conversation.item.retrieve`` answered at once by
  the upstream), through each forwarder and directly; added = forwarder − direct, p50 and p99
  (two hops: there and back);
* throughput: 100 ms audio deltas (6.4 KB frames) from the upstream to one client as fast as
  they go, as the client sees it and per CPU-second of the forwarder;
* sessions per core at real-time audio: N sessions at once, each appending 20 ms of 24 kHz PCM16
  every 20 ms while the upstream streams 100 ms deltas every 100 ms; the forwarder's CPU time
  while all N stream (from the moment all are open until all streams end) gives the sessions one
  core carries; the arrival lag of the deltas (stamped by the upstream, ``CLOCK_MONOTONIC`` is
  shared by processes) shows whether frames lagged at that N. One round runs both forwarders,
  one after the other; the figure is the median over rounds of each round's ratio (see
  :func:`paired_sessions`);
* the CPU to open and close one session (the forwarder's side of both handshakes, the upstream
  connect, the teardown), measured in the same runs and reported beside it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .common import Row

TOKEN = "bench-relay-token"
APPEND = base64.b64encode(np.zeros(480, dtype="<i2").tobytes()).decode()  # 20 ms at 24 kHz
DELTA_SAMPLES = 2400  # 100 ms
_rng = np.random.default_rng(6)
DELTA = base64.b64encode(
    _rng.integers(-8000, 8000, DELTA_SAMPLES, dtype=np.int16).astype("<i2").tobytes()
).decode()
ROOT = Path(__file__).resolve().parent.parent


# -- the processes -----------------------------------------------------------------------------


async def _upstream_handler(websocket: Any) -> None:
    """Answer like the service: pings at once, audio appends absorbed, deltas on request."""
    await websocket.send(json.dumps({"type": "session.created", "session": {"id": "sess_bench"}}))
    streams: list[asyncio.Task[None]] = []

    async def realtime(seconds: float) -> None:
        count = int(seconds * 10)
        start = time.monotonic()
        for index in range(count):
            await asyncio.sleep(max(0.0, start + index * 0.1 - time.monotonic()))
            event = {"type": "response.output_audio.delta", "delta": DELTA, "t": time.monotonic()}
            await websocket.send(json.dumps(event))
        await websocket.send(json.dumps({"type": "response.done", "response": {"id": "r", "usage": None}}))

    async def blast(count: int) -> None:
        frame = json.dumps({"type": "response.output_audio.delta", "response_id": "r", "delta": DELTA})
        for _ in range(count):
            await websocket.send(frame)
        await websocket.send(json.dumps({"type": "response.done", "response": {"id": "r", "usage": None}}))

    try:
        async for message in websocket:
            if '"input_audio_buffer.append"' in message[:64]:
                continue
            event = json.loads(message)
            kind = event.get("type")
            if kind == "conversation.item.retrieve":
                await websocket.send(
                    json.dumps({"type": "conversation.item.retrieved", "item": {"id": event["item_id"]}})
                )
            elif kind == "response.create":
                plan = event["response"]["metadata"]
                if plan["mode"] == "realtime":
                    streams.append(asyncio.create_task(realtime(float(plan["seconds"]))))
                else:
                    streams.append(asyncio.create_task(blast(int(plan["count"]))))
    finally:
        for task in streams:
            task.cancel()


async def _serve_upstream() -> None:
    from websockets.asyncio.server import serve

    async with serve(_upstream_handler, "127.0.0.1", 0, max_size=None, compression=None) as server:
        print(next(iter(server.sockets)).getsockname()[1], flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def _serve_bare(upstream: str) -> None:
    """The baseline: websockets in, websockets out, frames piped untouched."""
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import serve

    async def handler(client: Any) -> None:
        async with connect(upstream, max_size=None, compression=None) as server:

            async def pipe(source: Any, sink: Any) -> None:
                async for message in source:
                    await sink.send(message)
                await sink.close()

            up = asyncio.create_task(pipe(client, server))
            down = asyncio.create_task(pipe(server, client))
            await asyncio.wait([up, down], return_when=asyncio.FIRST_COMPLETED)
            up.cancel()
            down.cancel()

    async with serve(handler, "127.0.0.1", 0, max_size=None, compression=None) as server:
        print(next(iter(server.sockets)).getsockname()[1], flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def _serve_relay(upstream: str) -> None:
    import socket
    import threading

    from agent_rt.relay import Limits, create_relay_app
    from agent_rt.relay.serving import make_server

    app = create_relay_app(
        upstream,
        tokens=[TOKEN],
        limits=Limits(events_per_second=1e6, idle_timeout=None, max_sessions_per_identity=None),
    )
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(2048)
    server = make_server(app, graceful_seconds=1)
    print(listener.getsockname()[1], flush=True)

    def stop_on_eof() -> None:
        sys.stdin.read()
        server.should_exit = True

    threading.Thread(target=stop_on_eof, daemon=True).start()
    server.run(sockets=[listener])


def _main(role: str, upstream: str = "", core: str = "") -> None:
    if core:
        os.sched_setaffinity(0, {int(c) for c in core.split(",")})
    if role == "upstream":
        asyncio.run(_serve_upstream())
    elif role == "bare":
        asyncio.run(_serve_bare(upstream))
    else:
        _serve_relay(upstream)


@contextmanager
def _process(*args: str) -> Iterator[tuple[int, int]]:
    """Run ``python -m bench.p6_relay ARGS``; yield (pid, port); stop it by closing its stdin."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.p6_relay", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.pid, int(process.stdout.readline())
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the clients --------------------------------------------------------------------------------


def _connect(url: str, auth: bool) -> Any:
    from websockets.asyncio.client import connect

    headers = {"Authorization": f"Bearer {TOKEN}"} if auth else None
    return connect(url, additional_headers=headers, max_size=None, compression=None)


async def _round_trips(url: str, auth: bool, count: int) -> list[float]:
    times = []
    async with _connect(url, auth) as websocket:
        await websocket.recv()  # session.created
        for index in range(count):
            message = json.dumps({"type": "conversation.item.retrieve", "item_id": f"item_{index}"})
            start = time.perf_counter()
            await websocket.send(message)
            await websocket.recv()
            times.append(time.perf_counter() - start)
    return times[count // 10 :]  # the first tenth warms up


async def _throughput(url: str, auth: bool, count: int, pid: int | None = None) -> tuple[float, float]:
    """(deltas per second through the forwarder, deltas per CPU-second of the forwarder process).

    The first is what a client sees; the second what one core of the forwarder carries, which a
    shared machine's other work disturbs far less (the forwarders are pinned to the same core,
    but other processes may run on it too).
    """
    async with _connect(url, auth) as websocket:
        await websocket.recv()
        cpu = _cpu_seconds(pid) if pid is not None else 0.0
        start = time.perf_counter()
        plan = {"type": "response.create", "response": {"metadata": {"mode": "blast", "count": str(count)}}}
        await websocket.send(json.dumps(plan))
        received = 0
        while '"response.done"' not in await websocket.recv():
            received += 1
        elapsed = time.perf_counter() - start
        cpu = _cpu_seconds(pid) - cpu if pid is not None else 0.0
    assert received == count, (received, count)
    return count / elapsed, count / cpu if cpu > 0 else float("inf")


@dataclass
class RealtimeRun:
    """One real-time run of ``sessions`` at once through a forwarder (CPU from ``/proc``)."""

    streaming_cpu: float
    """Forwarder CPU seconds per session-second while every session streams (all open, none closing)."""
    lag_p99_ms: float
    setup_cpu: float
    """Forwarder CPU seconds per session to open and close it (handshakes, upstream connect, teardown)."""


async def _realtime_sessions(url: str, auth: bool, sessions: int, seconds: float, pid: int) -> RealtimeRun:
    """``sessions`` at once: each appends 20 ms of audio every 20 ms while deltas stream back.

    The steady state (the figure "sessions per core" is about) is measured from the moment all
    sessions are open until all streams have ended, before any closes; opening and closing are
    measured apart, so a forwarder's per-session setup cost does not hide in the streaming cost.
    """
    lags: list[float] = []
    all_open, all_done = asyncio.Event(), asyncio.Event()
    opened = finished = 0
    marks: dict[str, float] = {}

    def mark(name: str) -> None:
        marks[name] = _cpu_seconds(pid)
        marks[name + "_at"] = time.monotonic()

    async def session() -> None:
        nonlocal opened, finished
        async with _connect(url, auth) as websocket:
            await websocket.recv()
            opened += 1
            if opened == sessions:
                mark("open")
                all_open.set()
            await all_open.wait()
            plan = {"mode": "realtime", "seconds": str(seconds)}
            await websocket.send(json.dumps({"type": "response.create", "response": {"metadata": plan}}))
            append = json.dumps({"type": "input_audio_buffer.append", "audio": APPEND})

            async def speak() -> None:
                start = time.monotonic()
                for index in range(int(seconds * 50)):
                    await asyncio.sleep(max(0.0, start + index * 0.02 - time.monotonic()))
                    await websocket.send(append)

            speaking = asyncio.create_task(speak())
            while True:
                message = await websocket.recv()
                if '"response.done"' in message[:40]:
                    break
                lags.append(time.monotonic() - json.loads(message)["t"])
            await speaking
            finished += 1
            if finished == sessions:
                mark("done")
                all_done.set()
            await all_done.wait()

    mark("start")
    await asyncio.gather(*(session() for _ in range(sessions)))
    mark("end")
    streaming = (marks["done"] - marks["open"]) / (sessions * (marks["done_at"] - marks["open_at"]))
    setup = ((marks["open"] - marks["start"]) + (marks["end"] - marks["done"])) / sessions
    return RealtimeRun(streaming, float(np.percentile(lags, 99) * 1000), setup)


# -- the run -----------------------------------------------------------------------------------


async def _measure(quick: bool, upstream_port: int, targets: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """Each figure is the best of several interleaved repeats (the machine is shared and noisy)."""
    direct = f"ws://127.0.0.1:{upstream_port}/v1/realtime"
    pings = 1000 if quick else 3000
    repeats = 3 if quick else 5
    names = ["direct", *targets]
    results: dict[str, Any] = {
        name: {"p50": float("inf"), "p99": float("inf"), "rate": 0.0, "rate_per_core": 0.0} for name in names
    }
    for _ in range(repeats):  # interleaved, so a busy moment of the machine hits all of them
        for name in names:
            url = direct if name == "direct" else f"ws://127.0.0.1:{targets[name][1]}/v1/realtime"
            rtt = await _round_trips(url, name == "relay", pings)
            results[name]["p50"] = min(results[name]["p50"], float(np.percentile(rtt, 50)))
            results[name]["p99"] = min(results[name]["p99"], float(np.percentile(rtt, 99)))
            if name != "direct":
                pid = targets[name][0]
                rate, per_core = await _throughput(url, name == "relay", 2000 if quick else 10000, pid)
                results[name]["rate"] = max(results[name]["rate"], rate)
                results[name]["rate_per_core"] = max(results[name]["rate_per_core"], per_core)
    sessions = 10 if quick else 40
    seconds = 3.0 if quick else 6.0
    order = list(targets.items())
    for _ in range(3 if quick else 7):
        for name, (pid, port) in order:
            url = f"ws://127.0.0.1:{port}/v1/realtime"
            run = await _realtime_sessions(url, name == "relay", sessions, seconds, pid)
            per_core = 1.0 / run.streaming_cpu if run.streaming_cpu > 0 else float("inf")
            results[name].setdefault("rounds", []).append((per_core, run.lag_p99_ms))
            results[name]["sessions"] = sessions
            results[name]["setup_ms"] = min(results[name].get("setup_ms", float("inf")), run.setup_cpu * 1000)
        order.reverse()  # neither forwarder always runs right after the other
    return results


def paired_sessions(results: dict[str, Any]) -> dict[str, float]:
    """Sessions per core from the paired rounds: each round's relay/bare ratio, and their median.

    How bunched the frames arrive (which sets the CPU per frame) moves with the load on the other
    core, by a quarter from one round to the next; both forwarders of a round see about the same,
    so the ratio is taken per round and the median of the ratios is the figure.
    """
    relay, bare = results["relay"]["rounds"], results["bare"]["rounds"]
    ratios = sorted(r[0] / b[0] for r, b in zip(relay, bare, strict=True))
    return {
        "ratio": float(np.median(ratios)),
        "low": ratios[0],
        "high": ratios[-1],
        "rounds": len(ratios),
        "relay": float(np.median([r[0] for r in relay])),
        "bare": float(np.median([b[0] for b in bare])),
        "relay_lag": float(np.median([r[1] for r in relay])),
        "bare_lag": float(np.median([b[1] for b in bare])),
    }


def measure(quick: bool) -> dict[str, Any]:
    """The forwarders share the last CPU core; the upstream and the clients get the others."""
    cores = os.sched_getaffinity(0)
    core = str(max(cores))
    others = ",".join(str(c) for c in sorted(cores - {max(cores)})) or core
    os.sched_setaffinity(0, {int(c) for c in others.split(",")})
    try:
        return _measure_on(quick, core, others)
    finally:
        os.sched_setaffinity(0, cores)


def _measure_on(quick: bool, core: str, others: str) -> dict[str, Any]:
    with _process("upstream", "", others) as (_, upstream_port):
        upstream = f"ws://127.0.0.1:{upstream_port}/v1/realtime"
        with _process("bare", upstream, core) as bare, _process("relay", upstream, core) as relay:
            return asyncio.run(_measure(quick, upstream_port, {"bare": bare, "relay": relay}))


def run(quick: bool) -> list[Row]:
    results = measure(quick)
    rows = []
    for q in ("p50", "p99"):
        base = results["direct"][q]
        bare = results["bare"][q] - base
        relay = results["relay"][q] - base
        target = 1.5 if q == "p99" else None
        ratio = relay / bare if bare > 0 else None
        rows.append(
            Row(
                f"P6 added round-trip latency {q}, small events, relay vs bare forwarder",
                f"{relay * 1e6:,.0f} µs",
                f"{bare * 1e6:,.0f} µs (direct {base * 1e6:,.0f} µs)",
                ratio,
                "≤ 1.5×" if target else "",
                (ratio <= target) if target and ratio is not None else None,
            )
        )
    bare_rate, relay_rate = results["bare"]["rate"], results["relay"]["rate"]
    rows.append(
        Row(
            "P6 throughput, 6.4 KB audio deltas to one client, relay vs bare",
            f"{relay_rate:,.0f}/s",
            f"{bare_rate:,.0f}/s",
            relay_rate / bare_rate,
            "≥ 1.0×",
            relay_rate / bare_rate >= 1.0,
        )
    )
    bare_core, relay_core = results["bare"]["rate_per_core"], results["relay"]["rate_per_core"]
    rows.append(
        Row(
            "P6 throughput per core (deltas per forwarder CPU-second), relay vs bare",
            f"{relay_core:,.0f}/s",
            f"{bare_core:,.0f}/s",
            relay_core / bare_core,
            "≥ 1.0×",
            relay_core / bare_core >= 1.0,
        )
    )
    bare, relay = results["bare"], results["relay"]
    paired = paired_sessions(results)
    rows.append(
        Row(
            f"P6 real-time audio sessions per core ({relay['sessions']} at once), relay vs bare, "
            f"median of {paired['rounds']} paired rounds (ratios {paired['low']:.2f}–{paired['high']:.2f}×)",
            f"{paired['relay']:,.0f} (lag p99 {paired['relay_lag']:.1f} ms)",
            f"{paired['bare']:,.0f} (lag p99 {paired['bare_lag']:.1f} ms)",
            paired["ratio"],
            "≥ 1.0×",
            paired["ratio"] >= 1.0,
        )
    )
    rows.append(
        Row(
            "P6 CPU to open and close one session (handshakes, upstream connect), relay vs bare",
            f"{relay['setup_ms']:.2f} ms",
            f"{bare['setup_ms']:.2f} ms",
            relay["setup_ms"] / bare["setup_ms"] if bare["setup_ms"] > 0 else None,
            "",
            None,
        )
    )
    return rows


if __name__ == "__main__":
    _main(*sys.argv[1:])
