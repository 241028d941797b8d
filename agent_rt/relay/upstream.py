"""Where the relay's sessions go: the service, any Realtime URL, or an embedded local server.

The upstream key is used on the upstream connection only (an ``Authorization`` header the relay
sends itself); nothing from the client's handshake (its token above all) is passed on.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .. import transport

OPENAI_REALTIME_URL = "wss://api.openai.com/v1/realtime"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"


@dataclass(frozen=True)
class UpstreamTarget:
    """A resolved upstream: ``url`` None means the embedded local server."""

    url: str | None
    key: str | None = field(default=None, repr=False)

    @property
    def embedded(self) -> bool:
        return self.url is None

    def describe(self) -> str:
        if self.url is None:
            return "the embedded local Realtime server (offline)"
        return self.url + (" (with the upstream key)" if self.key else "")


class UpstreamConnection(Protocol):
    """What a relay session needs of its upstream WebSocket (either driver below gives it)."""

    async def send_text(self, text: str) -> None: ...

    async def receive(self) -> str | bytes: ...

    def receive_queued(self) -> str | bytes | None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...

    async def abort(self) -> None: ...


def on_asyncio() -> bool:
    """Whether the caller runs in an asyncio event loop (else trio, e.g. under hypercorn).

    Not sniffio: no dependency of ours (nor of anyio 4 or httpx 0.28) brings it; trio does.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def open_upstream(url: str, headers: Mapping[str, str]) -> UpstreamConnection:
    """Connect to the upstream: the lean asyncio driver under asyncio (uvicorn), else the anyio one."""
    if not on_asyncio():
        return await transport.connect(url, headers)
    from .asyncio_upstream import connect_asyncio

    return await connect_asyncio(url, headers)


def resolve_upstream(
    url: str | None, *, key: str | None = None, key_env: str = DEFAULT_KEY_ENV
) -> UpstreamTarget:
    """``url`` if given; else the service if the key is set; else the embedded local server."""
    key = key or os.environ.get(key_env) or None
    if url:
        return UpstreamTarget(url, key)
    if key:
        return UpstreamTarget(OPENAI_REALTIME_URL, key)
    return UpstreamTarget(None, None)


def session_url(base: str, client_query: str, model: str | None) -> str:
    """``base`` with the client's query (``?model=`` ...) merged in; ``model`` set when forced."""
    parts = urlsplit(base)
    query = dict(parse_qsl(parts.query))
    query.update(parse_qsl(client_query))
    if model is not None:
        query["model"] = model
    return urlunsplit(parts._replace(query=urlencode(query)))


def session_headers(key: str | None, *, beta: bool) -> dict[str, str]:
    headers = {}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if beta:
        headers["OpenAI-Beta"] = "realtime=v1"
    return headers


def rest_base(websocket_url: str) -> str:
    """The REST base of a Realtime WebSocket URL: ``wss://h/v1/realtime`` → ``https://h/v1``."""
    parts = urlsplit(websocket_url)
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme)
    path = parts.path.rstrip("/")
    if path.endswith("/realtime"):
        path = path[: -len("/realtime")]
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def forced_model(lock: Mapping[str, object]) -> str | None:
    model = lock.get("model")
    return model if isinstance(model, str) else None
