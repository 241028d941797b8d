"""/healthz, /metrics, the per-session log line and --debug event logging."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from agent_rt.relay import Identity, create_relay_app

from .helpers import peer, running

pytestmark = pytest.mark.anyio
TOKEN = "relay-token-observability"


@pytest.fixture(autouse=True)
def _no_upstream_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


async def test_metrics_text_and_healthz(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agent_rt.relay")
    app = create_relay_app(tokens={TOKEN: Identity("alice")})
    with running(app) as relay:
        async with peer(relay.url + "?model=gpt-realtime", token=TOKEN) as client:
            await client.until("session.created")
            done = await client.text_turn("count me")
            async with httpx.AsyncClient() as http:  # while the session is open
                metrics = (await http.get(relay.http + "/metrics")).text
                health = (await http.get(relay.http + "/healthz")).json()
    # After the server stopped (uvicorn waits for the session to finish), all is given back.
    after = relay.relay.metrics
    total = done["response"]["usage"]["total_tokens"]
    assert health == {"status": "ok", "sessions_active": 1, "sessions_total": 1, "upstreams_open": 1}
    assert "# TYPE agent_rt_relay_sessions_total counter\n" in metrics
    assert "agent_rt_relay_sessions_total 1\n" in metrics
    assert "agent_rt_relay_sessions_active 1\n" in metrics
    assert 'agent_rt_relay_frames_total{direction="client"} 2\n' in metrics
    assert f'agent_rt_relay_tokens_total{{identity="alice",kind="total"}} {total}\n' in metrics
    assert (after.sessions_active, after.upstreams_open, dict(after.closes)) == (0, 0, {1000: 1})
    assert 'agent_rt_relay_closes_total{code="1000"} 1\n' in after.render()
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name == "agent_rt.relay" and "relay.session" in r.getMessage()
    ]
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["identity"] == "alice"
    assert record["model"] == "gpt-realtime"
    assert record["frames_in"] == 2
    assert record["frames_out"] > 2
    assert record["bytes_out"] > record["bytes_in"] > 0
    assert record["tokens"]["total"] == total
    assert record["close_code"] == 1000
    assert record["closed_by"] == "client"
    assert record["duration"] > 0
    assert TOKEN not in caplog.text


async def test_debug_logs_events_with_audio_elided(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="agent_rt.relay.events")
    with running(create_relay_app(tokens=[TOKEN], debug=True)) as relay:
        async with peer(relay.url, token=TOKEN) as client:
            await client.until("session.created")
            await client.send("input_audio_buffer.append", audio="QUJD" * 400)
            await client.text_turn("speak")
    lines = [r.getMessage() for r in caplog.records if r.name == "agent_rt.relay.events"]
    appends = [line for line in lines if "input_audio_buffer.append" in line]
    assert appends == [
        'client -> upstream {"type": "input_audio_buffer.append", "audio": "<1600 chars elided>"}'
    ]
    deltas = [line for line in lines if '"response.output_audio.delta"' in line]
    assert deltas
    assert all("chars elided>" in line for line in deltas)
    assert any('"response.done"' in line for line in lines)


async def test_debug_logs_as_forwarded_only_the_events_that_go_upstream(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="agent_rt.relay.events")
    app = create_relay_app(
        tokens=[TOKEN], debug=True, allowed_events={"conversation.item.create", "response.create"}
    )
    with running(app) as relay:
        async with peer(relay.url, token=TOKEN) as client:
            await client.until("session.created")
            await client.send("input_audio_buffer.clear")
            refused = await client.until("error")
            assert refused["error"]["code"] == "relay_event_not_allowed"
            await client.text_turn("hello")
    lines = [r.getMessage() for r in caplog.records if r.name == "agent_rt.relay.events"]
    forwarded = [line for line in lines if line.startswith("client -> upstream")]
    assert [json.loads(line.split(" ", 3)[3])["type"] for line in forwarded] == [
        "conversation.item.create",
        "response.create",
    ]
