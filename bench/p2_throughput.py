"""P2: events per second through RealtimeClient over loopback vs a bare websockets + json.loads loop."""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import numpy as np

from agent_rt import RealtimeClient

from .common import Row, audio_delta_payload, now, reply_events

#: Deltas per reply: 20 s of audio (or ~200 words of transcript), as a long spoken answer has.
DELTAS_PER_REPLY = 200


def stream(deltas: int, kind: str = "audio") -> list[str]:
    """session.created, then replies of ``DELTAS_PER_REPLY`` deltas each, pre-encoded.

    ``audio``: 2,400-sample audio deltas; ``transcript``: one-word transcript deltas.
    """
    session = {"type": "session.created", "event_id": "e", "session": {"id": "sess_1", "type": "realtime"}}
    payload = audio_delta_payload()
    events: list[Any] = [session]
    for reply in range(max(1, deltas // DELTAS_PER_REPLY)):
        events.extend(reply_events(DELTAS_PER_REPLY, payload, f"resp_{reply}", f"item_{reply}"))
    if kind == "transcript":
        events = [
            dict(event, type="response.output_audio_transcript.delta", delta="word ")
            if event["type"] == "response.output_audio.delta"
            else event
            for event in events
        ]
    return [json.dumps(dict(event, event_id=f"event_{index}")) for index, event in enumerate(events)]


@contextlib.contextmanager
def blaster(frames: list[str]) -> Iterator[int]:
    """Run :mod:`bench.blaster` in its own process on ``frames``; yield its port."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "frames.jsonl"
        path.write_text("".join(frame + "\n" for frame in frames), encoding="utf-8")
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.blaster", str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=Path(__file__).resolve().parent.parent,
            text=True,
        )
        try:
            assert process.stdout is not None
            yield int(process.stdout.readline())
        finally:
            assert process.stdin is not None
            process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def bare_loop(url: str, decode_audio: bool = False) -> int:
    """websockets' own asyncio client and ``json.loads``: the floor for a Python client.

    With ``decode_audio``, audio deltas are also base64-decoded to int16 samples: the least a
    client that uses the audio must add (this floor does not even store them; agent_rt keeps
    every sample in its conversation cache).
    """
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    count = 0
    async with connect(url, max_size=None) as ws:
        try:
            while True:
                event = json.loads(await ws.recv())
                if decode_audio and event["type"] == "response.output_audio.delta":
                    np.frombuffer(base64.b64decode(event["delta"]), dtype="<i2")
                count += 1
        except ConnectionClosed:
            pass
    return count


async def bare_decode_loop(url: str) -> int:
    return await bare_loop(url, decode_audio=True)


async def agent_rt_client(url: str) -> int:
    client = RealtimeClient(url=url, api_key="bench", plugins=False)
    count = 0

    def on_event(event: dict[str, Any]) -> None:
        nonlocal count
        count += 1

    client.realtime.on("server.*", on_event)
    closed = anyio.Event()
    client.on("close", lambda payload: closed.set())
    await client.connect()
    await closed.wait()
    await client.disconnect()
    return count


class Unavailable(Exception):
    """A comparison that cannot run here (the reason is shown as n/a)."""


async def openai_python(url: str) -> int:
    try:
        from openai import AsyncOpenAI  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise Unavailable("n/a: openai not installed (pip install -e '.[bench]')") from None
    count = 0
    base = url.rsplit("/realtime", 1)[0]
    openai_client = AsyncOpenAI(api_key="bench", websocket_base_url=base)
    try:
        async with openai_client.realtime.connect(model="gpt-realtime") as connection:
            async for _event in connection:
                count += 1
    except Exception as exc:  # the stream ends with a close; anything else before an event is n/a
        if count == 0:
            raise Unavailable(f"n/a: openai-python failed: {type(exc).__name__}: {exc}") from exc
    return count


Runner = Callable[[str], Awaitable[int]]


async def measure(deltas: int, repeats: int, kind: str) -> dict[str, float | str]:
    """Best events/s of each client on the same stream (runs interleaved); a str says why n/a."""
    frames = stream(deltas, kind)
    runners: dict[str, Runner] = {
        "bare": bare_loop,
        "agent_rt": agent_rt_client,
        "openai": openai_python,
    }
    if kind == "audio":
        runners["bare+decode"] = bare_decode_loop
    results: dict[str, float | str] = {}
    with blaster(frames) as port:
        url = f"ws://127.0.0.1:{port}/v1/realtime"
        for _ in range(repeats):
            for name, runner in runners.items():
                if isinstance(results.get(name), str):
                    continue
                start = now()
                try:
                    got = await runner(url)
                except Unavailable as exc:
                    results[name] = str(exc)
                    continue
                rate = got / (now() - start)
                assert got == len(frames), (name, got, len(frames))
                previous = results.get(name, 0.0)
                assert isinstance(previous, float)
                results[name] = max(previous, rate)
    return results


def run(quick: bool) -> list[Row]:
    deltas = 2000 if quick else 20000
    repeats = 3 if quick else 5
    rows = []
    for kind in ("transcript", "audio"):
        rates = anyio.run(measure, deltas, repeats, kind)
        ours, bare, openai = rates["agent_rt"], rates["bare"], rates["openai"]
        assert isinstance(ours, float)
        assert isinstance(bare, float)
        floor, floor_label = bare, "bare ws+json"
        if kind == "audio":
            decoded = rates["bare+decode"]
            assert isinstance(decoded, float)
            floor, floor_label = decoded, f"bare ws+json+b64decode; {bare:,.0f}/s json only"
        rows.append(
            Row(
                f"P2 events/s, {deltas} {kind} deltas, RealtimeClient vs bare loop",
                f"{ours:,.0f}/s",
                f"{floor:,.0f}/s ({floor_label})",
                ours / floor,
                "≥ 0.8×",
                ours / floor >= 0.8,
            )
        )
        if isinstance(openai, str):
            rows.append(Row(f"P2 {kind} vs openai-python realtime", openai, "", None, "≥ 1.5×", None))
        else:
            rows.append(
                Row(
                    f"P2 events/s, {deltas} {kind} deltas, vs openai-python realtime",
                    f"{ours:,.0f}/s",
                    f"{openai:,.0f}/s (openai {_openai_version()})",
                    ours / openai,
                    "≥ 1.5×",
                    ours / openai >= 1.5,
                )
            )
    return rows


def _openai_version() -> str:
    from importlib.metadata import version

    return version("openai")
