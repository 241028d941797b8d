"""Who may use the local server: the optional API key that ``agent-rt serve --api-key`` sets.

Without a key the server accepts anything, as a development stand-in should. With one, every
WebSocket upgrade and REST request must present it — as ``Authorization: Bearer KEY``, or, from a
browser (which cannot set headers), as the subprotocol ``openai-insecure-api-key.KEY`` — or an
ephemeral client secret this server issued (WebSocket only: minting needs the real key). Anything
else gets a 401 whose JSON body has the service's error shape. The key never appears in a reply,
a log line or a repr.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping

from .._secrets import register_secret

BROWSER_KEY_PREFIX = "openai-insecure-api-key."


def offered_subprotocols(headers: Mapping[str, str]) -> list[str]:
    """The subprotocols a WebSocket client offered, in its order."""
    return [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",") if p.strip()]


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if any."""
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key a request presents: the bearer token, else the browser subprotocol's key."""
    token = bearer_token(headers)
    if token is not None:
        return token
    for protocol in offered_subprotocols(headers):
        if protocol.startswith(BROWSER_KEY_PREFIX):
            return protocol[len(BROWSER_KEY_PREFIX) :] or None
    return None


def error_body(message: str, code: str | None, param: str | None = None) -> str:
    """An HTTP error body shaped like the service's (``{"error": {...}}``)."""
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return json.dumps({"error": error})


class ApiKeyCheck:
    """Checks a request's key against the server's (constant-time); ``None`` key: all pass."""

    def __init__(self, api_key: str | None) -> None:
        if api_key is not None and not api_key.strip():
            raise ValueError("the server's API key must not be empty")
        register_secret(api_key)  # masked in every log line, whatever its shape
        self._key = api_key

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def __repr__(self) -> str:
        return f"ApiKeyCheck(enabled={self.enabled})"

    def matches(self, token: str | None) -> bool:
        if self._key is None:
            return True
        return token is not None and hmac.compare_digest(token.encode(), self._key.encode())

    def refusal(
        self, headers: Mapping[str, str], *, also_valid: Callable[[str], bool] | None = None
    ) -> str | None:
        """The 401 body for a request without the key (``also_valid`` admits other tokens), else None."""
        if self._key is None:
            return None
        token = presented_key(headers)
        if token is None:
            return error_body(
                "You didn't provide an API key. You need to provide your API key in an Authorization "
                "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                None,
            )
        if self.matches(token) or (also_valid is not None and also_valid(token)):
            return None
        return error_body("Incorrect API key provided.", "invalid_api_key")
