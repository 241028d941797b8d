"""A long-running server frees each session when its socket closes and keeps only counters."""

from __future__ import annotations

import gc
import json
import weakref

import anyio
import pytest

from agent_rt.server import LocalRealtimeServer
from agent_rt.server.listener import ConnectionInfo, RealtimeServerApp
from agent_rt.transport import connect

from .helpers import append, tone, user_text

pytestmark = pytest.mark.anyio

GUARD = 20  # seconds: a safety net, never a wait


async def _short_session(url: str, connections: list[ConnectionInfo], audio_ms: int = 0) -> None:
    """One session with a user message (and audio), closed by the client; returns once the server saw it."""
    ws = await connect(url, {"Authorization": "Bearer test"})
    try:
        created = json.loads(await ws.receive())
        assert created["type"] == "session.created"
        info = connections[-1]  # sessions run one after another: the newest is this one
        if audio_ms:
            await ws.send_text(json.dumps(append(tone(audio_ms))))
        await ws.send_text(json.dumps(user_text("hello")))
        while json.loads(await ws.receive())["type"] != "conversation.item.done":
            pass
    finally:
        await ws.close()
    await info.closed.wait()


async def test_a_closed_session_is_freed_and_only_counted() -> None:
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer(keep_closed=0) as server:
            ws = await connect(server.url, {"Authorization": "Bearer test"})
            await ws.receive()  # session.created: the session exists
            [info] = server.connections
            session = weakref.ref(info.session)
            conversation = weakref.ref(info.session.conversation)
            assert server.counters.active == 1
            await ws.send_text(json.dumps(append(tone(2000))))
            await ws.close()
            await info.closed.wait()
            del info
            gc.collect()
            assert server.connections == []
            assert session() is None, "the server still holds the closed session"
            assert conversation() is None
            assert (server.counters.opened, server.counters.closed, server.counters.active) == (1, 1, 0)


async def test_the_default_keeps_only_a_few_closed_sessions_for_inspection() -> None:
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer() as server:
            refs = []
            for _ in range(12):
                await _short_session(server.url, server.connections)
                refs.append(weakref.ref(server.connections[-1].session))
            gc.collect()
            kept = 8
            assert len(server.connections) == kept
            assert all(ref() is None for ref in refs[:-kept])  # the oldest are gone
            assert all(ref() is not None for ref in refs[-kept:])
            assert server.counters.opened == server.counters.closed == 12


async def test_the_app_behind_serve_keeps_nothing_by_default() -> None:
    app = RealtimeServerApp()
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            port = await tg.start(app.serve, "127.0.0.1", 0)
            url = f"ws://127.0.0.1:{port}/v1/realtime"
            for _ in range(3):
                await _short_session(url, app.connections, audio_ms=1000)
            tg.cancel_scope.cancel()
    assert app.connections == []
    assert app.counters.opened == 3
