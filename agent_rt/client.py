"""RealtimeClient: the primary abstraction, as in the JavaScript reference client, in async Python.

It owns a :class:`~agent_rt.api.RealtimeAPI` (the socket) and a
:class:`~agent_rt.protocol.RealtimeConversation` (the item cache), keeps the session config and
the tools, and turns server events into the custom events applications listen to:
``conversation.updated``, ``conversation.item.appended``, ``conversation.item.completed``,
``conversation.interrupted``, ``realtime.event``, ``error`` and ``close`` (the disconnect
notification), plus ``tool.call.started`` / ``tool.call.finished``.

With ``reconnect=`` a recoverable close (see :mod:`agent_rt.reconnect`) does not end the client:
it emits ``reconnecting`` (per attempt), opens a new session with the same config and tools, and
emits ``reconnected``, or ``reconnect.failed`` and then ``close`` once the attempts run out.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import inspect
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.abc

from . import audio as audio_utils
from ._secrets import redact
from .api import RealtimeAPI
from .errors import (
    ConfigurationError,
    ConnectionClosedError,
    ConversationError,
    NotConnectedError,
    RealtimeError,
    ReconnectHookError,
)
from .events import EventEmitter
from .protocol.conversation import ConversationUpdate, Item, RealtimeConversation, sample_rate
from .protocol.dialect import (
    config_to_wire,
    flatten_config,
    merge_config,
    normalize_event_type,
    normalize_format,
    read_setting,
)
from .reconnect import ReconnectPolicy, coerce_policy, is_session_limit
from .tools import Tool, ToolRegistry, ToolResult, execute_tool_call

if TYPE_CHECKING:
    import ssl

    from .mcp import McpServerConfig, McpServersSource
    from .plugins import LoadedPlugins

logger = logging.getLogger("agent_rt.client")

T = TypeVar("T")


def _closed_message(code: int | None, reason: str) -> str:
    return f"connection closed (code {code}{', ' + reason if reason else ''})"


#: The ``reason`` of the ``reconnecting`` / ``reconnected`` events that ``renew_session()`` causes.
RENEW_REASON = "renewed by the application"

#: The session config sent on connect, as the reference client does (flat names; translated for GA).
DEFAULT_SESSION_CONFIG: Mapping[str, Any] = {
    "modalities": ["text", "audio"],
    "instructions": "",
    "voice": "verse",
    "input_audio_format": "pcm16",
    "output_audio_format": "pcm16",
    "input_audio_transcription": None,
    "turn_detection": None,
    "tool_choice": "auto",
    "temperature": 0.8,
    "max_response_output_tokens": 4096,
}

_USER_CONTENT_TYPES = frozenset({"input_text", "input_audio", "input_image", "item_reference"})


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


class _ToolBatch:
    """The tool calls of one response: one ``response.create`` once all are answered and it is done."""

    __slots__ = ("outputs_sent", "pending", "response_done")

    def __init__(self) -> None:
        self.pending: set[str] = set()
        self.outputs_sent = 0
        self.response_done = False


class RealtimeClient(EventEmitter):
    """Session config, tools, user input, responses and the conversation cache, over one connection.

    ``api_key`` defaults to ``OPENAI_API_KEY``; ``url`` to ``wss://api.openai.com/v1/realtime``
    (a relay, the local server or a compatible service work the same); ``protocol`` is ``"ga"``
    (default) or ``"beta"``. Use ``async with client:`` or ``connect()``/``disconnect()`` from one task.
    ``reconnect=True`` (or a :class:`~agent_rt.reconnect.ReconnectPolicy`) recovers from
    recoverable closes with a new session (off by default: a new session loses the conversation).
    ``before_reconnect(info)`` (sync or async) runs before each attempt, with the ``reconnecting``
    payload: the place to mint a fresh ephemeral key (``client.realtime.set_api_key``).
    ``session_defaults=False`` sends only the settings the application sets (and its tools), not
    the reference client's defaults: a session an ephemeral key is bound to keeps its config.
    """

    def __init__(
        self,
        api_key: str | None = None,
        url: str | None = None,
        model: str | None = None,
        protocol: str = "ga",
        debug: bool = False,
        *,
        headers: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        tool_timeout: float | None = None,
        plugins: bool | Iterable[object] = True,
        disabled_plugins: Collection[str] = (),
        reconnect: bool | ReconnectPolicy = False,
        before_reconnect: Callable[[dict[str, Any]], Awaitable[None] | None] | None = None,
        session_defaults: bool = True,
        mcp_servers: McpServersSource | Sequence[McpServerConfig] = None,
    ) -> None:
        super().__init__()
        self.reconnect_policy: ReconnectPolicy | None = coerce_policy(reconnect)
        self.before_reconnect = before_reconnect
        self.realtime = RealtimeAPI(
            url=url,
            api_key=api_key,
            model=model,
            protocol=protocol,
            debug=debug,
            headers=headers,
            ssl_context=ssl_context,
        )
        self.conversation = RealtimeConversation()
        self.tools = ToolRegistry(default_timeout=tool_timeout)
        self.plugins: LoadedPlugins | None = None
        if plugins is not False:
            self.load_plugins(() if plugins is True else plugins, disabled=disabled_plugins)
        self._session_defaults = session_defaults
        from .mcp.attach import ClientMcp  # deferred: no MCP code runs without a config

        #: The MCP servers of ``mcp_servers=`` (or ``AGENT_RT_MCP_CONFIG``): started at connect.
        self.mcp = ClientMcp(
            mcp_servers,
            self.tools,
            reserved_names=lambda: {str(tool.get("name")) for tool in self._session_tools},
            on_tools_changed=self._mcp_tools_changed,
        )
        self.session_config: dict[str, Any] = self._initial_session_config()
        self._session_tools: list[dict[str, Any]] = []
        self.session: dict[str, Any] | None = None  # the effective session the server last reported
        self._generation = 0  # counts drops that started a reconnect: waiters from before them fail
        self._last_reconnect: tuple[float, int] | None = None  # (when, attempts used) of the last one
        self._reset_connection_state()
        self.realtime.on("server.*", self._on_server_event)
        self.realtime.on("client.*", self._on_client_event)
        self.realtime.on("close", self._on_close)
        self.realtime.on("error", self._on_transport_error)

    def load_plugins(
        self, plugins: Iterable[object] = (), *, disabled: Collection[str] = ()
    ) -> LoadedPlugins:
        """Load tool plugins: the installed ones (``agent_rt`` entry points) plus ``plugins``.

        Their tools are added as with :meth:`add_tool`. A plugin that fails to load is logged and
        listed in ``self.plugins.errors``; two plugins offering one tool name raise
        :class:`~agent_rt.plugins.PluginConflictError`. ``AGENT_RT_PLUGINS`` /
        ``AGENT_RT_DISABLE_PLUGINS`` (comma-separated names) narrow the selection.
        """
        from .plugins import load_plugins  # deferred: keeps `import agent_rt` fast

        loaded = load_plugins(plugins, disabled=disabled)
        for error in loaded.errors:
            logger.warning("tool plugin not loaded: %s", error)
        for tool in loaded.tools:
            self.tools.add(tool)
        self.plugins = loaded
        return loaded

    def _reset_connection_state(self) -> None:
        self._closed_error: ConnectionClosedError | None = None
        self._close_reported = False
        self._reconnecting = False
        self._renewing = False  # renew_session() is closing the socket on purpose
        self._drop_error: ConnectionClosedError | None = None  # why the reconnect in progress started
        self._attempt_close: dict[str, Any] | None = None  # how a reconnect attempt's socket closed
        self._changed = anyio.Event()
        self._waiting = 0
        self._seq = 0
        self._cursor = 0
        self._log: deque[tuple[int, str, Item]] = deque()
        self._create_lock = anyio.Lock()
        self._tool_scopes: set[anyio.CancelScope] = set()
        self._reset_session_state()

    def _reset_session_state(self) -> None:
        """Forget what belonged to the server session: on connect, and when it is lost."""
        self._session_created = False
        self._tools_sent = False
        self._active_responses: set[str] = set()
        self._pending_create: str | None = None
        self._pending_input_samples = 0
        self._tool_batches: dict[str, _ToolBatch] = {}
        self._cursor = self._seq
        self._log.clear()

    def __repr__(self) -> str:
        return f"<RealtimeClient {self.realtime!r}>"

    # -- connection ------------------------------------------------------------------------

    def is_connected(self) -> bool:
        return self.realtime.is_connected()

    async def renew_session(self, timeout: float | None = None) -> dict[str, Any]:
        """Replace the session with a new one now, with the same config and tools; returns it.

        A session ends at the service's cap (60 minutes), even mid-reply. Renewing at a quiet
        moment (between turns, when ``session["expires_at"]`` is near) avoids that. It works
        like a reconnect (see :mod:`agent_rt.reconnect`): the conversation starts empty, the
        events ``reconnecting`` / ``reconnected`` carry the lost items, with reason
        ``"renewed by the application"``; it works without ``reconnect=`` too.
        """
        self._refuse_while_reconnecting()
        if not self.is_connected():
            raise self._closed_error or NotConnectedError("not connected: nothing to renew")
        self._renewing = True
        self._waiting += 1
        try:
            await self.realtime.close_socket()
            with anyio.fail_after(timeout):
                while self._renewing or self._reconnecting:
                    if self._closed_error is not None:
                        break
                    await self._changed.wait()
        finally:
            self._waiting -= 1
        if self._closed_error is not None:
            raise self._closed_error
        return self.session or {}

    @property
    def is_reconnecting(self) -> bool:
        """A recoverable close happened and a new session is being opened (``reconnect=``)."""
        return self._reconnecting

    async def connect(self) -> None:
        """Connect, then send the session config (as the reference client does)."""
        if self.is_connected() or self._reconnecting:
            raise ConfigurationError("already connected" if self.is_connected() else "already reconnecting")
        self._reset_connection_state()
        self._last_reconnect = None
        self.conversation.clear()
        self._sync_input_rate()
        await self.realtime.connect()
        self._task_group = self.realtime._task_group
        if self.mcp:
            try:  # the servers' tools go into the first session.update
                await self.mcp.start(self.realtime._task_group)  # type: ignore[arg-type]
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self.disconnect()
                raise
        await self._send_session_update()

    async def disconnect(self) -> None:
        """Close the connection (and stop reconnecting); every task the client started is finished."""
        reconnecting = self._reconnecting
        self._cancel_tool_tasks()
        await self.realtime.disconnect()
        await self.mcp.stop()  # its tasks ended with the task group: this unregisters the tools
        self._task_group = None
        self._reconnecting = False
        if self._closed_error is None:
            self._closed_error = ConnectionClosedError("disconnected", code=1000)
        self._notify()
        if reconnecting and not self._close_reported:  # no socket was open to report the close
            self._finish_close({"code": 1000, "reason": "", "error": False})

    async def reset(self) -> None:
        """Disconnect and return to a fresh state: default session config, no tools, no handlers."""
        if self.is_connected():
            await self.disconnect()
        self.conversation.clear()
        self.session_config = self._initial_session_config()
        self._session_tools = []
        self.tools.clear()
        self._handlers.clear()
        self.session = None

    async def __aenter__(self) -> RealtimeClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.disconnect()

    async def wait_for_session_created(self, timeout: float | None = None) -> dict[str, Any]:
        """Wait until the server's ``session.created`` arrived; returns the session it reported."""
        self._require_connection()
        await self._wait_until(lambda: True if self._session_created else None, timeout)
        return self.session or {}

    def _require_connection(self) -> None:
        if not self.is_connected() and self._closed_error is None and not self._reconnecting:
            raise NotConnectedError("not connected: call connect() or use 'async with client:'")

    def _refuse_while_reconnecting(self) -> None:
        """Sends fail fast while there is no session, rather than reaching a session that is gone."""
        if self._reconnecting:
            drop = self._drop_error
            raise NotConnectedError(
                f"reconnecting after close code {drop.code if drop else None}: "
                "wait for the 'reconnected' event before sending"
            )

    # -- session and tools -----------------------------------------------------------------

    def _turn_detection(self) -> Mapping[str, Any] | None:
        """The turn detection in effect (the application's setting, else the server's), or None."""
        value = self._setting("turn_detection")
        return value if isinstance(value, Mapping) and value.get("type") != "none" else None

    def get_turn_detection_type(self) -> str | None:
        detection = self._turn_detection()
        return detection.get("type") if detection is not None else None

    async def update_session(self, **fields: Any) -> None:
        """Merge ``fields`` into the session config and send it when connected.

        Takes the reference client's flat fields (``voice``, ``turn_detection``,
        ``input_audio_transcription``, ``modalities``, ...) and GA fields (``audio``,
        ``output_modalities``, ``truncation``, ...); a later value overrides an earlier one in
        either spelling. Tools given here have no handler: the application answers them.
        """
        flat = flatten_config(fields)
        if "tools" in flat:
            tools = flat.pop("tools")
            if tools is None:
                tools = []
            if not isinstance(tools, list) or not all(isinstance(tool, Mapping) for tool in tools):
                raise ConfigurationError("tools must be a list of tool definitions (dicts)")
            session_tools = [{"type": "function", **tool} for tool in tools]
            self.tools.merge_with_session_tools(session_tools)  # raises on a clash with added tools
            self._session_tools = session_tools
        self.session_config = merge_config(self.session_config, flat)
        self._sync_input_rate()
        config_to_wire(self.session_config, self.realtime.dialect)  # validate now, not at connect
        if self.is_connected():
            self._mark_app_send()
            await self._send_session_update()

    def _initial_session_config(self) -> dict[str, Any]:
        return copy.deepcopy(dict(DEFAULT_SESSION_CONFIG)) if self._session_defaults else {}

    def _session_payload(self) -> dict[str, Any] | None:
        """The ``session.update`` payload; None when there is nothing to send (``session_defaults=False``)."""
        config = dict(self.session_config)
        tools = self.tools.merge_with_session_tools(self._session_tools)
        if self._session_defaults or tools or self._tools_sent:  # [] once sent: removes the last tool
            config["tools"] = tools
        if not config:
            return None
        return config_to_wire(config, self.realtime.dialect)

    async def _send_session_update(self) -> None:
        payload = self._session_payload()
        if payload is None:
            return
        self._tools_sent = self._tools_sent or "tools" in payload
        await self.realtime.send("session.update", {"session": payload})

    def _setting(self, flat_name: str) -> Any:
        """A session setting: the application's, else (``session_defaults=False``) the server's."""
        value = read_setting(self.session_config, flat_name)
        if value is None and flat_name not in self.session_config and self.session is not None:
            value = read_setting(self.session, flat_name)
        return value

    async def add_tool(
        self,
        definition: Mapping[str, Any] | Tool,
        handler: Callable[..., Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Tool:
        """Register a tool the client answers by itself; it persists across ``update_session`` calls."""
        names = {tool.get("name") for tool in self._session_tools}
        tool = self.tools.add(definition, handler, timeout=timeout, reserved_names=names)
        if self.is_connected():
            await self._send_session_update()
        return tool

    async def remove_tool(self, name: str) -> None:
        self.tools.remove(name)
        if self.is_connected():
            await self._send_session_update()

    def _input_format(self) -> str:
        return normalize_format(self._setting("input_audio_format")) or "pcm16"

    def _output_format(self) -> str:
        return normalize_format(self._setting("output_audio_format")) or "pcm16"

    def _sync_input_rate(self) -> None:
        self.conversation.input_audio_format = self._input_format()
        self.conversation.output_audio_format = self._output_format()

    # -- sending ---------------------------------------------------------------------------

    def _mark_app_send(self) -> None:
        """The application sent something: ``wait_for_next_*`` now looks only at later events."""
        self._cursor = self._seq
        self._prune_log()

    async def send_user_message_content(self, content: Iterable[Mapping[str, Any]] = ()) -> None:
        """Send a user message (``input_text`` / ``input_audio`` parts), then ask for a response."""
        self._refuse_while_reconnecting()
        self._mark_app_send()
        parts: list[dict[str, Any]] = []
        for part in content:
            if not isinstance(part, Mapping) or part.get("type") not in _USER_CONTENT_TYPES:
                allowed = ", ".join(sorted(_USER_CONTENT_TYPES))
                raise ConfigurationError(f"user content parts must be dicts of type {allowed}: {part!r:.80}")
            converted = dict(part)
            audio = converted.get("audio")
            if converted["type"] == "input_audio" and audio is not None and not isinstance(audio, str):
                converted["audio"] = self._encode_input_audio(audio)[0]
            parts.append(converted)
        if parts:
            await self.realtime.send(
                "conversation.item.create", {"item": {"type": "message", "role": "user", "content": parts}}
            )
        await self._create_response(None)

    def _encode_input_audio(self, audio: Any) -> tuple[str, audio_utils.Int16Array]:
        """Audio in the session's input format, as base64, and the int16 samples the track keeps."""
        fmt = self._input_format()
        if fmt == "pcm16":
            samples = audio_utils.coerce_pcm16(audio)
            return audio_utils.pcm16_to_base64(samples), samples
        decode = audio_utils.ulaw_decode if fmt == "g711_ulaw" else audio_utils.alaw_decode
        encode = audio_utils.ulaw_encode if fmt == "g711_ulaw" else audio_utils.alaw_encode
        if isinstance(audio, (bytes, bytearray, memoryview)):  # already G.711-encoded bytes
            encoded = bytes(audio)
        else:
            encoded = encode(audio_utils.coerce_pcm16(audio)).tobytes()
        return audio_utils.pcm16_to_base64(encoded), decode(encoded)

    async def append_input_audio(self, audio: Any) -> None:
        """Append audio (int16 array, float array, PCM16 bytes or base64) to the input buffer."""
        self._refuse_while_reconnecting()
        self._mark_app_send()
        encoded, samples = self._encode_input_audio(audio)
        if not len(samples):
            return
        generation = self._generation
        await self.realtime.send("input_audio_buffer.append", {"audio": encoded})
        if self._generation == generation:  # else the session it went to is gone (reconnect)
            self.conversation.input_audio.append(samples)
            self._pending_input_samples += len(samples)

    async def create_response(self, timeout: float | None = None, **response: Any) -> None:
        """Ask for a response (``response`` holds per-response overrides, e.g. ``instructions``).

        Commits pending input audio first when turn detection is off. Never sends
        ``response.create`` while a response is active: it waits for that one's ``response.done``.
        """
        self._refuse_while_reconnecting()
        self._mark_app_send()
        await self._create_response(response or None, timeout=timeout)

    async def _create_response(
        self, overrides: Mapping[str, Any] | None, *, timeout: float | None = None, commit: bool = True
    ) -> None:
        self._require_open()
        if commit and self._pending_input_samples and self._turn_detection() is None:
            self._pending_input_samples = 0
            await self.realtime.send("input_audio_buffer.commit")
        data: dict[str, Any] = {}
        if overrides:
            data["response"] = config_to_wire(overrides, self.realtime.dialect, session=False)
        if overrides and overrides.get("conversation") == "none":  # out-of-band: may run in parallel
            await self.realtime.send("response.create", data)
            return
        async with self._create_lock:
            await self._wait_until(
                lambda: True if not self._active_responses and self._pending_create is None else None, timeout
            )
            generation = self._generation
            event = await self.realtime.send("response.create", data)
            if self._generation == generation:  # a drop during the send reset the session state
                self._pending_create = event["event_id"]

    def _require_open(self) -> None:
        if not self.is_connected():
            raise self._closed_error or NotConnectedError("not connected")

    async def cancel_response(self, item_id: str | None = None, sample_count: int = 0) -> Item | None:
        """Cancel the active response; with ``item_id``, also truncate that item's audio.

        ``sample_count`` is how many samples of the item's audio were played; the truncation point
        is clamped to the audio received, so the server never rejects it as too long.
        """
        self._refuse_while_reconnecting()
        self._mark_app_send()
        if item_id is None:
            if self._active_responses or self._pending_create:
                await self.realtime.send("response.cancel")
            return None
        item = self.conversation.get_item(item_id)
        if item is None:
            raise ConfigurationError(f"cancel_response: no item with id {item_id!r}")
        if item.get("type") != "message" or item.get("role") != "assistant":
            raise ConfigurationError("cancel_response: can only truncate assistant messages")
        content = item.get("content") or []
        audio_index = next(
            (i for i, part in enumerate(content) if part.get("type") in ("audio", "output_audio")), None
        )
        if audio_index is None:
            raise ConfigurationError(f"cancel_response: item {item_id!r} has no audio to truncate")
        if self._active_responses or self._pending_create:
            await self.realtime.send("response.cancel")
        rate = sample_rate(self.conversation.output_audio_format)
        received = len(item["formatted"]["audio"])
        played = max(0, min(int(sample_count), received))
        audio_end_ms = math.floor(played / rate * 1000)
        await self.realtime.send(
            "conversation.item.truncate",
            {"item_id": item_id, "content_index": audio_index, "audio_end_ms": audio_end_ms},
        )
        return item

    async def _mcp_tools_changed(self) -> None:
        """An MCP server's tools changed (list_changed, or it died): tell the session."""
        if self.is_connected():
            with contextlib.suppress(NotConnectedError, ConnectionClosedError):
                await self._send_session_update()

    async def approve_mcp(
        self, request_id: str, approve: bool = True, *, reason: str | None = None, respond: bool = True
    ) -> None:
        """Answer a remote MCP ``mcp_approval_request`` item (``request_id`` is its id).

        Sends an ``mcp_approval_response`` item; with ``respond`` (default), asks for the next
        response too, which runs the call (or says it was not run).
        """
        self._refuse_while_reconnecting()
        self._mark_app_send()
        item: dict[str, Any] = {
            "type": "mcp_approval_response",
            "approval_request_id": request_id,
            "approve": approve,
        }
        if reason is not None:
            item["reason"] = reason
        await self.realtime.send("conversation.item.create", {"item": item})
        if respond:
            await self._create_response(None)

    async def delete_item(self, item_id: str) -> None:
        self._refuse_while_reconnecting()
        self._mark_app_send()
        await self.realtime.send("conversation.item.delete", {"item_id": item_id})

    async def clear_input_audio(self) -> None:
        """Drop audio appended but not committed (``input_audio_buffer.clear``)."""
        self._refuse_while_reconnecting()
        self._mark_app_send()
        self._pending_input_samples = 0
        await self.realtime.send("input_audio_buffer.clear")

    # -- waiting ---------------------------------------------------------------------------

    def _notify(self) -> None:
        if self._waiting:
            changed, self._changed = self._changed, anyio.Event()
            changed.set()

    async def _wait_until(self, predicate: Callable[[], T | None], timeout: float | None) -> T:
        generation = self._generation
        self._waiting += 1
        try:
            with anyio.fail_after(timeout):
                while True:
                    if self._generation != generation:  # the session it waited on is gone
                        raise self._drop_error or ConnectionClosedError("connection lost")
                    result = predicate()
                    if result is not None:
                        return result
                    if self._closed_error is not None:
                        raise self._closed_error
                    await self._changed.wait()
        finally:
            self._waiting -= 1

    def _record(self, kind: str, item: Item) -> None:
        self._seq += 1
        self._log.append((self._seq, kind, item))
        self._notify()

    def _prune_log(self) -> None:
        log = self._log
        while log and log[0][0] <= self._cursor:
            log.popleft()

    def _next_logged(self, kind: str) -> Item | None:
        for seq, logged_kind, item in self._log:
            if seq > self._cursor and logged_kind == kind:
                self._cursor = seq
                self._prune_log()
                return item
        return None

    async def wait_for_next_item(self, timeout: float | None = None) -> Item:
        """The next item appended after the previous ``wait_for_next_*`` result or the last send."""
        self._require_connection()
        return await self._wait_until(lambda: self._next_logged("appended"), timeout)

    async def wait_for_next_completed_item(self, timeout: float | None = None) -> Item:
        """The next item completed after the previous ``wait_for_next_*`` result or the last send."""
        self._require_connection()
        return await self._wait_until(lambda: self._next_logged("completed"), timeout)

    # -- incoming events -------------------------------------------------------------------

    def _on_client_event(self, event: dict[str, Any]) -> None:
        if self.has_listeners("realtime.event"):
            self.emit("realtime.event", {"time": _now(), "source": "client", "event": event})

    def _on_server_event(self, event: dict[str, Any]) -> None:
        if self.has_listeners("realtime.event"):
            self.emit("realtime.event", {"time": _now(), "source": "server", "event": event})
        event_type = normalize_event_type(event["type"])
        if event_type == "error":
            self._on_server_error(event)
            return
        if event_type == "session.created" or event_type == "session.updated":
            session = event.get("session")
            if isinstance(session, dict):
                self.session = session
                self._sync_input_rate()  # formats the application left to the server
            if event_type == "session.created":
                self._session_created = True
                self._notify()
        elif event_type == "response.created":
            self._on_response_created(event)
        try:
            update = self.conversation.process(event)
        except ConversationError as exc:
            logger.warning("%s", exc)
            self.emit(
                "error", {"type": "conversation_error", "error": exc, "message": str(exc), "event": event}
            )
            update = None
        if update is not None and update.item is not None:
            self._dispatch_update(update)
        if event_type == "input_audio_buffer.speech_started":
            self.emit("conversation.interrupted", event)
        elif event_type == "response.done":
            self._on_response_done(event)

    def _dispatch_update(self, update: ConversationUpdate) -> None:
        item = update.item
        assert item is not None
        self.emit("conversation.updated", {"item": item, "delta": update.delta})
        if update.appended:
            self._record("appended", item)
            self.emit("conversation.item.appended", {"item": item})
        if update.completed:
            self._record("completed", item)
            self.emit("conversation.item.completed", {"item": item})
            if item.get("type") == "function_call":
                self._start_tool_call(item)

    def _on_server_error(self, event: dict[str, Any]) -> None:
        error = event.get("error") if isinstance(event.get("error"), dict) else {}
        assert isinstance(error, dict)
        logger.warning("server error: %s", error.get("message"))
        pending = self._pending_create
        if pending is not None and (
            error.get("event_id") == pending
            or error.get("code") == "conversation_already_has_active_response"
            or "already has an active response" in str(error.get("message", ""))
        ):
            self._pending_create = None
            self._notify()
        self.emit("error", event)

    def _on_response_created(self, event: dict[str, Any]) -> None:
        response = event.get("response")
        if not isinstance(response, dict) or not isinstance(response.get("id"), str):
            return
        if "conversation_id" in response and response["conversation_id"] is None:
            return  # out-of-band responses don't block the default conversation
        self._active_responses.add(response["id"])
        self._pending_create = None
        self._notify()

    def _on_response_done(self, event: dict[str, Any]) -> None:
        response = event.get("response")
        response_id = response.get("id") if isinstance(response, dict) else None
        if isinstance(response_id, str):
            self._active_responses.discard(response_id)
            batch = self._tool_batches.get(response_id)
            if batch is not None:
                batch.response_done = True
                self._maybe_continue(response_id, batch)
        self._notify()

    def _on_close(self, payload: dict[str, Any]) -> None:
        if self._reconnecting:  # the socket of a reconnect attempt closed: the attempt fails
            self._attempt_close = payload
            self._notify()
            return
        code = payload.get("code")
        reason = payload.get("reason") or ""
        if self._renewing and self._task_group is not None:  # renew_session() closed it on purpose
            self._renewing = False
            self._begin_reconnect(code, RENEW_REASON, immediate=True)
            return
        policy = self.reconnect_policy
        if (
            policy is not None
            and payload.get("error")
            and self._task_group is not None
            and policy.should_reconnect(code, reason)
        ):
            self._begin_reconnect(code, reason)
            return
        self._finish_close(payload)

    def _finish_close(self, payload: dict[str, Any], message: str | None = None) -> None:
        """The client is closed for good: fail every waiter and emit ``close`` (once)."""
        code = payload.get("code")
        reason = payload.get("reason") or ""
        if self._closed_error is None or message is not None:
            self._closed_error = ConnectionClosedError(
                message or _closed_message(code, reason),
                code=code,
                reason=reason,
            )
        self._cancel_tool_tasks()
        self._active_responses.clear()
        self._pending_create = None
        self._notify()
        self.fail_waiters(self._closed_error)
        if not self._close_reported:
            self._close_reported = True
            self.emit("close", payload)

    # -- reconnecting ----------------------------------------------------------------------

    def _begin_reconnect(self, code: int | None, reason: str, *, immediate: bool = False) -> None:
        """The server session is gone: clear what belonged to it, then reconnect in the background.

        ``immediate``: the first attempt goes at once (a renewal; the session cap is recognised too).
        """
        assert self._task_group is not None
        lost_items = self.conversation.get_items()
        self._drop_error = ConnectionClosedError(
            f"{_closed_message(code, reason)}; reconnecting",
            code=code,
            reason=reason,
        )
        self._reconnecting = True
        self._generation += 1
        self._cancel_tool_tasks()
        self._reset_session_state()
        self.conversation.clear()
        self._sync_input_rate()
        self._notify()
        # Waiters for what the lost session would have produced fail; those for the
        # connection's fate (reconnecting, reconnected, reconnect.failed, close, error) go on.
        self.fail_waiters(self._drop_error, only=lambda name: name.startswith(("conversation.", "tool.")))
        if reason != RENEW_REASON:
            logger.warning("connection closed (code %s): reconnecting", code)
        self._task_group.start_soon(
            self._reconnect, code, reason, lost_items, immediate, name="agent_rt reconnect"
        )

    def _attempts_already_used(self, policy: ReconnectPolicy, fresh: bool) -> int:
        """Attempts of the outage this drop continues: the last new session did not stay up.

        ``fresh``: a renewal or the session cap, which always start a new count.
        """
        last = self._last_reconnect
        if last is None or fresh:
            return 0
        reconnected_at, used = last
        return used if anyio.current_time() - reconnected_at < policy.stable_after else 0

    async def _reconnect(
        self, code: int | None, reason: str, lost_items: list[Item], immediate: bool = False
    ) -> None:
        policy = self.reconnect_policy or ReconnectPolicy()  # a renewal without reconnect=
        session_limit = is_session_limit(code, reason)
        immediate = immediate or session_limit
        last_error: Exception | None = None
        attempt = self._attempts_already_used(policy, immediate)
        while attempt < policy.max_attempts:
            attempt += 1
            delay = policy.delay(attempt, immediate=immediate)
            self.emit(
                "reconnecting",
                {
                    "attempt": attempt,
                    "max_attempts": policy.max_attempts,
                    "delay": delay,
                    "code": code,
                    "reason": reason,
                    "session_limit": session_limit,
                    "error": last_error,
                    "lost_items": lost_items,
                },
            )
            await anyio.sleep(delay)
            try:
                if self.before_reconnect is not None:
                    await self._run_before_reconnect(attempt, policy, code, reason)
                await self._open_new_session(policy.attempt_timeout)
            except (RealtimeError, OSError, TimeoutError) as exc:
                last_error = exc
                logger.warning("reconnect attempt %d of %d failed: %s", attempt, policy.max_attempts, exc)
                await self.realtime.close_socket()
                if not policy.can_retry_after(exc):
                    break
                continue
            self._reconnecting = False
            self._drop_error = None
            self._last_reconnect = (anyio.current_time(), attempt)
            self._notify()
            logger.info("reconnected after close code %s (attempt %d): a new session", code, attempt)
            self.emit(
                "reconnected",
                {
                    "attempt": attempt,
                    "code": code,
                    "reason": reason,
                    "session_limit": session_limit,
                    "session": self.session,
                    "lost_items": lost_items,
                },
            )
            return
        self._reconnecting = False
        self.emit(
            "reconnect.failed",
            {
                "attempts": attempt,
                "code": code,
                "reason": reason,
                "error": last_error,
                "lost_items": lost_items,
            },
        )
        failure = (
            f"{type(last_error).__name__}: {last_error}"
            if last_error
            else "each new session closed again within stable_after"
        )
        self._finish_close(
            {"code": code, "reason": reason, "error": True},
            f"connection closed (code {code}); reconnecting failed after {attempt} attempt(s): {failure}",
        )

    async def _run_before_reconnect(
        self, attempt: int, policy: ReconnectPolicy, code: int | None, reason: str
    ) -> None:
        """The application's hook; if it raises, this attempt fails (and the next may retry)."""
        assert self.before_reconnect is not None
        info = {"attempt": attempt, "max_attempts": policy.max_attempts, "code": code, "reason": reason}
        try:
            with anyio.fail_after(policy.attempt_timeout):
                result = self.before_reconnect(info)
                if result is not None and inspect.isawaitable(result):
                    await result
        except (RealtimeError, OSError, TimeoutError):
            raise
        except Exception as exc:
            message = redact(f"before_reconnect failed: {type(exc).__name__}: {exc}")
            raise ReconnectHookError(message) from exc

    async def _open_new_session(self, timeout: float) -> None:
        """One attempt: new socket, session config and tools sent, ``session.created`` received."""
        self._attempt_close = None
        with anyio.fail_after(timeout):
            await self.realtime.reconnect()
            await self._send_session_update()
            await self._wait_until(
                lambda: True if self._session_created or self._attempt_close is not None else None, None
            )
        closed = self._attempt_close
        if closed is not None or not self.realtime.is_connected():
            code = closed.get("code") if closed else None
            reason = (closed.get("reason") or "") if closed else ""
            raise ConnectionClosedError(
                f"the new connection closed before the session started (code {code})",
                code=code,
                reason=reason,
            )

    def _on_transport_error(self, payload: dict[str, Any]) -> None:
        self.emit("error", payload)

    # -- tools -----------------------------------------------------------------------------

    def _start_tool_call(self, item: Item) -> None:
        tool_info = item["formatted"].get("tool") or {}
        name = tool_info.get("name") or item.get("name")
        call_id = tool_info.get("call_id") or item.get("call_id")
        if not isinstance(name, str) or not isinstance(call_id, str) or self._task_group is None:
            return
        tool = self.tools.get(name)
        if tool is None:
            return  # a session tool without handler: the application answers it
        response_id = self.conversation.response_of(item["id"]) or f"item:{item['id']}"
        batch = self._tool_batches.setdefault(response_id, _ToolBatch())
        if response_id.startswith("item:"):
            batch.response_done = True
        batch.pending.add(call_id)
        arguments = str(tool_info.get("arguments") or item.get("arguments") or "")
        self._task_group.start_soon(
            self._run_tool_call, tool, name, call_id, arguments, response_id, self._generation
        )

    def _cancel_tool_tasks(self) -> None:
        for scope in self._tool_scopes:
            scope.cancel()

    async def _run_tool_call(
        self, tool: Tool, name: str, call_id: str, arguments: str, response_id: str, generation: int
    ) -> None:
        if generation != self._generation:  # started just before a drop: its session is gone
            return
        scope = anyio.CancelScope()
        self._tool_scopes.add(scope)
        try:
            with scope:
                await self._answer_tool_call(tool, name, call_id, arguments, response_id, generation)
        finally:
            self._tool_scopes.discard(scope)

    async def _answer_tool_call(
        self, tool: Tool, name: str, call_id: str, arguments: str, response_id: str, generation: int
    ) -> None:
        self.emit("tool.call.started", {"name": name, "call_id": call_id, "arguments": arguments})
        result: ToolResult = await execute_tool_call(tool, name, call_id, arguments)
        self.emit(
            "tool.call.finished",
            {
                "name": name,
                "call_id": call_id,
                "ok": result.ok,
                "error": result.error,
                "duration": result.duration,
                "output": result.output,
            },
        )
        if not self.is_connected() or generation != self._generation:  # never into a new session
            return
        try:
            await self.realtime.send(
                "conversation.item.create",
                {"item": {"type": "function_call_output", "call_id": call_id, "output": result.output}},
            )
        except (ConnectionClosedError, NotConnectedError):
            return
        batch = self._tool_batches.get(response_id)
        if batch is not None:
            batch.pending.discard(call_id)
            batch.outputs_sent += 1
            self._maybe_continue(response_id, batch)

    def _maybe_continue(self, response_id: str, batch: _ToolBatch) -> None:
        if batch.pending or not batch.response_done or not batch.outputs_sent:
            return
        del self._tool_batches[response_id]
        if self._task_group is not None:
            self._task_group.start_soon(self._continue_after_tools, self._generation)

    async def _continue_after_tools(self, generation: int) -> None:
        if generation != self._generation:
            return
        scope = anyio.CancelScope()
        self._tool_scopes.add(scope)
        try:
            with scope:
                await self._create_response(None, commit=False)
        except (ConnectionClosedError, NotConnectedError):
            pass
        finally:
            self._tool_scopes.discard(scope)
