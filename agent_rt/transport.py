"""WebSocket connections over anyio streams, for the client and the local server alike.

Why not ``websockets.asyncio``: it runs on asyncio only, and agent_rt must run on trio too.
websockets' sans-I/O protocol objects (``ClientProtocol`` / ``ServerProtocol``) do all the
framing, masking, ping/pong and closing-handshake logic without touching a socket; this module
drives them over anyio byte streams, which gives one implementation for both event loops.

One task may call :meth:`WebSocket.receive` at a time; any number of tasks may send.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

import anyio
import anyio.abc
from websockets.client import ClientProtocol
from websockets.datastructures import Headers
from websockets.exceptions import InvalidHandshake, InvalidURI
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import Protocol, State
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol
from websockets.uri import WebSocketURI, parse_uri

from ._secrets import redact, redacting_logger
from .errors import ConfigurationError, ConnectionClosedError, HandshakeError

logger = logging.getLogger("agent_rt.transport")
_PROTOCOL_LOGGER = redacting_logger("agent_rt.transport.protocol")

USER_AGENT = "agent-rt/0.1"
_READ_SIZE = 65536
#: Largest message accepted by default. Audio events can be large (a client may append up to
#: 15 MiB of audio in one event); the cap only guards against a runaway peer.
DEFAULT_MAX_MESSAGE_SIZE = 64 * 2**20
CLOSE_TIMEOUT = 5.0


@dataclass(frozen=True)
class HandshakeRequest:
    """What the local server learns from a client's opening handshake."""

    path: str
    headers: Mapping[str, str]

    @property
    def query(self) -> str:
        return urlsplit(self.path).query


def closed_error(protocol: Protocol, *, closed: bool) -> ConnectionClosedError:
    """The error a send or receive on a closed connection raises: the close code and reason."""
    received = protocol.close_rcvd
    if received is not None:  # known as soon as the peer's close frame is in, before EOF
        code, reason = int(received.code), received.reason
    else:
        code, reason = (protocol.close_code or 1006) if closed else 1006, protocol.close_reason or ""
    detail = f" ({reason})" if reason else ""
    return ConnectionClosedError(f"connection closed with code {code}{detail}", code=code, reason=reason)


