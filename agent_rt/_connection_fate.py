"""ConnectionFate: what a closed socket means for one client, and the one report of its end.

A close is one of three things: the socket of a reconnect attempt failed (the attempt fails), the
session was lost and a new one is opened (``renew_session()``, or a recoverable close with
``reconnect=``), or the client is closed for good. The last fails every waiter and emits
``close`` once. The state it keeps (a renewal asked for, the close reported) is written only
before an ``await`` or in listeners that never await; the decisions about the connection's state
are the :class:`~agent_rt.protocol.lifecycle.Lifecycle` machine's.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from ._reconnector import Reconnector
from ._session_tracker import SessionTracker
from ._waiting import Changes
from .errors import ConnectionClosedError
from .protocol.conversation import Item, RealtimeConversation
from .protocol.lifecycle import Lifecycle, close_error

if TYPE_CHECKING:
    import anyio.abc

__all__ = ["RENEW_REASON", "ConnectionFate"]

logger = logging.getLogger("agent_rt.client")

#: The ``reason`` of the ``reconnecting`` / ``reconnected`` events that ``renew_session()`` causes.
RENEW_REASON = "renewed by the application"

_CLOSE_ON_DISCONNECT = {"code": 1000, "reason": "", "error": False}


class ConnectionFate:
    """Decides, on each ``close`` of the client's socket, between a reconnect and the end."""

    def __init__(
        self,
        reconnector: Reconnector,
        *,
        lifecycle: Lifecycle,
        changes: Changes,
        session: SessionTracker,
        conversation: RealtimeConversation,
        close_socket: Callable[[], Awaitable[None]],
        emit: Callable[[str, Any], None],
        fail_waiters: Callable[..., None],
        task_group: Callable[[], anyio.abc.TaskGroup | None],
    ) -> None:
        self.reconnector = reconnector
        self._lifecycle = lifecycle
        self._changes = changes
        self._session = session
        self._conversation = conversation
        self._close_socket = close_socket
        self._emit = emit
        self._fail_waiters = fail_waiters
        self._task_group = task_group  # the connection's: where a reconnect runs
        self._close_reported = False
        self._renewing = False  # renew() is closing the socket on purpose

    def forget(self) -> None:
        """A connect by hand starts afresh: no close reported, no renewal, no outage continuing."""
        self._close_reported = self._renewing = False
        self.reconnector.forget()

    def on_close(self, payload: dict[str, Any]) -> None:
        """The ``close`` listener of the client's :class:`~agent_rt.api.RealtimeAPI`."""
        if self._lifecycle.is_reconnecting:  # the socket of a reconnect attempt closed: the attempt fails
            self.reconnector.attempt_closed(payload)
            return
        code, reason = payload.get("code"), payload.get("reason") or ""
        live = self._task_group() is not None and self._lifecycle.is_open
        if self._renewing and live:
            self._renewing = False
            self._begin_reconnect(code, RENEW_REASON, immediate=True)
        elif live and payload.get("error") and self.reconnector.should_reconnect(code, reason):
            self._begin_reconnect(code, reason)
        else:
            self.finish(payload)

    def disconnected(self) -> None:
        """The application closed the client (``disconnect()``)."""
        self.finish(_CLOSE_ON_DISCONNECT, "disconnected")

    def finish(self, payload: Mapping[str, Any], message: str | None = None) -> None:
        """The client is closed for good: fail every waiter and emit ``close`` (once)."""
        error = close_error(payload, self._session.server_error)
        if message is not None:
            error = ConnectionClosedError(
                message, code=error.code, reason=error.reason, server_error=error.server_error
            )
        self._lifecycle.closed(error)
        self._session.settle()
        self._renewing = False
        self._changes.notify()
        if not self._close_reported:  # first, so that a waiter for "close" gets the close itself
            self._close_reported = True
            self._emit("close", dict(payload))
        self._fail_waiters(self._lifecycle.closed_error or error)

    async def renew(self, timeout: float | None) -> None:
        """Close the socket on purpose; returns once the new session is open (``renew_session()``)."""
        lifecycle = self._lifecycle
        self._renewing = True
        generation = lifecycle.generation
        await self._close_socket()
        await self._changes.wait_until(
            lambda: True if lifecycle.is_open and lifecycle.generation != generation else None,
            timeout,
            abandoned=lambda: lifecycle.closed_error,
            failed=lambda: None,
        )

    def _begin_reconnect(self, code: int | None, reason: str, *, immediate: bool = False) -> None:
        """The server session is gone: clear what belonged to it, then reconnect in the background."""
        task_group = self._task_group()
        assert task_group is not None
        lost_items = self._conversation.get_items()
        drop = close_error({"code": code, "reason": reason}, None)
        drop = ConnectionClosedError(f"{drop}; reconnecting", code=code, reason=reason)
        self._lifecycle.dropped(drop)
        self._session.reset()
        self._changes.notify()
        # Waiters for what the lost session would have produced fail; those for the
        # connection's fate (reconnecting, reconnected, reconnect.failed, close, error) go on.
        self._fail_waiters(drop, only=lambda name: name.startswith(("conversation.", "tool.")))
        if reason != RENEW_REASON:
            logger.warning("connection closed (code %s): reconnecting", code)
        task_group.start_soon(self._reconnect, code, reason, lost_items, immediate, name="agent_rt reconnect")

    async def _reconnect(
        self, code: int | None, reason: str, lost_items: list[Item], immediate: bool
    ) -> None:
        failure = await self.reconnector.run(code, reason, lost_items, immediate)
        if failure is not None:
            self.finish({"code": code, "reason": reason, "error": True}, failure)
