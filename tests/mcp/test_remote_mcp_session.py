"""Remote MCP in the local server's sans-I/O session: listings, calls and approvals fed by hand."""

from __future__ import annotations

from typing import Any

from agent_rt.protocol import RealtimeConversation
from agent_rt.server.remote_mcp import CallRequest, ListRequest, needs_approval
from agent_rt.server.responder import McpResult
from agent_rt.server.session import RealtimeSession

TOOLS = [
    {"name": "add", "input_schema": {"type": "object"}, "annotations": {"readOnlyHint": True}},
    {"name": "wipe", "input_schema": {"type": "object"}},
]
SCENARIO = [
    {"match": "add", "calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}], "after_output": "= {output}"}
]


def session_with_tool(**tool: Any) -> tuple[RealtimeSession, list[dict[str, Any]]]:
    session = RealtimeSession(dialect="ga", scenario=SCENARIO, seed=1)
    events = session.start()
    mcp = {"type": "mcp", "server_label": "calc", "server_url": "http://127.0.0.1:1/mcp", **tool}
    events += session.receive({"type": "session.update", "session": {"type": "realtime", "tools": [mcp]}})
    (request,) = session.take_mcp_requests()
    assert isinstance(request, ListRequest)
    events += session.mcp_listed(request, TOOLS, None)
    return session, events


def ask(session: RealtimeSession, text: str) -> list[dict[str, Any]]:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    events = session.receive({"type": "conversation.item.create", "item": item})
    events += session.receive({"type": "response.create", "response": {"output_modalities": ["text"]}})
    return events + session.drain()


def test_listing_events_and_allowed_tools() -> None:
    session, events = session_with_tool(allowed_tools=["add"], headers={"X-Key": "k-secret"})
    types = [e["type"] for e in events]
    assert types[-5:] == [
        "session.updated",
        "conversation.item.added",
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "conversation.item.done",
    ]
    assert events[-5]["session"]["tools"][0]["headers"] == {"X-Key": "***"}
    assert [t["name"] for t in events[-1]["item"]["tools"]] == ["add"]  # allowed_tools filters
    # the same config again lists nothing new; another URL lists again
    again = session.receive({"type": "session.update", "session": {"type": "realtime", "instructions": "hi"}})
    assert [e["type"] for e in again] == ["session.updated"]
    assert session.take_mcp_requests() == []

    conversation = RealtimeConversation()
    for event in events:
        conversation.process_event(event)
    (listing,) = conversation.get_items()
    assert listing["formatted"]["tools"][0]["name"] == "add"
    assert listing["formatted"]["mcp_status"] == "completed"


def test_a_call_waits_for_its_result_and_a_cancel_drops_it() -> None:
    session, _ = session_with_tool(require_approval="never")
    events = ask(session, "add")
    assert events[-1]["type"] == "response.mcp_call.in_progress"
    assert not session.streaming
    assert session.active_response is not None
    (request,) = session.take_mcp_requests()
    assert isinstance(request, CallRequest)
    assert (request.name, request.arguments) == ("add", '{"a": 2, "b": 3}')

    session.mcp_called(request, McpResult(output="5"))
    assert session.streaming
    rest = session.drain()
    types = [e["type"] for e in rest]
    assert types[:3] == ["response.mcp_call.completed", "conversation.item.done", "response.output_item.done"]
    assert rest[1]["item"]["output"] == "5"
    assert types[-2] == "response.done"
    assert [i["type"] for i in rest[-2]["response"]["output"]] == ["mcp_call", "message"]

    events = ask(session, "add")
    (request,) = session.take_mcp_requests()
    cancelled = session.receive({"type": "response.cancel"})
    assert cancelled[-2]["response"]["status"] == "cancelled"
    assert cancelled[-2]["response"]["output"][0]["status"] == "incomplete"
    session.mcp_called(request, McpResult(output="5"))  # too late: nothing happens
    assert not session.streaming
    assert session.drain() == []


def test_approval_requests_and_their_answers() -> None:
    session, _ = session_with_tool()  # "always" by default
    events = ask(session, "add")
    done = events[-2]
    assert done["type"] == "response.done"
    (request_item,) = done["response"]["output"]
    assert request_item["type"] == "mcp_approval_request"
    assert session.take_mcp_requests() == []  # nothing runs before approval

    wrong = session.receive(
        {
            "type": "conversation.item.create",
            "item": {"type": "mcp_approval_response", "approval_request_id": "x"},
        }
    )
    assert wrong[0]["type"] == "error"
    assert "item.approve" in wrong[0]["error"]["message"]
    item = {"type": "mcp_approval_response", "approval_request_id": request_item["id"], "approve": True}
    added = session.receive({"type": "conversation.item.create", "item": item})
    assert added[0]["item"]["approve"] is True
    session.receive({"type": "response.create"})
    session.drain()
    (call,) = session.take_mcp_requests()
    assert isinstance(call, CallRequest)
    assert call.name == "add"


def test_beta_sessions_have_no_mcp() -> None:
    session = RealtimeSession(dialect="beta")
    session.start()
    item = {"type": "mcp_approval_response", "approval_request_id": "x", "approve": True}
    (error,) = session.receive({"type": "conversation.item.create", "item": item})
    assert error["type"] == "error"


def test_needs_approval_rules() -> None:
    assert needs_approval({}, "add")
    assert not needs_approval({"require_approval": "never"}, "add")
    rule = {"require_approval": {"never": {"tool_names": ["add"]}}}
    assert not needs_approval(rule, "add")
    assert needs_approval(rule, "wipe")
    read_only = {"require_approval": {"never": {"read_only": True}}}
    assert not needs_approval(read_only, "add", read_only=True)
    assert needs_approval(read_only, "wipe", read_only=False)


def test_conversation_tracks_mcp_call_events() -> None:
    conversation = RealtimeConversation()
    call = {"id": "mc_1", "type": "mcp_call", "server_label": "s", "name": "add", "arguments": ""}
    conversation.process_event({"type": "response.output_item.added", "response_id": "r", "item": call})
    item, delta = conversation.process_event(
        {"type": "response.mcp_call_arguments.delta", "item_id": "mc_1", "delta": '{"a":', "obfuscation": "x"}
    )
    assert delta == {"arguments": '{"a":'}
    assert item is not None
    assert item["formatted"]["tool"]["type"] == "mcp"
    conversation.process_event(
        {"type": "response.mcp_call_arguments.done", "item_id": "mc_1", "arguments": '{"a":1}'}
    )
    conversation.process_event({"type": "response.mcp_call.failed", "item_id": "mc_1", "output_index": 0})
    final = {**call, "arguments": '{"a":1}', "error": {"type": "tool_execution_error", "message": "no"}}
    item, _ = conversation.process_event({"type": "response.output_item.done", "item": final})
    assert item is not None
    assert item["formatted"]["tool"]["arguments"] == '{"a":1}'
    assert item["formatted"]["error"] == {"type": "tool_execution_error", "message": "no"}
    assert item["formatted"]["mcp_status"] == "failed"
    # an event for an item not seen yet is no error (a listing may start before its item arrives)
    assert conversation.process_event({"type": "mcp_list_tools.in_progress", "item_id": "unknown"}) == (
        None,
        None,
    )
