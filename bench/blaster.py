"""A minimal WebSocket server, run in its own process, that blasts pre-framed events at each client.

``python -m bench.blaster FILE`` reads one JSON text message per line from ``FILE``, frames them
all once (server frames are unmasked), prints the port it listens on, and then for every
connection: answers the opening handshake, writes the whole pre-framed stream with ``sendall``,
sends a close frame and waits for the client's. Being in another process and doing no work per
event, it measures the client alone. It stops when its stdin closes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import struct
import sys
import threading

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(payload: bytes, opcode: int = 0x1) -> bytes:
    head = bytes([0x80 | opcode])
    size = len(payload)
    if size < 126:
        return head + bytes([size]) + payload
    if size < 1 << 16:
        return head + bytes([126]) + struct.pack("!H", size) + payload
    return head + bytes([127]) + struct.pack("!Q", size) + payload


def _handshake(conn: socket.socket) -> bool:
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        request += chunk
    key = b""
    for line in request.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-key":
            key = value.strip()
    accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
    conn.sendall(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )
    return True


def _serve_one(conn: socket.socket, blob: bytes) -> None:
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not _handshake(conn):
            return
        conn.sendall(blob + frame(struct.pack("!H", 1000), opcode=0x8))
        conn.settimeout(10)
        with contextlib.suppress(OSError):
            _await_close(conn)


def _await_close(conn: socket.socket) -> None:
    """Read (masked) client frames until its close frame or EOF; whatever else it sends is dropped."""
    data = b""
    while True:
        while len(data) >= 2:
            size, offset = data[1] & 0x7F, 2
            if size == 126:
                size, offset = (struct.unpack("!H", data[2:4])[0], 4) if len(data) >= 4 else (-1, 0)
            elif size == 127:
                size, offset = (struct.unpack("!Q", data[2:10])[0], 10) if len(data) >= 10 else (-1, 0)
            end = offset + (4 if data[1] & 0x80 else 0) + size
            if size < 0 or len(data) < end:
                break
            if data[0] & 0x0F == 0x8:
                return
            data = data[end:]
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as source:
        blob = b"".join(frame(line.rstrip("\n").encode()) for line in source)
    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)

    def accept_forever() -> None:
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=_serve_one, args=(conn, blob), daemon=True).start()

    threading.Thread(target=accept_forever, daemon=True).start()
    sys.stdin.read()  # run until the parent closes our stdin


if __name__ == "__main__":
    main()
