"""Regressions of the reliable-core issue: each failed (hung, leaked or misreported) before the rebuild.

Real loopback sockets against the local server, on asyncio and trio, over many turns.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import numpy as np
import pytest

from agent_rt import ConnectionClosedError, NotConnectedError, RealtimeClient, transport
from agent_rt.client import MAX_APPEND_BYTES
from agent_rt.server import LocalRealtimeServer
from agent_rt.transport import HandshakeRequest, WebSocket

from .one_packet import close_frame, one_packet_server, text_frame
from .serve_process import serve_process

pytestmark = pytest.mark.anyio

WAIT = 10.0

SCENARIO: dict[str, Any] = {
    "rules": [
        {
            "match": "mystery",
            "calls": [{"name": "not_declared", "arguments": {"x": 1}}],
            "after_output": "ok",
        },
        {"match": "secret", "calls": [{"name": "leaky", "arguments": {}}], "after_output": "{output.error}"},
        {"match": "big", "calls": [{"name": "huge", "arguments": {}}], "after_output": "got it"},
        {"match": "long story", "reply": "Once upon a time " * 40},
    ]
}


class Sent:
    """Every client event the client wrote, in order."""

    def __init__(self, client: RealtimeClient) -> None:
        self.events: list[dict[str, Any]] = []
        client.realtime.on("client.*", self.events.append)

    def of(self, event_type: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["type"] == event_type]


async def assistant_reply(client: RealtimeClient, text: str) -> dict[str, Any]:
    await client.send_user_message_content([{"type": "input_text", "text": text}])
    while True:
        item = await client.wait_for_next_completed_item(timeout=WAIT)
        if item.get("type") == "message" and item.get("role") == "assistant":
            return item


@pytest.fixture(scope="module")
def paced_server_process() -> Iterator[str]:
    """``agent-rt serve --realtime-audio`` as its own process: replies race the client's sends for real."""
    with serve_process("--realtime-audio") as url:
        yield url


async def test_fifteen_text_turns_in_a_row_never_stick(paced_server_process: str) -> None:
    """Item 1: on trio the pending response.create was recorded after its send, and every run stuck."""
    client = RealtimeClient(url=paced_server_process, api_key="local", plugins=False)
    sent = Sent(client)
    async with client:
        for turn in range(15):
            item = await assistant_reply(client, f"turn {turn}")
            assert item["formatted"]["transcript"] == f"You said: turn {turn}"
    assert len(sent.of("response.create")) == 15


async def test_a_call_to_a_tool_nobody_declared_gets_an_error_output_and_one_follow_up() -> None:
    """Item 2: the client sent nothing and the model waited forever."""
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client = RealtimeClient(url=server.url, plugins=False)
        sent = Sent(client)
        async with client:
            reply = await assistant_reply(client, "a mystery")
            assert reply["formatted"]["transcript"] == "ok"
        outputs = [
            e["item"]
            for e in sent.of("conversation.item.create")
            if e["item"]["type"] == "function_call_output"
        ]
        assert len(outputs) == 1
        assert json.loads(outputs[0]["output"]) == {"error": "unknown tool 'not_declared'"}
        assert len(sent.of("response.create")) == 2  # the user's turn, then one follow-up


async def test_a_session_tool_without_handler_stays_the_applications_to_answer() -> None:
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client = RealtimeClient(url=server.url, plugins=False)
        await client.update_session(
            tools=[
                {
                    "name": "not_declared",
                    "description": "answered by the app",
                    "parameters": {"type": "object"},
                }
            ]
        )
        sent = Sent(client)
        async with client:
            await client.send_user_message_content([{"type": "input_text", "text": "a mystery"}])
            call = await client.wait_for_next_completed_item(timeout=WAIT)
            while call.get("type") != "function_call":
                call = await client.wait_for_next_completed_item(timeout=WAIT)
            await client.wait_for_response_done(timeout=WAIT)
            assert not [
                e for e in sent.of("conversation.item.create") if e["item"]["type"] == "function_call_output"
            ]
            assert len(sent.of("response.create")) == 1


