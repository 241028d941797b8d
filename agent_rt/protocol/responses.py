"""ResponseGate: when the client may send ``response.create``, as a pure state machine.

The service runs one response at a time in the default conversation; a second ``response.create``
is refused (``conversation_already_has_active_response``). The gate keeps at most one create in
flight: a sender takes a token (the event id it is about to send) *before* the send, so the
``response.created`` that may arrive while the send is still returning finds it and settles it.
``response.done``, a refusal of our create, and the end of the session settle the gate too.

It also remembers the cancels the client sent, so that the service's ``response_cancel_not_active``
(the response finished while our cancel was on the wire) is known to be a lost race, not an error.
No I/O, no awaits: the client feeds it and asks it questions.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Mapping
from typing import Any

__all__ = ["ErrorKind", "ResponseGate", "conversation_response_id", "refuses_create"]

_ALREADY_ACTIVE = "conversation_already_has_active_response"
_CANCEL_NOT_ACTIVE = "response_cancel_not_active"
_CANCELS_KEPT = 8


def conversation_response_id(event: Mapping[str, Any]) -> str | None:
    """The id of the response a ``response.created``/``.done`` event is about, if it runs in the
    default conversation (out-of-band responses run beside it and never block a create)."""
    response = event.get("response")
    if not isinstance(response, Mapping) or not isinstance(response.get("id"), str):
        return None
    if "conversation_id" in response and response["conversation_id"] is None:
        return None
    return str(response["id"])


def refuses_create(error: Mapping[str, Any]) -> bool:
    """Whether an ``error`` payload is the refusal of a create because a response is active.

    The GA service says so in its code; the beta one sent code null and only the message.
    """
    return error.get("code") == _ALREADY_ACTIVE or "already has an active response" in str(
        error.get("message", "")
    )


class ErrorKind(enum.Enum):
    """What a server ``error`` event means for the gate."""

    CREATE_REFUSED = "create_refused"
    """The service refused our ``response.create``: the token is released."""
    LOST_CANCEL_RACE = "lost_cancel_race"
    """Our ``response.cancel`` arrived after the response had finished: harmless."""
    OTHER = "other"


class ResponseGate:
    """At most one ``response.create`` in flight or active, for the default conversation."""

    __slots__ = ("_active", "_cancelled", "_cancels", "_pending")

    def __init__(self) -> None:
        self._pending: str | None = None  # event id of our response.create not yet answered
        self._active: set[str] = set()  # responses created and not done
        # Event ids of our recent response.cancel events; the refusal of a late one comes after the
        # response.done, so they are kept (a few: a successful cancel is never acknowledged).
        self._cancels: deque[str] = deque(maxlen=_CANCELS_KEPT)
        self._cancelled = False  # a cancel went out since the last create: another would be redundant

    def __repr__(self) -> str:
        return f"<ResponseGate pending={self._pending!r} active={sorted(self._active)!r}>"

    @property
    def pending(self) -> str | None:
        """The event id of the ``response.create`` on its way, if any."""
        return self._pending

    @property
    def active(self) -> frozenset[str]:
        return frozenset(self._active)

    def may_create(self) -> bool:
        """No response active and none requested: a ``response.create`` may go now."""
        return self._pending is None and not self._active

    def busy(self) -> bool:
        """A response is active or requested: what a ``response.cancel`` would act on."""
        return self._pending is not None or bool(self._active)

    def take(self, event_id: str) -> None:
        """Record the ``response.create`` about to be sent; call before the send, never after."""
        if not self.may_create():
            raise RuntimeError(f"response gate is closed: {self!r}")
        self._pending = event_id
        self._cancelled = False

    def release(self, event_id: str) -> None:
        """The send of ``event_id`` failed: it never reached the server."""
        if self._pending == event_id:
            self._pending = None

    def take_cancel(self, event_id: str) -> bool:
        """Whether a ``response.cancel`` is worth sending now; if so it is recorded as ours.

        Not when nothing is active or requested, nor when a cancel already went out for it.
        """
        if not self.busy() or self._cancelled:
            return False
        self._cancels.append(event_id)
        self._cancelled = True
        return True

    def on_server_event(self, event: Mapping[str, Any]) -> ErrorKind | None:
        """Feed a server event (GA names); for an ``error`` event, returns what it means."""
        event_type = event.get("type")
        if event_type == "response.created":
            response_id = conversation_response_id(event)
            if response_id is not None:
                self._active.add(response_id)
                self._pending = None
                self._cancelled = False
        elif event_type == "response.done":
            response = event.get("response")
            if isinstance(response, Mapping) and isinstance(response.get("id"), str):
                self._active.discard(response["id"])
        elif event_type == "error":
            return self._on_error(event.get("error"))
        return None

    def _on_error(self, error: object) -> ErrorKind:
        if not isinstance(error, Mapping):
            return ErrorKind.OTHER
        code = error.get("code")
        event_id = error.get("event_id")
        if self._pending is not None and (event_id == self._pending or refuses_create(error)):
            self._pending = None
            return ErrorKind.CREATE_REFUSED
        if code == _CANCEL_NOT_ACTIVE and self._cancels:
            if isinstance(event_id, str) and event_id in self._cancels:
                self._cancels.remove(event_id)
                return ErrorKind.LOST_CANCEL_RACE
            if event_id is None:  # servers that do not echo the event id: one of ours, surely
                self._cancels.popleft()
                return ErrorKind.LOST_CANCEL_RACE
        return ErrorKind.OTHER

    def reset(self) -> None:
        """The session ended (close, drop): nothing is pending or active any more."""
        self._pending = None
        self._active.clear()
        self._cancels.clear()
        self._cancelled = False
