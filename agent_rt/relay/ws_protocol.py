"""uvicorn's websockets-sansio protocol, with two changes for the relay.

* **Reads pause at a high-water mark.** uvicorn pauses the socket after every message it hands to
  the app and resumes it once the app has taken them all: a pause and a resume per frame (for a
  20 ms audio append, 50 a second per session) for a pump that takes each message at once. Here up
  to :data:`HIGH_MESSAGES` messages (or :data:`HIGH_BYTES`) wait before reads pause; a client
  sending faster than the relay forwards is still slowed by TCP, with a bounded queue in between.
* **A client gone without a close frame is 1006.** uvicorn reports it as 1005, the code of a close
  frame without a status, so the relay's session line could not tell a killed client from one that
  closed.

It overrides steps of uvicorn's class and reads a few of its attributes;
:func:`agent_rt.relay.serving.relay_ws_protocol` checks the steps exist and falls back to uvicorn's
own choice otherwise, and an instance missing an attribute behaves as uvicorn's: an uvicorn release
that changes them costs speed and the 1006, not correctness.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

#: Messages waiting for the app before the socket is paused.
HIGH_MESSAGES = 16
#: Bytes waiting for the app before the socket is paused (one large event pauses it at once).
HIGH_BYTES = 2**20

_UVICORN_METHODS = ("send_receive_event_to_app", "receive", "connection_lost")
_UVICORN_ATTRIBUTES = (
    "queue",
    "read_paused",
    "transport",
    "frames",
    "conn",
    "handshake_complete",
)


def fits_uvicorn() -> bool:
    """Whether the installed uvicorn has the steps this protocol overrides."""
    return all(callable(getattr(WebSocketsSansIOProtocol, name, None)) for name in _UVICORN_METHODS)


class RelayWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's protocol with reads paused at a high-water mark, and 1006 for a vanished client."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queued_bytes = 0
        # An uvicorn without these attributes: behave exactly as uvicorn's own protocol.
        self._fits = all(hasattr(self, name) for name in _UVICORN_ATTRIBUTES)

    def connection_lost(self, exc: Exception | None) -> None:
        # uvicorn reports a connection lost without a close frame as 1005, the code of a close
        # frame without a status; RFC 6455 (7.1.5) says 1006, and the relay's session line should
        # tell a vanished client from one that closed. Queued before uvicorn's own message, which
        # the app then never reads; a close frame that did arrive has queued its code already.
        if self._fits and self.handshake_complete and self.conn.close_rcvd is None:
            self.queue.put_nowait({"type": "websocket.disconnect", "code": 1006})
        super().connection_lost(exc)

    def send_receive_event_to_app(self) -> None:
        if not self._fits:
            super().send_receive_event_to_app()
            return
        size = sum(len(frame) for frame in self.frames)
        queued = self.queue.qsize()
        was_paused = self.read_paused
        self.read_paused = True  # uvicorn's step then skips its pause-after-every-message
        try:
            super().send_receive_event_to_app()
        finally:
            self.read_paused = was_paused
        if self.queue.qsize() > queued:
            self._queued_bytes += size
        if not self.read_paused and (self.queue.qsize() >= HIGH_MESSAGES or self._queued_bytes >= HIGH_BYTES):
            self.read_paused = True
            self.transport.pause_reading()

    async def receive(self) -> Any:
        message: Any = await super().receive()
        if self._fits:
            if self.queue.empty():
                self._queued_bytes = 0  # text counts bytes in and characters out: no drift
            else:
                data = message.get("text") or message.get("bytes") or b""
                self._queued_bytes = max(0, self._queued_bytes - len(data))
        return message
