"""Remote MCP in the local server: the session's ``mcp`` tools, emulated with real MCP servers.

The service lists and calls the tools of an ``{"type": "mcp", "server_label", "server_url", ...}``
session tool itself. The local server does the same against a real MCP server over streamable HTTP,
so that clients can be tested offline end to end:

- a ``session.update`` that adds (or changes) an ``mcp`` tool puts an ``mcp_list_tools`` item in the
  conversation (``conversation.item.added``, ``mcp_list_tools.in_progress``), lists the server's
  tools, then fills the item (``mcp_list_tools.completed`` or ``.failed``, ``conversation.item.done``);
- a scripted call of a listed tool streams an ``mcp_call`` item (``response.mcp_call_arguments.delta``
  / ``.done``, ``response.mcp_call.in_progress``), runs ``tools/call`` between two batches of the
  response, then ``response.mcp_call.completed`` / ``.failed`` and the item with ``output`` or
  ``error``; the response goes on with what the scenario says about the result;
- a tool that needs approval (``require_approval``: ``"always"`` by default, as the service does)
  gets an ``mcp_approval_request`` item instead and the response ends; the client answers with a
  ``conversation.item.create`` of an ``mcp_approval_response`` and a ``response.create``, which runs
  the call (approved) or says it was not run (denied).

:class:`RemoteMcp` is the pure part, owned by the session; :class:`RemoteMcpDriver` does the I/O
for one connection (the ``mcp`` SDK, imported when first needed) and feeds the results back.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from .._secrets import redact, register_secret
from .conversation import Conversation, StoredItem
from .ids import IdFactory
from .responder import McpApprovalOutput, McpCallOutput, McpResult, PlannedOutput, TextOutput

if TYPE_CHECKING:
    from mcp import ClientSession

__all__ = ["CallRequest", "ListRequest", "RemoteMcp", "RemoteMcpDriver", "mask_tool_secrets"]

logger = logging.getLogger("agent_rt.server.mcp")

ServerEvent = dict[str, Any]
#: Seconds for connecting, listing and each call against a remote MCP server.
REMOTE_TIMEOUT = 30.0
_MASK = "***"


@dataclass(frozen=True)
class ListRequest:
    """List the tools of ``tool`` (an ``mcp`` session tool) for the ``mcp_list_tools`` item."""

    item_id: str
    tool: Mapping[str, Any]


@dataclass(frozen=True)
class CallRequest:
    """Run ``name`` on ``tool``'s server for the ``mcp_call`` item ``item_id``."""

    item_id: str
    tool: Mapping[str, Any]
    name: str
    arguments: str


