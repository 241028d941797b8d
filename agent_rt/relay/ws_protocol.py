"""uvicorn's websockets-sansio protocol, tuned for the relay's one-message-at-a-time pump.

Two changes to uvicorn's class, both about the per-frame cost at real-time audio (an append every
20 ms per session, each its own loop wake-up):

* **Reads pause at a high-water mark.** uvicorn pauses the socket after every message it hands to
  the app and resumes it once the app has taken them all: two system calls per frame for a pump
  that takes each message at once. Here up to :data:`HIGH_MESSAGES` messages (or
  :data:`HIGH_BYTES`) wait before reads pause; a client sending faster than the relay forwards is
  still slowed by TCP, with a bounded queue in between.
* **Plain events skip the queue.** The scope offers the extension
  :data:`~agent_rt.relay.session.FORWARD_AT_ONCE`; a relay session installs a function that
  forwards an event the relay only checks and passes on, straight from this read callback, while
  the session's pump waits with nothing queued (so order is kept). It returns False for anything
  else, which then goes through the queue as usual.

It overrides steps of uvicorn's class and reads a few of its attributes;
:func:`agent_rt.relay.serving.relay_ws_protocol` checks the steps exist and falls back to uvicorn's
own choice otherwise, and an instance missing an attribute behaves as uvicorn's: an uvicorn release
that changes them costs speed, not correctness.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

from .session import FORWARD_AT_ONCE

#: Messages waiting for the app before the socket is paused.
HIGH_MESSAGES = 16
#: Bytes waiting for the app before the socket is paused (one large event pauses it at once).
HIGH_BYTES = 2**20

_UVICORN_METHODS = ("send_receive_event_to_app", "receive", "handle_connect", "connection_lost")
_UVICORN_ATTRIBUTES = (
    "queue",
    "read_paused",
    "transport",
    "frames",
    "curr_msg_data_type",
    "close_sent",
    "conn",
    "handshake_complete",
)

logger = logging.getLogger("agent_rt.relay")


def fits_uvicorn() -> bool:
    """Whether the installed uvicorn has the steps this protocol overrides."""
    return all(callable(getattr(WebSocketsSansIOProtocol, name, None)) for name in _UVICORN_METHODS)


class RelayWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's protocol with reads paused at a high-water mark and plain events forwarded at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queued_bytes = 0
        # An uvicorn without these attributes: behave exactly as uvicorn's own protocol.
        self._bounded = all(hasattr(self, name) for name in _UVICORN_ATTRIBUTES)
        self._forward: Callable[[str], bool] | None = None
        # True while the app waits in receive(): with nothing queued, every message before the
        # next one has been taken and handled, so handing the next one on at once keeps order.
        self._app_waiting = False

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if self._bounded and scope is not None:
            scope.setdefault("extensions", {})[FORWARD_AT_ONCE] = self._install_forward

    def connection_lost(self, exc: Exception | None) -> None:
        # uvicorn reports a connection lost without a close frame as 1005, the code of a close
        # frame without a status; RFC 6455 (7.1.5) says 1006, and the relay's session line should
        # tell a vanished client from one that closed. Queued before uvicorn's own message, which
        # the app then never reads; a close frame that did arrive has queued its code already.
        if self._bounded and self.handshake_complete and self.conn.close_rcvd is None:
            self.queue.put_nowait({"type": "websocket.disconnect", "code": 1006})
        super().connection_lost(exc)

    def _install_forward(self, forward: Callable[[str], bool] | None) -> None:
        self._forward = forward

    def send_receive_event_to_app(self) -> None:
        if not self._bounded:
            super().send_receive_event_to_app()
            return
        if self._forward is not None and self._forwarded_at_once():
            self.frames = []
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

    def _forwarded_at_once(self) -> bool:
        """Offer a text message to the app's forwarder instead of the queue (order allowing)."""
        forward = self._forward
        if not self._app_waiting or not self.queue.empty() or self.close_sent:
            return False
        if self.curr_msg_data_type != "text" or forward is None:
            return False
        frames = self.frames
        try:
            text = (frames[0] if len(frames) == 1 else b"".join(frames)).decode()
        except UnicodeDecodeError:
            return False  # uvicorn's step closes the connection with 1007
        try:
            return bool(forward(text))
        except Exception:  # a bug there must not break the connection: the app's receive takes over
            logger.exception("relay: forwarding an event at once failed; the session's pump takes over")
            self._forward = None
            return False

    async def receive(self) -> Any:
        self._app_waiting = True
        try:
            message: Any = await super().receive()
        finally:
            self._app_waiting = False
        if self._bounded:
            if self.queue.empty():
                self._queued_bytes = 0  # text counts bytes in and characters out: no drift
            else:
                data = message.get("text") or message.get("bytes") or b""
                self._queued_bytes = max(0, self._queued_bytes - len(data))
        return message
