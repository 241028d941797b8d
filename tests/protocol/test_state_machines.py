"""The client's pure state machines, fed events directly: unit tests and hypothesis stateful tests.

The stateful tests put the machines between a model of the service (one response at a time,
refusals with the service's codes) and an application that sends, cancels, answers tool calls
and disconnects in any order, with the wire in between delaying everything. After every step
they check the invariants the client's correctness rests on.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from agent_rt.errors import ConfigurationError, ConnectionClosedError, NotConnectedError
from agent_rt.protocol.cursor import ItemCursor
from agent_rt.protocol.lifecycle import ConnectionState, Lifecycle
from agent_rt.protocol.responses import ErrorKind, ResponseGate
from agent_rt.protocol.tool_batches import ToolBatches

from ..fuzz.profiles import PROFILE

STATEFUL = settings(settings.get_profile(PROFILE), stateful_step_count=60)


def created(response_id: str, **extra: Any) -> dict[str, Any]:
    return {"type": "response.created", "response": {"id": response_id, **extra}}


def done(response_id: str) -> dict[str, Any]:
    return {"type": "response.done", "response": {"id": response_id, "status": "completed"}}


def error(code: str, event_id: str | None = None) -> dict[str, Any]:
    return {"type": "error", "error": {"type": "invalid_request_error", "code": code, "event_id": event_id}}


# -- ResponseGate ---------------------------------------------------------------------------------


def test_the_gate_is_settled_by_created_then_done() -> None:
    gate = ResponseGate()
    assert gate.may_create()
    gate.take("evt_1")
    assert not gate.may_create()
    assert gate.pending == "evt_1"
    gate.on_server_event(created("resp_1"))
    assert gate.pending is None
    assert gate.active == {"resp_1"}
    assert not gate.may_create()
    gate.on_server_event(done("resp_1"))
    assert gate.may_create()


def test_created_before_the_send_returns_settles_the_token_taken_before_it() -> None:
    """The trio deadlock: the token must exist before the response.created can arrive."""
    gate = ResponseGate()
    gate.take("evt_1")  # taken before the send
    gate.on_server_event(created("resp_1"))  # arrives while the send is still returning
    gate.on_server_event(done("resp_1"))
    assert gate.may_create()


def test_a_second_take_while_busy_is_refused() -> None:
    gate = ResponseGate()
    gate.take("evt_1")
    with pytest.raises(RuntimeError, match="closed"):
        gate.take("evt_2")


def test_a_refused_create_releases_the_token() -> None:
    gate = ResponseGate()
    gate.take("evt_1")
    assert (
        gate.on_server_event(error("conversation_already_has_active_response", "evt_1"))
        is ErrorKind.CREATE_REFUSED
    )
    assert gate.may_create()
    gate.take("evt_2")
    gate.release("evt_2")  # the send failed
    assert gate.may_create()


def test_out_of_band_responses_do_not_block_the_conversation() -> None:
    gate = ResponseGate()
    gate.on_server_event(created("resp_oob", conversation_id=None))
    assert gate.may_create()


def test_only_our_own_late_cancels_are_a_lost_race() -> None:
    gate = ResponseGate()
    assert not gate.take_cancel("evt_c0")  # nothing to cancel: nothing is sent
    gate.take("evt_1")
    gate.on_server_event(created("resp_1"))
    assert gate.take_cancel("evt_c1")
    gate.on_server_event(done("resp_1"))
    assert gate.on_server_event(error("response_cancel_not_active", "evt_c1")) is ErrorKind.LOST_CANCEL_RACE
    assert gate.on_server_event(error("response_cancel_not_active", "evt_c1")) is ErrorKind.OTHER
    assert gate.on_server_event(error("response_cancel_not_active", "evt_other")) is ErrorKind.OTHER
    assert gate.on_server_event(error("invalid_value")) is ErrorKind.OTHER


# -- ToolBatches ----------------------------------------------------------------------------------


def test_one_follow_up_after_every_call_is_answered_and_the_response_is_done() -> None:
    batches = ToolBatches()
    batches.call_started("resp_1", "call_a")
    batches.call_started("resp_1", "call_b")
    assert not batches.call_finished("call_a", answered=True)
    assert not batches.response_done("resp_1")
    assert batches.call_finished("call_b", answered=True)
    assert not batches.response_done("resp_1")  # once
    assert len(batches) == 0


def test_no_follow_up_when_no_output_reached_the_server() -> None:
    batches = ToolBatches()
    batches.call_started("resp_1", "call_a")
    assert not batches.response_done("resp_1")
    assert not batches.call_finished("call_a", answered=False)
    assert len(batches) == 0


def test_a_call_outside_a_response_is_its_own_batch() -> None:
    batches = ToolBatches()
    batches.call_started(None, "call_a")
    assert batches.call_finished("call_a", answered=True)


# -- ItemCursor -----------------------------------------------------------------------------------


def test_the_cursor_returns_records_after_the_last_send_and_the_last_result() -> None:
    cursor = ItemCursor()
    cursor.record("completed", "old")
    cursor.mark()  # the application sends
    cursor.record("appended", "user")
    cursor.record("completed", "user")
    cursor.record("appended", "assistant")
    cursor.record("completed", "assistant")
    assert cursor.take("appended") == "user"
    assert cursor.take("appended") == "assistant"
    assert cursor.take("completed") == "assistant"  # not the user's, which completed before
    assert cursor.take("completed") is None
    assert len(cursor) == 0


@STATEFUL
@given(
    st.lists(
        st.sampled_from(["appended", "completed", "mark", "take appended", "take completed"]), max_size=60
    )
)
def test_the_cursor_follows_the_rule_of_the_design(steps: list[str]) -> None:
    """Against a direct model: a take returns the first record after max(last result, last send)."""
    cursor = ItemCursor()
    records: list[tuple[int, str]] = []
    position = 0
    for step in steps:
        if step == "mark":
            cursor.mark()
            position = len(records)
        elif step.startswith("take "):
            kind = step.removeprefix("take ")
            expected = next((i for i, (seq, k) in enumerate(records) if seq > position and k == kind), None)
            got = cursor.take(kind)
            if expected is None:
                assert got is None
            else:
                assert got == records[expected]
                position = records[expected][0]
        else:
            records.append((len(records) + 1, step))
            cursor.record(step, records[-1])
        assert len(cursor) <= len([r for r in records if r[0] > position])  # nothing older is kept


# -- Lifecycle ------------------------------------------------------------------------------------


def test_the_lifecycle_moves_and_refuses_in_one_voice() -> None:
    lifecycle = Lifecycle()
    with pytest.raises(NotConnectedError, match="cannot send: not connected"):
        lifecycle.check_send("send")
    lifecycle.connecting()
    with pytest.raises(ConfigurationError, match="already connecting"):
        lifecycle.connecting()
    lifecycle.opened()
    lifecycle.check_send("send")
    drop = ConnectionClosedError("dropped", code=1006)
    lifecycle.dropped(drop)
    with pytest.raises(NotConnectedError, match="reconnecting after close code 1006"):
        lifecycle.check_send("send")
    lifecycle.opened()
    closed = ConnectionClosedError("bye", code=1000)
    assert lifecycle.closed(closed)
    assert not lifecycle.closed(ConnectionClosedError("again"))
    with pytest.raises(ConnectionClosedError, match="bye"):
        lifecycle.check_send("send")
    lifecycle.connecting()  # a closed client may connect again
    lifecycle.failed()
    assert lifecycle.state is ConnectionState.IDLE


class LifecycleMachine(RuleBasedStateMachine):
    """Any sequence of calls: legal moves follow the table, illegal ones raise, the checks agree."""

    def __init__(self) -> None:
        super().__init__()
        self.lifecycle = Lifecycle()

    @rule(move=st.sampled_from(["connecting", "failed", "opened", "dropped", "closing", "closed"]))
    def move(self, move: str) -> None:
        before = self.lifecycle.state
        generation = self.lifecycle.generation
        try:
            if move == "dropped":
                self.lifecycle.dropped(ConnectionClosedError("drop", code=1006))
            elif move == "closed":
                self.lifecycle.closed(ConnectionClosedError("closed", code=1000))
            else:
                getattr(self.lifecycle, move)()
        except ConfigurationError:
            assert self.lifecycle.state is before  # a refused move changes nothing
            assert self.lifecycle.generation == generation
            return
        if move in ("dropped", "closed") and before is not ConnectionState.CLOSED:
            assert self.lifecycle.generation == generation + 1  # waiters of the old session wake

    @invariant()
    def checks_agree_with_the_state(self) -> None:
        state = self.lifecycle.state
        try:
            self.lifecycle.check_send("send")
        except NotConnectedError:
            assert state not in (ConnectionState.OPEN, ConnectionState.CONNECTING)
        else:
            assert state in (ConnectionState.OPEN, ConnectionState.CONNECTING)
        if state is ConnectionState.CLOSED:
            assert self.lifecycle.closed_error is not None


TestLifecycle = LifecycleMachine.TestCase
TestLifecycle.settings = STATEFUL


# -- The gate and the tool batches between an application and a model of the service ------------


class ServiceAndClient(RuleBasedStateMachine):
    """The client's decisions (gate, batches) against a service model, over a wire that delays.

    Invariants: the service never sees a ``response.create`` while a response is active; every
    tool batch gets exactly one follow-up and only once all its outputs are in; a refused cancel
    of ours is always recognised as a lost race; and once everything is delivered and the
    service is idle, a new response may be created (nothing is stuck: the trio deadlock).
    """

    def __init__(self) -> None:
        super().__init__()
        self.gate = ResponseGate()
        self.batches = ToolBatches()
        self.to_service: deque[dict[str, Any]] = deque()
        self.to_client: deque[dict[str, Any]] = deque()
        self.service_active: str | None = None
        self.service_calls: dict[str, list[str]] = {}  # response -> calls it made
        self.running_calls: set[str] = set()
        self.follow_ups_due = 0  # follow-ups the batches asked for, waiting at the gate
        self.follow_ups: dict[str, int] = {}  # response -> follow-ups sent for its calls
        self.answered: dict[str, set[str]] = {}
        self.call_response: dict[str, str] = {}
        self.counter = 0

    def _id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}_{self.counter}"

    # -- the application / client side --

    def _send_create(self, reason: str) -> None:
        event_id = self._id("evt")
        self.gate.take(event_id)
        self.to_service.append({"type": "response.create", "event_id": event_id, "reason": reason})

    @rule()
    def app_creates(self) -> None:
        if self.gate.may_create():
            self._send_create("app")

    @rule()
    def follow_up_passes_the_gate(self) -> None:
        if self.follow_ups_due and self.gate.may_create():
            self.follow_ups_due -= 1
            self._send_create("follow-up")

    @rule()
    def app_cancels(self) -> None:
        event_id = self._id("evt")
        if self.gate.take_cancel(event_id):
            self.to_service.append({"type": "response.cancel", "event_id": event_id})

    @precondition(lambda self: bool(self.running_calls))
    @rule(data=st.data(), answered=st.booleans())
    def a_tool_call_finishes(self, data: st.DataObject, answered: bool) -> None:
        call_id = data.draw(st.sampled_from(sorted(self.running_calls)))
        self.running_calls.discard(call_id)
        if answered:
            self.answered.setdefault(self.call_response[call_id], set()).add(call_id)
        if self.batches.call_finished(call_id, answered=answered):
            self._follow_up_due(self.call_response[call_id])

    def _follow_up_due(self, response_id: str) -> None:
        self.follow_ups[response_id] = self.follow_ups.get(response_id, 0) + 1
        assert self.follow_ups[response_id] == 1, "two follow-ups for one tool batch"
        still_running = {call for call in self.running_calls if self.call_response[call] == response_id}
        assert not still_running, "a follow-up before every call of the response was answered"
        assert self.answered.get(response_id), "a follow-up with no output sent"
        self.follow_ups_due += 1

    @precondition(lambda self: bool(self.to_client))
    @rule()
    def client_receives(self) -> None:
        event = self.to_client.popleft()
        kind = self.gate.on_server_event(event)
        if event["type"] == "error" and event["error"]["code"] == "response_cancel_not_active":
            assert kind is ErrorKind.LOST_CANCEL_RACE
        if event["type"] == "response.output_item.done":
            call_id = event["item"]["call_id"]
            self.batches.call_started(event["response_id"], call_id)
            self.running_calls.add(call_id)
            self.call_response[call_id] = event["response_id"]
        elif event["type"] == "response.done" and self.batches.response_done(event["response"]["id"]):
            self._follow_up_due(event["response"]["id"])

    @rule()
    def disconnect_and_reconnect(self) -> None:
        """The session is lost: everything of it is forgotten, on both sides."""
        self.gate.reset()
        self.batches.reset()
        self.to_service.clear()
        self.to_client.clear()
        self.service_active = None
        self.running_calls.clear()
        self.follow_ups_due = 0

    # -- the service side --

    @precondition(lambda self: bool(self.to_service))
    @rule(calls=st.integers(min_value=0, max_value=3))
    def service_receives(self, calls: int) -> None:
        event = self.to_service.popleft()
        if event["type"] == "response.create":
            assert self.service_active is None, "response.create while a response is active"
            response_id = self._id("resp")
            self.service_active = response_id
            self.to_client.append(created(response_id))
            for _ in range(calls):
                call_id = self._id("call")
                self.service_calls.setdefault(response_id, []).append(call_id)
                item = {"type": "function_call", "call_id": call_id, "name": "tool"}
                self.to_client.append(
                    {"type": "response.output_item.done", "response_id": response_id, "item": item}
                )
        elif self.service_active is not None:  # a cancel that finds the response
            self.to_client.append(done(self.service_active))
            self.service_active = None
        else:
            self.to_client.append(error("response_cancel_not_active", event["event_id"]))

    @precondition(lambda self: self.service_active is not None)
    @rule()
    def service_finishes(self) -> None:
        assert self.service_active is not None
        self.to_client.append(done(self.service_active))
        self.service_active = None

    @invariant()
    def quiet_means_free(self) -> None:
        quiet = not self.to_service and not self.to_client and self.service_active is None
        if quiet:
            assert self.gate.may_create(), f"stuck with nothing in flight: {self.gate!r}"


TestServiceAndClient = ServiceAndClient.TestCase
TestServiceAndClient.settings = STATEFUL
