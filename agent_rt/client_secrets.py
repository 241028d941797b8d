"""Ephemeral client secrets: short-lived keys for browsers and devices (GA ``/v1/realtime/client_secrets``).

Your server holds the real API key and mints a secret per session; the device connects with the secret
(``RealtimeClient(api_key=secret.value)``) and never sees the key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from ._secrets import redact, register_secret
from .errors import ConfigurationError, RealtimeError

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class ClientSecretError(RealtimeError):
    """The service refused to issue a client secret; ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, *, status: int = 0, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class ClientSecret:
    """An issued secret. ``value`` is kept out of ``repr`` so it never lands in logs by accident."""

    value: str = field(repr=False)
    expires_at: int
    session: dict[str, Any] = field(default_factory=dict)


async def create_client_secret(
    api_key: str | None = None,
    *,
    session: Mapping[str, Any] | None = None,
    expires_after: int | Mapping[str, Any] | None = None,
    base_url: str | None = None,
    http_client: httpx.AsyncClient | None = None,
    timeout: float = 30.0,
) -> ClientSecret:
    """Ask for an ephemeral key. ``expires_after`` is seconds (or the API's ``{"anchor", "seconds"}``).

    ``session`` is the GA session config the secret is bound to (``{"type": "realtime", "model": ...}``).
    ``base_url`` points at another deployment, e.g. the local server's ``http://127.0.0.1:PORT/v1``.
    """
    key = api_key or os.environ.get("OPENAI_API_KEY")
    if not key:
        raise ConfigurationError(
            "an API key is needed to create a client secret (api_key= or OPENAI_API_KEY)"
        )
    register_secret(key)
    body: dict[str, Any] = {}
    if session is not None:
        body["session"] = {"type": "realtime", **dict(session)}
    if expires_after is not None:
        after = (
            {"anchor": "created_at", "seconds": expires_after}
            if isinstance(expires_after, int)
            else expires_after
        )
        body["expires_after"] = dict(after)
    url = (base_url or DEFAULT_BASE_URL).rstrip("/") + "/realtime/client_secrets"
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    client = http_client or httpx.AsyncClient(timeout=timeout)
    try:
        response = await client.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise ClientSecretError(f"could not reach {url}: {redact(str(exc)) or type(exc).__name__}") from None
    finally:
        if http_client is None:
            await client.aclose()
    try:
        payload: Any = response.json()
    except ValueError:
        payload = None
    if response.status_code != 200:
        error = payload.get("error") if isinstance(payload, dict) else None
        message = error.get("message") if isinstance(error, dict) else response.text[:200]
        code = error.get("code") if isinstance(error, dict) else None
        raise ClientSecretError(
            f"client secret refused ({response.status_code}): {redact(str(message))}",
            status=response.status_code,
            code=code if isinstance(code, str) else None,
        )
    if not isinstance(payload, dict) or not isinstance(payload.get("value"), str):
        raise ClientSecretError("unexpected answer: no client secret 'value'", status=response.status_code)
    value = payload["value"]
    register_secret(value)
    expires_at = payload.get("expires_at")
    session_info = payload.get("session")
    return ClientSecret(
        value=value,
        expires_at=int(expires_at) if isinstance(expires_at, (int, float)) else 0,
        session=dict(session_info) if isinstance(session_info, dict) else {},
    )
