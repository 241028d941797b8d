"""Conversation turns end to end against the local server over loopback: asyncio and trio, GA and beta."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import numpy as np
import pytest

from agent_rt import NotConnectedError, RealtimeClient, audio
from agent_rt.server import LocalRealtimeServer

pytestmark = pytest.mark.anyio

SCENARIO = {
    "rules": [
        {"match": "story", "reply": "Once upon a time there was a long story that went on and on and on."}
    ],
    "transcripts": ["tell me a story"],
}


@pytest.fixture(params=["ga", "beta"])
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@asynccontextmanager
async def local(
    protocol: str, **server_options: Any
) -> AsyncIterator[tuple[RealtimeClient, LocalRealtimeServer]]:
    async with LocalRealtimeServer(scenario=SCENARIO, **server_options) as server:
        yield RealtimeClient(url=server.url, protocol=protocol, plugins=False), server


def speech(seconds: float) -> audio.Int16Array:
    rng = np.random.default_rng(5)
    return audio.float_to_pcm16(rng.normal(0, 0.3, int(seconds * audio.SAMPLE_RATE)).astype(np.float32))


def silence(seconds: float) -> audio.Int16Array:
    return np.zeros(int(seconds * audio.SAMPLE_RATE), dtype=np.int16)


async def test_text_turn(protocol: str) -> None:
    async with local(protocol) as (client, server):
        updates: list[dict[str, Any]] = []
        appended: list[str] = []
        raw: list[tuple[str, str]] = []
        client.on("conversation.updated", updates.append)
        client.on("conversation.item.appended", lambda e: appended.append(e["item"]["id"]))
        client.on("realtime.event", lambda e: raw.append((e["source"], e["event"]["type"])))
        async with client:
            await client.send_user_message_content([{"type": "input_text", "text": "Hello there"}])
            user = await client.wait_for_next_item(timeout=5)
            assistant = await client.wait_for_next_item(timeout=5)
            done = await client.wait_for_next_completed_item(timeout=5)
    assert user["role"] == "user"
    assert assistant["role"] == "assistant"
    assert done["id"] == assistant["id"]
    assert done["formatted"]["transcript"] == "You said: Hello there"
    assert server.connections[0].dialect == protocol
    audio_deltas = [u["delta"]["audio"] for u in updates if u["delta"] and "audio" in u["delta"]]
    assert sum(len(chunk) for chunk in audio_deltas) == len(done["formatted"]["audio"]) > 0
    transcript = "".join(
        u["delta"]["transcript"] for u in updates if u["delta"] and "transcript" in u["delta"]
    )
    assert transcript == "You said: Hello there"
    assert appended[:2] == [user["id"], assistant["id"]]
    assert ("client", "conversation.item.create") in raw
    assert ("server", "response.created") in raw


async def test_session_config_reaches_the_server_in_the_dialect_shape(protocol: str) -> None:
    async with local(protocol) as (client, server):
        await client.update_session(voice="alloy", instructions="Be brief.", modalities=["text"])
        async with client:
            await client.wait_for_session_created(timeout=5)
            await client.realtime.wait_for_next("server.session.updated", timeout=5)
            snapshot = server.connections[0].session.config.snapshot()
    assert snapshot["instructions"] == "Be brief."
    if protocol == "ga":
        assert snapshot["audio"]["output"]["voice"] == "alloy"
        assert snapshot["output_modalities"] == ["text"]
    else:
        assert snapshot["voice"] == "alloy"
        assert snapshot["modalities"] == ["text"]


async def test_push_to_talk_commits_before_the_response(protocol: str) -> None:
    async with local(protocol) as (client, _server):
        sent: list[str] = []
        client.realtime.on("client.*", lambda e: sent.append(e["type"]))
        async with client:
            await client.append_input_audio(speech(0.8))
            await client.create_response()
            user = await client.wait_for_next_item(timeout=5)
            await client.wait_for_next_item(timeout=5)
            reply = await client.wait_for_next_completed_item(timeout=5)
    assert sent.index("input_audio_buffer.commit") < sent.index("response.create")
    assert user["role"] == "user"
    assert (
        reply["formatted"]["transcript"]
        == "Once upon a time there was a long story that went on and on and on."
    )


async def test_server_vad_turn(protocol: str) -> None:
    async with local(protocol) as (client, _server):
        await client.update_session(turn_detection={"type": "server_vad", "silence_duration_ms": 300})
        vad: list[dict[str, Any]] = []
        client.realtime.on("server.input_audio_buffer.speech_started", vad.append)
        client.realtime.on("server.input_audio_buffer.speech_stopped", vad.append)
        async with client:
            await client.wait_for_session_created(timeout=5)
            await client.append_input_audio(silence(0.5))
            await client.append_input_audio(speech(1.0))
            await client.append_input_audio(silence(0.6))
            reply: dict[str, Any] = {}
            while reply.get("role") != "assistant":
                reply = await client.wait_for_next_completed_item(timeout=5)
            user = next(item for item in client.conversation.get_items() if item["role"] == "user")
    assert [event["type"] for event in vad][:2] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
    ]
    assert 150 <= vad[0]["audio_start_ms"] <= 500  # speech began at 500 ms, minus 300 ms prefix padding
    assert 1400 <= vad[1]["audio_end_ms"] <= 1900
    assert len(user["formatted"]["audio"]) > audio.SAMPLE_RATE // 2
    assert reply["formatted"]["transcript"].startswith("Once upon a time")


async def test_barge_in_cancels_and_truncates(protocol: str) -> None:
    async with local(protocol, realtime_audio=True) as (client, _server):
        sent: list[dict[str, Any]] = []
        client.realtime.on("client.*", sent.append)
        truncated = anyio.Event()
        client.realtime.on("server.conversation.item.truncated", lambda e: truncated.set())
        async with client:
            await client.send_user_message_content([{"type": "input_text", "text": "a story please"}])
            await client.wait_for_next_item(timeout=5)
            item = await client.wait_for_next_item(timeout=5)
            while len(item["formatted"]["audio"]) < 4800:
                await client.wait_for_next("conversation.updated", timeout=5)
            await client.cancel_response(item["id"], 2400)
            with anyio.fail_after(5):
                await truncated.wait()
            final = client.conversation.get_item(item["id"])
            response = client.conversation.get_response(client.conversation.response_of(item["id"]) or "")
    kinds = [event["type"] for event in sent]
    assert kinds.index("response.cancel") < kinds.index("conversation.item.truncate")
    truncate = next(event for event in sent if event["type"] == "conversation.item.truncate")
    assert truncate["audio_end_ms"] == 100
    assert final is not None
    assert len(final["formatted"]["audio"]) == 2400
    assert response is not None
    assert response["status"] == "cancelled"


async def test_server_error_event_is_reported_and_the_client_goes_on(protocol: str) -> None:
    async with local(protocol) as (client, _server):
        errors: list[dict[str, Any]] = []
        client.on("error", errors.append)
        async with client:
            await client.wait_for_session_created(timeout=5)
            await client.delete_item("item_does_not_exist")
            await client.wait_for_next("error", timeout=5)
            await client.send_user_message_content([{"type": "input_text", "text": "still there?"}])
            await client.wait_for_next_item(timeout=5)
            await client.wait_for_next_item(timeout=5)
            reply = await client.wait_for_next_completed_item(timeout=5)
    assert errors[0]["type"] == "error"
    assert errors[0]["error"]["code"] == "item_not_found"
    assert reply["formatted"]["transcript"] == "You said: still there?"


async def test_create_response_never_overlaps_an_active_response(protocol: str) -> None:
    async with local(protocol) as (client, _server):
        order: list[str] = []
        client.realtime.on("client.response.create", lambda e: order.append("create"))
        client.realtime.on("server.response.done", lambda e: order.append("done"))
        async with client:
            await client.send_user_message_content([{"type": "input_text", "text": "one"}])
            await client.create_response()  # must wait for the first response to finish
            await client.create_response()
            while order.count("done") < 3:
                await client.realtime.wait_for_next("server.response.done", timeout=5)
    assert order == ["create", "done", "create", "done", "create", "done"]


async def test_methods_before_connect_raise_not_connected() -> None:
    client = RealtimeClient(url="ws://127.0.0.1:1/v1/realtime", plugins=False)
    with pytest.raises(NotConnectedError):
        await client.wait_for_session_created(timeout=1)
    with pytest.raises(NotConnectedError):
        await client.send_user_message_content([{"type": "input_text", "text": "x"}])


async def test_a_full_turn_at_debug_never_shows_the_key(
    protocol: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    key = "sk-test-RECOGNIZABLEKEY1234567890"
    caplog.set_level("DEBUG")
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client = RealtimeClient(api_key=key, url=server.url, protocol=protocol, debug=True, plugins=False)
        await client.add_tool(
            {"name": "echo", "description": "Echo", "parameters": {"type": "object", "properties": {}}},
            lambda args: {"said": key},  # even a tool output carrying the key is redacted in the logs
        )
        async with client:
            await client.send_user_message_content([{"type": "input_text", "text": f"my key is {key}"}])
            await client.wait_for_next_item(timeout=5)
            await client.wait_for_next_item(timeout=5)
            await client.wait_for_next_completed_item(timeout=5)
            texts = [repr(client), repr(client.realtime), str(server.connections[0].headers.get("x", ""))]
        try:
            await client.send_user_message_content([{"type": "input_text", "text": "x"}])
        except Exception as exc:  # sending after disconnect: the error must not carry the key either
            texts.append(str(exc))
            texts.append(repr(exc))
    assert "Bearer" in server.connections[0].headers["authorization"]  # it was really sent
    assert any("sent" in record.getMessage() for record in caplog.records)
    for record in caplog.records:
        assert key not in record.getMessage()
    for text in texts:
        assert key not in text
    captured = capsys.readouterr()
    assert key not in captured.out
    assert key not in captured.err
