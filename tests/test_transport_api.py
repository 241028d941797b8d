"""RealtimeAPI and the anyio WebSocket transport, over real loopback sockets with scripted peers."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from agent_rt import RealtimeAPI, transport
from agent_rt.errors import ConfigurationError, ConnectionClosedError, HandshakeError, NotConnectedError
from agent_rt.transport import HandshakeRequest, WebSocket

from .one_packet import close_frame, one_packet_server, text_frame

pytestmark = pytest.mark.anyio

PeerHandler = Callable[[WebSocket, HandshakeRequest], Awaitable[None]]


@asynccontextmanager
async def scripted_server(handler: PeerHandler) -> AsyncIterator[str]:
    async with anyio.create_task_group() as group:
        port = await group.start(transport.serve, handler)
        yield f"ws://127.0.0.1:{port}/v1/realtime"
        group.cancel_scope.cancel()


async def test_handshake_headers_ga_and_beta() -> None:
    seen: list[HandshakeRequest] = []

    async def handler(ws: WebSocket, request: HandshakeRequest) -> None:
        seen.append(request)
        await ws.send_text(json.dumps({"type": "session.created", "event_id": "e1", "session": {}}))
        await ws.receive()

    async with scripted_server(handler) as url:
        for protocol in ("ga", "beta"):
            api = RealtimeAPI(
                url=url, api_key="sk-test-abcdefghijkl", model="gpt-realtime", protocol=protocol
            )
            async with api:
                assert await api.wait_for_next("server.session.created", timeout=5) is not None
    ga, beta = seen
    assert ga.headers["authorization"] == "Bearer sk-test-abcdefghijkl"
    assert "openai-beta" not in ga.headers
    assert beta.headers["openai-beta"] == "realtime=v1"
    assert "model=gpt-realtime" in ga.query


async def test_send_adds_event_id_and_dispatches_client_events() -> None:
    received: list[dict[str, Any]] = []
    done = anyio.Event()

    async def handler(ws: WebSocket, request: HandshakeRequest) -> None:
        received.append(json.loads(await ws.receive()))
        done.set()
        await ws.receive()

    async with scripted_server(handler) as url:
        api = RealtimeAPI(url=url, api_key="k-local")
        specific: list[dict[str, Any]] = []
        wildcard: list[dict[str, Any]] = []
        api.on("client.response.create", specific.append)
        api.on("client.*", wildcard.append)
        async with api:
            sent = await api.send("response.create", {"response": {"instructions": "hi"}})
            with anyio.fail_after(5):
                await done.wait()
    assert sent["event_id"].startswith("evt_")
    assert received == [sent]
    assert specific == [sent]
    assert wildcard == [sent]


async def test_server_dispatch_specific_and_wildcard_in_order() -> None:
    async def handler(ws: WebSocket, request: HandshakeRequest) -> None:
        for index in range(3):
            await ws.send_text(json.dumps({"type": f"x.{index}", "event_id": f"e{index}"}))
        await ws.receive()

    async with scripted_server(handler) as url:
        api = RealtimeAPI(url=url)
        order: list[str] = []
        api.on("server.x.1", lambda event: order.append("specific:" + event["type"]))
        api.on("server.*", lambda event: order.append("any:" + event["type"]))
        async with api:
            await api.wait_for_next("server.x.2", timeout=5)
    assert order == ["any:x.0", "specific:x.1", "any:x.1", "any:x.2"]


async def test_garbage_from_server_is_an_error_event_and_the_loop_survives() -> None:
    async def handler(ws: WebSocket, request: HandshakeRequest) -> None:
        await ws.send_text("this is not json")
        await ws.send_text("[1, 2, 3]")
        await ws.send_text(json.dumps({"no_type": True}))
        await ws.send_bytes(b"\x00\x01")
        await ws.send_text(json.dumps({"type": "still.alive", "event_id": "e"}))
        await ws.receive()

    async with scripted_server(handler) as url:
        api = RealtimeAPI(url=url)
        errors: list[dict[str, Any]] = []
        api.on("error", errors.append)
        async with api:
            event = await api.wait_for_next("server.still.alive", timeout=5)
    assert event["type"] == "still.alive"
    assert [error["type"] for error in errors] == ["protocol_error"] * 4
    assert "not JSON" in errors[0]["message"]
    assert "binary" in errors[3]["message"]


async def test_dropped_connection_wakes_waiters_and_reports_close_once() -> None:
    async def handler(ws: WebSocket, request: HandshakeRequest) -> None:
        await ws.receive()
        await ws.abort()

    async with scripted_server(handler) as url:
        api = RealtimeAPI(url=url)
        closes: list[dict[str, Any]] = []
        api.on("close", closes.append)
        async with api:
            await api.send("ping.me")
            with pytest.raises(ConnectionClosedError) as info, anyio.fail_after(5):
                await api.wait_for_next("server.never")
            assert info.value.code == 1006
            assert not api.is_connected()
            with pytest.raises(NotConnectedError):
                await api.send("after.drop")
    assert closes == [{"code": 1006, "reason": "", "error": True}]


async def test_server_close_code_and_reason_are_reported() -> None:
    async def handler(ws: WebSocket, request: HandshakeRequest) -> None:
        await ws.close(1001, "Your session hit the maximum duration of 60 minutes.")

    async with scripted_server(handler) as url:
        api = RealtimeAPI(url=url)
        async with api:
            close = await api.wait_for_next("close", timeout=5)
    assert close["code"] == 1001
    assert close["reason"].startswith("Your session hit")
    assert close["error"] is True


async def test_client_disconnect_is_not_an_error() -> None:
    async def handler(ws: WebSocket, request: HandshakeRequest) -> None:
        while True:
            await ws.receive()

    async with scripted_server(handler) as url:
        api = RealtimeAPI(url=url)
        closes: list[dict[str, Any]] = []
        api.on("close", closes.append)
        await api.connect()
        assert api.is_connected()
        await api.disconnect()
    assert not api.is_connected()
    assert [(close["code"], close["error"]) for close in closes] == [(1000, False)]


async def test_refused_handshake_is_a_handshake_error_with_status() -> None:
    async def handler(ws: WebSocket, request: HandshakeRequest) -> None:  # pragma: no cover - never accepted
        raise AssertionError("should not be reached")

    async with anyio.create_task_group() as group:
        port = await group.start(
            lambda task_status: transport.serve(
                handler,
                process_request=lambda request: (401, "bad key sk-leaked-abcdefgh1234"),
                task_status=task_status,
            )
        )
        api = RealtimeAPI(url=f"ws://127.0.0.1:{port}/v1/realtime", api_key="sk-leaked-abcdefgh1234")
        with pytest.raises(HandshakeError) as info:
            await api.connect()
        group.cancel_scope.cancel()
    assert info.value.status == 401
    assert "sk-leaked-abcdefgh1234" not in str(info.value)


async def test_unreachable_host_is_a_handshake_error() -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    await listener.aclose()  # nothing listens there now
    api = RealtimeAPI(url=f"ws://127.0.0.1:{port}/v1/realtime")
    with pytest.raises(HandshakeError, match="could not connect"):
        await api.connect()


def test_bad_url_and_missing_key_are_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigurationError):
        RealtimeAPI(url="http://example.invalid/").connection_url()
    with pytest.raises(ConfigurationError, match="protocol"):
        RealtimeAPI(protocol="v2")
    api = RealtimeAPI()
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        anyio.run(api.connect)


def test_connection_url_keeps_call_id_and_intent() -> None:
    assert RealtimeAPI(model="m").connection_url().endswith("/v1/realtime?model=m")
    api = RealtimeAPI(url="wss://relay.example/v1/realtime?call_id=rtc_1")
    assert api.connection_url() == "wss://relay.example/v1/realtime?call_id=rtc_1"
    api = RealtimeAPI(url="ws://127.0.0.1:9/x?intent=transcription")
    assert "model=" not in api.connection_url()


async def test_debug_logging_redacts_the_key(caplog: pytest.LogCaptureFixture) -> None:
    key = "sk-proj-SECRETSECRETSECRET123"

    async def handler(ws: WebSocket, request: HandshakeRequest) -> None:
        await ws.receive()  # the client's session.update, then the echo: no race with the waiter
        await ws.send_text(
            json.dumps({"type": "echo", "event_id": "e", "text": f"Bearer {key}", "a": "x" * 500})
        )
        await ws.receive()

    caplog.set_level(logging.DEBUG, logger="agent_rt")
    async with scripted_server(handler) as url:
        api = RealtimeAPI(url=url, api_key=key, debug=True)
        async with api, anyio.create_task_group() as group:
            group.start_soon(api.wait_for_next, "server.echo", 5)
            await anyio.lowlevel.checkpoint()  # the waiter is registered before anything is sent
            await api.send("session.update", {"session": {"instructions": key}})
        text = caplog.text + repr(api)
    assert "received" in caplog.text
    assert "sent" in caplog.text
    assert "<500 chars>" in caplog.text
    assert key not in text


async def test_frames_in_the_same_packet_as_the_handshake_response_are_kept() -> None:
    """A fast server writes its first events right behind the 101: none may be lost."""
    messages = [json.dumps({"type": "event", "n": n}) for n in range(20)]
    frames = b"".join(text_frame(text) for text in messages) + close_frame(1000)

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, one_packet_server(frames))
        websocket = await transport.connect(f"ws://127.0.0.1:{port}/v1/realtime")
        received: list[str | bytes] = []
        code: int | None = None
        with anyio.fail_after(5):  # lost frames would leave the reader waiting for the close frame
            while code is None:
                try:
                    received.append(await websocket.receive())
                except ConnectionClosedError as exc:
                    code = exc.code
        assert received == messages
        assert code == 1000
        group.cancel_scope.cancel()
