"""The local server as the console needs it: a first-response latency, paced audio, server VAD that
hears speech-like audio, and spoken answers to spoken turns (asyncio and trio, real sockets)."""

from __future__ import annotations

import anyio
import numpy as np
import pytest

from agent_rt.audio import pcm16_to_base64
from agent_rt.console.scenario import CONSOLE_SCENARIO
from agent_rt.server import LocalRealtimeServer, RealtimeServerApp

from ..server.helpers import opened, receive, receive_until, send
from .speech import speech_like

pytestmark = pytest.mark.anyio

GUARD = 15  # seconds: a safety net, never a wait


async def test_first_output_waits_for_the_first_response_delay() -> None:
    with anyio.fail_after(GUARD):
        async with (
            LocalRealtimeServer(scenario=[{"reply": "Hi!"}], first_response_delay=0.3) as server,
            opened(server.url) as ws,
        ):
            await receive(ws)
            await send(ws, {"type": "response.create"})
            await receive_until(ws, "response.created")
            created_at = anyio.current_time()
            events = await receive_until(ws, "response.output_item.added")
            assert (
                anyio.current_time() - created_at >= 0.29
            )  # held back (a lower bound: sleeps never end early)
            assert [e["type"] for e in events] == ["response.output_item.added"]
            done = (await receive_until(ws, "response.done"))[-1]
            assert done["response"]["status"] == "completed"


async def test_a_cancel_during_the_delay_ends_the_response_before_any_output() -> None:
    with anyio.fail_after(GUARD):
        async with (
            LocalRealtimeServer(scenario=[{"reply": "Hi!"}], first_response_delay=5.0) as server,
            opened(server.url) as ws,
        ):
            await receive(ws)
            await send(ws, {"type": "response.create"})
            await receive_until(ws, "response.created")
            await send(ws, {"type": "response.cancel"})
            events = await receive_until(ws, "response.done")
            assert [e["type"] for e in events] == ["response.done"]  # answered at once, not after 5 s
            assert events[-1]["response"]["status"] == "cancelled"
            assert events[-1]["response"]["output"] == []


def test_first_response_delay_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="first_response_delay"):
        RealtimeServerApp(first_response_delay=-1)


async def test_server_vad_hears_speech_like_audio_and_the_answer_is_spoken_with_a_transcript() -> None:
    speech = (speech_like(1.0, rate=24000) * 32767).astype(np.int16)
    audio = np.concatenate((np.zeros(4800, np.int16), speech, np.zeros(12000, np.int16)))
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer(scenario=CONSOLE_SCENARIO) as server, opened(server.url) as ws:
            await receive(ws)
            transcription = {"input": {"transcription": {"model": "whisper-1"}}}
            await send(
                ws, {"type": "session.update", "session": {"type": "realtime", "audio": transcription}}
            )
            await receive_until(ws, "session.updated")
            for start in range(0, len(audio), 960):  # 40 ms frames, as the console sends
                chunk = audio[start : start + 960]
                await send(
                    ws, {"type": "input_audio_buffer.append", "audio": pcm16_to_base64(chunk.tobytes())}
                )
            events = await receive_until(ws, "response.done")
    kinds = [e["type"] for e in events]
    started = events[kinds.index("input_audio_buffer.speech_started")]
    stopped = events[kinds.index("input_audio_buffer.speech_stopped")]
    assert 0 <= started["audio_start_ms"] <= 200  # speech begins at 200 ms (minus prefix padding)
    assert 1100 <= stopped["audio_end_ms"] <= 1500  # it ends at 1200 ms, plus the silence window
    heard = next(e for e in events if e["type"] == "conversation.item.input_audio_transcription.completed")
    assert heard["transcript"]
    transcript = "".join(e["delta"] for e in events if e["type"] == "response.output_audio_transcript.delta")
    assert transcript.startswith("I heard ")
    assert "response.output_audio.delta" in kinds
    assert events[-1]["response"]["status"] == "completed"
