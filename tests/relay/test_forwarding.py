"""Sessions through the relay: turns, the beta generation, upstream failures, vanishing clients."""

from __future__ import annotations

import anyio
import pytest

from agent_rt.relay import create_relay_app
from agent_rt.server import Faults, LocalRealtimeServer

from .helpers import peer, running, user_message

pytestmark = pytest.mark.anyio

TOKEN = "relay-token-forwarding"
LONG_REPLY = "This answer goes on for a while so that it is still streaming. " * 12


@pytest.fixture(autouse=True)
def _no_upstream_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


async def test_text_turns_through_the_embedded_upstream() -> None:
    with running(create_relay_app(tokens=[TOKEN])) as relay:
        async with peer(relay.url, token=TOKEN) as client:
            await client.until("session.created")
            for turn in range(3):
                done = await client.text_turn(f"hello number {turn}")
                assert done["response"]["status"] == "completed"
                text = done["response"]["output"][0]["content"][0]
                assert f"hello number {turn}" in (text.get("text") or text.get("transcript"))
        metrics = relay.relay.metrics
        assert metrics.frames["client"] == 6
        assert metrics.frames["server"] > 6
        assert metrics.tokens[("token-1", "total")] > 0
    assert metrics.sessions_active == 0
    assert metrics.upstreams_open == 0


async def test_beta_subprotocol_reaches_the_upstream_as_the_beta_header() -> None:
    async with LocalRealtimeServer() as upstream:
        with running(create_relay_app(upstream.url, tokens=[TOKEN])) as relay:
            offered = ["realtime", f"openai-insecure-api-key.{TOKEN}", "openai-beta.realtime-v1"]
            async with peer(relay.url + "?model=gpt-4o-realtime-preview", subprotocols=offered) as client:
                created = await client.until("session.created")
                assert "modalities" in created["session"]  # the beta shape
                await client.text_turn("hi")
            async with peer(relay.url, token=TOKEN) as client:
                created = await client.until("session.created")
                assert created["session"]["type"] == "realtime"  # the GA shape
        beta, ga = upstream.connections
        assert beta.dialect == "beta"
        assert beta.headers["openai-beta"] == "realtime=v1"
        assert beta.model == "gpt-4o-realtime-preview"
        assert ga.dialect == "ga"
        for connection in (beta, ga):
            # Nothing of the client's credentials goes upstream.
            assert TOKEN not in repr(connection.headers)
            assert "sec-websocket-protocol" not in connection.headers


async def test_upstream_dropping_mid_session_closes_the_client_with_a_reason() -> None:
    async with LocalRealtimeServer(faults=Faults(drop_after=4)) as upstream:
        with running(create_relay_app(upstream.url, tokens=[TOKEN])) as relay:
            async with peer(relay.url, token=TOKEN) as client:
                await client.until("session.created")
                await client.ask("x")
                closed = await client.closed()
            assert closed.code == 1011
            assert closed.reason == "upstream connection lost"
            assert relay.relay.metrics.sessions_active == 0


async def test_upstream_close_code_and_reason_pass_through() -> None:
    faults = Faults(close_after=1, close_code=1001, close_reason="Your session hit the maximum duration.")
    async with LocalRealtimeServer(faults=faults) as upstream:
        with running(create_relay_app(upstream.url, tokens=[TOKEN])) as relay:
            async with peer(relay.url, token=TOKEN) as client:
                await client.until("session.created")
                closed = await client.closed()
    assert (closed.code, closed.reason) == (1001, "Your session hit the maximum duration.")


async def test_unreachable_upstream_closes_the_client_with_a_reason() -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    await listener.aclose()  # nothing listens there now
    with running(create_relay_app(f"ws://127.0.0.1:{port}/v1/realtime", tokens=[TOKEN])) as relay:
        async with peer(relay.url, token=TOKEN) as client:
            closed = await client.closed()
    assert closed.code == 1011
    assert closed.reason == "the upstream could not be reached"


async def test_upstream_refusing_the_handshake_closes_the_client_with_its_status() -> None:
    async with LocalRealtimeServer() as upstream:
        upstream.app.refuse_handshakes(503)
        with running(create_relay_app(upstream.url, tokens=[TOKEN])) as relay:
            async with peer(relay.url, token=TOKEN) as client:
                closed = await client.closed()
    assert (closed.code, closed.reason) == (1011, "the upstream refused the session (HTTP 503)")


async def test_client_vanishing_mid_response_closes_the_upstream() -> None:
    scenario = [{"match": "long", "reply": LONG_REPLY}]
    async with LocalRealtimeServer(scenario=scenario, realtime_audio=True) as upstream:
        with running(create_relay_app(upstream.url, tokens=[TOKEN])) as relay:
            async with peer(relay.url, token=TOKEN) as client:
                await client.until("session.created")
                await client.ask("long")
                await client.until("response.output_audio.delta")
                await client.ws.abort()  # no close frame: the client just vanished
            with anyio.fail_after(10):
                await upstream.connections[0].closed.wait()
            metrics = relay.relay.metrics
            assert (metrics.sessions_active, metrics.upstreams_open, relay.relay.slots.total) == (0, 0, 0)
            assert upstream.connections[0].session.streaming  # it was cut off mid-response


async def test_events_reach_the_upstream_in_the_order_sent_whichever_path_they_take() -> None:
    """Plain events may be forwarded from the server's read callback, others go through the pump
    (``session.update`` is rewritten, refused events get an error): the upstream sees one order."""
    async with LocalRealtimeServer() as upstream:
        with running(create_relay_app(upstream.url, tokens=[TOKEN])) as relay:
            async with peer(relay.url, token=TOKEN) as client:
                await client.until("session.created")
                expected: list[tuple[str, str]] = []
                for n in range(60):
                    await client.send("conversation.item.create", item=user_message(f"item {n}"))
                    expected.append(("item", f"item {n}"))
                    if n % 5 == 1:
                        instructions = f"instructions {n}"
                        await client.send(
                            "session.update", session={"type": "realtime", "instructions": instructions}
                        )
                        expected.append(("session", instructions))
                    if n % 7 == 3:
                        await client.ws.send_bytes(b"not an event")
                    if n % 9 == 4:
                        await client.send("not.a.realtime.event")
                seen: list[tuple[str, str]] = []
                refusals = 0
                while len(seen) < len(expected) or refusals < 9 + 7:  # 9 binary, 7 unknown
                    event = await client.next_event()
                    if event["type"] == "conversation.item.added":
                        seen.append(("item", event["item"]["content"][0]["text"]))
                    elif event["type"] == "session.updated":
                        seen.append(("session", event["session"]["instructions"]))
                    elif event["type"] == "error":
                        refusals += 1
                assert seen == expected
                assert refusals == 9 + 7
        assert relay.relay.metrics.frames["client"] == 60 + 12 + 7  # the text frames
