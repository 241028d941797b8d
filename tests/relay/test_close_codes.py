"""The close code a session is recorded with when the client ends it (log line, metrics).

The client's own code whenever its close frame arrived, even if a frame to the client failed
first (the failure is a consequence of that close, not a lost client); 1006 (RFC 6455 7.1.5) for
a client that vanished without a close frame. The clients here are raw: the frames they write,
and when, are the test's to choose (a close frame written without waiting for the reply, a
connection dropped or reset without one).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import struct
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest
from anyio.abc import SocketAttribute, SocketStream
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response

from agent_rt.relay import create_relay_app
from agent_rt.server import LocalRealtimeServer
from agent_rt.transport import client_handshake

from .helpers import SessionEnds, holding_proxy, running, user_message

pytestmark = pytest.mark.anyio
TOKEN = "relay-token-close-codes"


@pytest.fixture(autouse=True)
def _no_upstream_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


class RawClient:
    """A WebSocket client that writes exactly the frames it is given, when it is told to."""

    def __init__(self, stream: SocketStream, protocol: ClientProtocol) -> None:
        self.stream = stream
        self.protocol = protocol
        self.received: deque[Request | Response | Frame] = deque()

    async def next(self) -> Request | Response | Frame:
        """The next thing the protocol parsed (the handshake's response, then frames)."""
        with anyio.fail_after(10):
            while not self.received:
                self.protocol.receive_data(await self.stream.receive())
                self.received.extend(self.protocol.events_received())
        return self.received.popleft()

    async def write(self) -> None:
        """Everything the protocol has to send, in one write (one segment on loopback)."""
        data = b"".join(self.protocol.data_to_send())
        if data:
            await self.stream.send(data)

    async def send(self, event: dict[str, Any]) -> None:
        self.protocol.send_text(json.dumps(event).encode())
        await self.write()

    async def until(self, event_type: str) -> dict[str, Any]:
        with anyio.fail_after(10):
            while True:
                received = await self.next()
                if isinstance(received, Frame) and received.opcode is Opcode.TEXT:
                    event: dict[str, Any] = json.loads(bytes(received.data))
                    if event["type"] == event_type:
                        return event

    async def vanish(self, *, reset: bool) -> None:
        """Drop the connection without a close frame: a FIN, or (``reset``) a TCP reset."""
        if reset:
            raw = self.stream.extra(SocketAttribute.raw_socket)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await self.stream.aclose()


@contextlib.asynccontextmanager
async def raw_client(url: str) -> AsyncIterator[RawClient]:
    _, protocol, request = client_handshake(url, {"Authorization": f"Bearer {TOKEN}"})
    port = int(url.split(":")[2].split("/")[0])
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        client = RawClient(stream, protocol)
        protocol.send_request(request)
        await client.write()
        assert isinstance(await client.next(), Response)
        assert protocol.handshake_exc is None
        yield client


class Freeze(logging.Handler):
    """Stops the relay's thread (its whole event loop) inside the debug line of a chosen frame.

    While it stands still, frames sent to it from both sides only pile up in its sockets; once let
    go, its loop reads them together, in the order they came.
    """

    def __init__(self, marker: str) -> None:
        super().__init__(logging.DEBUG)
        self.marker = marker
        self.armed = threading.Event()
        self.stopped = threading.Event()
        self.go = threading.Event()

    def arm(self) -> None:
        """Stop at the next record with the marker."""
        self.armed.set()

    def emit(self, record: logging.LogRecord) -> None:
        if self.armed.is_set() and not self.stopped.is_set() and self.marker in record.getMessage():
            self.stopped.set()
            self.go.wait(10)  # the relay's thread, not the test's


@contextlib.contextmanager
def freezing(marker: str) -> Iterator[Freeze]:
    freeze = Freeze(marker)
    events = logging.getLogger("agent_rt.relay.events")
    level = events.level
    events.setLevel(logging.DEBUG)
    events.addHandler(freeze)
    try:
        yield freeze
    finally:
        freeze.go.set()
        events.removeHandler(freeze)
        events.setLevel(level)


async def test_a_failed_error_reply_after_the_close_frame_keeps_the_clients_code() -> None:
    """A binary frame and the close frame in one write: the relay's error for the binary frame
    fails (the close is in), before the client pump reads the close's code."""
    ends = SessionEnds()
    app = create_relay_app(tokens=[TOKEN], on_session_end=ends)
    with running(app) as relay:
        async with raw_client(relay.url) as client:
            await client.until("session.created")
            client.protocol.send_binary(b"not an event")
            client.protocol.send_close(1000, "bye")
            await client.write()
            [record] = await ends.wait_for(1)
    assert (record["close_code"], record["closed_by"]) == (1000, "client")
    assert dict(relay.relay.metrics.closes) == {1000: 1}


async def test_a_failed_forward_after_the_close_frame_keeps_the_clients_code() -> None:
    """Upstream frames and the client's close frame reach the relay in one turn of its loop: the
    upstream pump's send fails before the client pump reads the close's code.

    The proxy holds a response's frames and lets one go; the relay is frozen while it forwards
    that one; the proxy lets the others go, then the client writes its close frame. The relay's
    poll then reports both sockets, upstream first (it was readable first, and is the socket the
    relay read last), so the upstream pump runs before the client pump.
    """
    ends = SessionEnds()
    async with LocalRealtimeServer() as upstream, holding_proxy(upstream.url) as proxy:
        app = create_relay_app(proxy.url, tokens=[TOKEN], debug=True, on_session_end=ends)
        with running(app) as relay, freezing("upstream -> client") as freeze:
            async with raw_client(relay.url) as client:
                await client.until("session.created")
                proxy.hold()
                await client.send({"type": "conversation.item.create", "item": user_message("hello")})
                await client.send({"type": "response.create"})
                await proxy.wait_for(proxy.received, lambda e: e["type"] == "response.done")
                freeze.arm()
                proxy.let_go(1)
                assert await anyio.to_thread.run_sync(freeze.stopped.wait, 10)
                proxy.let_go()
                await proxy.wait_for(proxy.passed, lambda e: e["type"] == "response.done")
                client.protocol.send_close(1000, "end of turn")
                await client.write()
                freeze.go.set()
                [record] = await ends.wait_for(1)
    assert (record["close_code"], record["closed_by"]) == (1000, "client")
    assert dict(relay.relay.metrics.closes) == {1000: 1}


@pytest.mark.parametrize("reset", [False, True], ids=["eof", "reset"])
async def test_a_client_gone_without_a_close_frame_is_recorded_1006(reset: bool) -> None:
    """Killed mid-response (no close frame, a FIN or a reset): 1006, as RFC 6455 says."""
    ends = SessionEnds()
    app = create_relay_app(tokens=[TOKEN], on_session_end=ends)
    with running(app) as relay:
        async with raw_client(relay.url) as client:
            await client.until("session.created")
            await client.send({"type": "conversation.item.create", "item": user_message("hello")})
            await client.send({"type": "response.create"})
            await client.until("response.created")
            await client.vanish(reset=reset)
            [record] = await ends.wait_for(1)
    assert (record["close_code"], record["closed_by"]) == (1006, "client")
    assert dict(relay.relay.metrics.closes) == {1006: 1}


async def test_a_close_frame_without_a_code_is_recorded_1005() -> None:
    """A close frame without a status code is 1005: the frame came, it had no code to give."""
    ends = SessionEnds()
    app = create_relay_app(tokens=[TOKEN], on_session_end=ends)
    with running(app) as relay:
        async with raw_client(relay.url) as client:
            await client.until("session.created")
            client.protocol.send_close()
            await client.write()
            [record] = await ends.wait_for(1)
    assert (record["close_code"], record["closed_by"]) == (1005, "client")
    assert dict(relay.relay.metrics.closes) == {1005: 1}
