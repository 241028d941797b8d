"""uvicorn's websockets-sansio protocol, pausing reads only when the app falls behind.

uvicorn pauses the socket after every message it hands to the app and resumes it once the app has
taken them all. At real-time audio (an append every 20 ms per session) that is two extra system
calls and a loop wake-up per frame, for nothing: the relay's pump takes each message as soon as it
arrives. This protocol lets up to :data:`HIGH_MESSAGES` messages (or :data:`HIGH_BYTES`) wait for
the app before it pauses, and resumes, as uvicorn does, when the app has taken them all; a client
sending faster than the relay forwards is still slowed by TCP, with a bounded queue in between.

It overrides one step of uvicorn's class (``send_receive_event_to_app``) and reads a few of its
attributes; :func:`agent_rt.relay.serving.relay_ws_protocol` checks the step exists and falls back to
uvicorn's own choice otherwise, and an instance missing an attribute behaves as uvicorn's: an
uvicorn release that changes them costs speed, not correctness.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

#: Messages waiting for the app before the socket is paused.
HIGH_MESSAGES = 16
#: Bytes waiting for the app before the socket is paused (one large event pauses it at once).
HIGH_BYTES = 2**20

_UVICORN_METHODS = ("send_receive_event_to_app", "receive")
_UVICORN_ATTRIBUTES = ("queue", "read_paused", "transport", "frames")


def fits_uvicorn() -> bool:
    """Whether the installed uvicorn has the step this protocol overrides."""
    return all(callable(getattr(WebSocketsSansIOProtocol, name, None)) for name in _UVICORN_METHODS)


class RelayWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's protocol, pausing reads at a queue high-water mark instead of after each message."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queued_bytes = 0
        # An uvicorn without these attributes: behave exactly as uvicorn's own protocol.
        self._bounded = all(hasattr(self, name) for name in _UVICORN_ATTRIBUTES)

    def send_receive_event_to_app(self) -> None:
        if not self._bounded:
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
        if self._bounded:
            if self.queue.empty():
                self._queued_bytes = 0  # text counts bytes in and characters out: no drift
            else:
                data = message.get("text") or message.get("bytes") or b""
                self._queued_bytes = max(0, self._queued_bytes - len(data))
        return message
