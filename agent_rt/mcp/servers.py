"""Local MCP servers as agent_rt tools: start them, list their tools, call them, stop them.

:class:`McpServers` runs each configured server as one task in a task group it is given (the
client's, or its own with ``async with``). A server task opens the SDK transport (a stdio child
process or a streamable HTTP connection) and a ``ClientSession``, initializes, lists the tools,
and then waits until it is told to stop or to list again (``notifications/tools/list_changed``).
Leaving that task, on any path (stop, error, cancellation), closes the SDK context managers, and
the SDK's stdio transport stops its child process then (the child runs in its own process
session, so nothing else would: it would not die with us).

Deadlines go around ``initialize()``, ``list_tools()`` and ``call_tool()`` only: cancelling the
SDK's transport context managers from outside leaves them broken. A server that fails to start is
logged and recorded in :attr:`McpServers.failures`; the others keep working. A stdio server's
stderr goes to the ``agent_rt.mcp.<name>`` logger, line by line.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

import anyio
import anyio.abc

from .._secrets import redact
from ..errors import RealtimeError
from ..tools import Tool, ToolDefinitionError, ToolRegistry
from .config import McpServerConfig, McpServersSource, load_mcp_config
from .content import describe_tool, function_name, result_error_text, result_value

if TYPE_CHECKING:
    from mcp import ClientSession
    from mcp.client.session import MessageHandlerFnT

__all__ = ["DEFAULT_START_TIMEOUT", "McpServerError", "McpServers", "McpToolError"]

logger = logging.getLogger("agent_rt.mcp")

#: Seconds a server gets to answer ``initialize`` and the first ``tools/list``.
DEFAULT_START_TIMEOUT = 30.0

ToolsChanged = Callable[[], "Awaitable[None] | None"]


class McpServerError(RealtimeError):
    """An MCP server failed: it did not start, its tools clash with others, or it stopped answering."""

    def __init__(self, message: str, *, server: str | None = None) -> None:
        super().__init__(f"MCP server {server!r}: {message}" if server else message)
        self.server = server


class McpToolError(RealtimeError):
    """The tool answered with ``isError``: the message is the tool's own, for the model to read."""


