"""Shared builders for the local-server tests: client events, synthetic PCM, event filters."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agent_rt.audio import pcm16_to_base64
from agent_rt.server import RealtimeSession
from agent_rt.transport import WebSocket, connect

Event = dict[str, Any]
RATE = 24000


def types(events: Iterable[Event]) -> list[str]:
    return [e["type"] for e in events]


def only(events: Iterable[Event], event_type: str) -> list[Event]:
    return [e for e in events if e["type"] == event_type]


def one(events: Iterable[Event], event_type: str) -> Event:
    found = only(events, event_type)
    assert len(found) == 1, f"expected one {event_type}, got {len(found)}"
    return found[0]


def silence(ms: int, rate: int = RATE) -> NDArray[np.int16]:
    return np.zeros(rate * ms // 1000, dtype=np.int16)


def tone(ms: int, *, amplitude: float = 0.3, frequency: float = 440.0, rate: int = RATE) -> NDArray[np.int16]:
    t = np.arange(rate * ms // 1000) / rate
    return (amplitude * 32767 * np.sin(2 * np.pi * frequency * t)).astype(np.int16)


def user_text(text: str, **extra: Any) -> Event:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    return {"type": "conversation.item.create", "item": item, **extra}


def append(samples: NDArray[np.int16]) -> Event:
    return {"type": "input_audio_buffer.append", "audio": pcm16_to_base64(samples)}


def append_in_chunks(session: RealtimeSession, samples: NDArray[np.int16], chunk_ms: int = 20) -> list[Event]:
    """Feed audio like a microphone would: small appends, collecting every event."""
    step = RATE * chunk_ms // 1000
    events: list[Event] = []
    for start in range(0, len(samples), step):
        events.extend(session.receive(append(samples[start : start + step])))
    return events


def error_of(events: list[Event]) -> dict[str, Any]:
    assert types(events) == ["error"], types(events)
    error: dict[str, Any] = events[0]["error"]
    return error


def manual_session(**kwargs: Any) -> RealtimeSession:
    """A GA (or beta) session with turn detection off, as push-to-talk clients use it."""
    session = RealtimeSession(seed=7, **kwargs)
    session.start()
    update: dict[str, Any]
    if session.ga:
        update = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
    else:
        update = {"turn_detection": None}
    assert types(session.receive({"type": "session.update", "session": update})) == ["session.updated"]
    return session


# -- a raw WebSocket to a server, for tests of the wire itself ---------------------------------


@asynccontextmanager
async def opened(url: str, headers: dict[str, str] | None = None) -> AsyncIterator[WebSocket]:
    ws = await connect(url, headers if headers is not None else {"Authorization": "Bearer test-key"})
    try:
        yield ws
    finally:
        await ws.close()


async def receive(ws: WebSocket) -> dict[str, Any]:
    message = await ws.receive()
    assert isinstance(message, str)
    event: dict[str, Any] = json.loads(message)
    return event


async def send(ws: WebSocket, event: dict[str, Any]) -> None:
    await ws.send_text(json.dumps(event))


async def receive_until(ws: WebSocket, event_type: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while not events or events[-1]["type"] != event_type:
        events.append(await receive(ws))
    return events
