"""agent_rt's own RealtimeClient through the relay, as an application uses it (``async with``).

Many sessions at once, several turns each, must all complete and leave nothing open behind them.

The relay accepts a session and closes it at once when it cannot serve it (too many sessions:
1013; the upstream refuses or is unreachable: 1011). The client must raise that close, code and
reason, from ``async with`` and leave nothing of the connection open in the caller's task.
"""

from __future__ import annotations

import socket

import anyio
import anyio.lowlevel
import pytest

from agent_rt import RealtimeClient
from agent_rt.errors import ConnectionClosedError
from agent_rt.relay import Limits, create_relay_app
from agent_rt.server import LocalRealtimeServer

from .helpers import SessionEnds, running

pytestmark = pytest.mark.anyio
TOKEN = "relay-token-for-agent-rt"
WAIT = 10


@pytest.fixture(autouse=True)
def _no_upstream_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


async def _refused_by(url: str) -> ConnectionClosedError:
    """Open a client with ``async with`` where the relay closes at once; the caller's scopes stay sound."""
    client = RealtimeClient(api_key=TOKEN, url=url, plugins=False)
    with pytest.raises(ConnectionClosedError) as caught:
        async with client:
            raise AssertionError("the relay was expected to close this session at once")
    assert not client.is_connected()
    # The caller's task is whole again: a task group and a timed wait work as usual.
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(anyio.lowlevel.checkpoint)
    with anyio.fail_after(WAIT):
        await anyio.lowlevel.checkpoint()
    return caught.value


async def test_a_busy_relay_closes_with_1013_and_the_client_raises_it_cleanly() -> None:
    app = create_relay_app(tokens=[TOKEN], limits=Limits(max_sessions_per_identity=1))
    with running(app) as relay:
        first = RealtimeClient(api_key=TOKEN, url=relay.url, plugins=False)
        async with first:
            await first.wait_for_session_created(timeout=WAIT)
            for _ in range(3):  # every refusal leaves the caller able to go on
                error = await _refused_by(relay.url)
                assert error.code == 1013
                assert "too many concurrent sessions" in str(error)
            await first.send_user_message_content([{"type": "input_text", "text": "still here"}])
            done = await first.wait_for_response_done(timeout=WAIT)
            assert done["status"] == "completed"


async def test_an_unreachable_upstream_closes_with_1011_and_the_client_raises_it_cleanly() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"ws://127.0.0.1:{probe.getsockname()[1]}/v1/realtime"
    with running(create_relay_app(dead, tokens=[TOKEN])) as relay:
        error = await _refused_by(relay.url)
        assert error.code == 1011
        assert "upstream could not be reached" in str(error)
        assert relay.relay.metrics.sessions_active == 0


async def _session(url: str, token: str, number: int, turns: int, answers: dict[int, list[str]]) -> None:
    async with RealtimeClient(api_key=token, url=url, plugins=False) as client:
        await client.update_session(output_modalities=["text"])
        for turn in range(turns):
            await client.send_user_message_content([{"type": "input_text", "text": f"s{number} t{turn}"}])
            done = await client.wait_for_response_done(timeout=WAIT * 3)
            assert done["status"] == "completed"
            answers.setdefault(number, []).append(done["output"][0]["content"][0]["text"])


async def test_thirty_sessions_in_parallel_five_turns_each_and_nothing_left_open() -> None:
    sessions, turns = 30, 5
    tokens = {f"{TOKEN}-{n}": f"user-{n}" for n in range(3)}  # 10 sessions per identity: the default cap
    ends = SessionEnds()
    async with LocalRealtimeServer() as upstream:
        app = create_relay_app(upstream.url, tokens=tokens, on_session_end=ends)
        with running(app) as relay:
            answers: dict[int, list[str]] = {}
            names = list(tokens)
            async with anyio.create_task_group() as tasks:
                for number in range(sessions):
                    tasks.start_soon(_session, relay.url, names[number % 3], number, turns, answers)
            assert answers == {
                n: [f"You said: s{n} t{turn}" for turn in range(turns)] for n in range(sessions)
            }
            records = await ends.wait_for(sessions)
            # Every session was closed by its client (with 1000; the relay may record 1006 "client
            # gone" when a forward fails after the close frame, before it reads the close).
            assert [r["closed_by"] for r in records] == ["client"] * sessions
            metrics = relay.relay.metrics
            assert (metrics.sessions_active, metrics.upstreams_open, relay.relay.slots.total) == (0, 0, 0)
            assert metrics.sessions_total == sessions
            with anyio.fail_after(WAIT):
                for connection in upstream.connections:
                    await connection.closed.wait()