class _AnticipatedToolErrors(logging.Filter):
    """Drop the traceback when a tool run logs an :class:`McpToolError`.

    The tool reported the failure itself (the SDK's ``ToolError``): the message says it all, and
    a traceback of our call site would only bury it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], McpToolError):
            record.exc_info = None
            record.exc_text = None
        return True


logging.getLogger("agent_rt.tools").addFilter(_AnticipatedToolErrors())  # the executor's and ToolRunner's


@dataclass
class _Server:
    """The state of one configured server, written only by its own task (and read by calls)."""

    config: McpServerConfig
    state: str = "starting"  # starting | running | failed | stopped
    error: str | None = None
    session: ClientSession | None = None
    listing: list[dict[str, Any]] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # function name -> the server's tool name
    ready: anyio.Event = field(default_factory=anyio.Event)
    stopped: anyio.Event = field(default_factory=anyio.Event)
    wake: anyio.Event = field(default_factory=anyio.Event)
    stop_requested: bool = False
    refresh_requested: bool = False

    @property
    def name(self) -> str:
        return self.config.name

    def poke(self) -> None:
        self.wake.set()


class McpServers:
    """The servers of an ``mcpServers`` configuration, their tools kept in ``registry``.

    ``config`` is a path, a dict, a list of :class:`~agent_rt.mcp.config.McpServerConfig` or None
    (``AGENT_RT_MCP_CONFIG``). ``reserved_names()`` returns names used elsewhere (the session's own
    tools) that MCP tools may not take. ``on_tools_changed()`` (sync or async) runs after a
    server's ``tools/list_changed`` updated the registry. ``tool_timeout`` is the call timeout of
    servers without their own ``timeout`` (else the registry's default).
    """

    def __init__(
        self,
        config: McpServersSource | Sequence[McpServerConfig],
        registry: ToolRegistry | None = None,
        *,
        reserved_names: Callable[[], Collection[str]] = tuple,
        on_tools_changed: ToolsChanged | None = None,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        tool_timeout: float | None = None,
    ) -> None:
        if isinstance(config, Sequence) and not isinstance(config, str):
            configs = list(config)
        else:
            configs = load_mcp_config(config)
        self.registry = registry if registry is not None else ToolRegistry()
        self.reserved_names = reserved_names
        self.on_tools_changed = on_tools_changed
        self.start_timeout = start_timeout
        self.tool_timeout = tool_timeout
        self._servers: dict[str, _Server] = {c.name: _Server(c) for c in configs}
        self._own_group: anyio.abc.TaskGroup | None = None
        self._started = False

    def __repr__(self) -> str:
        states = ", ".join(f"{s.name}={s.state}" for s in self._servers.values())
        return f"<McpServers {states or 'none'}>"

    # -- what is known ---------------------------------------------------------------------------

    @property
    def configs(self) -> list[McpServerConfig]:
        return [server.config for server in self._servers.values()]

    @property
    def failures(self) -> dict[str, str]:
        """Servers that failed (to start, or later), with the reason."""
        return {s.name: s.error or "failed" for s in self._servers.values() if s.state == "failed"}

    def state(self, server: str) -> str:
        """``starting``, ``running``, ``failed`` or ``stopped``."""
        return self._servers[server].state

    def tool_names(self, server: str) -> list[str]:
        """The function names of a server's registered tools."""
        return list(self._servers[server].names)

    def tools(self) -> Iterator[tuple[str, Tool]]:
        """``(server, tool)`` for every registered MCP tool."""
        for server in self._servers.values():
            for name in server.names:
                tool = self.registry.get(name)
                if tool is not None:
                    yield server.name, tool

    # -- lifetime --------------------------------------------------------------------------------

    async def __aenter__(self) -> McpServers:
        group = anyio.create_task_group()
        await group.__aenter__()
        self._own_group = group
        try:
            await self.start(group)
        except BaseException as exc:
            self._own_group = None
            group.cancel_scope.cancel()
            await group.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        group, self._own_group = self._own_group, None
        try:
            await self.stop()
        finally:
            if group is not None:
                await group.__aexit__(None, None, None)

    async def start(self, task_group: anyio.abc.TaskGroup) -> None:
        """Start every server in ``task_group``; return once each one runs or has failed.

        The tools of the running servers are then registered in configuration order; a server
        whose tool names clash with tools already registered fails (with a hint to set
        ``prefix``) and is stopped.
        """
        if self._started:
            raise RuntimeError("McpServers.start() was already called")
        self._started = True
        for server in self._servers.values():
            task_group.start_soon(self._serve, server, name=f"mcp server {server.name}")
        for server in self._servers.values():
            await server.ready.wait()
        for server in self._servers.values():
            if server.state != "running":
                continue
            try:
                self._register(server, server.listing)
            except McpServerError as exc:
                self._fail(server, str(exc), log=True)
                server.stop_requested = True
                server.poke()

    async def stop(self) -> None:
        """Stop every server and unregister its tools; returns once the servers have exited."""
        for server in self._servers.values():
            server.stop_requested = True
            server.poke()
        for server in self._servers.values():
            if self._started:
                await server.stopped.wait()
            self._unregister(server)

    def forget(self) -> None:
        """Unregister every server's tools without waiting (their tasks are known to be over)."""
        for server in self._servers.values():
            server.stop_requested = True
            self._unregister(server)

    # -- one server --------------------------------------------------------------------------------

    async def _serve(self, server: _Server) -> None:
        try:
            async with contextlib.AsyncExitStack() as stack:
                from mcp import ClientSession

                read, write = await stack.enter_async_context(self._transport(server.config))
                session = await stack.enter_async_context(
                    ClientSession(read, write, message_handler=self._message_handler(server))
                )
                with anyio.fail_after(self.start_timeout):
                    await session.initialize()
                    listing = await _list_tools(session)
                server.session = session
                server.listing = listing
                server.state = "running"
                server.ready.set()
                logger.info("MCP server %r started: %d tool(s)", server.name, len(listing))
                await self._watch(server, session)
        except TimeoutError:
            self._fail(server, f"no answer within {self.start_timeout:g} s", log=True)
        except Exception as exc:  # a server that fails is reported; the others keep working
            message = _describe(exc)
            if server.config.command is not None and _connection_lost(exc):
                message += f" (the process ended; its stderr is logged as 'agent_rt.mcp.{server.name}')"
            self._fail(server, message, log=True)
        finally:
            server.session = None
            if server.state == "running":
                server.state = "stopped"
            server.ready.set()
            server.stopped.set()

    async def _watch(self, server: _Server, session: ClientSession) -> None:
        """Wait for stop; list the tools again whenever the server says they changed."""
        while not server.stop_requested:
            await server.wake.wait()
            server.wake = anyio.Event()
            if server.stop_requested:
                return
            if server.refresh_requested:
                server.refresh_requested = False
                await self._refresh(server, session)

    async def _refresh(self, server: _Server, session: ClientSession) -> None:
        try:
            with anyio.fail_after(self.start_timeout):
                listing = await _list_tools(session)
        except Exception as exc:
            logger.warning(
                "MCP server %r: listing tools after list_changed failed: %s", server.name, _describe(exc)
            )
            return
        server.listing = listing
        if not self._started or not self._registered(server):
            return
        self._unregister(server)
        try:
            self._register(server, listing, partial=True)
        finally:
            await self._notify_changed()

    def _registered(self, server: _Server) -> bool:
        return server.state == "running"

    def _message_handler(self, server: _Server) -> MessageHandlerFnT:
        async def handle(message: Any) -> None:
            from mcp import types

            if isinstance(message, types.ToolListChangedNotification):
                server.refresh_requested = True
                server.poke()
            elif isinstance(message, Exception):
                logger.warning("MCP server %r: transport error: %s", server.name, _describe(message))
            await anyio.lowlevel.checkpoint()

        return handle

    @contextlib.asynccontextmanager
    async def _transport(self, config: McpServerConfig) -> Any:
        if config.command is None:
            from mcp.client.streamable_http import streamable_http_client
            from mcp.shared._httpx_utils import create_mcp_http_client

            async with (
                create_mcp_http_client(headers=dict(config.headers)) as http,
                streamable_http_client(str(config.url), http_client=http) as streams,
            ):
                yield streams
            return
        from mcp.client.stdio import StdioServerParameters, stdio_client

        parameters = StdioServerParameters(
            command=config.command, args=list(config.args), env=dict(config.env) or None, cwd=config.cwd
        )
        with _StderrToLog(config.name) as errlog:
            async with stdio_client(parameters, errlog=errlog.stream) as streams:
                errlog.spawned()
                yield streams

    def _fail(self, server: _Server, message: str, *, log: bool) -> None:
        if server.state == "failed":
            return
        was_running = server.state == "running"
        server.state = "failed"
        server.error = redact(message)
        if log:
            logger.error("MCP server %r (%s) failed: %s", server.name, server.config.describe(), server.error)
        if was_running:
            self._unregister(server)

    # -- tools ------------------------------------------------------------------------------------

    def _register(self, server: _Server, listing: list[dict[str, Any]], *, partial: bool = False) -> None:
        """Add the server's tools; a clash raises (or, with ``partial``, skips that tool)."""
        reserved = set(self.reserved_names())
        planned: list[tuple[Tool, str]] = []
        seen: set[str] = set()
        for entry in listing:
            mcp_name = str(entry.get("name"))
            name = function_name(server.config.prefix, mcp_name)
            problem = None
            if name in seen:
                problem = f"two of its tools are both named {name!r} for the model"
            elif name in self.registry or name in reserved:
                owner = self._owner_of(name) or ("the session tools" if name in reserved else "another tool")
                problem = f"tool {name!r} is already provided by {owner}"
            if problem is not None:
                hint = f' (set "prefix" for this server in the MCP config, e.g. "prefix": "{server.name}_")'
                if not partial:
                    raise McpServerError(problem + hint, server=server.name)
                logger.error("MCP server %r: %s%s; tool skipped", server.name, problem, hint)
                continue
            try:
                tool = self._tool(server, entry, name, mcp_name)
            except ToolDefinitionError as exc:  # one bad tool must not cost the others
                logger.warning("MCP server %r: tool %r skipped: %s", server.name, mcp_name, exc)
                continue
            seen.add(name)
            planned.append((tool, mcp_name))
        for tool, mcp_name in planned:
            self.registry.add(tool)
            server.names[tool.name] = mcp_name

    def _unregister(self, server: _Server) -> None:
        for name in list(server.names):
            if self.registry.get(name) is not None:
                self.registry.remove(name)
        server.names.clear()

    def _owner_of(self, name: str) -> str | None:
        for other in self._servers.values():
            if name in other.names:
                return f"MCP server {other.name!r}"
        tool = self.registry.get(name)
        if tool is not None and tool.plugin:
            return f"plugin {tool.plugin!r}"
        return None

    def _tool(self, server: _Server, entry: Mapping[str, Any], name: str, mcp_name: str) -> Tool:
        schema = entry.get("inputSchema")
        parameters = dict(schema) if isinstance(schema, Mapping) else {}
        parameters.setdefault("type", "object")
        if parameters["type"] == "object":
            parameters.setdefault("properties", {})
        definition = {
            "type": "function",
            "name": name,
            "description": describe_tool(entry, server.name),
            "parameters": parameters,
        }
        timeout = server.config.timeout if server.config.timeout is not None else self.tool_timeout

        async def call(arguments: dict[str, Any]) -> Any:
            return await self.call(server.name, mcp_name, arguments)

        return Tool(definition, call, timeout=timeout, plugin=f"mcp:{server.name}")

    async def call(self, server_name: str, tool: str, arguments: Mapping[str, Any]) -> Any:
        """Run ``tools/call`` on a server; returns the result's JSON value.

        Raises :class:`McpToolError` for an ``isError`` result and :class:`McpServerError` when the
        server is not running or the call fails in transit. The caller's deadline (the tool
        timeout the executor applies) cancels the request.
        """
        server = self._servers.get(server_name)
        if server is None:
            raise McpServerError("no such server in the MCP config", server=server_name)
        session = server.session
        if session is None or server.state != "running":
            raise McpServerError(f"not running ({server.error or server.state})", server=server_name)
        try:
            result = await session.call_tool(
                tool, dict(arguments), read_timeout_seconds=server.config.timeout
            )
        except Exception as exc:
            if _connection_lost(exc) and server.session is session:
                # The server is gone (it exited, or the HTTP session ended): its tools go too.
                self._fail(server, f"connection lost during a call to {tool!r}", log=True)
                server.stop_requested = True
                server.poke()
                await self._notify_changed()
            raise McpServerError(f"calling {tool!r} failed: {_describe(exc)}", server=server_name) from None
        data = result.model_dump(mode="json", by_alias=True, exclude_none=True)
        if data.get("isError"):
            raise McpToolError(result_error_text(data))
        return result_value(data)

    async def _notify_changed(self) -> None:
        callback = self.on_tools_changed
        if callback is None:
            return
        try:
            outcome = callback()
            if inspect.isawaitable(outcome):
                await outcome
        except Exception:
            logger.exception("on_tools_changed failed after an MCP tools/list_changed")


async def _list_tools(session: ClientSession) -> list[dict[str, Any]]:
    """Every tool of the server (following pagination), in the wire shape (camelCase keys)."""
    from mcp import types

    tools: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):  # a server that pages forever must not hang start-up
        params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
        result = await session.list_tools(params=params)
        tools.extend(tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in result.tools)
        cursor = result.next_cursor
        if not cursor:
            break
    return tools


