"""Each limit ends the session with a clear close code and reason (and frees what it held)."""

from __future__ import annotations

import json

import pytest

from agent_rt.errors import ConnectionClosedError
from agent_rt.relay import Identity, Limits, create_relay_app

from .helpers import SessionEnds, peer, running

pytestmark = pytest.mark.anyio
TOKEN = "relay-token-limits"


@pytest.fixture(autouse=True)
def _no_upstream_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


async def test_an_event_over_the_size_limit_closes_with_1009() -> None:
    app = create_relay_app(tokens=[TOKEN], limits=Limits(max_event_bytes=4096))
    with running(app) as relay:
        async with peer(relay.url, token=TOKEN) as client:
            await client.until("session.created")
            await client.send("input_audio_buffer.append", audio="A" * 2000)  # under: forwarded
            await client.send("input_audio_buffer.append", audio="A" * 5000)
            closed = await client.closed()
    assert (closed.code, closed.reason) == (1009, "an event may be at most 4096 bytes")
    assert relay.relay.metrics.frames["client"] == 1


async def test_the_default_size_limit_is_the_services_15_mib() -> None:
    with running(create_relay_app(tokens=[TOKEN])) as relay:
        async with peer(relay.url, token=TOKEN) as client:
            await client.until("session.created")
            await client.ws.send_text(
                json.dumps({"type": "input_audio_buffer.append", "audio": "A" * 15 * 2**20})
            )
            closed = await client.closed(timeout=30)
    assert (closed.code, closed.reason) == (1009, f"an event may be at most {15 * 2**20} bytes")


async def test_too_many_events_per_second_closes_with_1008() -> None:
    app = create_relay_app(tokens=[TOKEN], limits=Limits(events_per_second=2, burst=5))
    with running(app) as relay:
        async with peer(relay.url, token=TOKEN) as client:
            await client.until("session.created")
            for _ in range(30):
                try:
                    await client.send("input_audio_buffer.clear")
                except ConnectionClosedError:
                    break  # the relay may close before the client has sent them all
            closed = await client.closed()
    assert (closed.code, closed.reason) == (1008, "over the limit of 2 events per second")
    assert 5 <= relay.relay.metrics.frames["client"] < 30


async def test_concurrent_sessions_per_identity_and_in_total() -> None:
    tokens = {"token-alice": Identity("alice"), "token-bob": Identity("bob")}
    limits = Limits(max_sessions=3, max_sessions_per_identity=2)
    ends = SessionEnds()
    with running(create_relay_app(tokens=tokens, limits=limits, on_session_end=ends)) as relay:
        async with peer(relay.url, token="token-alice") as a1, peer(relay.url, token="token-alice") as a2:
            await a1.until("session.created")
            await a2.until("session.created")
            async with peer(relay.url, token="token-alice") as a3:
                closed = await a3.closed()
            assert (closed.code, closed.reason) == (
                1013,
                "too many concurrent sessions for this identity (limit 2)",
            )
            async with peer(relay.url, token="token-bob") as b1:
                await b1.until("session.created")
                async with peer(relay.url, token="token-bob") as b2:
                    closed = await b2.closed()
                assert (closed.code, closed.reason) == (
                    1013,
                    "too many concurrent sessions on this relay (limit 3)",
                )
        # Once the relay has seen alice's and bob's sessions end, the slots are back.
        await ends.wait_for(3)
        async with peer(relay.url, token="token-alice") as again:
            await again.until("session.created")
    assert relay.relay.metrics.refused["sessions"] == 2


async def test_idle_sessions_are_closed_with_1001() -> None:
    app = create_relay_app(tokens=[TOKEN], limits=Limits(idle_timeout=1.5))
    with running(app) as relay:
        async with peer(relay.url, token=TOKEN) as client:
            await client.until("session.created")
            await client.text_turn("still here")  # activity keeps it open
            closed = await client.closed()
    assert (closed.code, closed.reason) == (1001, "idle for 1.5 s: no frame in either direction")
    assert relay.relay.metrics.sessions_active == 0


async def test_the_maximum_session_length_closes_with_1001() -> None:
    app = create_relay_app(tokens=[TOKEN], limits=Limits(max_session_seconds=1.5, idle_timeout=None))
    with running(app) as relay:
        async with peer(relay.url, token=TOKEN) as client:
            await client.until("session.created")
            closed = await client.closed()
    assert (closed.code, closed.reason) == (1001, "the relay's maximum session length of 1.5 s was reached")


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="events_per_second"):
        Limits(events_per_second=0)
    with pytest.raises(ValueError, match="max_sessions"):
        Limits(max_sessions=0)
    assert Limits(idle_timeout=None).idle_timeout is None
