"""FollowUpGate, the relay's count of requested and active responses: unit and stateful tests.

The stateful test puts the gate between a model of the service (one response at a time in the
conversation, refusals with or without the event id, turn detection that starts responses by
itself, out-of-band responses beside the conversation) and two senders on one connection: a client
whose ``response.create`` events are never held back, and the relay's follow-ups, which go only
when the gate says so. The wire delays everything, in order.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from agent_rt.protocol.follow_ups import FollowUpGate, Settled
from agent_rt.protocol.responses import conversation_response_id

from .test_state_machines import STATEFUL, created, done, error

ACTIVE = "conversation_already_has_active_response"


def refusal(event_id: str | None, *, beta: bool = False) -> dict[str, Any]:
    if beta:  # code null, only the message says why
        payload = {"code": None, "message": "Conversation already has an active response"}
    else:
        payload = {"code": ACTIVE, "message": "Conversation already has an active response in progress"}
    return {"type": "error", "error": {"type": "invalid_request_error", "event_id": event_id, **payload}}


def test_a_client_request_in_flight_holds_the_follow_up_until_its_response_ends() -> None:
    gate = FollowUpGate()
    gate.client_request("evt_1")
    assert not gate.may_follow_up()
    assert gate.on_server_event(created("resp_1")) is None
    assert not gate.pending
    assert gate.active == {"resp_1"}
    assert not gate.may_follow_up()
    gate.on_server_event(done("resp_1"))
    assert gate.may_follow_up()


def test_a_refused_client_request_frees_the_gate() -> None:
    gate = FollowUpGate()
    gate.client_request("evt_1")
    gate.on_server_event(error("invalid_value", "other"))  # not about it
    assert gate.pending == ("evt_1",)
    gate.on_server_event(error("invalid_value", "evt_1"))
    assert gate.may_follow_up()


def test_take_is_refused_while_a_request_or_a_response_is_on() -> None:
    gate = FollowUpGate()
    gate.on_server_event(created("resp_vad"))  # turn detection: no request
    with pytest.raises(RuntimeError, match="active or requested"):
        gate.take("relay_1")
    gate.on_server_event(done("resp_vad"))
    gate.take("relay_1")
    with pytest.raises(RuntimeError):
        gate.take("relay_2")
    gate.release("relay_1")  # the send did not happen
    assert gate.may_follow_up()


def test_out_of_band_responses_do_not_hold_the_follow_up() -> None:
    gate = FollowUpGate()
    gate.on_server_event(created("resp_oob", conversation_id=None))
    assert gate.may_follow_up()


def test_the_relays_refused_follow_up_is_owed_again_even_after_a_created_took_it() -> None:
    """Turn detection's response.created settles the oldest request (the relay's); the refusal
    that names it later says the created was not its: the follow-up is owed again."""
    gate = FollowUpGate()
    gate.take("relay_1")
    gate.client_request("evt_2")
    gate.on_server_event(created("resp_vad"))
    assert gate.pending == ("evt_2",)
    assert gate.on_server_event(refusal("relay_1")) is Settled.OWN_REFUSED
    assert gate.pending == ("evt_2",)  # answered after relay_1: still on its way
    assert gate.on_server_event(refusal("relay_1")) is None  # already settled: nothing more
    assert gate.on_server_event(refusal("evt_2")) is None  # the client's: forwarded, not retried
    assert gate.may_follow_up() is False  # resp_vad is still active


def test_a_refusal_without_an_event_id_settles_the_oldest_request() -> None:
    gate = FollowUpGate()
    gate.take("relay_1")
    gate.client_request("evt_2")
    assert gate.on_server_event(refusal(None)) is Settled.OWN_REFUSED
    assert gate.pending == ("evt_2",)
    assert gate.on_server_event(error("server_error")) is None  # not a refusal: settles nothing
    assert gate.pending == ("evt_2",)
    gate.reset()
    assert gate.may_follow_up()


class RelayBetweenClientAndService(RuleBasedStateMachine):
    """The relay's gate against a service model, with a client and turn detection racing it.

    Invariants: the gate never counts more requests than are truly unanswered (nothing waits for
    an answer that came: no hang); with no turn-detection response racing a request, the relay's
    follow-up is never refused; when all is quiet the gate is open; and in the end every follow-up
    owed is accepted by the service exactly once, refused ones included (never twice, and not
    always once when the service does not echo event ids and turn detection raced a request).
    """

    def __init__(self) -> None:
        super().__init__()
        self.gate = FollowUpGate()
        self.to_service: deque[dict[str, Any]] = deque()
        self.to_relay: deque[dict[str, Any]] = deque()
        self.service_active: str | None = None
        self.out_of_band: list[str] = []
        self.unanswered: set[str] = set()  # requests sent whose answer the relay has not read
        self.wrongly_settled: set[str] = set()  # unanswered, but turn detection's created settled it
        self.owed = 0  # follow-ups due and not sent (refused ones come back)
        self.due = 0  # follow-ups the tool batches asked for, this session
        self.accepted = 0  # follow-ups of the relay's the service accepted, this session
        # Turn detection started a response the relay could not know of when a create was sent.
        self.raced = False
        self.counter = 0
        self.echo = True
        self.beta = False

    def _id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}_{self.counter}"

    @initialize(echo=st.booleans(), beta=st.booleans())
    def service_kind(self, echo: bool, beta: bool) -> None:
        self.echo, self.beta = echo, beta

    # -- the client (never held back) and the relay --

    @rule(valid=st.booleans())
    def client_creates(self, valid: bool) -> None:
        event_id = self._id("evt")
        self.gate.client_request(event_id)
        self.unanswered.add(event_id)
        self.to_service.append({"type": "response.create", "event_id": event_id, "valid": valid})

    @rule()
    def client_creates_out_of_band(self) -> None:
        """Not counted: its response runs beside the conversation."""
        self.to_service.append({"type": "response.create", "event_id": self._id("evt"), "oob": True})

    @rule()
    def a_tool_batch_is_answered(self) -> None:
        self.owed += 1
        self.due += 1

    @rule()
    def a_follow_up_goes_when_the_gate_is_open(self) -> None:
        if self.owed and self.gate.may_follow_up():
            self.owed -= 1
            if any(event.get("vad") for event in self.to_relay):
                self.raced = True  # turn detection's response started: the relay cannot know yet
            event_id = self._id("relay")
            self.gate.take(event_id)
            self.unanswered.add(event_id)
            self.to_service.append({"type": "response.create", "event_id": event_id, "own": True})

    @rule()
    def a_follow_up_send_fails(self) -> None:
        if self.gate.may_follow_up():
            self.gate.take("relay_lost")
            self.gate.release("relay_lost")
            assert self.gate.may_follow_up()

    @precondition(lambda self: bool(self.to_relay))
    @rule()
    def relay_receives(self) -> None:
        event = self.to_relay.popleft()
        answers = event.get("answers", "")
        blurred = event.get("vad") or answers not in self.gate.pending  # its request went to another
        in_conversation = conversation_response_id(event) is not None  # out-of-band ones settle nothing
        if event["type"] == "response.created" and in_conversation and blurred and self.gate.pending:
            # The created settles a request it did not answer (in order: the oldest): the count is
            # short. A request that turn detection's created took leaves its own created to take
            # the next one, and so on down the line.
            self.raced = True
            self.wrongly_settled.add(self.gate.pending[0])
        self.unanswered.discard(event.get("answers", ""))
        self.wrongly_settled.discard(event.get("answers", ""))
        if self.gate.on_server_event(event) is Settled.OWN_REFUSED:
            assert event.get("answers", "").startswith("relay_") or not self.echo
            self.owed += 1

    @rule()
    def session_ends(self) -> None:
        """Everything of the session is gone, on both sides; a new one starts."""
        self.gate.reset()
        assert self.gate.may_follow_up()
        self.to_service.clear()
        self.to_relay.clear()
        self.service_active = None
        self.out_of_band.clear()
        self.unanswered.clear()
        self.wrongly_settled.clear()
        self.owed = self.due = self.accepted = 0
        self.raced = False

    # -- the service --

    @precondition(lambda self: bool(self.to_service))
    @rule()
    def service_receives(self) -> None:
        event = self.to_service.popleft()
        event_id = event["event_id"]
        if event.get("oob"):
            response_id = self._id("resp_oob")
            self.out_of_band.append(response_id)
            self.to_relay.append(created(response_id, conversation_id=None))
        elif not event.get("valid", True):
            self.to_relay.append({**error("invalid_value", event_id), "answers": event_id})
        elif self.service_active is not None:
            if event.get("own"):
                assert self.raced, f"the relay's follow-up met an active response: {self.gate!r}"
            answer = refusal(event_id if self.echo else None, beta=self.beta)
            self.to_relay.append({**answer, "answers": event_id})
        else:
            response_id = self._id("resp")
            self.service_active = response_id
            self.accepted += bool(event.get("own"))
            self.to_relay.append({**created(response_id), "answers": event_id})

    @precondition(lambda self: self.service_active is None)
    @rule()
    def turn_detection_starts_a_response(self) -> None:
        response_id = self._id("resp_vad")
        if any(not event.get("oob") for event in self.to_service):
            self.raced = True  # a create on its way will meet it; the relay cannot know yet
        self.service_active = response_id
        self.to_relay.append({**created(response_id), "vad": True})

    @precondition(lambda self: self.service_active is not None)
    @rule()
    def service_finishes(self) -> None:
        assert self.service_active is not None
        self.to_relay.append(done(self.service_active))
        self.service_active = None

    @precondition(lambda self: bool(self.out_of_band))
    @rule()
    def an_out_of_band_response_finishes(self) -> None:
        self.to_relay.append(done(self.out_of_band.pop(0)))

    # -- checks --

    @invariant()
    def never_counts_more_than_is_unanswered(self) -> None:
        assert len(self.gate.pending) <= len(self.unanswered), self.gate

    @invariant()
    def counts_exactly_what_turn_detection_did_not_blur(self) -> None:
        """With echoed ids, the requests counted are exactly the unanswered ones less those a
        turn-detection created settled (a relay cannot tell that created from an answer)."""
        if self.echo:
            pending = set(self.gate.pending)
            assert not pending & self.wrongly_settled
            assert pending | self.wrongly_settled == self.unanswered, self.gate

    @invariant()
    def quiet_means_open(self) -> None:
        if not self.to_service and not self.to_relay and self.service_active is None:
            assert self.gate.may_follow_up(), f"stuck with nothing in flight: {self.gate!r}"

    @rule()
    def everything_settles(self) -> None:
        """Turn detection and the client rest: every follow-up owed is sent and accepted, once."""
        for _ in range(10_000):
            if self.to_relay:
                self.relay_receives()
            elif self.to_service:
                self.service_receives()
            elif self.service_active is not None:
                self.service_finishes()
            elif self.out_of_band:
                self.an_out_of_band_response_finishes()
            elif self.owed:
                self.a_follow_up_goes_when_the_gate_is_open()
                assert self.to_service, f"a follow-up owed cannot go: {self.gate!r}"
            else:
                break
        assert self.owed == 0
        assert self.accepted <= self.due, "a follow-up was sent twice"
        if self.echo or not self.raced:
            # A service that does not echo event ids leaves a refusal ambiguous when turn
            # detection raced a request: the count stays safe, but a follow-up may be lost.
            assert self.accepted == self.due, "a follow-up was lost"


TestRelayBetweenClientAndService = RelayBetweenClientAndService.TestCase
TestRelayBetweenClientAndService.settings = STATEFUL
