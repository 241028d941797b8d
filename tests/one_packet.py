"""A bare TCP server that answers a WebSocket upgrade with the 101 and ``frames`` in one write.

For orders a real server makes only by luck of timing: events (or a close) that arrive in the same
read as the handshake response.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.abc

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def text_frame(event: dict[str, Any] | str) -> bytes:
    """One unmasked server text frame (payloads under 64 KiB)."""
    data = (event if isinstance(event, str) else json.dumps(event)).encode()
    if len(data) < 126:
        return bytes([0x81, len(data)]) + data
    return bytes([0x81, 126]) + len(data).to_bytes(2, "big") + data


def close_frame(code: int) -> bytes:
    return bytes([0x88, 2]) + code.to_bytes(2, "big")


def one_packet_server(frames: bytes) -> Callable[[anyio.abc.SocketStream], Awaitable[None]]:
    async def serve(stream: anyio.abc.SocketStream) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            request += await stream.receive()
        key = next(
            line.split(b":", 1)[1].strip()
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        await stream.send(  # the response and every frame: one write
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + frames
        )
        with anyio.move_on_after(5):
            await stream.receive()  # the client's close frame; then end the TCP connection
        await stream.aclose()

    return serve
