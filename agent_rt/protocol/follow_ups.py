"""FollowUpGate: when a relay may send its own ``response.create`` on a connection it shares.

A relay that answers tool calls itself sends one follow-up ``response.create`` per batch, on the
same upstream connection as the client's own ``response.create`` events (which it forwards and
never holds back) and the responses the service's turn detection starts by itself. The service
runs one response at a time: a create that reaches it while one is active is refused. So the
follow-up may go only when no response is active *and* none is requested: a request counts from
the moment its sender takes a token (before the send, never after) until the service answers it,
with ``response.created`` or an ``error`` naming its event id.

The service answers creates in the order it received them, but a ``response.created`` does not say
which request it answers, and turn detection starts responses nobody asked for. So a created
settles the oldest request (if it answered one, it answered that one). When an ``error`` later
refuses a request a created had settled, that created was turn detection's: nothing more is
settled. The count of requests is thus never more than the number truly unanswered (nothing waits
forever for an answer that came); it may be less while a request a created settled wrongly is
still unanswered, and then a follow-up can meet an active response and be refused:
:meth:`FollowUpGate.on_server_event` says so (when the refusal names it), and the relay asks again
once the service is idle. A server that does not echo event ids is answered in order, which is
exact unless turn detection raced a request. No I/O, no awaits.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .responses import conversation_response_id, refuses_create

__all__ = ["FollowUpGate", "Settled"]

_SETTLED_KEPT = 16


class Settled(enum.Enum):
    """What a server event meant for the relay's own follow-ups."""

    OWN_REFUSED = "own_refused"
    """A follow-up of the relay's met an active response: it is owed again (the client never sent
    that create, so the refusal is the relay's business, not the client's)."""


@dataclass(frozen=True)
class _Request:
    event_id: str
    own: bool  # the relay's follow-up (else the client's create, forwarded)


class FollowUpGate:
    """Requests in flight (the client's and the relay's) and active responses, for one session."""

    __slots__ = ("_active", "_pending", "_settled")

    def __init__(self) -> None:
        self._pending: deque[_Request] = deque()  # sent, unanswered: oldest first
        # Requests a response.created settled, newest last: an error naming one of them later
        # means that created was turn detection's (and the follow-up refused is owed again).
        self._settled: deque[_Request] = deque(maxlen=_SETTLED_KEPT)
        self._active: set[str] = set()  # responses created and not done (default conversation)

    def __repr__(self) -> str:
        pending = [request.event_id for request in self._pending]
        return f"<FollowUpGate pending={pending!r} active={sorted(self._active)!r}>"

    @property
    def pending(self) -> tuple[str, ...]:
        """Event ids of the creates sent and not answered yet, oldest first."""
        return tuple(request.event_id for request in self._pending)

    @property
    def active(self) -> frozenset[str]:
        return frozenset(self._active)

    def may_follow_up(self) -> bool:
        """No response active and none requested: the relay's ``response.create`` may go now."""
        return not self._pending and not self._active

    def client_request(self, event_id: str) -> None:
        """The client's ``response.create`` (in the default conversation) is about to be forwarded.

        Never refused here: the client decides for itself; the service may refuse it.
        """
        self._pending.append(_Request(event_id, own=False))

    def take(self, event_id: str) -> None:
        """The relay's follow-up is about to be sent; call before the send, never after."""
        if not self.may_follow_up():
            raise RuntimeError(f"a response is active or requested: {self!r}")
        self._pending.append(_Request(event_id, own=True))

    def release(self, event_id: str) -> None:
        """The send of ``event_id`` did not happen: it is no request."""
        for request in self._pending:
            if request.event_id == event_id:
                self._pending.remove(request)
                return

    def on_server_event(self, event: Mapping[str, Any]) -> Settled | None:
        """Feed a server event (GA names); says when the relay's own follow-up was refused."""
        event_type = event.get("type")
        if event_type == "response.created":
            response_id = conversation_response_id(event)
            if response_id is not None:
                self._active.add(response_id)
                if self._pending:
                    self._settled.append(self._pending.popleft())
        elif event_type == "response.done":
            response_id = conversation_response_id(event)
            if response_id is not None:
                self._active.discard(response_id)
        elif event_type == "error":
            error = event.get("error")
            if isinstance(error, Mapping):
                return self._on_error(error)
        return None

    def _on_error(self, error: Mapping[str, Any]) -> Settled | None:
        event_id = error.get("event_id")
        refused = _find(self._pending, event_id)
        if refused is not None:
            self._pending.remove(refused)
        elif (refused := _find(self._settled, event_id)) is not None:
            self._settled.remove(refused)  # the created that settled it was turn detection's
        elif event_id is None and self._pending and refuses_create(error):
            refused = self._pending.popleft()  # a server that does not echo ids: in order
        if refused is not None and refused.own and refuses_create(error):
            return Settled.OWN_REFUSED
        return None

    def reset(self) -> None:
        """The session ended: nothing is requested or active any more."""
        self._pending.clear()
        self._settled.clear()
        self._active.clear()


def _find(requests: deque[_Request], event_id: object) -> _Request | None:
    if not isinstance(event_id, str):
        return None
    for request in requests:
        if request.event_id == event_id:
            return request
    return None