@pytest.mark.parametrize("where", ["session", "send"])
async def test_a_refused_beta_handshake_is_a_typed_error_with_code_4000(where: str) -> None:
    """Item 3: it surfaced as 'connection closed (code None)'."""
    async with LocalRealtimeServer(reject_beta=True) as server:
        client = RealtimeClient(url=server.url, protocol="beta", plugins=False, reconnect=True)
        closes: list[dict[str, Any]] = []
        closed = anyio.Event()

        def on_close(payload: dict[str, Any]) -> None:
            closes.append(payload)
            closed.set()

        client.on("close", on_close)
        reconnects: list[Any] = []
        client.on("reconnecting", reconnects.append)
        await client.connect()
        if where == "send":
            with anyio.fail_after(WAIT):
                await closed.wait()
        with pytest.raises(ConnectionClosedError) as caught:  # noqa: PT012
            if where == "session":
                await client.wait_for_session_created(timeout=WAIT)
            else:
                await client.send_user_message_content([{"type": "input_text", "text": "hi"}])
        await client.disconnect()
        error = caught.value
        assert error.code == 4000
        assert "beta_api_shape_disabled" in str(error)
        assert error.server_error is not None
        assert error.server_error["code"] == "beta_api_shape_disabled"
        assert [close["code"] for close in closes] == [4000]
        assert not client.is_connected()
        assert reconnects == []
        assert len(server.connections) == 1


async def test_wait_for_response_done_after_a_cancel_returns_the_cancelled_response() -> None:
    """Item 7: after cancel_response() nothing could be awaited (the item never 'completed')."""
    async with LocalRealtimeServer(realtime_audio=True) as server:
        client = RealtimeClient(url=server.url, plugins=False)
        errors: list[Any] = []
        client.on("error", errors.append)
        async with client:
            await client.send_user_message_content([{"type": "input_text", "text": "tell me a long story"}])
            await client.wait_for_next_item(timeout=WAIT)  # the user's item
            item = await client.wait_for_next_item(timeout=WAIT)  # the assistant's
            while not len(item["formatted"]["audio"]):
                await client.wait_for_next("conversation.updated", timeout=WAIT)
            truncated = await client.cancel_response(item["id"], sample_count=2400)
            response = await client.wait_for_response_done(timeout=WAIT)
            assert response["status"] == "cancelled"
            assert truncated is item
            assert errors == []


@asynccontextmanager
async def scripted_server(script: Callable[[WebSocket], Awaitable[None]]) -> AsyncIterator[str]:
    """A bare server playing ``script`` on each connection: exact orders the local server never makes."""

    async def handler(websocket: WebSocket, request: HandshakeRequest) -> None:
        await websocket.send_text(json.dumps({"type": "session.created", "session": {"id": "sess_1"}}))
        await script(websocket)

    async with anyio.create_task_group() as group:
        port = await group.start(transport.serve, handler)
        yield f"ws://127.0.0.1:{port}/v1/realtime"
        group.cancel_scope.cancel()


async def read_until(websocket: WebSocket, event_type: str) -> dict[str, Any]:
    while True:
        event = json.loads(await websocket.receive())
        if event["type"] == event_type:
            return dict(event)


