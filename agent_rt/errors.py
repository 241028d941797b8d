"""The exception hierarchy of agent_rt.

Every error the library raises on purpose derives from :class:`RealtimeError`, so that
applications can catch one type. Messages never contain API keys or tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class RealtimeError(Exception):
    """Base class of every error raised by agent_rt."""


class ConfigurationError(RealtimeError, ValueError):
    """Bad input from the application: an unknown session field, a bad URL, a bad tool definition."""


class NotConnectedError(RealtimeError):
    """A method that needs a live connection was called while disconnected."""


class ConnectionClosedError(NotConnectedError):
    """The connection closed (or dropped): raised to waiters, and to sends after the close.

    A :class:`NotConnectedError` too, so one ``except NotConnectedError`` covers every call made
    while there is no connection.

    ``code`` and ``reason`` are the close frame's; ``server_error`` is the ``error`` the server sent
    just before an application close (code 4000 and up: e.g. ``beta_api_shape_disabled``).
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        reason: str = "",
        server_error: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.server_error = dict(server_error) if server_error is not None else None


class HandshakeError(RealtimeError):
    """The WebSocket opening handshake failed (bad status, unreachable host, TLS failure)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ReconnectHookError(RealtimeError):
    """The application's ``before_reconnect`` hook raised; that reconnect attempt failed."""


class ProtocolError(RealtimeError):
    """The peer sent something that breaks the protocol: a non-JSON frame, an event without a type."""


class ConversationError(ProtocolError):
    """A server event contradicts the client-side conversation cache (for example an unknown item id)."""

    def __init__(self, message: str, *, event: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.event = event


class ServerError(RealtimeError):
    """The server answered with an ``error`` event. ``error`` holds its payload as received."""

    def __init__(self, error: dict[str, Any]) -> None:
        self.error = error
        code = error.get("code")
        message = error.get("message") or "server error"
        super().__init__(f"{code}: {message}" if code else str(message))

    @property
    def code(self) -> str | None:
        code = self.error.get("code")
        return code if isinstance(code, str) else None
