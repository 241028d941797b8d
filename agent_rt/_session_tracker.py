"""SessionTracker: the client's view of the current server session, kept up to date from its events.

Every server event of the client's :class:`~agent_rt.api.RealtimeAPI` goes through
:meth:`SessionTracker.on_server_event`: it feeds the response gate, the conversation cache, the
wait cursor and the tool runner, records the effective session, and turns the event into the
client's custom events (``conversation.updated``, ``conversation.item.*``,
``conversation.interrupted``, ``realtime.event``, ``error``). It never awaits: a listener runs in
the receive loop, and each decision is taken by the pure machines it feeds.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._session_settings import SessionSettings
from ._tool_runner import ToolRunner
from ._waiting import Changes
from .errors import ConversationError
from .protocol.conversation import RealtimeConversation
from .protocol.cursor import ItemCursor
from .protocol.dialect import normalize_event_type
from .protocol.responses import ErrorKind, ResponseGate

if TYPE_CHECKING:
    import anyio.abc

__all__ = ["SessionTracker"]

logger = logging.getLogger("agent_rt.client")

Emit = Callable[[str, Any], None]


class SessionTracker:
    """What belongs to one server session: whether ``session.created`` came, input audio not yet
    committed, the last ``error``; and the machines it feeds, which :meth:`reset` clears when the
    session is gone (a connect, a reconnect)."""

    def __init__(
        self,
        conversation: RealtimeConversation,
        settings: SessionSettings,
        runner: ToolRunner,
        *,
        gate: ResponseGate,
        cursor: ItemCursor,
        changes: Changes,
        emit: Emit,
        has_listeners: Callable[[str], bool],
        task_group: Callable[[], anyio.abc.TaskGroup | None],
    ) -> None:
        self._conversation = conversation
        self._settings = settings
        self._runner = runner
        self._gate = gate
        self._cursor = cursor
        self._changes = changes
        self._emit = emit
        self._has_listeners = has_listeners
        self._task_group = task_group  # the connection's: where the tool runner starts handlers
        self.created = False  # the server's session.created arrived
        self.pending_input_samples = 0  # appended, not committed: create_response commits them
        self.server_error: dict[str, Any] | None = None  # the last ``error`` of this connection
        self.reset()

    def reset(self) -> None:
        """Forget what belonged to the server session: on connect, and when it is lost."""
        self.created = False
        self.pending_input_samples = 0
        self.server_error = None
        self._settings.tools_sent = False
        self._gate.reset()
        self._runner.cancel_all()
        self._cursor.reset()
        self._conversation.clear()
        self.sync_audio_formats()

    def settle(self) -> None:
        """The client closed: nothing is in flight any more (the conversation stays readable)."""
        self._runner.cancel_all()
        self._gate.reset()

    def sync_audio_formats(self) -> None:
        """The conversation decodes audio in the formats in effect (the application's, or the server's)."""
        self._conversation.input_audio_format = self._settings.audio_format("input")
        self._conversation.output_audio_format = self._settings.audio_format("output")

    def on_client_event(self, event: dict[str, Any]) -> None:
        if self._has_listeners("realtime.event"):
            self._emit("realtime.event", {"time": _now(), "source": "client", "event": event})

    def on_server_event(self, event: dict[str, Any]) -> None:
        if self._has_listeners("realtime.event"):
            self._emit("realtime.event", {"time": _now(), "source": "server", "event": event})
        event_type = normalize_event_type(event["type"])
        if event_type == "error":
            self._on_error(event)
            return
        changed = False  # something a waiter may be waiting for (deltas, the bulk, are not)
        if event_type in ("response.created", "response.done"):
            self._gate.on_server_event({**event, "type": event_type})
            changed = True
        elif event_type in ("session.created", "session.updated") and isinstance(event.get("session"), dict):
            self._settings.session = event["session"]
            self.sync_audio_formats()  # formats the application left to the server
            self.created = self.created or event_type == "session.created"
            changed = True
        try:
            update = self._conversation.process(event)
        except ConversationError as exc:
            logger.warning("%s", exc)
            self._emit(
                "error", {"type": "conversation_error", "error": exc, "message": str(exc), "event": event}
            )
            update = None
        if update is not None and update.item is not None:
            self._emit("conversation.updated", {"item": update.item, "delta": update.delta})
            for happened, name in ((update.appended, "appended"), (update.completed, "completed")):
                if happened:
                    self._cursor.record(name, update.item)
                    self._emit(f"conversation.item.{name}", {"item": update.item})
                    changed = True
        if event_type == "input_audio_buffer.speech_started":
            self._emit("conversation.interrupted", event)
        elif event_type == "response.done":
            self._cursor.record("response.done", event.get("response") or {})
        if event_type in ("response.output_item.done", "response.done"):
            task_group = self._task_group()
            if task_group is not None:
                self._runner.on_server_event({**event, "type": event_type}, task_group)
        if changed:
            self._changes.notify()

    def _on_error(self, event: dict[str, Any]) -> None:
        error = event.get("error") if isinstance(event.get("error"), dict) else {}
        assert isinstance(error, dict)
        kind = self._gate.on_server_event(event)
        self._changes.notify()
        if kind is ErrorKind.LOST_CANCEL_RACE:  # our cancel met a response that had just finished
            logger.debug("response.cancel arrived after the response ended: %s", error.get("message"))
            return
        self.server_error = error
        logger.warning("server error: %s", error.get("message"))
        self._emit("error", event)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