async def test_a_cancel_that_loses_the_race_with_response_done_is_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Item 7: response_cancel_not_active for the client's own late cancel was a WARNING and an error event.

    The server finishes the response while the client's cancel is on the wire, as the service does.
    """
    done = {"type": "response.done", "response": {"id": "resp_1", "status": "completed", "output": []}}

    async def script(websocket: WebSocket) -> None:
        await read_until(websocket, "response.create")
        await websocket.send_text(json.dumps({"type": "response.created", "response": {"id": "resp_1"}}))
        cancel = await read_until(websocket, "response.cancel")
        await websocket.send_text(json.dumps(done))
        error = {
            "type": "invalid_request_error",
            "code": "response_cancel_not_active",
            "event_id": cancel["event_id"],
        }
        error["message"] = "Cancellation failed: no active response found"
        await websocket.send_text(json.dumps({"type": "error", "error": error}))
        await read_until(websocket, "response.create")  # the next turn goes ahead
        await websocket.send_text(json.dumps({"type": "response.created", "response": {"id": "resp_2"}}))
        await websocket.send_text(
            json.dumps({"type": "response.done", "response": {"id": "resp_2", "output": []}})
        )
        await anyio.sleep_forever()

    async with scripted_server(script) as url:
        client = RealtimeClient(url=url, api_key="test", plugins=False)
        errors: list[Any] = []
        client.on("error", errors.append)
        async with client:
            await client.create_response()
            await client.realtime.wait_for_next("server.response.created", timeout=WAIT)
            await client.cancel_response()
            response = await client.wait_for_response_done(timeout=WAIT)
            assert response["id"] == "resp_1"
            refusal = await client.realtime.wait_for_next("server.error", timeout=WAIT)
            assert refusal["error"]["code"] == "response_cancel_not_active"
            await client.create_response()
            assert (await client.wait_for_response_done(timeout=WAIT))["id"] == "resp_2"
        assert errors == []
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_server_refusal_in_the_same_packet_as_the_handshake_fails_connect_with_its_code() -> None:
    """Item 3 when the refusal lands inside connect(): the send of session.update meets the close."""
    error = {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "code": "beta_api_shape_disabled",
            "message": "The beta API shape is disabled.",
        },
    }
    frames = text_frame(error) + close_frame(4000)

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, one_packet_server(frames))
        client = RealtimeClient(url=f"ws://127.0.0.1:{port}/v1/realtime", api_key="k", plugins=False)
        closes: list[dict[str, Any]] = []
        client.on("close", closes.append)
        with pytest.raises(ConnectionClosedError) as caught:  # noqa: PT012
            await client.connect()
            await client.wait_for_session_created(timeout=WAIT)
        await client.disconnect()
        group.cancel_scope.cancel()
    assert caught.value.code == 4000
    assert "beta_api_shape_disabled" in str(caught.value)
    assert [close["code"] for close in closes] == [4000]
    assert not client.is_connected()


async def test_handler_errors_are_redacted_for_the_model_and_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Item 7: a handler exception's text went verbatim to the model and the log."""
    key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123"

    def leaky(arguments: dict[str, Any]) -> None:
        raise RuntimeError(f"upstream refused Authorization: Bearer {key}")

    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client = RealtimeClient(url=server.url, plugins=False)
        await client.add_tool(
            {"name": "leaky", "description": "fails", "parameters": {"type": "object"}}, leaky
        )
        sent = Sent(client)
        with caplog.at_level(logging.DEBUG):
            async with client:
                await assistant_reply(client, "tell me a secret")
    outputs = [
        e["item"]["output"]
        for e in sent.of("conversation.item.create")
        if e["item"]["type"] == "function_call_output"
    ]
    assert len(outputs) == 1
    assert "RuntimeError" in outputs[0]
    assert key not in outputs[0]
    assert key not in caplog.text
    assert "leaky" in caplog.text  # the failure is still logged


async def test_a_huge_tool_output_is_capped_with_a_clear_marker() -> None:
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client = RealtimeClient(url=server.url, plugins=False, tool_output_limit=1000)
        await client.add_tool(
            {"name": "huge", "description": "20 MB", "parameters": {"type": "object"}},
            lambda args: "x" * 20_000_000,
        )
        sent = Sent(client)
        async with client:
            await assistant_reply(client, "something big")
    (output,) = [
        e["item"]["output"]
        for e in sent.of("conversation.item.create")
        if e["item"]["type"] == "function_call_output"
    ]
    assert len(output) <= 1000
    marker = json.loads(output)
    assert marker["truncated"] is True
    assert marker["total_chars"] == 20_000_002
    assert marker["partial_output"].startswith('"xxx')


async def test_long_input_audio_goes_as_frames_under_the_event_limit() -> None:
    async with LocalRealtimeServer() as server:
        client = RealtimeClient(url=server.url, plugins=False)
        sent = Sent(client)
        samples = np.zeros(24_000 * 60 * 5, dtype=np.int16)  # 5 minutes: 14.4 MB of PCM16
        async with client:
            await client.wait_for_session_created(timeout=WAIT)
            await client.append_input_audio(samples)
        appends = sent.of("input_audio_buffer.append")
        assert len(appends) == -(-samples.nbytes // MAX_APPEND_BYTES)
        assert max(len(json.dumps(event)) for event in appends) < 15 * 1024 * 1024
        assert client.conversation.input_audio.total_samples == len(samples)


async def test_wrong_state_calls_get_the_same_typed_error() -> None:
    client = RealtimeClient(url="ws://127.0.0.1:9/v1/realtime", plugins=False)
    for call in (
        client.create_response(),
        client.send_user_message_content([{"type": "input_text", "text": "hi"}]),
        client.append_input_audio(np.zeros(10, dtype=np.int16)),
        client.cancel_response(),
        client.delete_item("item_1"),
        client.wait_for_next_item(),
        client.wait_for_response_done(),
    ):
        with pytest.raises(NotConnectedError, match="not connected"):
            await call