def mask_tool_secrets(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``tools`` with ``mcp`` tools' ``authorization`` and header values masked (never echoed back)."""
    masked: list[dict[str, Any]] = []
    for tool in tools:
        if isinstance(tool, dict) and tool.get("type") == "mcp":
            tool = dict(tool)
            if tool.get("authorization"):
                tool["authorization"] = _MASK
            if isinstance(tool.get("headers"), Mapping):
                tool["headers"] = dict.fromkeys(tool["headers"], _MASK)
        masked.append(tool)
    return masked


def _key(tool: Mapping[str, Any]) -> str:
    """What identifies a server's listing: a changed URL, headers or filter means listing again."""
    fields = {
        k: tool.get(k) for k in ("server_url", "connector_id", "headers", "authorization", "allowed_tools")
    }
    return json.dumps(fields, sort_keys=True, default=str)


def _allowed(tool: Mapping[str, Any], name: str, annotations: Mapping[str, Any] | None) -> bool:
    allowed = tool.get("allowed_tools")
    if allowed is None:
        return True
    if isinstance(allowed, list):
        return name in allowed
    if isinstance(allowed, Mapping):
        names = allowed.get("tool_names")
        if isinstance(names, list) and name not in names:
            return False
        return not (allowed.get("read_only") and not (annotations or {}).get("readOnlyHint"))
    return True


def _filter_matches(selector: Any, name: str, read_only: bool) -> bool:
    if not isinstance(selector, Mapping):
        return False
    names = selector.get("tool_names")
    if isinstance(names, list) and name in names:
        return True
    return bool(selector.get("read_only")) and read_only


def needs_approval(tool: Mapping[str, Any], name: str, read_only: bool = False) -> bool:
    """``require_approval``: ``"always"`` (the default), ``"never"``, or ``{always, never}`` filters."""
    rule = tool.get("require_approval", "always")
    if rule == "never":
        return False
    if isinstance(rule, Mapping):
        return not _filter_matches(rule.get("never"), name, read_only)
    return True


class RemoteMcp:
    """The remote-MCP state of one session: listings, calls waiting for I/O, approvals. Pure."""

    def __init__(self, ids: IdFactory, *, ga: bool) -> None:
        self.ids = ids
        self.ga = ga
        self._keys: dict[str, str] = {}  # server_label -> key of the listed config
        self._listed: dict[str, dict[str, dict[str, Any]]] = {}  # server_label -> name -> tool
        self._tools: dict[str, Mapping[str, Any]] = {}  # server_label -> current session tool
        self._requests: list[ListRequest | CallRequest] = []
        self._listing: dict[str, str] = {}  # item id of a listing in progress -> server_label
        self._approvals: dict[str, McpCallOutput] = {}  # approval request id -> the call it holds
        self._decided: dict[str, bool] = {}  # approval request id -> approve

    # -- listing -------------------------------------------------------------------------------

    def tools_updated(self, tools: list[dict[str, Any]], conversation: Conversation) -> list[ServerEvent]:
        """The session's tools changed: list the servers that are new or configured differently."""
        events: list[ServerEvent] = []
        current = {t["server_label"]: t for t in tools if isinstance(t, dict) and t.get("type") == "mcp"}
        for label in list(self._tools):
            if label not in current:
                del self._tools[label]
                self._keys.pop(label, None)
                self._listed.pop(label, None)
        for label, tool in current.items():
            self._tools[label] = copy.deepcopy(tool)
            for secret in (tool.get("authorization"), *(tool.get("headers") or {}).values()):
                if isinstance(secret, str):
                    register_secret(secret)
            key = _key(tool)
            if self._keys.get(label) == key:
                continue
            self._keys[label] = key
            self._listed.pop(label, None)
            item_id = self.ids.item()
            item = {"id": item_id, "type": "mcp_list_tools", "server_label": label, "tools": []}
            stored = StoredItem(item=item)
            previous = conversation.insert(stored)
            self._listing[item_id] = label
            events.append(
                self._event("conversation.item.added", previous_item_id=previous, item=stored.public())
            )
            events.append(self._event("mcp_list_tools.in_progress", item_id=item_id))
            if not isinstance(tool.get("server_url"), str):
                events.extend(
                    self._listed_events(stored, previous, None, "only server_url is emulated locally")
                )
                continue
            self._requests.append(ListRequest(item_id, copy.deepcopy(tool)))
        return events

    def list_done(
        self,
        request: ListRequest,
        tools: list[dict[str, Any]] | None,
        error: str | None,
        conversation: Conversation,
    ) -> list[ServerEvent]:
        label = self._listing.pop(request.item_id, None)
        stored = conversation.get(request.item_id)
        if label is None or stored is None or self._keys.get(label) != _key(request.tool):
            return []  # replaced or deleted meanwhile
        if tools is not None:
            kept = [t for t in tools if _allowed(request.tool, t["name"], t.get("annotations"))]
            self._listed[label] = {t["name"]: t for t in kept}
            stored.item["tools"] = kept
        items = conversation.items()
        index = next((i for i, s in enumerate(items) if s.id == stored.id), 0)
        previous = items[index - 1].id if index > 0 else None
        return self._listed_events(stored, previous, tools, error)

    def _listed_events(
        self, stored: StoredItem, previous: str | None, tools: list[dict[str, Any]] | None, error: str | None
    ) -> list[ServerEvent]:
        if tools is None:
            logger.info("remote MCP listing %s failed: %s", stored.id, error)
            return [
                self._event("mcp_list_tools.failed", item_id=stored.id),
                self._event("conversation.item.done", previous_item_id=previous, item=stored.public()),
            ]
        return [
            self._event("mcp_list_tools.completed", item_id=stored.id),
            self._event("conversation.item.done", previous_item_id=previous, item=stored.public()),
        ]

    def tool_names(self) -> dict[str, str]:
        """Listed tool name -> ``server_label`` (what the responder may call)."""
        return {name: label for label, tools in self._listed.items() for name in tools}

    # -- calls and approvals -------------------------------------------------------------------

    def gate(self, plan: list[PlannedOutput]) -> list[PlannedOutput]:
        """Turn a call that needs approval (and has none) into an approval request ending the plan."""
        gated: list[PlannedOutput] = []
        for planned in plan:
            if isinstance(planned, McpCallOutput) and planned.approval_request_id is None:
                tool = self._tools.get(planned.server_label, {})
                listed = self._listed.get(planned.server_label, {}).get(planned.name, {})
                read_only = bool((listed.get("annotations") or {}).get("readOnlyHint"))
                if needs_approval(tool, planned.name, read_only):
                    approval = McpApprovalOutput(id=self.ids.item(), call=planned)
                    self._approvals[approval.id] = planned
                    gated.append(approval)
                    break
            gated.append(planned)
        return gated

    def is_approval_request(self, approval_request_id: str) -> bool:
        return approval_request_id in self._approvals

    def decide(self, approval_request_id: str, approve: bool) -> None:
        self._decided[approval_request_id] = approve

    def plan_after_approval(self, last_item: Mapping[str, Any] | None) -> list[PlannedOutput] | None:
        """The plan of a response right after an ``mcp_approval_response``; None when not in that case."""
        if last_item is None or last_item.get("type") != "mcp_approval_response":
            return None
        request_id = last_item.get("approval_request_id")
        call = self._approvals.pop(str(request_id), None)
        approve = self._decided.pop(str(request_id), None)
        if call is None or approve is None:
            return None
        if approve:
            return [
                McpCallOutput(
                    call.server_label,
                    call.name,
                    call.arguments,
                    call.follow,
                    approval_request_id=str(request_id),
                )
            ]
        return [TextOutput(f"All right, I did not run {call.name}.")]

    def request_call(self, item_id: str, call: McpCallOutput) -> None:
        tool = self._tools.get(call.server_label)
        if tool is not None:
            self._requests.append(CallRequest(item_id, copy.deepcopy(tool), call.name, call.arguments))

    def take_requests(self) -> list[ListRequest | CallRequest]:
        requests, self._requests = self._requests, []
        return requests

    @property
    def has_requests(self) -> bool:
        return bool(self._requests)

    def _event(self, event_type: str, **fields: Any) -> ServerEvent:
        return {"type": event_type, "event_id": self.ids.event(), **fields}


# -- I/O ------------------------------------------------------------------------------------------


class RemoteMcpDriver:
    """Runs a session's remote-MCP requests against real MCP servers; one per connection.

    ``deliver(request, tools, error)`` for listings and ``deliver(request, result)`` are the
    session's entry points, given as callbacks that return events to send and wake the pump.
    """

    def __init__(
        self,
        take: Callable[[], list[ListRequest | CallRequest]],
        listed: Callable[[ListRequest, list[dict[str, Any]] | None, str | None], None],
        called: Callable[[CallRequest, McpResult], None],
        *,
        timeout: float = REMOTE_TIMEOUT,
    ) -> None:
        self._take = take
        self._listed = listed
        self._called = called
        self.timeout = timeout
        self._ready = anyio.Event()

    def poke(self) -> None:
        """New requests may be waiting."""
        self._ready.set()

    async def run(self) -> None:
        async with anyio.create_task_group() as group:
            while True:
                await self._ready.wait()
                self._ready = anyio.Event()
                for request in self._take():
                    group.start_soon(self._serve, request)

    async def _serve(self, request: ListRequest | CallRequest) -> None:
        if isinstance(request, ListRequest):
            tools: list[dict[str, Any]] | None = None
            error: str | None = None
            try:
                tools = await self._list(request)
            except Exception as exc:
                error = _describe(exc)
            self._listed(request, tools, error)
        else:
            self._called(request, await self._call(request))

    async def _list(self, request: ListRequest) -> list[dict[str, Any]]:
        from ..mcp.servers import _list_tools

        async with self._session(request.tool) as session:
            with anyio.fail_after(self.timeout):
                listing = await _list_tools(session)
        tools: list[dict[str, Any]] = []
        for tool in listing:
            entry: dict[str, Any] = {"name": tool["name"], "input_schema": tool.get("inputSchema", {})}
            if tool.get("description"):
                entry["description"] = tool["description"]
            if tool.get("annotations"):
                entry["annotations"] = tool["annotations"]
            tools.append(entry)
        return tools

    async def _call(self, request: CallRequest) -> McpResult:
        from ..mcp.content import result_error_text, result_value

        try:
            arguments = json.loads(request.arguments) if request.arguments.strip() else {}
        except ValueError as exc:
            return McpResult(
                error={"type": "protocol_error", "code": -32602, "message": f"bad arguments: {exc}"}
            )
        try:
            async with self._session(request.tool) as session:
                with anyio.fail_after(self.timeout):
                    result = await session.call_tool(request.name, arguments)
        except Exception as exc:
            return McpResult(error=_error_object(exc))
        data = result.model_dump(mode="json", by_alias=True, exclude_none=True)
        if data.get("isError"):
            return McpResult(error={"type": "tool_execution_error", "message": result_error_text(data)})
        value = result_value(data)
        return McpResult(output=value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))

    @contextlib.asynccontextmanager
    async def _session(self, tool: Mapping[str, Any]) -> AsyncIterator[ClientSession]:
        try:
            from mcp import ClientSession
            from mcp.client.streamable_http import streamable_http_client
            from mcp.shared._httpx_utils import create_mcp_http_client
        except ImportError:
            raise RuntimeError(
                'remote MCP in the local server needs the mcp SDK: pip install "agentrt[mcp]"'
            ) from None
        headers = {str(k): str(v) for k, v in (tool.get("headers") or {}).items()}
        if isinstance(tool.get("authorization"), str):
            headers["Authorization"] = f"Bearer {tool['authorization']}"
        async with (
            create_mcp_http_client(headers=headers) as http,
            streamable_http_client(str(tool["server_url"]), http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            with anyio.fail_after(self.timeout):
                await session.initialize()
            yield session


def _describe(exc: BaseException) -> str:
    from ..mcp.servers import _describe as describe

    return describe(exc)


def _error_object(exc: BaseException) -> dict[str, Any]:
    from ..mcp.servers import _innermost

    inner = _innermost(exc)
    try:
        from mcp.shared.exceptions import MCPError
    except ImportError:  # pragma: no cover - the session could not have opened
        MCPError = ()  # type: ignore[assignment,misc]
    if isinstance(inner, MCPError):
        return {"type": "protocol_error", "code": inner.code, "message": redact(inner.message)}
    return {"type": "http_error", "code": 0, "message": _describe(exc)}
