"""RealtimeAPI: a thin wrapper around the Realtime WebSocket.

It connects (GA or beta handshake), adds ``event_id`` to what it sends, parses what it receives,
and dispatches ``server.<type>`` / ``server.*`` / ``client.<type>`` / ``client.*`` events. It
knows nothing about conversations; :class:`~agent_rt.client.RealtimeClient` builds on it.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
import anyio.abc

from ._secrets import redact, register_secret
from .errors import ConfigurationError, ConnectionClosedError, NotConnectedError, ProtocolError, RealtimeError
from .events import EventEmitter
from .protocol.dialect import Dialect, check_dialect

if TYPE_CHECKING:
    import ssl

    from . import transport

logger = logging.getLogger("agent_rt.api")

DEFAULT_URL = "wss://api.openai.com/v1/realtime"
DEFAULT_MODEL = "gpt-realtime"
_DEBUG_FIELD_LIMIT = 120


def new_event_id(prefix: str = "evt_") -> str:
    return prefix + secrets.token_hex(10)


def _summarize(event: Mapping[str, Any]) -> str:
    """A log line for an event: long strings (audio) are shortened, secrets redacted."""

    def shorten(value: Any) -> Any:
        if isinstance(value, str) and len(value) > _DEBUG_FIELD_LIMIT:
            return f"<{len(value)} chars>"
        if isinstance(value, Mapping):
            return {key: shorten(inner) for key, inner in value.items()}
        if isinstance(value, list):
            return [shorten(inner) for inner in value]
        return value

    return redact(json.dumps(shorten(event), default=repr))


_DECODER = json.JSONDecoder()


def _parse_json(text: str) -> Any:
    """``json.loads`` for one server frame, about twice as fast on the usual compact frame.

    ``json.loads`` matches a whitespace regex before and after the document on every call;
    ``raw_decode`` does not. Frames with surrounding whitespace or trailing data (rare) go
    through ``json.loads``, which accepts or rejects them exactly as before.
    """
    try:
        value, end = _DECODER.raw_decode(text)
    except ValueError:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


class RealtimeAPI(EventEmitter):
    """One WebSocket connection to a Realtime server.

    ``api_key`` defaults to ``OPENAI_API_KEY``; ``url`` to the OpenAI endpoint (any relay, local
    server or compatible service works); ``protocol`` is ``"ga"`` or ``"beta"`` (which sends
    ``OpenAI-Beta: realtime=v1``). Use ``async with api:`` or call ``connect()`` and
    ``disconnect()`` from the same task: the receive loop lives in a task group the API owns.
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        protocol: str = "ga",
        debug: bool = False,
        headers: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        open_timeout: float = 10.0,
    ) -> None:
        super().__init__()
        self.url = url or DEFAULT_URL
        self.model = model or DEFAULT_MODEL
        self.dialect: Dialect = check_dialect(protocol)
        self.debug = debug
        self._api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY") or None
        register_secret(self._api_key)
        self._extra_headers = dict(headers or {})
        for value in self._extra_headers.values():
            if value.lower().startswith("bearer "):
                register_secret(value[7:])
        self._ssl_context = ssl_context
        self._open_timeout = open_timeout
        self._websocket: transport.WebSocket | None = None
        self._closing = False
        if debug:
            logger.setLevel(logging.DEBUG)

    def __repr__(self) -> str:
        state = "connected" if self.is_connected() else "disconnected"
        key = "set" if self._api_key else "unset"
        return f"<RealtimeAPI {self.dialect} {redact(self.url)} model={self.model!r} key={key} {state}>"

    @property
    def has_api_key(self) -> bool:
        return bool(self._api_key)

    def set_api_key(self, api_key: str | None) -> None:
        """Use another key from the next connect or reconnect on (a fresh ephemeral secret, say)."""
        register_secret(api_key)
        self._api_key = api_key or None

    def is_connected(self) -> bool:
        return self._websocket is not None and not self._websocket.closed

    # -- connection ------------------------------------------------------------------------

    def connection_url(self, model: str | None = None) -> str:
        """The URL to open: ``model`` goes in the query unless it names ``call_id`` or ``intent``."""
        parts = urlsplit(self.url)
        if parts.scheme not in ("ws", "wss"):
            raise ConfigurationError(
                f"Realtime URL must start with ws:// or wss://, not {redact(self.url)!r}"
            )
        query = parse_qsl(parts.query, keep_blank_values=True)
        names = {name for name, _ in query}
        if not names & {"model", "call_id", "intent"}:
            query.append(("model", model or self.model))
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))

    def _headers(self) -> dict[str, str]:
        headers = dict(self._extra_headers)
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        if self.dialect == "beta":
            headers["OpenAI-Beta"] = "realtime=v1"
        return headers

    async def connect(self, model: str | None = None) -> None:
        """Open the WebSocket and start receiving."""
        if self.is_connected():
            raise RealtimeError("already connected")
        if self._task_group is not None:  # the last connection ended without disconnect(): finish it
            await self.disconnect()
        websocket = await self._open(model)
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        self._start_receiving(websocket)

    async def reconnect(self, model: str | None = None) -> None:
        """Open a new WebSocket after the previous one closed, keeping the task group ``connect`` made.

        Any task may call it (a supervisor, say) as long as ``connect`` ran and ``disconnect`` did
        not: the new receive loop runs in the same task group. Handshake failures raise as in
        :meth:`connect`; nothing changes then.
        """
        if self._task_group is None:
            raise NotConnectedError("reconnect() needs connect() first (and no disconnect() since)")
        if self.is_connected():
            raise RealtimeError("already connected")
        websocket = await self._open(model)
        if self._task_group is None:  # disconnect() ran during the handshake
            await websocket.abort()
            raise NotConnectedError("disconnected while reconnecting")
        self._start_receiving(websocket)

    async def _open(self, model: str | None) -> transport.WebSocket:
        """Run the opening handshake (HandshakeError if it fails); receiving starts separately."""
        url = self.connection_url(model)
        if not self._api_key and urlsplit(url).hostname == urlsplit(DEFAULT_URL).hostname:
            raise ConfigurationError("no API key: set OPENAI_API_KEY or pass api_key=")
        logger.debug("connecting to %s (%s protocol)", redact(url), self.dialect)
        from . import transport  # deferred: websockets and ssl add ~40 ms to `import agent_rt`

        websocket = await transport.connect(
            url, self._headers(), ssl_context=self._ssl_context, open_timeout=self._open_timeout
        )
        logger.debug("connected to %s", redact(url))
        return websocket

    def _start_receiving(self, websocket: transport.WebSocket) -> None:
        assert self._task_group is not None
        self._websocket = websocket
        self._closing = False
        self._task_group.start_soon(self._receive_loop, websocket, name="agent_rt receive loop")

    async def disconnect(self) -> None:
        """Close the connection (closing handshake) and stop every task the API started."""
        websocket, task_group = self._websocket, self._task_group
        self._closing = True
        if websocket is not None:
            # Shielded (the close is bounded by its own timeout): a caller that is being cancelled still
            # closes the socket and, below, the task group, so nothing of the connection is left open.
            with anyio.CancelScope(shield=True):
                await websocket.close()
        if task_group is not None:
            self._task_group = None
            task_group.cancel_scope.cancel()
            await task_group.__aexit__(None, None, None)
        self._websocket = None

    async def abort(self) -> None:
        """Drop the socket without a closing handshake, as a failed network would.

        The receive loop reports code 1006, exactly as for a real drop, which a client with
        ``reconnect=`` recovers from: a way to rehearse failures against any server.
        """
        websocket = self._websocket
        if websocket is not None and not websocket.closed:
            await websocket.abort()

    async def close_socket(self) -> None:
        """Close the current WebSocket but keep the task group, so that :meth:`reconnect` can follow."""
        websocket = self._websocket
        if websocket is not None and not websocket.closed:
            self._closing = True
            await websocket.close()

    async def __aenter__(self) -> RealtimeAPI:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.disconnect()

    # -- receiving -------------------------------------------------------------------------

    async def _receive_loop(self, websocket: transport.WebSocket) -> None:
        closed: ConnectionClosedError
        try:
            while True:
                message = websocket.receive_queued()
                if message is None:
                    message = await websocket.receive()
                self._on_message(message)
        except ConnectionClosedError as exc:
            closed = exc
        except Exception as exc:  # a bug of ours must not leave waiters hanging
            logger.exception("receive loop failed")
            closed = ConnectionClosedError(f"receive loop failed: {type(exc).__name__}: {exc}", code=1011)
            await websocket.abort()
        by_peer = not self._closing
        logger.debug("connection closed: code=%s reason=%r", closed.code, closed.reason)
        self.emit("close", {"code": closed.code, "reason": closed.reason, "error": by_peer})
        self.fail_waiters(closed)

    def _on_message(self, message: str | bytes) -> None:
        try:
            if isinstance(message, bytes):
                raise ProtocolError(f"unexpected binary frame ({len(message)} bytes) from the server")
            try:
                event = _parse_json(message)
            except ValueError:
                raise ProtocolError(
                    f"server sent a frame that is not JSON: {redact(message[:200])!r}"
                ) from None
            if not isinstance(event, dict) or not isinstance(event.get("type"), str):
                raise ProtocolError(
                    f"server sent JSON that is not an event object: {redact(message[:200])!r}"
                )
        except ProtocolError as exc:
            logger.warning("%s", exc)
            self.emit("error", {"type": "protocol_error", "error": exc, "message": str(exc)})
            return
        if self.debug or logger.isEnabledFor(logging.DEBUG):
            logger.debug("received %s", _summarize(event))
        event_type = event["type"]
        self.emit(f"server.{event_type}", event)
        self.emit("server.*", event)

    # -- sending ---------------------------------------------------------------------------

    async def send(self, event_type: str, data: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Send a client event; ``event_id`` is added unless ``data`` has one. Returns the event."""
        websocket = self._websocket
        if websocket is None or websocket.closed:
            raise NotConnectedError(f"cannot send {event_type!r}: not connected")
        if data is not None and not isinstance(data, Mapping):
            raise ConfigurationError(f"event data must be a mapping, not {type(data).__name__}")
        event: dict[str, Any] = {"event_id": new_event_id(), "type": event_type}
        if data:
            event.update(data)
            event["type"] = event_type
        text = json.dumps(event, separators=(",", ":"))
        if self.debug or logger.isEnabledFor(logging.DEBUG):
            logger.debug("sent %s", _summarize(event))
        self.emit(f"client.{event_type}", event)
        self.emit("client.*", event)
        await websocket.send_text(text)
        return event