class MessageAssembler:
    """Whole messages from data frames: fragments joined, text decoded (invalid UTF-8 fails with 1007)."""

    __slots__ = ("_fragments", "_opcode", "_protocol", "messages")

    def __init__(self, protocol: Protocol) -> None:
        self.messages: deque[str | bytes] = deque()
        self._fragments: list[bytes] = []
        self._opcode: Opcode | None = None
        self._protocol = protocol

    def add(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            self._opcode = opcode
            self._fragments = [bytes(frame.data)]
        elif opcode is Opcode.CONT:
            self._fragments.append(bytes(frame.data))
        else:
            return
        if not frame.fin:
            return
        payload = self._fragments[0] if len(self._fragments) == 1 else b"".join(self._fragments)
        self._fragments = []
        if self._opcode is Opcode.TEXT:
            try:
                self.messages.append(payload.decode())
            except UnicodeDecodeError:
                self._protocol.fail(1007, "invalid UTF-8 in a text frame")
        else:
            self.messages.append(payload)


class WebSocket:
    """A message-oriented WebSocket connection.

    ``receive()`` returns whole messages (``str`` for text, ``bytes`` for binary); ping/pong and
    the closing handshake are handled internally. Once the connection is closed, ``receive()``
    and ``send_*()`` raise :class:`~agent_rt.errors.ConnectionClosedError` carrying the close
    code and reason.
    """

    def __init__(self, stream: anyio.abc.ByteStream, protocol: Protocol) -> None:
        self._stream = stream
        self._protocol = protocol
        self._send_lock = anyio.Lock()
        self._assembler = MessageAssembler(protocol)
        self._messages = self._assembler.messages
        self._eof = False
        self._closed = anyio.Event()
        self._stream_closed = False
        self._reading = False

    # -- state -----------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._eof or self._protocol.state is State.CLOSED

    @property
    def close_code(self) -> int | None:
        """The close code received from the peer (1006 if the connection dropped)."""
        received = self._protocol.close_rcvd
        if received is not None:  # known as soon as the peer's close frame is in, before EOF
            return int(received.code)
        return self._protocol.close_code if self.closed else None

    @property
    def close_reason(self) -> str:
        return self._protocol.close_reason or ""

    def _closed_error(self) -> ConnectionClosedError:
        return closed_error(self._protocol, closed=self.closed)

    # -- sending ---------------------------------------------------------------------------

    async def send_text(self, text: str) -> None:
        await self._send(lambda: self._protocol.send_text(text.encode()))

    async def send_bytes(self, data: bytes) -> None:
        await self._send(lambda: self._protocol.send_binary(data))

    async def send_raw(self, data: bytes) -> None:
        """Write bytes straight to the stream, bypassing framing (used by fault injection)."""
        async with self._send_lock:
            await self._stream.send(data)

    async def _send(self, emit: Callable[[], None]) -> None:
        async with self._send_lock:
            if self._protocol.state is not State.OPEN:
                raise self._closed_error()
            emit()
            await self._flush_locked()

    async def _flush_locked(self) -> None:
        for chunk in self._protocol.data_to_send():
            if chunk:
                try:
                    await self._stream.send(chunk)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
                    await self._mark_eof()
                    raise self._closed_error() from exc
            else:  # SEND_EOF: the protocol wants the connection half-closed.
                await self._close_stream()

    async def _flush(self) -> None:
        async with self._send_lock:
            await self._flush_locked()

    # -- receiving -------------------------------------------------------------------------

    async def receive(self) -> str | bytes:
        """Return the next whole message; raise ``ConnectionClosedError`` once closed."""
        if self._reading:
            raise anyio.BusyResourceError("receiving")
        self._reading = True
        try:
            return await self._receive_message()
        finally:
            self._reading = False

    def receive_queued(self) -> str | bytes | None:
        """A whole message already read from the socket, or ``None``; never reads or blocks.

        A reader drains a burst with it and awaits :meth:`receive` only when the queue is empty
        (saves a coroutine per message; ``receive`` does not yield while messages are queued).
        """
        if self._messages and not self._reading:
            return self._messages.popleft()
        return None

    async def _receive_message(self) -> str | bytes:
        while not self._messages:
            if self.closed:
                raise self._closed_error()
            try:
                data = await self._stream.receive(_READ_SIZE)
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                await self._mark_eof()
                continue
            self._protocol.receive_data(data)
            self._take_events(self._protocol.events_received())
            await self._answer_what_was_read()
        return self._messages.popleft()

    async def _answer_what_was_read(self) -> None:
        """After frames were parsed: send the replies they call for, and end a finished connection."""
        if self._protocol.writes:  # a pong or a close reply; most reads queue nothing
            with contextlib.suppress(ConnectionClosedError):
                await self._flush()
        if self._protocol.parser_exc is not None and self._protocol.state is not State.OPEN:
            # We failed the connection (bad framing): our close frame is out and everything
            # the peer sends from now on is discarded, so don't wait for its EOF.
            await self._mark_eof()
        if self._protocol.state is State.CLOSED:
            await self._close_stream()

    def _drain_events(self) -> None:
        self._take_events(self._protocol.events_received())

    def _take_events(self, events: Iterable[object]) -> None:
        """Queue the messages among parsed ``events`` (frames; other events are ignored)."""
        add = self._assembler.add
        for event in events:
            if isinstance(event, Frame):
                add(event)
        if self._protocol.parser_exc is not None and self._protocol.state is not State.OPEN:
            # The protocol failed the connection (bad framing, oversized message): it has queued
            # a close frame; the caller sees ConnectionClosedError with code 1002/1009.
            logger.debug("websocket protocol error: %s", self._protocol.parser_exc)

    async def _mark_eof(self) -> None:
        if not self._eof:
            self._eof = True
            self._protocol.receive_eof()
            self._protocol.data_to_send()  # nothing useful can be written any more
            await self._close_stream()

    async def _close_stream(self) -> None:
        if not self._stream_closed:
            self._stream_closed = True
            with anyio.CancelScope(shield=True):
                with contextlib.suppress(anyio.BrokenResourceError, OSError):
                    await self._stream.aclose()
            self._closed.set()

    # -- closing ---------------------------------------------------------------------------

    async def close(self, code: int = 1000, reason: str = "", *, timeout: float = CLOSE_TIMEOUT) -> None:
        """Run the closing handshake (bounded by ``timeout``), then close the stream."""
        if self.closed or self._stream_closed:
            await self._close_stream()
            return
        try:
            async with self._send_lock:
                if self._protocol.state is State.OPEN:
                    self._protocol.send_close(code, reason)
                await self._flush_locked()
        except ConnectionClosedError:
            return
        if self._protocol.close_rcvd is not None:
            # The peer's close frame already arrived: the handshake is over once ours is out, and
            # the peer may be waiting only for the end of the stream (a client that failed the
            # connection discards everything until EOF). Don't sit out the timeout.
            await self.abort()
            return
        with anyio.move_on_after(timeout):
            if self._reading:
                # Another task is reading: it will see the peer's close frame; wait for it.
                await self._closed.wait()
            else:
                # Read until the peer answers the close frame; discard late messages.
                while not self.closed and not self._stream_closed:
                    try:
                        await self.receive()
                    except ConnectionClosedError:
                        break
        await self.abort()

    async def abort(self) -> None:
        """Drop the connection without a closing handshake (both sides see code 1006)."""
        await self._mark_eof()  # the protocol ends too, so close_code reads 1006, not None
        await self._close_stream()

    async def wait_closed(self) -> None:
        await self._closed.wait()


# -- client side -------------------------------------------------------------------------------


def _default_ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def client_handshake(
    url: str,
    headers: Mapping[str, str] | None = None,
    *,
    subprotocols: list[str] | None = None,
    max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
) -> tuple[WebSocketURI, ClientProtocol, Request]:
    """The client protocol for ``url`` and its upgrade request (our User-Agent, then ``headers``)."""
    try:
        uri = parse_uri(url)
    except InvalidURI as exc:
        raise ConfigurationError(f"not a WebSocket URL: {redact(url)!r}") from exc
    protocol = ClientProtocol(
        uri,
        subprotocols=[Subprotocol(name) for name in subprotocols] if subprotocols else None,
        max_size=max_message_size,
        logger=_PROTOCOL_LOGGER,
    )
    request = protocol.connect()
    request.headers["User-Agent"] = USER_AGENT
    for name, value in (headers or {}).items():
        request.headers[name] = value
    return uri, protocol, request


def rejected(where: str, response: Response) -> HandshakeError:
    """The server answered the upgrade with something other than 101 (its body redacted)."""
    body = redact(bytes(response.body or b"").decode(errors="replace"))[:500]
    return HandshakeError(
        f"server at {where} rejected the WebSocket handshake: HTTP {response.status_code}"
        + (f": {body}" if body else ""),
        status=response.status_code,
    )


def invalid_handshake(exc: Exception) -> HandshakeError:
    message = redact(str(exc)) if isinstance(exc, InvalidHandshake) else "invalid handshake"
    return HandshakeError(f"invalid WebSocket handshake response: {message}")


async def connect(
    url: str,
    headers: Mapping[str, str] | None = None,
    *,
    subprotocols: list[str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
    open_timeout: float = 10.0,
) -> WebSocket:
    """Open a client WebSocket to ``url`` (``ws://`` or ``wss://``, the system CA store for TLS)."""
    uri, protocol, request = client_handshake(
        url, headers, subprotocols=subprotocols, max_message_size=max_message_size
    )
    where = f"{uri.host}:{uri.port}"
    try:
        with anyio.fail_after(open_timeout):
            try:
                stream: anyio.abc.ByteStream
                if uri.secure:
                    stream = await anyio.connect_tcp(
                        uri.host, uri.port, tls=True, ssl_context=ssl_context or _default_ssl_context()
                    )
                else:
                    stream = await anyio.connect_tcp(uri.host, uri.port)
            except (OSError, ssl.SSLError) as exc:
                raise HandshakeError(f"could not connect to {where}: {redact(str(exc))}") from None
            websocket = WebSocket(stream, protocol)
            try:
                protocol.send_request(request)
                await websocket._flush()
                response = await _read_handshake(websocket, protocol)
            except BaseException:
                await websocket.abort()
                raise
    except TimeoutError:
        raise HandshakeError(f"timed out opening a WebSocket to {where}") from None
    if protocol.handshake_exc is not None or response.status_code != 101:
        await websocket.abort()
        raise rejected(where, response)
    await websocket._answer_what_was_read()  # a close frame may have come with the response
    return websocket


async def _read_handshake(websocket: WebSocket, protocol: ClientProtocol) -> Response:
    while True:
        try:
            data = await websocket._stream.receive(_READ_SIZE)
        except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
            raise HandshakeError("connection closed during the WebSocket handshake") from None
        protocol.receive_data(data)
        events = protocol.events_received()
        for index, event in enumerate(events):
            if isinstance(event, Response):
                # Frames that arrived in the same read as the response (a fast server sends
                # session.created at once) are already parsed: queue them, then any left over.
                websocket._take_events(events[index + 1 :])
                websocket._drain_events()
                return event
        if protocol.handshake_exc is not None:
            raise invalid_handshake(protocol.handshake_exc)


# -- server side -------------------------------------------------------------------------------

#: ``process_request(request)`` may return ``(status, body)`` to refuse the upgrade.
RequestFilter = Callable[[HandshakeRequest], tuple[int, str] | None]
ConnectionHandler = Callable[[WebSocket, HandshakeRequest], Awaitable[None]]


@dataclass(frozen=True)
class HttpRequest:
    """A plain (non-upgrade) HTTP request; header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


#: ``http_handler(request)`` answers plain HTTP requests with ``(status, content_type, body)``.
HttpHandler = Callable[[HttpRequest], Awaitable[tuple[int, str, bytes]]]

_MAX_HTTP_BODY = 1 << 20


def reason_phrase(status: int, default: str = "Error") -> str:
    """The standard phrase of an HTTP status ("Service Unavailable"), or ``default``."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return default


async def _answer_plain_http(stream: anyio.abc.ByteStream, data: bytes, handler: HttpHandler) -> None:
    """Read one HTTP/1.1 request (headers + ``content-length`` body), answer it, and close."""
    try:
        while b"\r\n\r\n" not in data and len(data) < 65536:
            data += await stream.receive(_READ_SIZE)
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        if not 0 <= length <= _MAX_HTTP_BODY:
            raise ValueError("bad content-length")
        while len(body) < length:
            body += await stream.receive(_READ_SIZE)
        status, content_type, payload = await handler(HttpRequest(method, path, headers, body[:length]))
    except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        return
    except ValueError:
        status, content_type, payload = 400, "text/plain", b"bad request\n"
    reason = reason_phrase(status)
    head_out = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\n"
        f"content-length: {len(payload)}\r\nconnection: close\r\nserver: {USER_AGENT}\r\n\r\n"
    )
    with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        await stream.send(head_out.encode("latin-1") + payload)


async def accept(
    stream: anyio.abc.ByteStream,
    *,
    process_request: RequestFilter | None = None,
    max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
    http_handler: HttpHandler | None = None,
) -> tuple[WebSocket, HandshakeRequest] | None:
    """Run the server side of the opening handshake; ``None`` if the request was refused."""
    protocol = ServerProtocol(
        max_size=max_message_size, logger=_PROTOCOL_LOGGER, select_subprotocol=_select_realtime
    )
    websocket = WebSocket(stream, protocol)
    request: Request | None = None
    first = True
    while request is None:
        try:
            data = await stream.receive(_READ_SIZE)
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            await websocket.abort()
            return None
        if first and http_handler is not None and not data.startswith(b"GET "):
            # Not a WebSocket upgrade (websockets only parses GET): a plain HTTP request.
            await _answer_plain_http(stream, data, http_handler)
            await websocket.abort()
            return None
        first = False
        protocol.receive_data(data)
        for event in protocol.events_received():
            if isinstance(event, Request):
                request = event
        if request is None and protocol.handshake_exc is not None:
            response = protocol.reject(400, "Invalid WebSocket handshake\n")
            protocol.send_response(response)
            await websocket._flush()
            await websocket.abort()
            return None
    info = HandshakeRequest(path=request.path, headers=_headers_dict(request.headers))
    refusal = process_request(info) if process_request else None
    if refusal is not None:
        status, body = refusal
        response = protocol.reject(status, body)
        if body.startswith("{"):  # an error in the service's JSON shape
            del response.headers["Content-Type"]
            response.headers["Content-Type"] = "application/json"
    else:
        response = protocol.accept(request)
    response.headers["Server"] = USER_AGENT
    protocol.send_response(response)
    await websocket._flush()
    if response.status_code != 101:
        await websocket.abort()
        return None
    websocket._drain_events()
    return websocket, info


def _select_realtime(_protocol: ServerProtocol, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    """Echo ``realtime`` when offered (browsers and the JS clients require it); else no subprotocol."""
    return Subprotocol("realtime") if "realtime" in offered else None


def _headers_dict(headers: Headers) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.raw_items()}


async def serve(
    handler: ConnectionHandler,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    process_request: RequestFilter | None = None,
    http_handler: HttpHandler | None = None,
    task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Listen on ``host:port`` and run ``handler`` for each accepted WebSocket until cancelled.

    ``task_status.started`` receives the bound port (useful with ``port=0``).
    """
    listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
    bound_port: int = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def on_connection(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            accepted = await accept(stream, process_request=process_request, http_handler=http_handler)
            if accepted is None:
                return
            websocket, request = accepted
            try:
                await handler(websocket, request)
            except ConnectionClosedError:
                pass
            finally:
                await websocket.close()

    async with listener:
        task_status.started(bound_port)
        await listener.serve(on_connection)


__all__ = [
    "HandshakeRequest",
    "WebSocket",
    "accept",
    "connect",
    "serve",
]
