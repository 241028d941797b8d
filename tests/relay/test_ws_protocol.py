"""The relay's uvicorn WebSocket protocol: reads pause at a queue high-water mark, nothing is lost.

The protocol is driven byte by byte (a recording transport, frames from websockets' own client
protocol) so that each assertion is about one known state, not about how the kernel split a stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState
from websockets.client import ClientProtocol
from websockets.uri import parse_uri

from agent_rt.relay.serving import make_server, relay_ws_protocol
from agent_rt.relay.ws_protocol import HIGH_BYTES, HIGH_MESSAGES, RelayWebSocketProtocol

from .recording_transport import RecordingTransport

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # uvicorn's protocols are asyncio protocols


class Harness:
    """A protocol with an app that accepts, then reads only when told to."""

    def __init__(self) -> None:
        self.accepted = asyncio.Event()
        self.wanted: asyncio.Queue[int] = asyncio.Queue()
        self.received: list[dict[str, Any]] = []
        self.read_done: asyncio.Queue[int] = asyncio.Queue()
        config = uvicorn.Config(self.app, ws=RelayWebSocketProtocol, interface="asgi3", log_level="warning")
        config.load()
        self.state = ServerState()
        self.protocol = RelayWebSocketProtocol(config, self.state, {}, _loop=asyncio.get_running_loop())
        self.transport = RecordingTransport()
        self.protocol.connection_made(self.transport)
        self.client = ClientProtocol(parse_uri("ws://127.0.0.1:8000/v1/realtime"))

    async def app(self, scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        self.accepted.set()
        while True:
            count = await self.wanted.get()
            if count < 0:
                return
            for _ in range(count):
                self.received.append(await receive())
            self.read_done.put_nowait(count)

    async def open(self) -> None:
        self.client.send_request(self.client.connect())
        self.protocol.data_received(b"".join(self.client.data_to_send()))
        await asyncio.wait_for(self.accepted.wait(), 10)
        self.client.receive_data(b"".join(self.transport.written))
        assert self.client.state.name == "OPEN"

    def frames(self, *texts: str) -> bytes:
        for text in texts:
            self.client.send_text(text.encode())
        return b"".join(self.client.data_to_send())

    async def app_reads(self, count: int) -> None:
        self.wanted.put_nowait(count)
        assert await asyncio.wait_for(self.read_done.get(), 10) == count

    def texts(self) -> list[str]:
        return [message["text"] for message in self.received]


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = Harness()
    await h.open()
    yield h
    h.wanted.put_nowait(-1)  # the app returns
    await asyncio.wait_for(asyncio.gather(*h.state.tasks), 10)


def _numbered(count: int, start: int = 0) -> Iterator[str]:
    return (f'{{"type":"input_audio_buffer.append","n":{n}}}' for n in range(start, start + count))


async def test_reading_pauses_at_the_high_water_mark_not_per_message(harness: Harness) -> None:
    sent = list(_numbered(HIGH_MESSAGES))
    for text in sent[:-1]:
        harness.protocol.data_received(harness.frames(text))
    assert harness.transport.reading
    assert harness.transport.pauses == 0
    harness.protocol.data_received(harness.frames(sent[-1]))
    assert not harness.transport.reading
    assert harness.transport.pauses == 1
    await harness.app_reads(1)
    assert not harness.transport.reading  # resumed once the app has taken them all, as uvicorn does
    await harness.app_reads(HIGH_MESSAGES - 1)
    assert harness.transport.reading
    assert harness.texts() == sent


async def test_one_chunk_of_many_messages_is_queued_whole_then_reading_pauses(harness: Harness) -> None:
    sent = list(_numbered(3 * HIGH_MESSAGES))
    harness.protocol.data_received(harness.frames(*sent))
    assert not harness.transport.reading
    assert harness.transport.pauses == 1
    await harness.app_reads(len(sent))
    assert harness.transport.reading
    more = list(_numbered(4, start=len(sent)))
    harness.protocol.data_received(harness.frames(*more))
    await harness.app_reads(len(more))
    assert harness.texts() == sent + more


async def test_queued_bytes_pause_reading_before_the_message_count_does(harness: Harness) -> None:
    big = '{"type":"input_audio_buffer.append","audio":"' + "A" * (HIGH_BYTES // 2) + '"}'
    harness.protocol.data_received(harness.frames(big))
    assert harness.transport.reading
    harness.protocol.data_received(harness.frames(big))
    assert not harness.transport.reading
    await harness.app_reads(2)
    assert harness.transport.reading
    # Taken one by one, the count goes back down: a later small message does not pause.
    harness.protocol.data_received(harness.frames(big))
    await harness.app_reads(1)
    harness.protocol.data_received(harness.frames("{}"))
    assert harness.transport.reading
    await harness.app_reads(1)
    assert harness.texts()[-1] == "{}"


async def test_the_relay_runs_under_this_protocol() -> None:
    assert relay_ws_protocol() is RelayWebSocketProtocol
    server = make_server(object(), graceful_seconds=1)
    assert server.config.ws is RelayWebSocketProtocol
