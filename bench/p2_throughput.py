"""P2: events per second through RealtimeClient over loopback vs a bare websockets + json.loads loop."""

from __future__ import annotations

import json
from typing import Any

import anyio
import anyio.abc

from agent_rt import RealtimeClient
from agent_rt.transport import HandshakeRequest, WebSocket, serve

from .common import Row, audio_delta_payload, now, reply_events


def stream(deltas: int, kind: str = "audio") -> list[str]:
    """session.created, then one reply, pre-encoded: audio deltas (2,400 samples) or transcript deltas."""
    session = {"type": "session.created", "event_id": "e", "session": {"id": "sess_1", "type": "realtime"}}
    events: list[Any] = [session, *reply_events(deltas, audio_delta_payload())]
    if kind == "transcript":
        events = [
            dict(event, type="response.output_audio_transcript.delta", delta="word ")
            if event["type"] == "response.output_audio.delta"
            else event
            for event in events
        ]
    return [json.dumps(dict(event, event_id=f"event_{index}")) for index, event in enumerate(events)]


async def blast(frames: list[str], task_status: anyio.abc.TaskStatus[int]) -> None:
    async def handler(ws: WebSocket, request: HandshakeRequest) -> None:
        for frame in frames:
            await ws.send_text(frame)
        await ws.close()

    await serve(handler, "127.0.0.1", 0, task_status=task_status)


async def bare_loop(url: str) -> int:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    count = 0
    async with connect(url, max_size=None) as ws:
        try:
            while True:
                json.loads(await ws.recv())
                count += 1
        except ConnectionClosed:
            pass
    return count


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


async def openai_python(url: str) -> int | None:
    try:
        from openai import AsyncOpenAI  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    count = 0
    base = url.rsplit("/realtime", 1)[0]
    openai_client = AsyncOpenAI(api_key="bench", websocket_base_url=base)
    try:
        async with openai_client.realtime.connect(model="gpt-realtime") as connection:
            async for _event in connection:
                count += 1
    except Exception as exc:  # the stream ends with a close; anything else is reported as n/a
        if count == 0:
            raise RuntimeError(f"openai-python failed: {exc}") from exc
    return count


async def measure(deltas: int, repeats: int, kind: str) -> dict[str, float | None]:
    frames = stream(deltas, kind)
    results: dict[str, float | None] = {}
    async with anyio.create_task_group() as group:
        port = await group.start(blast, frames)
        url = f"ws://127.0.0.1:{port}/v1/realtime"
        for name, runner in (("bare", bare_loop), ("agent_rt", agent_rt_client), ("openai", openai_python)):
            best: float | None = None
            for _ in range(repeats):
                start = now()
                try:
                    got = await runner(url)
                except RuntimeError:
                    got = None
                if got is None:
                    best = None
                    break
                assert got == len(frames), (name, got, len(frames))
                rate = got / (now() - start)
                best = rate if best is None else max(best, rate)
            results[name] = best
        group.cancel_scope.cancel()
    return results


def run(quick: bool) -> list[Row]:
    deltas = 2000 if quick else 20000
    rows = []
    openai: float | None = None
    ours = 0.0
    for kind in ("transcript", "audio"):
        rates = anyio.run(measure, deltas, 3, kind)
        bare, measured, openai = rates["bare"], rates["agent_rt"], rates["openai"]
        assert bare is not None
        assert measured is not None
        ours = measured
        rows.append(
            Row(
                f"P2 events/s, {deltas} {kind} deltas, RealtimeClient",
                f"{ours:,.0f}/s",
                f"{bare:,.0f}/s (bare)",
                ours / bare,
                "≥ 0.8× bare loop",
                ours / bare >= 0.8,
            )
        )
    if openai is None:
        rows.append(
            Row(
                "P2 vs openai-python realtime",
                "n/a: openai not installed (pip install -e '.[bench]')",
                "",
                None,
                "≥ 1.5×",
                None,
            )
        )
    else:
        rows.append(
            Row(
                "P2 vs openai-python realtime",
                f"{ours:,.0f}/s",
                f"{openai:,.0f}/s (openai)",
                ours / openai,
                "≥ 1.5×",
                ours / openai >= 1.5,
            )
        )
    return rows
