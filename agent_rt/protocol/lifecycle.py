"""Lifecycle: the connection states of a client and the one table of moves between them.

``IDLE → CONNECTING → OPEN → (RECONNECTING → OPEN)* → CLOSING → CLOSED``, with ``CLOSED`` reached
from anywhere when the socket closes for good. Every public call asks this machine whether it
may run now, and every refusal is the same typed error with the same wording.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigurationError, ConnectionClosedError, NotConnectedError

__all__ = ["ConnectionState", "Lifecycle", "close_error"]


class ConnectionState(enum.Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    OPEN = "open"
    RECONNECTING = "reconnecting"
    CLOSING = "closing"
    CLOSED = "closed"


_S = ConnectionState
_MOVES: dict[ConnectionState, frozenset[ConnectionState]] = {
    _S.IDLE: frozenset({_S.CONNECTING}),
    _S.CONNECTING: frozenset({_S.IDLE, _S.OPEN, _S.CLOSING, _S.CLOSED}),
    _S.OPEN: frozenset({_S.RECONNECTING, _S.CLOSING, _S.CLOSED}),
    _S.RECONNECTING: frozenset({_S.OPEN, _S.CLOSING, _S.CLOSED}),
    _S.CLOSING: frozenset({_S.CLOSED}),
    _S.CLOSED: frozenset({_S.CONNECTING}),
}


class Lifecycle:
    """The state, the error that closed the client, and the checks every call makes."""

    __slots__ = ("closed_error", "drop_error", "generation", "state")

    def __init__(self) -> None:
        self.state = ConnectionState.IDLE
        self.closed_error: ConnectionClosedError | None = None
        self.drop_error: ConnectionClosedError | None = None  # why the reconnect in progress started
        self.generation = 0  # counts sessions lost: work of an older generation is stale

    def __repr__(self) -> str:
        return f"<Lifecycle {self.state.value} generation={self.generation}>"

    def _move(self, target: ConnectionState) -> None:
        if target not in _MOVES[self.state]:
            raise ConfigurationError(f"cannot go from {self.state.value} to {target.value}")
        self.state = target

    # -- moves -------------------------------------------------------------------------------

    def connecting(self) -> None:
        if self.state is ConnectionState.OPEN:
            raise ConfigurationError("already connected")
        if self.state is ConnectionState.RECONNECTING:
            raise ConfigurationError("already reconnecting")
        if self.state in (ConnectionState.CONNECTING, ConnectionState.CLOSING):
            raise ConfigurationError(f"already {self.state.value}")
        self._move(ConnectionState.CONNECTING)
        self.closed_error = None
        self.drop_error = None

    def failed(self) -> None:
        """The connect attempt failed before a socket was open: back to idle, ready to try again."""
        self._move(ConnectionState.IDLE)

    def opened(self) -> None:
        self._move(ConnectionState.OPEN)
        self.drop_error = None

    def dropped(self, error: ConnectionClosedError) -> None:
        """The session was lost and a new one is being opened."""
        self._move(ConnectionState.RECONNECTING)
        self.drop_error = error
        self.generation += 1

    def closing(self) -> None:
        if self.state in (ConnectionState.CLOSING, ConnectionState.CLOSED, ConnectionState.IDLE):
            return
        self._move(ConnectionState.CLOSING)

    def closed(self, error: ConnectionClosedError) -> bool:
        """Closed for good; False if it already was (the first error is kept)."""
        if self.state is ConnectionState.CLOSED:
            return False
        if self.state is ConnectionState.IDLE:
            self.state = ConnectionState.CONNECTING  # a refusal before the first open
        self._move(ConnectionState.CLOSED)
        if self.closed_error is None:
            self.closed_error = error
        self.drop_error = None
        self.generation += 1
        return True

    # -- checks ------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.state is ConnectionState.OPEN

    @property
    def is_reconnecting(self) -> bool:
        return self.state is ConnectionState.RECONNECTING

    def check_send(self, action: str) -> None:
        """Raise the one typed error for a call that sends while it cannot."""
        state = self.state
        if state is ConnectionState.OPEN or state is ConnectionState.CONNECTING:
            return
        if state is ConnectionState.RECONNECTING:
            drop = self.drop_error
            raise NotConnectedError(
                f"cannot {action}: reconnecting after close code {drop.code if drop else None}; "
                "wait for the 'reconnected' event before sending"
            )
        if self.closed_error is not None:
            raise self.closed_error
        raise NotConnectedError(f"cannot {action}: not connected; call connect() or use 'async with client:'")

    def check_wait(self, action: str) -> None:
        """Waiting is allowed on a live, reconnecting or closed client (the latter raises at once)."""
        if self.state is ConnectionState.IDLE:
            raise NotConnectedError(
                f"cannot {action}: not connected; call connect() or use 'async with client:'"
            )


def close_error(payload: Mapping[str, Any], server_error: Mapping[str, Any] | None) -> ConnectionClosedError:
    """The error of a close (``code``, ``reason``); an application close (4000 and up) carries the
    ``error`` event the server sent just before it, as the service does for a retired beta shape."""
    code, reason = payload.get("code"), payload.get("reason") or ""
    message = f"connection closed (code {code}{', ' + reason if reason else ''})"
    if server_error is not None and (code is None or code >= 4000):
        message += f": {server_error.get('code') or 'error'}: {server_error.get('message') or ''}".rstrip()
    return ConnectionClosedError(message, code=code, reason=reason, server_error=server_error)
