"""Who may open a session: relay tokens, a custom hook, an origin allow-list, loopback-only mode.

Everything here runs before the WebSocket is accepted, so a refused client gets an HTTP status
(401 or 403) and never a session. Tokens come from ``Authorization: Bearer <token>`` (server-side
clients, openai-python) or from the browser subprotocol ``openai-insecure-api-key.<token>``;
they are compared in constant time and never logged: an identity is a name, not the token.
"""

from __future__ import annotations

import hmac
import inspect
import ipaddress
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Union

from starlette.requests import HTTPConnection

from .._secrets import register_secret

SUBPROTOCOL_KEY_PREFIX = "openai-insecure-api-key."
BETA_SUBPROTOCOL = "openai-beta.realtime-v1"
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Identity:
    """An authenticated user of the relay; the name appears in logs, metrics and usage."""

    name: str
    models: frozenset[str] | None = None
    """Models this identity may use (``None``: the relay's default allow-list)."""
    token_budget: int | None = None
    """Tokens this identity may spend in this process (``None``: the relay's default budget)."""


class AuthRefused(Exception):
    """Raised by an auth hook to refuse with a status (401 or 403) and a message for the client."""

    def __init__(self, message: str = "not authorized", status: int = 403) -> None:
        if status not in (401, 403):
            raise ValueError(f"an auth refusal is 401 or 403, not {status}")
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class AuthRequest:
    """What an auth hook sees: the request, and the token it presented (if any)."""

    connection: HTTPConnection
    token: str | None

    @property
    def headers(self) -> Mapping[str, str]:
        return self.connection.headers

    @property
    def client_host(self) -> str | None:
        return self.connection.client.host if self.connection.client else None


HookResult = Union[Identity, str, None]  # noqa: UP007 - a runtime alias; `|` on str needs 3.10 types
AuthHook = Callable[[AuthRequest], Union[HookResult, Awaitable[HookResult]]]  # noqa: UP007


def offered_subprotocols(connection: HTTPConnection) -> list[str]:
    raw = connection.headers.get("sec-websocket-protocol", "")
    return [part.strip() for part in raw.split(",") if part.strip()]


def presented_token(connection: HTTPConnection) -> str | None:
    """The token from ``Authorization: Bearer`` or, failing that, the browser subprotocol."""
    scheme, _, value = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    for protocol in offered_subprotocols(connection):
        if protocol.startswith(SUBPROTOCOL_KEY_PREFIX) and len(protocol) > len(SUBPROTOCOL_KEY_PREFIX):
            return protocol[len(SUBPROTOCOL_KEY_PREFIX) :]
    return None


def is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return host == "localhost"


class Authenticator:
    """Decides, per request, the identity or the refusal ``(status, message)``."""

    def __init__(
        self,
        tokens: Iterable[str] | Mapping[str, str | Identity] = (),
        *,
        hook: AuthHook | None = None,
        allowed_origins: Collection[str] | None = None,
    ) -> None:
        if isinstance(tokens, str):
            raise TypeError("tokens takes a collection of tokens (or a mapping token -> identity), not a str")
        entries: list[tuple[bytes, Identity]] = []
        items = tokens.items() if isinstance(tokens, Mapping) else ((t, None) for t in tokens)
        for index, (token, who) in enumerate(items, start=1):
            if not token or not isinstance(token, str):
                raise ValueError("a relay token must be a non-empty string")
            identity = who if isinstance(who, Identity) else Identity(who or f"token-{index}")
            entries.append((token.encode(), identity))
            register_secret(token)  # masked wherever agent_rt redacts (logs, errors, debug events)
        self._tokens = entries
        self.hook = hook
        self.allowed_origins = None if allowed_origins is None else frozenset(allowed_origins)

    @property
    def open(self) -> bool:
        """No token and no hook: anyone may connect, so only loopback clients are let in."""
        return not self._tokens and self.hook is None

    def match_token(self, token: str | None) -> Identity | None:
        """The identity of ``token``: every configured token is compared, in constant time each."""
        if token is None:
            return None
        presented = token.encode()
        found: Identity | None = None
        for expected, identity in self._tokens:
            if hmac.compare_digest(presented, expected) and found is None:
                found = identity
        return found

    async def authenticate(self, connection: HTTPConnection) -> Identity | tuple[int, str]:
        origin = connection.headers.get("origin")
        if self.allowed_origins is not None and origin is not None and origin not in self.allowed_origins:
            return 403, f"origin {origin!r} is not allowed by this relay"
        if self.open:
            host = connection.client.host if connection.client else None
            if not is_loopback(host):
                return 403, "this relay has no token configured and accepts loopback clients only"
            return Identity(ANONYMOUS)
        token = presented_token(connection)
        identity = self.match_token(token)
        if identity is not None:
            return identity
        if self.hook is not None:
            try:
                result = self.hook(AuthRequest(connection, token))
                if inspect.isawaitable(result):
                    result = await result
            except AuthRefused as refusal:
                return refusal.status, refusal.message
            if isinstance(result, Identity):
                return result
            if isinstance(result, str) and result:
                return Identity(result)
        if token is None:
            return 401, "no relay token: use Authorization: Bearer <token> or the subprotocol " + (
                f"{SUBPROTOCOL_KEY_PREFIX}<token>"
            )
        return 401, "invalid relay token"
