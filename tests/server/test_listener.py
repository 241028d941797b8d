"""The local server over real loopback WebSockets (asyncio and trio), including fault injection."""

from __future__ import annotations

import json

import anyio
import numpy as np
import pytest

from agent_rt.errors import ConnectionClosedError, HandshakeError
from agent_rt.server import Faults, LocalRealtimeServer, serve_realtime
from agent_rt.server.listener import MALFORMED_FRAME
from agent_rt.transport import connect

from .helpers import append, opened, receive, receive_until, send, silence, tone, types, user_text

pytestmark = pytest.mark.anyio

GUARD = 10  # seconds: a safety net, never a wait


async def test_session_created_arrives_first_with_the_model_from_the_query() -> None:
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer() as server, opened(server.url + "?model=gpt-realtime-mini") as ws:
            created = await receive(ws)
            assert created["type"] == "session.created"
            assert created["session"]["model"] == "gpt-realtime-mini"
            assert created["session"]["type"] == "realtime"
            [info] = server.connections
            assert info.authorization is True
            assert info.dialect == "ga"
            assert info.model == "gpt-realtime-mini"
            assert server.url.startswith("ws://127.0.0.1:")
            assert server.url.endswith("/v1/realtime")


async def test_beta_header_selects_the_beta_dialect_and_missing_auth_is_recorded() -> None:
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer() as server, opened(server.url, {"OpenAI-Beta": "realtime=v1"}) as ws:
            created = await receive(ws)
            assert created["session"]["modalities"] == ["text", "audio"]
            assert "audio" not in created["session"]
            assert server.connections[0].authorization is False
            assert server.connections[0].dialect == "beta"


async def test_a_text_turn_streams_in_order() -> None:
    scenario = [{"match": "hello", "reply": "Hi there!"}]
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer(scenario=scenario) as server, opened(server.url) as ws:
            await receive(ws)
            await send(ws, user_text("hello"))
            await send(ws, {"type": "response.create", "response": {"output_modalities": ["text"]}})
            events = await receive_until(ws, "response.done")
            assert types(events) == [
                "conversation.item.added",
                "conversation.item.done",
                "response.created",
                "response.output_item.added",
                "conversation.item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "conversation.item.done",
                "response.output_item.done",
                "response.done",
            ]
            assert events[-1]["response"]["output"][0]["content"][0]["text"] == "Hi there!"
            assert (await receive(ws))["type"] == "rate_limits.updated"


async def test_a_voice_turn_with_server_vad_over_the_wire() -> None:
    scenario = {"transcripts": ["hello"], "rules": [{"match": "hello", "reply": "Hi!"}]}
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer(scenario=scenario) as server, opened(server.url) as ws:
            await receive(ws)
            audio = np.concatenate([silence(300), tone(600), silence(400)])
            for start in range(0, len(audio), 4800):
                await send(ws, append(audio[start : start + 4800]))
            events = await receive_until(ws, "response.done")
            assert types(events)[:3] == [
                "input_audio_buffer.speech_started",
                "input_audio_buffer.speech_stopped",
                "input_audio_buffer.committed",
            ]
            assert "response.output_audio.delta" in types(events)
            assert events[-1]["response"]["output"][0]["content"][0]["transcript"] == "Hi!"


async def test_cancel_arriving_mid_response_is_honoured() -> None:
    scenario = [{"reply": "This answer is long enough to take several seconds of paced audio to stream."}]
    with anyio.fail_after(GUARD):
        async with (
            LocalRealtimeServer(scenario=scenario, realtime_audio=True) as server,
            opened(server.url) as ws,
        ):
            await receive(ws)
            await send(ws, {"type": "response.create"})
            await receive_until(ws, "response.output_audio.delta")
            await send(ws, {"type": "response.cancel"})
            events = await receive_until(ws, "response.done")
            response = events[-1]["response"]
            assert response["status"] == "cancelled"
            assert response["status_details"]["reason"] == "client_cancelled"
            transcript = response["output"][0]["content"][0]["transcript"]
            assert 0 < len(transcript) < len(scenario[0]["reply"])


