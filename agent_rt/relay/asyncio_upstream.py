"""The relay's upstream WebSocket on asyncio: websockets' sans-I/O protocol in an ``asyncio.Protocol``.

Why a second driver for the same protocol object: the relay runs under uvicorn, on asyncio, and
forwards every client frame upstream. Through :mod:`agent_rt.transport` (anyio streams, so that
the client also runs on trio) each send passes a lock and the stream's checkpoints, two extra
trips through the event loop per frame: at real-time audio that made the relay cost more CPU per
session than a bare websockets forwarder. Here a send writes straight into the asyncio transport
(and waits only while the kernel's buffer is full), and arriving frames wake the one reader once.
On any other event loop the relay uses :func:`agent_rt.transport.connect`; both give the session
the same small interface (:class:`~agent_rt.relay.upstream.UpstreamConnection`).

Flow control both ways: sends wait while the transport says its buffer is full
(``pause_writing``), and reading from the socket pauses while more than :data:`QUEUE_HIGH`
messages wait for the relay's reader (a slow client slows the upstream through TCP, as with the
anyio driver, instead of queueing without bound).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Mapping
from typing import cast

import anyio
from websockets.client import ClientProtocol
from websockets.frames import Frame
from websockets.http11 import Response
from websockets.protocol import State

from .._secrets import redact
from ..errors import HandshakeError
from ..transport import (
    CLOSE_TIMEOUT,
    DEFAULT_MAX_MESSAGE_SIZE,
    MessageAssembler,
    client_handshake,
    closed_error,
    invalid_handshake,
    rejected,
)
from .client_frames import MaskSource, masked_text_frame

#: Reading from the socket pauses above this many unread messages, and resumes at QUEUE_LOW.
QUEUE_HIGH = 64
QUEUE_LOW = 16


class AsyncioUpstream(asyncio.Protocol):
    """A client WebSocket whose sends never yield to the event loop unless the buffer is full.

    One task may call :meth:`receive` at a time; any number may send (each frame is written
    whole, synchronously, so frames never interleave).
    """

    def __init__(self, protocol: ClientProtocol) -> None:
        self._protocol = protocol
        self._assembler = MessageAssembler(protocol)
        self._messages = self._assembler.messages
        self._transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self._response: asyncio.Future[Response] = loop.create_future()
        self._lost: asyncio.Future[None] = loop.create_future()
        self._readable: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._masks = MaskSource()
        self._reading_paused = False

    # -- asyncio.Protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._protocol.receive_data(data)
        self._take_events()

    def eof_received(self) -> bool | None:
        self._protocol.receive_eof()
        self._take_events()
        return None  # asyncio closes the transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self._protocol.state is not State.CLOSED:
            self._protocol.receive_eof()  # close_code reads 1006 unless a close frame came in
            self._protocol.data_to_send()
        if not self._response.done():
            self._response.set_exception(HandshakeError("connection closed during the WebSocket handshake"))
        if not self._lost.done():
            self._lost.set_result(None)
        _wake(self._readable)
        _wake(self._writable)

    def pause_writing(self) -> None:
        if self._writable is None or self._writable.done():
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        _wake(self._writable)

    # -- the protocol's events ----------------------------------------------------------------

    def _take_events(self) -> None:
        add = self._assembler.add
        for event in self._protocol.events_received():
            if isinstance(event, Frame):
                add(event)
            elif isinstance(event, Response) and not self._response.done():
                self._response.set_result(event)
        self._write_pending()  # pongs and close replies; usually nothing
        if self._protocol.handshake_exc is not None and not self._response.done():
            self._response.set_exception(invalid_handshake(self._protocol.handshake_exc))
        if self._messages:
            _wake(self._readable)
            if len(self._messages) > QUEUE_HIGH and not self._reading_paused and self._transport is not None:
                self._reading_paused = True
                self._transport.pause_reading()
        if self._protocol.state is State.CLOSED or (
            self._protocol.parser_exc is not None and self._protocol.state is not State.OPEN
        ):
            _wake(self._readable)  # a reader waiting for a message learns the connection ended

    def _write_pending(self) -> None:
        transport = self._transport
        for chunk in self._protocol.data_to_send():
            if transport is None or transport.is_closing():
                continue
            if chunk:
                transport.write(chunk)
            elif transport.can_write_eof():
                transport.write_eof()  # the protocol half-closes after the closing handshake

    # -- the session's interface ---------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._lost.done() or self._protocol.state is State.CLOSED

    async def send_text(self, text: str) -> None:
        protocol = self._protocol
        if protocol.state is not State.OPEN:
            raise closed_error(protocol, closed=self.closed)
        transport = self._transport
        if protocol.extensions or transport is None:  # none is offered; kept general all the same
            protocol.send_text(text.encode())
            self._write_pending()
        elif not transport.is_closing():
            transport.write(masked_text_frame(text.encode(), self._masks.take()))
        writable = self._writable
        if writable is not None and not writable.done():
            await asyncio.shield(writable)  # a cancelled sender must not cancel the others' wait
            if self._lost.done():
                raise closed_error(self._protocol, closed=True)

    def receive_queued(self) -> str | bytes | None:
        """A whole message already read, or ``None``; never blocks."""
        if not self._messages:
            return None
        message = self._messages.popleft()
        self._maybe_resume_reading()
        return message

    async def receive(self) -> str | bytes:
        """The next whole message; ``ConnectionClosedError`` once the connection has ended."""
        while not self._messages:
            if self.closed or (self._protocol.state is not State.OPEN and self._protocol.close_rcvd):
                raise closed_error(self._protocol, closed=self.closed)
            if self._protocol.parser_exc is not None and self._protocol.state is not State.OPEN:
                raise closed_error(self._protocol, closed=True)
            self._readable = asyncio.get_running_loop().create_future()
            await self._readable
        message = self._messages.popleft()
        self._maybe_resume_reading()
        return message

    def _maybe_resume_reading(self) -> None:
        if self._reading_paused and len(self._messages) <= QUEUE_LOW and self._transport is not None:
            self._reading_paused = False
            self._transport.resume_reading()

    async def close(self, code: int = 1000, reason: str = "", *, timeout: float = CLOSE_TIMEOUT) -> None:
        """Send a close frame and wait (at most ``timeout``) for the server to end the connection."""
        if self._protocol.state is State.OPEN:
            self._protocol.send_close(code, reason)
            self._write_pending()
        if self._reading_paused and self._transport is not None:  # the server's close frame must get in
            self._reading_paused = False
            self._transport.resume_reading()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._lost), timeout)
        await self.abort()

    async def abort(self) -> None:
        """Drop the connection at once (the server sees 1006 unless a close frame went out)."""
        if self._transport is None:
            return
        self._transport.abort()
        if not self._lost.done():
            await asyncio.shield(self._lost)  # connection_lost comes in the loop's next turn


def _wake(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


async def connect_asyncio(
    url: str,
    headers: Mapping[str, str] | None = None,
    *,
    ssl_context: ssl.SSLContext | None = None,
    max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
    open_timeout: float = 10.0,
) -> AsyncioUpstream:
    """Open the upstream WebSocket (``ws://`` or ``wss://``); errors as :func:`agent_rt.transport.connect`."""
    uri, protocol, request = client_handshake(url, headers, max_message_size=max_message_size)
    where = f"{uri.host}:{uri.port}"
    loop = asyncio.get_running_loop()
    upstream: AsyncioUpstream | None = None
    try:
        with anyio.fail_after(open_timeout):
            try:
                transport, upstream = await loop.create_connection(
                    lambda: AsyncioUpstream(protocol),
                    uri.host,
                    uri.port,
                    ssl=(ssl_context or ssl.create_default_context()) if uri.secure else None,
                    server_hostname=uri.host if uri.secure else None,
                )
            except (OSError, ssl.SSLError) as exc:
                raise HandshakeError(f"could not connect to {where}: {redact(str(exc))}") from None
            upstream.connection_made(transport)  # uvloop may call it only after returning
            protocol.send_request(request)
            upstream._write_pending()
            response = await upstream._response
    except BaseException as exc:
        if upstream is not None:
            await upstream.abort()
        if isinstance(exc, TimeoutError):
            raise HandshakeError(f"timed out opening a WebSocket to {where}") from None
        raise
    if protocol.handshake_exc is not None or response.status_code != 101:
        await upstream.abort()
        raise rejected(where, response)
    return upstream
