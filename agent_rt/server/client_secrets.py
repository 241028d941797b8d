"""The local server's ``POST /v1/realtime/client_secrets``: ephemeral keys, as the GA service issues them.

A secret (``ek_...``) is valid until its ``expires_at``; WebSocket connections that present an ``ek_``
key this server did not issue, or that expired, are refused with 401 like the service does. The
``session`` a secret is minted with is checked like a ``session.update`` (a bad one is a 400) and
becomes the starting config of every session opened with that secret.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from ..transport import HttpRequest
from . import errors
from .auth import ApiKeyCheck, bearer_token
from .config import SessionConfig

PATH = "/v1/realtime/client_secrets"
DEFAULT_TTL = 600
MIN_TTL, MAX_TTL = 10, 7200


def _error(
    status: int, message: str, param: str | None = None, code: str | None = None
) -> tuple[int, str, bytes]:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
    return status, "application/json", json.dumps(body).encode()


class ClientSecretIssuer:
    """Issues and checks ephemeral client secrets; ``clock`` is replaceable for tests.

    With an ``api_key`` check enabled, only a request bearing that key may mint a secret;
    without one, any bearer token is accepted (a development server).
    """

    def __init__(self, clock: Callable[[], float] = time.time, *, api_key: ApiKeyCheck | None = None) -> None:
        self.clock = clock
        self.api_key = api_key or ApiKeyCheck(None)
        self._issued: dict[str, int] = {}
        self._sessions: dict[str, dict[str, Any]] = {}

    def session_for(self, token: str) -> dict[str, Any] | None:
        """The session config a valid secret was minted with (GA shape), else None."""
        return dict(self._sessions[token]) if self.is_valid(token) and token in self._sessions else None

    def is_valid(self, token: str) -> bool:
        expires_at = self._issued.get(token)
        return expires_at is not None and self.clock() < expires_at

    async def handle(self, request: HttpRequest) -> tuple[int, str, bytes]:
        if request.path.split("?")[0].rstrip("/") != PATH:
            return _error(404, f"Invalid URL ({request.method} {request.path})")
        if request.method != "POST":
            return _error(405, f"Invalid method for {PATH}: use POST")
        if bearer_token(request.headers) is None:
            return _error(
                401, "You didn't provide an API key (Authorization: Bearer <key>).", code="missing_api_key"
            )
        if not self.api_key.matches(bearer_token(request.headers)):
            return _error(401, "Incorrect API key provided.", code="invalid_api_key")
        try:
            body: Any = json.loads(request.body or b"{}")
        except ValueError:
            return _error(400, "We could not parse the JSON body of your request.")
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.")
        ttl = DEFAULT_TTL
        expires_after = body.get("expires_after")
        if expires_after is not None:
            seconds = expires_after.get("seconds") if isinstance(expires_after, dict) else None
            anchor = expires_after.get("anchor", "created_at") if isinstance(expires_after, dict) else None
            if anchor != "created_at":
                return _error(
                    400, "Invalid 'expires_after.anchor': expected 'created_at'.", "expires_after.anchor"
                )
            if isinstance(seconds, bool) or not isinstance(seconds, int) or not MIN_TTL <= seconds <= MAX_TTL:
                message = f"Invalid 'expires_after.seconds': expected an integer from {MIN_TTL} to {MAX_TTL}."
                return _error(400, message, "expires_after.seconds")
            ttl = seconds
        session = body.get("session") or {"type": "realtime"}
        if not isinstance(session, dict):
            return _error(400, "Invalid 'session': expected an object.", "session")
        try:  # the service validates the bound config when it mints the secret
            probe = SessionConfig.create("ga", session_id="probe", model="gpt-realtime", expires_at=0)
            probe.update({key: value for key, value in session.items() if key != "model"})
        except errors.ClientEventError as exc:
            return _error(400, exc.message, exc.param or "session", exc.code)
        value = "ek_" + secrets.token_hex(16)
        expires_at = int(self.clock()) + ttl
        self._issued[value] = expires_at
        self._sessions[value] = session
        answer = {
            "value": value,
            "expires_at": expires_at,
            "session": {"object": "realtime.session", **session},
        }
        return 200, "application/json", json.dumps(answer).encode()