async def test_non_json_client_frames_get_an_error_event() -> None:
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer() as server, opened(server.url) as ws:
            await receive(ws)
            await ws.send_text("{not json")
            error = await receive(ws)
            assert error["type"] == "error"
            assert error["error"]["code"] == "invalid_json"
            await send(ws, {"type": "input_audio_buffer.clear"})
            assert (await receive(ws))["type"] == "input_audio_buffer.cleared"


async def test_fault_drop_aborts_without_a_close_frame() -> None:
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer(faults=Faults(drop_after=2)) as server, opened(server.url) as ws:
            assert (await receive(ws))["type"] == "session.created"
            await send(ws, {"type": "input_audio_buffer.clear"})
            assert (await receive(ws))["type"] == "input_audio_buffer.cleared"
            with pytest.raises(ConnectionClosedError) as caught:
                await receive(ws)
            assert caught.value.code == 1006
            assert server.connections[0].events_sent == 2


async def test_fault_malformed_frame_then_normal_traffic() -> None:
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer(faults=Faults(malformed_after=1)) as server, opened(server.url) as ws:
            assert (await receive(ws))["type"] == "session.created"
            assert await ws.receive() == MALFORMED_FRAME
            with pytest.raises(json.JSONDecodeError):
                json.loads(MALFORMED_FRAME)
            await send(ws, {"type": "input_audio_buffer.clear"})
            assert (await receive(ws))["type"] == "input_audio_buffer.cleared"


async def test_fault_broken_frame_fails_the_client_connection() -> None:
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer(faults=Faults(bad_frame_after=1)) as server, opened(server.url) as ws:
            assert (await receive(ws))["type"] == "session.created"
            with pytest.raises(ConnectionClosedError):
                await receive(ws)
            # The client failed the connection with a protocol-error close frame.
            await server.connections[0].closed.wait()
            assert server.connections[0].close_code == 1002


async def test_fault_silent_server_reads_but_never_answers() -> None:
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer(faults=Faults(silent_after=1)) as server:
            async with opened(server.url) as ws:
                assert (await receive(ws))["type"] == "session.created"
                await send(
                    ws, {"type": "session.update", "session": {"type": "realtime", "instructions": "X"}}
                )
            [info] = server.connections
            await info.closed.wait()
            assert info.session.config.instructions == "X"  # the update was processed...
            assert info.events_sent == 1  # ...but nothing after session.created went out


async def test_fault_close_with_a_chosen_code() -> None:
    reason = "Your session hit the maximum duration of 60 minutes."
    faults = Faults(close_after=1, close_code=1001, close_reason=reason)
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer(faults=faults) as server, opened(server.url) as ws:
            assert (await receive(ws))["type"] == "session.created"
            with pytest.raises(ConnectionClosedError) as caught:
                await receive(ws)
            assert caught.value.code == 1001
            assert caught.value.reason == reason


async def test_faults_can_target_one_connection() -> None:
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer(faults=[Faults(drop_after=0), None]) as server:
            async with opened(server.url) as first:
                with pytest.raises(ConnectionClosedError):
                    await receive(first)
            async with opened(server.url) as second:
                assert (await receive(second))["type"] == "session.created"
            assert [c.events_sent for c in server.connections] == [0, 1]


async def test_reject_beta_answers_like_the_retired_interface() -> None:
    with anyio.fail_after(GUARD):
        async with (
            LocalRealtimeServer(reject_beta=True) as server,
            opened(server.url, {"OpenAI-Beta": "realtime=v1"}) as ws,
        ):
            error = await receive(ws)
            assert error["error"]["code"] == "beta_api_shape_disabled"
            with pytest.raises(ConnectionClosedError) as caught:
                await receive(ws)
            assert caught.value.code == 4000


async def test_other_paths_are_refused() -> None:
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer() as server:
            with pytest.raises(HandshakeError) as caught:
                await connect(server.url.replace("/v1/realtime", "/v1/chat"))
            assert caught.value.status == 404


async def test_serve_realtime_in_a_task_group() -> None:
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            port = await tg.start(serve_realtime)
            async with opened(f"ws://127.0.0.1:{port}/v1/realtime") as ws:
                assert (await receive(ws))["type"] == "session.created"
            tg.cancel_scope.cancel()
