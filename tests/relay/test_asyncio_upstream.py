"""The relay's asyncio upstream driver: flow control both ways, closing, and handshake errors.

Flow control is checked against a recording stand-in for asyncio's transport (the driver's only
dependency there), fed with frames a real websockets server protocol wrote; the rest runs
against a websockets asyncio server over loopback.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.client import ClientProtocol
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from agent_rt.errors import ConnectionClosedError, HandshakeError
from agent_rt.relay.asyncio_upstream import QUEUE_HIGH, QUEUE_LOW, AsyncioUpstream, connect_asyncio

from .recording_transport import RecordingTransport

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the driver is asyncio's own (the relay falls back to agent_rt.transport elsewhere)


def _open_driver() -> tuple[AsyncioUpstream, RecordingTransport, ServerProtocol]:
    """A driver past a real (in-memory) handshake with a websockets server protocol."""
    client = ClientProtocol(parse_uri("ws://upstream.test/v1/realtime"))
    server = ServerProtocol()
    driver = AsyncioUpstream(client)
    transport = RecordingTransport()
    driver.connection_made(transport)
    client.send_request(client.connect())
    driver._write_pending()
    server.receive_data(b"".join(transport.written))
    (request,) = server.events_received()
    assert isinstance(request, Request)
    server.send_response(server.accept(request))
    driver.data_received(b"".join(server.data_to_send()))
    transport.written.clear()
    return driver, transport, server


def _server_frames(server: ServerProtocol, count: int) -> bytes:
    """``count`` text frames as the server writes them."""
    for index in range(count):
        server.send_text(json.dumps({"type": "x", "n": index}).encode())
    return b"".join(server.data_to_send())


async def test_reading_pauses_while_the_reader_falls_behind_and_resumes_once_it_catches_up() -> None:
    driver, transport, server = _open_driver()
    driver.data_received(_server_frames(server, QUEUE_HIGH + 10))
    assert not transport.reading
    received = []
    while transport.reading is False:
        message = driver.receive_queued()
        assert message is not None
        received.append(json.loads(message)["n"])
    assert len(received) == QUEUE_HIGH + 10 - QUEUE_LOW  # resumed exactly at the low-water mark
    while (message := driver.receive_queued()) is not None:
        received.append(json.loads(message)["n"])
    assert received == list(range(QUEUE_HIGH + 10))
    assert transport.pauses == 1


async def test_a_send_waits_while_the_transport_is_paused() -> None:
    driver, transport, _ = _open_driver()
    driver.pause_writing()
    sending = asyncio.ensure_future(driver.send_text('{"type":"input_audio_buffer.append"}'))
    await asyncio.sleep(0)  # one loop turn (not a timed wait): the send wrote its frame and now waits
    assert len(transport.written) == 1
    assert not sending.done()
    driver.resume_writing()
    await sending
    await driver.send_text('{"type":"response.create"}')  # not paused: no wait
    assert len(transport.written) == 2


async def test_a_reader_waiting_when_the_connection_drops_gets_the_close_error() -> None:
    driver, _transport, _ = _open_driver()
    reading = asyncio.ensure_future(driver.receive())
    await asyncio.sleep(0)  # one loop turn: the reader now waits for a message
    driver.connection_lost(ConnectionResetError())
    with pytest.raises(ConnectionClosedError) as closed:
        await reading
    assert closed.value.code == 1006
    with pytest.raises(ConnectionClosedError):
        await driver.send_text("{}")


async def _echo_then_close(connection: ServerConnection) -> None:
    await connection.send(json.dumps({"type": "session.created"}))
    async for message in connection:
        if "close me" in str(message):
            await connection.close(4001, "closed by the test server")
            return
        await connection.send(message)


async def test_messages_both_ways_and_the_servers_close_code_and_reason() -> None:
    async with serve(_echo_then_close, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        upstream = await connect_asyncio(f"ws://127.0.0.1:{port}/v1/realtime", {"X-Test": "1"})
        assert json.loads(await upstream.receive())["type"] == "session.created"
        big = json.dumps({"type": "input_audio_buffer.append", "audio": "A" * 200_000})
        for index in range(50):
            await upstream.send_text(json.dumps({"type": "ping", "n": index}))
        await upstream.send_text(big)
        assert [json.loads(await upstream.receive())["n"] for _ in range(50)] == list(range(50))
        assert await upstream.receive() == big
        await upstream.send_text("close me")
        with pytest.raises(ConnectionClosedError) as closed:
            await upstream.receive()
        assert (closed.value.code, closed.value.reason) == (4001, "closed by the test server")
        await upstream.close()


async def test_our_close_completes_the_handshake() -> None:
    closes: list[tuple[int | None, str | None]] = []

    async def record(connection: ServerConnection) -> None:
        await connection.send("{}")
        async for _ in connection:
            pass
        closes.append((connection.close_code, connection.close_reason))

    async with serve(record, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        upstream = await connect_asyncio(f"ws://127.0.0.1:{port}/v1/realtime")
        await upstream.receive()
        await upstream.close(1000, "client gone")
        with pytest.raises(ConnectionClosedError):
            await upstream.send_text("{}")
    assert closes == [(1000, "client gone")]


async def test_a_refused_handshake_is_a_handshake_error_with_the_status_and_no_key() -> None:
    def refuse(connection: ServerConnection, request: Any) -> Any:
        key = request.headers["Authorization"].removeprefix("Bearer ")
        return connection.respond(401, f"Incorrect API key provided: {key}\n")

    async with serve(_echo_then_close, "127.0.0.1", 0, process_request=refuse) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        key = "sk-proj-" + "k" * 40
        with pytest.raises(HandshakeError) as refused:
            await connect_asyncio(f"ws://127.0.0.1:{port}/v1/realtime", {"Authorization": f"Bearer {key}"})
    assert refused.value.status == 401
    assert key not in str(refused.value)


async def test_nothing_listening_is_a_handshake_error() -> None:
    listener = await asyncio.get_running_loop().create_server(asyncio.Protocol, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()
    with pytest.raises(HandshakeError, match="could not connect"):
        await connect_asyncio(f"ws://127.0.0.1:{port}/v1/realtime")


@pytest.fixture
def tls_pair(tmp_path: Any) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for localhost: (server context, client context trusting it)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
    names = ["-addext", "subjectAltName=DNS:localhost"]
    subprocess.run(
        ["openssl", *request, *names, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


async def test_wss_upstream_over_tls(tls_pair: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    """The service is ``wss://``: TLS with the host name checked, frames both ways, the close."""
    server_tls, client_tls = tls_pair
    async with serve(_echo_then_close, "localhost", 0, ssl=server_tls) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        upstream = await connect_asyncio(f"wss://localhost:{port}/v1/realtime", ssl_context=client_tls)
        assert json.loads(await upstream.receive())["type"] == "session.created"
        await upstream.send_text('{"type":"ping"}')
        assert await upstream.receive() == '{"type":"ping"}'
        await upstream.close()
        with pytest.raises(HandshakeError, match="could not connect"):  # an untrusted certificate
            await connect_asyncio(f"wss://localhost:{port}/v1/realtime")
