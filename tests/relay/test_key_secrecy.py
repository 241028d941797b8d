"""The upstream key stays on the upstream connection: no frame, header or error a client sees holds it."""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import anyio
import pytest
from websockets.frames import Frame, Opcode

from agent_rt.relay import create_relay_app
from agent_rt.server import RealtimeServerApp
from agent_rt.transport import HandshakeRequest, WebSocket, serve

from .helpers import running, user_message

pytestmark = pytest.mark.anyio

TOKEN = "relay-token-secrecy"
#: Not shaped like an OpenAI key on purpose: only the relay's knowledge of its key can hide it.
KEY = "upstream-KEY-7f3a9c2e5b1d4f60a8e2"


@asynccontextmanager
async def keyed_upstream(key: str) -> AsyncIterator[str]:
    """A local Realtime server that requires ``key`` and, like a careless service, names it in an error."""
    app = RealtimeServerApp()

    def check(request: HandshakeRequest) -> tuple[int, str] | None:
        given = request.headers.get("authorization", "")
        return None if given == f"Bearer {key}" else (401, f"Incorrect API key provided: {given}\n")

    async def handler(websocket: WebSocket, request: HandshakeRequest) -> None:
        leak = {
            "type": "error",
            "event_id": "evt_leak",
            "error": {
                "type": "invalid_request_error",
                "code": "demo",
                "message": f"this session uses the key {key} (Bearer {key})",
                "param": None,
            },
        }
        await websocket.send_text(json.dumps(leak))
        await app(websocket, request)

    async with anyio.create_task_group() as tasks:
        port = await tasks.start(partial(serve, handler, "127.0.0.1", 0, process_request=check))
        yield f"ws://127.0.0.1:{port}/v1/realtime"
        tasks.cancel_scope.cancel()


def _frame(event: dict[str, object]) -> bytes:
    return Frame(Opcode.TEXT, json.dumps(event).encode()).serialize(mask=True, extensions=[])


async def raw_session(port: int, token: str) -> bytes:
    """Every byte the relay sends a client over one text turn, handshake response included."""
    handshake = (
        "GET /v1/realtime?model=gpt-realtime HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
        f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    received = b""
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(handshake.encode())
        with anyio.fail_after(10):
            while b"\r\n\r\n" not in received:  # a client speaks once the server said 101
                received += await stream.receive()
        await stream.send(
            _frame(
                {
                    "type": "conversation.item.create",
                    "item": user_message("hi"),
                }
            )
            + _frame({"type": "response.create"})
        )
        with anyio.fail_after(10):
            while b'"response.done"' not in received:
                received += await stream.receive()
            await stream.send(Frame(Opcode.CLOSE, b"\x03\xe8").serialize(mask=True, extensions=[]))
            while True:
                try:
                    received += await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    break
    return received


async def test_the_key_never_reaches_a_client(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="agent_rt.relay")
    monkeypatch.setenv("RELAY_UPSTREAM_KEY", KEY)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    async with keyed_upstream(KEY) as url:
        app = create_relay_app(url, tokens=[TOKEN], upstream_key_env="RELAY_UPSTREAM_KEY", debug=True)
        with running(app) as relay:
            seen = await raw_session(relay.port, TOKEN)
    assert b"101 Switching Protocols" in seen
    assert b'"response.done"' in seen
    assert b"this session uses the key ***" in seen  # the upstream's error was forwarded, redacted
    assert KEY.encode() not in seen
    assert KEY not in repr(relay.relay.upstream)
    # --debug logged the events, the session line was logged; neither holds the key.
    assert "upstream -> client" in caplog.text
    assert '"event": "relay.session"' in caplog.text
    assert KEY not in caplog.text


async def test_a_wrong_upstream_key_closes_the_client_without_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-0123456789")
    async with keyed_upstream(KEY) as url:
        with running(create_relay_app(url, tokens=[TOKEN])) as relay:
            seen = await raw_session_until_close(relay.port, TOKEN)
    assert b"the upstream refused the session (HTTP 401)" in seen
    assert b"sk-wrong-key" not in seen


async def raw_session_until_close(port: int, token: str) -> bytes:
    handshake = (
        "GET /v1/realtime HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {token}\r\n\r\n"
    )
    received = b""
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(handshake.encode())
        with anyio.fail_after(10):
            while b"the upstream refused" not in received:
                received += await stream.receive()
            await stream.send(Frame(Opcode.CLOSE, b"\x03\xe8").serialize(mask=True, extensions=[]))
            while True:
                try:
                    received += await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    break
    return received
