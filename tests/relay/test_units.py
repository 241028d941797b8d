"""The relay's pure parts, fed values: the type peek, limits, usage, policy rewrites, upstream URLs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_rt.relay import create_relay_app
from agent_rt.relay.limits import Limits, RateLimiter, SessionSlots, SlotTicket
from agent_rt.relay.peek import peek_type
from agent_rt.relay.policy import locked_session, merge_tools, strip_locked, strip_model, wire_lock
from agent_rt.relay.tools import ClientAnswers
from agent_rt.relay.upstream import (
    OPENAI_REALTIME_URL,
    resolve_upstream,
    rest_base,
    session_headers,
    session_url,
)
from agent_rt.relay.usage import UsageLedger, usage_of
from agent_rt.tools import ToolRegistry, function_tool

AUDIO = "QUJD" * 3000

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


@given(
    before=st.dictionaries(st.text(max_size=10).filter(lambda k: k != "type"), json_values, max_size=3),
    after=st.dictionaries(st.text(max_size=10).filter(lambda k: k != "type"), json_values, max_size=3),
    kind=st.text(max_size=30),
    padding=st.sampled_from(["", AUDIO]),
    indent=st.sampled_from([None, 1]),
)
def test_peek_agrees_with_the_json_parser(
    before: dict[str, Any], after: dict[str, Any], kind: str, padding: str, indent: int | None
) -> None:
    event = {**before, "pad": padding, "type": kind, **after}
    assert peek_type(json.dumps(event, indent=indent)) == kind
    assert peek_type(json.dumps(event, ensure_ascii=False)) == kind


def test_peek_reads_only_the_top_level_type() -> None:
    nested = {"item": {"type": "message", "content": [{"type": "input_audio", "audio": AUDIO}]}}
    assert peek_type(json.dumps({**nested, "type": "conversation.item.create"})) == "conversation.item.create"
    assert peek_type(json.dumps(nested)) is None
    assert peek_type(json.dumps({"delta": 'a "quoted" \\"type\\": "x"' * 100, "type": "t"})) == "t"
    assert peek_type(json.dumps({"type": 5, "pad": AUDIO})) is None
    assert peek_type("[1, 2]") is None
    assert peek_type("not json" + AUDIO) is None
    assert peek_type('{"type": "cut' + AUDIO) is None


def test_peek_never_disagrees_with_a_parser_that_keeps_the_last_key() -> None:
    tricky = [
        '{"type":"input_audio_buffer.append","audio":"' + AUDIO + '","type":"session.update"}',
        '{"type":"input_audio_buffer.append","typ\\u0065":"session.update"}',
        '{"audio":"' + AUDIO + '","type":"input_audio_buffer.append","type":"session.update"}',
    ]
    for text in tricky:
        assert peek_type(text) is None, text
    assert (
        peek_type('{"type":"conversation.item.create","item":{"type":"message"}}')
        == "conversation.item.create"
    )
    assert (
        peek_type('{"type":"response.create","response":{"instructions":"caf\\u00e9"}}') == "response.create"
    )


def test_rate_limiter_allows_the_burst_then_the_rate() -> None:
    limiter = RateLimiter(rate=10, burst=3, now=0.0)
    assert [limiter.allow(0.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow(0.05) is False  # half a token back
    assert limiter.allow(0.1) is True
    assert [limiter.allow(10.0) for _ in range(4)] == [True, True, True, False]  # capped at the burst


def test_session_slots_and_tickets() -> None:
    slots = SessionSlots(Limits(max_sessions=2, max_sessions_per_identity=1))
    assert slots.acquire("a") is None
    assert slots.acquire("a") == "too many concurrent sessions for this identity (limit 1)"
    ticket = SlotTicket(slots, "b")
    assert slots.acquire("b") is None
    assert slots.acquire("c") == "too many concurrent sessions on this relay (limit 2)"
    ticket.release()
    ticket.release()  # once only
    assert (slots.total, dict(slots.per_identity)) == (1, {"a": 1})


def test_usage_of_response_done() -> None:
    response = {
        "usage": {
            "total_tokens": 30,
            "input_tokens": 20,
            "output_tokens": 10,
            "input_token_details": {"text_tokens": 5, "audio_tokens": 15, "cached_tokens": 4},
            "output_token_details": {"text_tokens": 2, "audio_tokens": 8},
        }
    }
    counts = usage_of(response)
    assert counts == {
        "total": 30,
        "input": 20,
        "output": 10,
        "input_text": 5,
        "input_audio": 15,
        "input_cached": 4,
        "output_text": 2,
        "output_audio": 8,
    }
    assert usage_of({"usage": None}) == {}
    assert usage_of({"usage": {"input_tokens": 3, "output_tokens": True}}) == {"input": 3, "total": 3}
    ledger = UsageLedger()
    ledger.add("a", counts)
    ledger.add("a", counts)
    assert ledger.spent("a") == 60
    assert ledger.spent("nobody") == 0


def test_lock_rewrites() -> None:
    lock = {"instructions": "fixed", "voice": "marin", "model": "gpt-realtime"}
    ga = wire_lock(lock, beta=False)
    assert ga == {"instructions": "fixed", "audio.output.voice": "marin"}
    assert wire_lock(lock, beta=True) == {"instructions": "fixed", "voice": "marin"}
    assert wire_lock({"audio.output.voice": "marin"}, beta=True) == {"voice": "marin"}
    assert wire_lock({"modalities": ["text"]}, beta=False) == {"output_modalities": ["text"]}
    assert locked_session(ga, beta=False) == {
        "type": "realtime",
        "instructions": "fixed",
        "audio": {"output": {"voice": "marin"}},
    }
    assert locked_session({"voice": "alloy"}, beta=True) == {"voice": "alloy"}
    assert locked_session(wire_lock({"model": "m"}, beta=False), beta=False) is None
    session = {"instructions": "mine", "audio": {"output": {"voice": "verse", "speed": 1.2}}, "model": "m"}
    assert strip_locked(session, ga) == ["instructions", "audio.output.voice"]
    assert session == {"audio": {"output": {"speed": 1.2}}, "model": "m"}
    assert strip_model({"model": "x"}, None) is None
    other = {"model": "x", "voice": "y"}
    assert strip_model(other, {"y"}) == "x"
    assert other == {"voice": "y"}


def test_merge_tools_keeps_the_clients_definitions_and_adds_the_relays_others() -> None:
    ours = [
        {"type": "function", "name": "get_time", "parameters": {}},
        {"type": "function", "name": "calculate", "parameters": {}},
    ]
    session = {"tools": [{"type": "function", "name": "get_time"}, {"type": "function", "name": "mine"}]}
    assert merge_tools(session, ours) == ["get_time", "mine"]
    assert session["tools"] == [
        {"type": "function", "name": "get_time"},  # the client's own definition stays
        {"type": "function", "name": "mine"},
        {"type": "function", "name": "calculate", "parameters": {}},
    ]
    untouched: dict[str, Any] = {"instructions": "x"}
    assert merge_tools(untouched, ours) is None
    assert untouched == {"instructions": "x"}


def test_the_tools_update_of_an_open_session_keeps_the_locked_or_the_clients_tools() -> None:
    registry = ToolRegistry()

    @function_tool
    def relay_side(text: str) -> str:
        """Answered by the relay."""
        return text

    registry.add(relay_side)
    relay = create_relay_app(tools=registry).state.relay
    mine = {"type": "function", "name": "relay_side", "parameters": {}}
    update = relay.tools_update([mine, {"type": "function", "name": "other"}], beta=False)
    assert update["type"] == "session.update"
    assert update["session"]["type"] == "realtime"
    assert update["session"]["tools"] == [mine, {"type": "function", "name": "other"}]  # the client's win
    assert [t["name"] for t in relay.tools_update(None, beta=True)["session"]["tools"]] == ["relay_side"]
    assert "type" not in relay.tools_update(None, beta=True)["session"]
    fixed = {"type": "function", "name": "fixed", "parameters": {}}
    locked = create_relay_app(tools=registry, session_lock={"tools": [fixed]}).state.relay
    names = [t["name"] for t in locked.tools_update([mine], beta=False)["session"]["tools"]]
    assert names == ["fixed", "relay_side"]


def test_upstream_resolution_and_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert resolve_upstream(None).embedded
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    service = resolve_upstream(None)
    assert (service.url, service.key) == (OPENAI_REALTIME_URL, "sk-env")
    assert "sk-env" not in repr(service)
    assert resolve_upstream("ws://h/v1/realtime", key_env="NOT_SET_ANYWHERE").key is None
    assert (
        session_url("wss://h/v1/realtime?model=a", "model=b&x=1", None) == "wss://h/v1/realtime?model=b&x=1"
    )
    assert session_url("wss://h/v1/realtime", "model=b", "locked") == "wss://h/v1/realtime?model=locked"
    assert session_headers("k", beta=True) == {"Authorization": "Bearer k", "OpenAI-Beta": "realtime=v1"}
    assert session_headers(None, beta=False) == {}
    assert rest_base("wss://api.openai.com/v1/realtime") == "https://api.openai.com/v1"
    assert rest_base("ws://127.0.0.1:9/v1/realtime/") == "http://127.0.0.1:9/v1"


def test_client_answers_to_relay_calls_and_the_create_after_them_are_dropped() -> None:
    answers = ClientAnswers()
    assert not answers.expecting
    answers.relay_answers("call_1")
    assert answers.expecting
    assert answers.forward_output("call_1") is False
    answers.other_event("input_audio_buffer.append")  # audio keeps flowing meanwhile
    assert answers.forward_create() is False  # the relay's follow-up asks for that response
    assert answers.forward_create() is True  # a second one is the client's own


def test_a_create_after_an_output_of_the_clients_own_goes_up() -> None:
    answers = ClientAnswers()
    answers.relay_answers("call_relay")
    assert answers.forward_output("call_relay") is False
    assert answers.forward_output("call_client") is True
    assert answers.forward_create() is True


def test_a_new_user_turn_makes_the_next_create_the_clients_own() -> None:
    answers = ClientAnswers()
    answers.relay_answers("call_1")
    assert answers.forward_output("call_1") is False
    answers.other_event("conversation.item.create")
    assert answers.forward_create() is True


def test_only_the_latest_calls_are_remembered() -> None:
    answers = ClientAnswers()
    for index in range(ClientAnswers.REMEMBERED + 1):
        answers.relay_answers(f"call_{index}")
    assert answers.forward_output("call_0") is True
    assert answers.forward_output(f"call_{ClientAnswers.REMEMBERED}") is False


_KEYS = st.sampled_from(["type", "audio", "event_id", "item", "typ", "Type"])
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12) | st.just("type"),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=8,
)


@given(pairs=st.lists(st.tuples(_KEYS, _VALUES), min_size=1, max_size=5), ascii_only=st.booleans())
def test_peek_agrees_with_a_parser_that_keeps_the_last_key(
    pairs: list[tuple[str, Any]], ascii_only: bool
) -> None:
    """Frames written key by key (duplicate keys included, as a hostile client may): whatever type
    the relay reads is the one the upstream's parser (last key wins) reads."""
    text = "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v, ensure_ascii=ascii_only)}" for k, v in pairs) + "}"
    kind = peek_type(text)
    if kind is not None:
        assert json.loads(text).get("type") == kind