def _connection_lost(exc: BaseException) -> bool:
    from mcp.shared.exceptions import MCPError
    from mcp.types import CONNECTION_CLOSED

    inner = _innermost(exc)
    if isinstance(inner, MCPError):
        return inner.code == CONNECTION_CLOSED
    return isinstance(inner, (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream))


def _innermost(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups raised by task groups."""
    while True:
        inner = getattr(exc, "exceptions", None)
        if not isinstance(inner, tuple) or not inner or not isinstance(inner[0], BaseException):
            return exc
        exc = inner[0]


def _describe(exc: BaseException) -> str:
    inner = _innermost(exc)
    text = str(inner).strip()
    return redact(f"{type(inner).__name__}: {text}" if text else type(inner).__name__)


class _StderrToLog:
    """A pipe for a child's stderr and a daemon thread that logs each line it reads.

    A thread, not a task: reading blocks, and the pipe only ends when every process holding its
    write end has exited. The thread closes its end at EOF; being a daemon, it never holds up exit.
    """

    def __init__(self, server: str) -> None:
        self.log = logging.getLogger(f"agent_rt.mcp.{server}")
        read_fd, write_fd = os.pipe()
        self.stream: TextIO = os.fdopen(write_fd, "w")
        self._reader = threading.Thread(
            target=self._pump, args=(read_fd,), name=f"mcp-stderr-{server}", daemon=True
        )

    def __enter__(self) -> _StderrToLog:
        self._reader.start()
        return self

    def spawned(self) -> None:
        """The child has its copy of the write end: drop ours, so EOF comes when it exits."""
        self.stream.close()

    def __exit__(self, *exc_info: object) -> None:
        if not self.stream.closed:
            self.stream.close()

    def _pump(self, read_fd: int) -> None:
        with os.fdopen(read_fd, "rb") as pipe:
            for raw in pipe:
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    self.log.info("%s", redact(line))
