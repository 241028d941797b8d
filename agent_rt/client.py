"""RealtimeClient: the primary abstraction, as in the JavaScript reference client, in async Python.

It owns a :class:`~agent_rt.api.RealtimeAPI` (the socket) and a :class:`RealtimeConversation`
(the item cache), keeps the session config and the tools, and turns server events into the custom
events applications listen to (see the class docstring and docs/events.md). It is glue around pure
machines, each tested on its own (protocol/lifecycle.py, responses.py, cursor.py, tool_batches.py,
_session_settings.py) and the tool runtime shared with the relay (_tool_runner.py): decisions are
taken by a machine before a send, and no state here is written on both sides of an ``await``.
Server events go through :class:`~agent_rt._session_tracker.SessionTracker`, socket closes through
:class:`~agent_rt._connection_fate.ConnectionFate` (reconnects: ``_reconnector.py``), the MCP servers
of ``mcp_servers=`` are :class:`~agent_rt.mcp.attach.ClientMcp`'s.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from . import audio as audio_utils
from ._connection_fate import RENEW_REASON, ConnectionFate
from ._reconnector import Reconnector
from ._session_settings import DEFAULT_SESSION_CONFIG, SessionSettings
from ._session_tracker import SessionTracker
from ._tool_runner import DEFAULT_MAX_OUTPUT_CHARS, ToolRunner
from ._waiting import Changes, wait_in_session
from .api import RealtimeAPI, new_event_id
from .errors import ConfigurationError, NotConnectedError
from .events import EventEmitter
from .protocol.conversation import Item, RealtimeConversation, audio_part_index, truncation, user_message
from .protocol.cursor import ItemCursor
from .protocol.dialect import config_to_wire
from .protocol.lifecycle import ConnectionState, Lifecycle
from .protocol.responses import ResponseGate
from .reconnect import ReconnectPolicy, coerce_policy
from .tools import Tool, ToolRegistry

if TYPE_CHECKING:
    import ssl

    from .mcp import McpServerConfig, McpServersSource
    from .plugins import LoadedPlugins

__all__ = ["DEFAULT_SESSION_CONFIG", "MAX_APPEND_BYTES", "RENEW_REASON", "RealtimeClient"]

T = TypeVar("T")

#: Raw audio bytes per ``input_audio_buffer.append``: each event stays far below the service's
#: 15 MiB cap, and a long recording goes as many frames.
MAX_APPEND_BYTES = 1 << 20


class RealtimeClient(EventEmitter):
    """Session config, tools, user input, responses and the conversation cache, over one connection.

    Events: ``conversation.updated``, ``conversation.item.appended``, ``conversation.item.completed``,
    ``conversation.interrupted``, ``realtime.event``, ``error``, ``close``, ``tool.call.started`` /
    ``tool.call.finished``, and with ``reconnect=``: ``reconnecting``, ``reconnected``, ``reconnect.failed``.

    ``api_key`` defaults to ``OPENAI_API_KEY``; ``url`` to ``wss://api.openai.com/v1/realtime``
    (a relay, the local server or a compatible service work the same); ``protocol`` is ``"ga"``
    (default) or ``"beta"``. Use ``async with client:`` or ``connect()``/``disconnect()`` from one
    task. ``reconnect=True`` (or a :class:`~agent_rt.reconnect.ReconnectPolicy`) recovers from
    recoverable closes with a new session; ``before_reconnect(info)`` (sync or async) runs before
    each attempt (the place to mint a fresh ephemeral key: ``client.realtime.set_api_key``).
    ``session_defaults=False`` sends only the settings the application sets (and its tools): a
    session an ephemeral key is bound to keeps its config. ``tool_output_limit`` caps a tool's
    output (characters; a longer one is cut and marked as such).
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
        tool_output_limit: int = DEFAULT_MAX_OUTPUT_CHARS,
        plugins: bool | Iterable[object] = True,
        disabled_plugins: Collection[str] = (),
        reconnect: bool | ReconnectPolicy = False,
        before_reconnect: Callable[[dict[str, Any]], Awaitable[None] | None] | None = None,
        session_defaults: bool = True,
        mcp_servers: McpServersSource | Sequence[McpServerConfig] = None,
    ) -> None:
        super().__init__()
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
        self.settings = SessionSettings(self.tools, self.realtime.dialect, defaults=session_defaults)
        from .mcp.attach import ClientMcp  # deferred: no MCP code runs without a config

        #: The MCP servers of ``mcp_servers=`` (or ``AGENT_RT_MCP_CONFIG``): started at connect.
        self.mcp = ClientMcp(
            mcp_servers,
            self.tools,
            reserved_names=lambda: {str(tool.get("name")) for tool in self.settings.session_tools},
            send_session=self._send_session_update,
            connected=self.is_connected,
        )
        self.lifecycle = Lifecycle()
        self._gate = ResponseGate()
        self._cursor = ItemCursor()
        self._changes = Changes()
        self._runner = ToolRunner(
            self.tools,
            send=self.realtime.send,
            follow_up=lambda: self._create_response(None, commit=False),
            emit=self.emit,
            owns=self.settings.answers,
            max_output_chars=tool_output_limit,
        )
        self._session = SessionTracker(
            self.conversation,
            self.settings,
            self._runner,
            gate=self._gate,
            cursor=self._cursor,
            changes=self._changes,
            emit=self.emit,
            has_listeners=self.has_listeners,
            task_group=lambda: self._task_group,
        )
        reconnector = Reconnector(
            coerce_policy(reconnect),
            before_reconnect,
            realtime=self.realtime,
            lifecycle=self.lifecycle,
            changes=self._changes,
            emit=self.emit,
            send_session=self._send_session_update,
            session_created=lambda: self._session.created,
            session=lambda: self.session,
        )
        self._fate = ConnectionFate(
            reconnector,
            lifecycle=self.lifecycle,
            changes=self._changes,
            session=self._session,
            conversation=self.conversation,
            close_socket=self.realtime.close_socket,
            emit=self.emit,
            fail_waiters=self.fail_waiters,
            task_group=lambda: self._task_group,
        )
        self.realtime.on("server.*", self._session.on_server_event)
        self.realtime.on("client.*", self._session.on_client_event)
        self.realtime.on("close", self._fate.on_close)
        self.realtime.on("error", lambda payload: self.emit("error", payload))
        if self.plugins is not None:  # the plugins' session defaults and observers, now the client is whole
            from .plugins import apply_to_client

            apply_to_client(self, self.plugins)

    def load_plugins(
        self, plugins: Iterable[object] = (), *, disabled: Collection[str] = ()
    ) -> LoadedPlugins:
        """Load tool plugins: the installed ones (``agent_rt`` entry points) plus ``plugins``.

        Their tools are added as with :meth:`add_tool`; a plugin that fails to load is logged and
        listed in ``self.plugins.errors``, and a tool two plugins offer stays with the one loaded
        first (``self.plugins.conflicts``). ``AGENT_RT_PLUGINS`` / ``AGENT_RT_DISABLE_PLUGINS``
        (comma-separated names) narrow the selection. The plugins loaded at construction also give
        their session defaults and observers (``docs/plugins.md``).
        """
        from .plugins import load_plugins  # deferred: keeps `import agent_rt` fast

        loaded = load_plugins(plugins, disabled=disabled)  # logs each failure and conflict
        for tool in loaded.tools:
            self.tools.add(tool)
        self.plugins = loaded
        return loaded

    @property
    def reconnect_policy(self) -> ReconnectPolicy | None:
        """The policy for recoverable closes (``reconnect=``), or None: a drop closes the client."""
        return self._fate.reconnector.policy

    @property
    def before_reconnect(self) -> Callable[[dict[str, Any]], Awaitable[None] | None] | None:
        """The application's hook run before each reconnect attempt (``before_reconnect=``)."""
        return self._fate.reconnector.hook

    @before_reconnect.setter
    def before_reconnect(self, hook: Callable[[dict[str, Any]], Awaitable[None] | None] | None) -> None:
        self._fate.reconnector.hook = hook

    @property
    def session_config(self) -> dict[str, Any]:
        """The application's session config (flat names), as merged by :meth:`update_session`."""
        return self.settings.config

    @property
    def session(self) -> dict[str, Any] | None:
        """The effective session the server last reported (``session.created`` / ``.updated``)."""
        return self.settings.session

    def __repr__(self) -> str:
        return f"<RealtimeClient {self.lifecycle.state.value} {self.realtime!r}>"

    # -- connection ------------------------------------------------------------------------

    def is_connected(self) -> bool:
        return self.lifecycle.is_open and self.realtime.is_connected()

    @property
    def is_reconnecting(self) -> bool:
        """A recoverable close happened and a new session is being opened (``reconnect=``)."""
        return self.lifecycle.is_reconnecting

    async def connect(self) -> None:
        """Connect, then send the session config (as the reference client does).

        A server that refuses the session at once (the service closes a beta handshake with 4000)
        raises :class:`~agent_rt.errors.ConnectionClosedError` with its code and message, here or
        from the next call.
        """
        self.lifecycle.connecting()
        self._fate.forget()
        self._session.reset()
        try:
            await self.realtime.connect()
        except BaseException:
            self.lifecycle.failed()
            raise
        self._task_group = self.realtime._task_group
        self.lifecycle.opened()
        if self.mcp and self._task_group is not None:
            try:  # in the connection's task group; their tools go into the first session.update
                await self.mcp.start(self._task_group)
            except BaseException:  # cancelled (or failed) while the servers start: close everything
                await self.disconnect()
                raise
        try:
            await self._send_session_update()
        except NotConnectedError:  # closed at once: raise the close's own error once it is read
            try:
                await self._wait_until(lambda: None, 10.0)
            finally:
                # The connection's task group was entered in this task: leave it here, before the
                # error propagates (``async with client`` never reaches ``__aexit__`` then). Not in
                # a shielded scope: the task group's scope is below it and must be the one exited.
                await self.disconnect()

    async def disconnect(self) -> None:
        """Close the connection (and stop reconnecting); every task the client started is finished."""
        self.lifecycle.closing()
        self._runner.cancel_all()
        try:
            await self.realtime.disconnect()
        finally:  # also when the caller is cancelled: the MCP servers ended with the task group
            self.mcp.detach()
            self._task_group = None
            self._fate.disconnected()

    async def reset(self) -> None:
        """Disconnect and return to a fresh state: default session config, no tools, no handlers."""
        if self.is_connected() or self.is_reconnecting:
            await self.disconnect()
        self.conversation.clear()
        self.settings.reset()
        self.tools.clear()
        self._handlers.clear()

    async def __aenter__(self) -> RealtimeClient:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.disconnect()

    async def wait_for_session_created(self, timeout: float | None = None) -> dict[str, Any]:
        """Wait until the server's ``session.created`` arrived; returns the session it reported."""
        self.lifecycle.check_wait("wait for the session")
        await self._wait_until(lambda: True if self._session.created else None, timeout)
        return self.session or {}

    async def renew_session(self, timeout: float | None = None) -> dict[str, Any]:
        """Replace the session with a new one now, with the same config and tools; returns it.

        A session ends at the service's cap (60 minutes), even mid-reply; renewing at a quiet
        moment (between turns, when ``session["expires_at"]`` is near) avoids that. It works like a
        reconnect: the conversation starts empty and ``reconnecting`` / ``reconnected`` carry the
        lost items, with reason ``"renewed by the application"``; it works without ``reconnect=``.
        """
        self.lifecycle.check_send("renew the session (nothing to renew)")
        await self._fate.renew(timeout)
        return self.session or {}

    # -- session and tools -----------------------------------------------------------------

    def get_turn_detection_type(self) -> str | None:
        detection = self.settings.turn_detection()
        return detection.get("type") if detection is not None else None

    async def update_session(self, **fields: Any) -> None:
        """Merge ``fields`` into the session config and send it when connected.

        Takes the reference client's flat fields (``voice``, ``turn_detection``,
        ``input_audio_transcription``, ``modalities``, ...) and GA fields (``audio``,
        ``output_modalities``, ``truncation``, ...); a later value overrides an earlier one in
        either spelling. Tools given here have no handler: the application answers them.
        """
        if "tools" in fields:  # remote MCP tools carry tokens: keep them out of every log
            from .mcp.config import register_tool_secrets

            register_tool_secrets(fields["tools"])
        self.settings.update(fields)
        self._session.sync_audio_formats()
        if self.is_connected():
            self._cursor.mark()
            await self._send_session_update()

    async def _send_session_update(self) -> None:
        payload = self.settings.payload()
        if payload is not None:
            await self.realtime.send("session.update", {"session": payload})

    async def add_tool(
        self,
        definition: Mapping[str, Any] | Tool,
        handler: Callable[..., Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Tool:
        """Register a tool the client answers by itself; it persists across ``update_session`` calls."""
        names = {tool.get("name") for tool in self.settings.session_tools}
        tool = self.tools.add(definition, handler, timeout=timeout, reserved_names=names)
        if self.is_connected():
            await self._send_session_update()
        return tool

    async def remove_tool(self, name: str) -> None:
        self.tools.remove(name)
        if self.is_connected():
            await self._send_session_update()

    # -- sending ---------------------------------------------------------------------------

    def _app_sends(self, action: str) -> None:
        """The application is about to send: check the state; ``wait_for_next_*`` looks at later events."""
        self.lifecycle.check_send(action)
        self._cursor.mark()

    async def send_user_message_content(self, content: Iterable[Mapping[str, Any]] = ()) -> None:
        """Send a user message (``input_text`` / ``input_audio`` parts), then ask for a response."""
        self._app_sends("send a message")
        fmt = self.settings.audio_format("input")
        item = user_message(content, lambda audio: audio_utils.encode_input_audio(audio, fmt)[0])
        if item["content"]:
            await self.realtime.send("conversation.item.create", {"item": item})
        await self._create_response(None)

    async def append_input_audio(self, audio: Any) -> None:
        """Append audio (int16 array, float array, PCM16 bytes or base64) to the input buffer.

        Long audio goes as several events of at most ``MAX_APPEND_BYTES`` each.
        """
        self._app_sends("append audio")
        fmt = self.settings.audio_format("input")
        encoded, samples = audio_utils.encode_input_audio(audio, fmt)
        step = MAX_APPEND_BYTES // (2 if fmt == "pcm16" else 1)
        generation = self.lifecycle.generation
        for start in range(0, len(samples), step):
            chunk = samples[start : start + step]
            text = encoded if len(chunk) == len(samples) else audio_utils.encode_input_audio(chunk, fmt)[0]
            await self.realtime.send("input_audio_buffer.append", {"audio": text})
            if self.lifecycle.generation != generation:  # the session it went to is gone (reconnect)
                return
            self.conversation.input_audio.append(chunk)
            self._session.pending_input_samples += len(chunk)

    async def create_response(self, timeout: float | None = None, **response: Any) -> None:
        """Ask for a response (``response`` holds per-response overrides, e.g. ``instructions``).

        Commits pending input audio first when turn detection is off. Never sends
        ``response.create`` while a response is active: it waits for that one's ``response.done``.
        """
        self._app_sends("create a response")
        await self._create_response(response or None, timeout=timeout)

    async def _create_response(
        self, overrides: Mapping[str, Any] | None, *, timeout: float | None = None, commit: bool = True
    ) -> None:
        self.lifecycle.check_send("create a response")
        if commit and self._session.pending_input_samples and self.settings.turn_detection() is None:
            self._session.pending_input_samples = 0
            await self.realtime.send("input_audio_buffer.commit")
        data: dict[str, Any] = {}
        if overrides:
            data["response"] = config_to_wire(overrides, self.realtime.dialect, session=False)
        if overrides and overrides.get("conversation") == "none":  # out-of-band: may run in parallel
            await self.realtime.send("response.create", data)
            return
        await self._wait_until(lambda: True if self._gate.may_create() else None, timeout)
        event_id = new_event_id()
        self._gate.take(event_id)  # before the send: its response.created may come before send returns
        try:
            await self.realtime.send("response.create", {"event_id": event_id, **data})
        except BaseException:
            self._gate.release(event_id)
            raise

    async def cancel_response(self, item_id: str | None = None, sample_count: int = 0) -> Item | None:
        """Cancel the active response; with ``item_id``, also truncate that item's audio.

        ``sample_count`` is how many samples of the item's audio were played; the truncation point
        is clamped to the audio received, so the server never rejects it as too long. To await the
        end of the cancelled response, call :meth:`wait_for_response_done` next.
        """
        self._app_sends("cancel a response")
        item = None if item_id is None else self.conversation.get_item(item_id)
        if item_id is not None and item is None:
            raise ConfigurationError(f"cancel_response: no item with id {item_id!r}")
        if item is not None:
            audio_part_index(item)  # raises now, before the cancel, if the item has no audio
        event_id = new_event_id()
        if self._gate.take_cancel(event_id):
            await self.realtime.send("response.cancel", {"event_id": event_id})
        if item is None:
            return None
        truncate = truncation(item, sample_count, self.conversation.output_audio_format)
        await self.realtime.send("conversation.item.truncate", truncate)
        return item

    async def approve_mcp(
        self, request_id: str, approve: bool = True, *, reason: str | None = None, respond: bool = True
    ) -> None:
        """Answer a remote MCP ``mcp_approval_request`` item (``request_id`` is its id).

        Sends an ``mcp_approval_response`` item; with ``respond`` (default), asks for the next
        response too, which runs the call (or says it was not run).
        """
        from .mcp.attach import approval_response

        self._app_sends("answer an MCP approval request")
        item = approval_response(request_id, approve, reason)
        await self.realtime.send("conversation.item.create", {"item": item})
        if respond:
            await self._create_response(None)

    async def delete_item(self, item_id: str) -> None:
        self._app_sends("delete an item")
        await self.realtime.send("conversation.item.delete", {"item_id": item_id})

    async def clear_input_audio(self) -> None:
        """Drop audio appended but not committed (``input_audio_buffer.clear``)."""
        self._app_sends("clear the input audio")
        self._session.pending_input_samples = 0
        await self.realtime.send("input_audio_buffer.clear")

    # -- waiting ---------------------------------------------------------------------------

    async def _wait_until(self, predicate: Callable[[], T | None], timeout: float | None) -> T:
        """Wait until ``predicate()`` is not None; a lost session or a close raises its error."""
        return await wait_in_session(self._changes, self.lifecycle, predicate, timeout)

    async def wait_for_next(self, name: str, timeout: float | None = None) -> Any:
        """The payload of the next ``name`` event; on a closed client, the close's error at once."""
        if self.lifecycle.state is ConnectionState.CLOSED and self.lifecycle.closed_error is not None:
            raise self.lifecycle.closed_error
        return await super().wait_for_next(name, timeout)

    async def wait_for_next_item(self, timeout: float | None = None) -> Item:
        """The next item appended after the previous ``wait_for_next_*`` result or the last send."""
        self.lifecycle.check_wait("wait for an item")
        return await self._wait_until(lambda: self._cursor.take("appended"), timeout)

    async def wait_for_next_completed_item(self, timeout: float | None = None) -> Item:
        """The next item completed after the previous ``wait_for_next_*`` result or the last send.

        The item of a cancelled response ends ``incomplete``: that counts as completed too.
        """
        self.lifecycle.check_wait("wait for an item")
        return await self._wait_until(lambda: self._cursor.take("completed"), timeout)

    async def wait_for_response_done(self, timeout: float | None = None) -> dict[str, Any]:
        """The ``response`` of the next ``response.done`` after the previous ``wait_for_next_*`` result
        or the last send, whatever its status (``completed``, ``cancelled``, ``incomplete``, ...)."""
        self.lifecycle.check_wait("wait for a response")
        response: dict[str, Any] = await self._wait_until(lambda: self._cursor.take("response.done"), timeout)
        return response
