"""Server memory: RSS growth of a real ``agent-rt serve`` process over many short sessions.

A long-running server must free a session (its audio, conversation, responses) when the socket
closes. This starts ``agent-rt serve --port 0`` as a separate process, runs sessions against it one
after another — each: ``session.created``, optionally ~10 s of input audio, one text turn with a
spoken reply, close — and reads the server's resident set size from ``/proc`` before and after.
Target: under 50 MB of growth after 200 short sessions (before the fix: 214 → 802 MB).

``python -m bench.server_memory [--sessions N] [--audio-seconds S]`` or ``python -m bench --only SERVER``.
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import anyio
import numpy as np

from agent_rt.transport import connect

from .common import Row

TARGET_MB = 50.0
CHUNK_SECONDS = 0.5  # input audio goes out in appends of this length, as a microphone's would


def rss_bytes(pid: int) -> int:
    """The resident set size of process ``pid`` (Linux ``/proc``)."""
    with open(f"/proc/{pid}/status") as lines:
        return next(int(line.split()[1]) * 1024 for line in lines if line.startswith("VmRSS:"))


def _audio_chunk(seconds: float, seed: int) -> str:
    rng = np.random.default_rng(seed)
    samples = (rng.normal(0, 0.2, int(seconds * 24000)) * 32767).clip(-32768, 32767).astype("<i2")
    return base64.b64encode(samples.tobytes()).decode()


async def one_session(url: str, audio_seconds: float, chunk: str) -> None:
    """Open, (send audio,) ask for one reply and wait for it, close."""
    ws = await connect(url, {"Authorization": "Bearer bench"})
    try:
        assert json.loads(await ws.receive())["type"] == "session.created"
        for _ in range(round(audio_seconds / CHUNK_SECONDS)):
            await ws.send_text(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
        item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}
        await ws.send_text(json.dumps({"type": "conversation.item.create", "item": item}))
        await ws.send_text(json.dumps({"type": "response.create"}))
        while json.loads(await ws.receive())["type"] != "response.done":
            pass
    finally:
        await ws.close()


#: Every session's turn gets this spoken reply (about 9 s of synthesized audio at 60 ms a character).
REPLY = "Hello! This local server answers every greeting with the same long sentence, spoken aloud " * 2


def start_server(scenario_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """``agent-rt serve --port 0`` in its own process; returns it and its WebSocket URL."""
    scenario = scenario_dir / "scenario.json"
    scenario.write_text(json.dumps([{"match": "hello", "reply": REPLY.strip()}]), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "agent_rt", "serve", "--port", "0", "--scenario", str(scenario)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert process.stdout is not None
    banner = process.stdout.readline()  # "local Realtime server listening at ws://... (Ctrl-C to stop)"
    if "listening at " not in banner:
        process.kill()
        raise RuntimeError(f"agent-rt serve did not start: {banner!r}")
    return process, banner.split("listening at ", 1)[1].split()[0]


def measure(sessions: int, audio_seconds: float) -> tuple[int, int]:
    """(RSS after start-up, RSS after ``sessions`` sessions) of a fresh server process, in bytes."""
    with tempfile.TemporaryDirectory() as scenario_dir:
        process, url = start_server(Path(scenario_dir))
    try:
        before = rss_bytes(process.pid)
        chunk = _audio_chunk(CHUNK_SECONDS, seed=1)

        async def run_all() -> None:
            for _ in range(sessions):
                await one_session(url, audio_seconds, chunk)

        anyio.run(run_all)
        return before, rss_bytes(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def run(quick: bool) -> list[Row]:
    if not sys.platform.startswith("linux"):
        return []
    rows = []
    for audio_seconds in (0.0, 10.0):
        sessions = 50 if quick else 200
        before, after = measure(sessions, audio_seconds)
        growth = (after - before) / 1e6
        label = "short sessions" if not audio_seconds else f"sessions with {audio_seconds:g} s of input audio"
        rows.append(
            Row(
                f"server RSS growth, {sessions} {label}",
                f"{growth:.1f} MB",
                f"{before / 1e6:.1f} MB at start",
                None,
                f"< {TARGET_MB:g} MB" if not audio_seconds else "(cross-check)",
                growth < TARGET_MB if not audio_seconds else None,
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.server_memory", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--audio-seconds", type=float, default=0.0, help="input audio per session")
    args = parser.parse_args(argv)
    before, after = measure(args.sessions, args.audio_seconds)
    growth = (after - before) / 1e6
    print(
        f"agent-rt serve RSS: {before / 1e6:.1f} MB at start, "
        f"{after / 1e6:.1f} MB after {args.sessions} sessions"
    )
    print(f"growth: {growth:.1f} MB (target < {TARGET_MB:g} MB for short sessions)")
    return 0 if args.audio_seconds or growth < TARGET_MB else 1


if __name__ == "__main__":
    sys.exit(main())
