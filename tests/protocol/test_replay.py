"""Replay real recorded server traffic (tests/protocol/fixtures) through RealtimeConversation.

The expected final state of each item is read from the captures themselves, independently of the
cache: the last ``response.output_item.done`` / ``conversation.item.done`` (or, for beta user items,
the ``conversation.item.created`` with ``status: completed``), then patched with what later events
say: a text/transcript/content-part ``.done`` event that comes after the item's final event (only in the
GA file, whose events are not in chronological order) has the last word on that part;
``conversation.item.input_audio_transcription.completed`` puts the transcript on the user item,
``conversation.item.truncated`` clears the assistant transcript (the service drops it; the cache
follows), ``conversation.item.deleted`` removes the item.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agent_rt.protocol.conversation import ConversationUpdate, RealtimeConversation

from .node_log import ELIDED, NodeLogError, parse_events, parse_value
from .wire import Event

FIXTURES = Path(__file__).parent / "fixtures"
_BANYAN = "beta_webrtc_gpt-4o-realtime-preview-2024-12-17_{}__ctvidic-banyan-landing_docs-{}.jsonl"
BETA_LOG_1 = _BANYAN.format("fncall_interruptions", "log_1")
BETA_LOG_2 = _BANYAN.format("greeting_interrupt", "log_2")
GA_LOG = (
    "ga_websocket_gpt-realtime_sip_bridge__bravedigger-openai_realtime_sip_gateway_openai_realtime.cpp.jsonl"
)
NODE_LOG = "beta_websocket_text_response__liusida-dictionary_Server2_OpenAI-Realtime-API-responses-example.md"

FINAL_EVENTS = ("response.output_item.done", "conversation.item.done")
_PART_FIELDS = {
    "response.content_part.done": "part",
    "response.output_audio_transcript.done": "transcript",
    "response.audio_transcript.done": "transcript",
    "response.output_text.done": "text",
    "response.text.done": "text",
}


def jsonl_server_events(name: str, part: str | None = None) -> list[Event]:
    events = []
    for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["direction"] == "server" and (part is None or record.get("part") == part):
            events.append(record["event"])
    return events


def node_log_events() -> list[Event]:
    return parse_events((FIXTURES / NODE_LOG).read_text(encoding="utf-8"))


@dataclass
class Replay:
    conv: RealtimeConversation
    updates: list[tuple[Event, ConversationUpdate]]

    def count(self, flag: str) -> Counter[str]:
        return Counter(
            update.item["id"]
            for _, update in self.updates
            if update.item is not None and getattr(update, flag)
        )


def replay(events: list[Event]) -> Replay:
    """Feed every event (a ConversationError fails the test) and check none was mutated."""
    given = copy.deepcopy(events)
    conv = RealtimeConversation()
    updates = [(event, conv.process(event)) for event in given]
    assert given == events, "the conversation mutated an event dict"
    return Replay(conv, updates)


@dataclass
class Oracle:
    """What the capture says each item ends up as."""

    final: dict[str, dict[str, Any]] = field(default_factory=dict)
    truncated: dict[str, int] = field(default_factory=dict)  # item id -> content index
    deleted: set[str] = field(default_factory=set)
    input_transcripts: dict[str, tuple[int, str]] = field(default_factory=dict)
    in_conversation: dict[str, str | None] = field(default_factory=dict)  # item id -> previous_item_id
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    late_patches: list[str] = field(default_factory=list)  # ids of part events that came after the final item

    @classmethod
    def of(cls, events: list[Event]) -> Oracle:
        oracle = cls()
        for event in events:
            kind = event["type"]
            if kind in FINAL_EVENTS:
                oracle.final[event["item"]["id"]] = copy.deepcopy(event["item"])
            if kind in ("conversation.item.created", "conversation.item.added", "conversation.item.done"):
                item = event["item"]
                oracle.in_conversation.setdefault(item["id"], event.get("previous_item_id"))
                if kind != "conversation.item.done" and item.get("status") == "completed":
                    oracle.final.setdefault(item["id"], copy.deepcopy(item))
            elif kind in _PART_FIELDS and event.get("item_id") in oracle.final:
                content = oracle.final[event["item_id"]].setdefault("content", [])
                index = event["content_index"]
                if kind == "response.content_part.done":
                    content[index] = copy.deepcopy(event["part"])
                else:
                    content[index][_PART_FIELDS[kind]] = event[_PART_FIELDS[kind]]
                oracle.late_patches.append(event["event_id"])
            elif kind == "conversation.item.truncated":
                oracle.truncated[event["item_id"]] = event["content_index"]
            elif kind == "conversation.item.deleted":
                oracle.deleted.add(event["item_id"])
            elif kind == "conversation.item.input_audio_transcription.completed":
                oracle.input_transcripts[event["item_id"]] = (event["content_index"], event["transcript"])
            elif kind == "response.done":
                oracle.responses[event["response"]["id"]] = event["response"]
        return oracle

    def expected_content(self, item_id: str) -> list[dict[str, Any]]:
        content = copy.deepcopy(self.final[item_id].get("content") or [])
        if item_id in self.input_transcripts:
            index, transcript = self.input_transcripts[item_id]
            content[index]["transcript"] = transcript
        if item_id in self.truncated:
            content[self.truncated[item_id]]["transcript"] = ""
        return content

    def expected_transcript(self, item_id: str) -> str:
        if item_id in self.truncated:
            return ""
        if item_id in self.input_transcripts:
            return self.input_transcripts[item_id][1]
        return "".join(p.get("transcript") or "" for p in self.final[item_id].get("content") or [])

    def expected_text(self, item_id: str) -> str:
        return "".join(p.get("text") or "" for p in self.final[item_id].get("content") or [])


def assert_items_match(replayed: Replay, oracle: Oracle) -> None:
    conv = replayed.conv
    assert oracle.final, "the capture has no final items"
    for item_id, final in oracle.final.items():
        cached = conv.get_item(item_id)
        if item_id in oracle.deleted:
            assert cached is None
            continue
        assert cached is not None, item_id
        for key in ("id", "object", "type", "role", "status", "name", "call_id", "arguments", "output"):
            assert cached.get(key) == final.get(key), (item_id, key)
        assert cached["content"] == oracle.expected_content(item_id), item_id
        formatted = cached["formatted"]
        assert formatted["transcript"] == oracle.expected_transcript(item_id), item_id
        assert formatted["text"] == oracle.expected_text(item_id), item_id
        if final["type"] == "function_call":
            assert formatted["tool"] == {
                "type": "function",
                "name": final["name"],
                "call_id": final["call_id"],
                "arguments": final["arguments"],
            }


def assert_flags(replayed: Replay, oracle: Oracle) -> None:
    completed = replayed.count("completed")
    assert max(completed.values(), default=0) <= 1, completed
    for item_id, final in oracle.final.items():
        assert completed[item_id] == (1 if final.get("status") == "completed" else 0), item_id
    appended = replayed.count("appended")
    assert set(appended) == set(oracle.in_conversation)
    assert set(appended.values()) == {1}


def assert_responses(replayed: Replay, oracle: Oracle) -> None:
    assert oracle.responses
    for response_id, final in oracle.responses.items():
        cached = replayed.conv.get_response(response_id)
        assert cached is not None
        assert cached["status"] == final["status"]
        assert cached["status_details"] == final["status_details"]
        assert cached["usage"] == final.get("usage")
        if "output" in final:
            assert cached["output"] == [item["id"] for item in final["output"]]


# -- beta WebRTC captures (chronological) ------------------------------------------------------


@pytest.mark.parametrize("name", [BETA_LOG_1, BETA_LOG_2], ids=["log_1", "log_2"])
def test_beta_capture_replays_to_final_items(name: str) -> None:
    events = jsonl_server_events(name)
    replayed = replay(events)
    oracle = Oracle.of(events)
    assert oracle.late_patches == []  # chronological: every part event precedes its item's final event
    assert_items_match(replayed, oracle)
    assert_flags(replayed, oracle)
    assert_responses(replayed, oracle)
    # every input transcript ended up on its user item
    for item_id, (_, transcript) in oracle.input_transcripts.items():
        item = replayed.conv.get_item(item_id)
        assert item is not None
        assert item["role"] == "user"
        assert item["formatted"]["transcript"] == transcript


@pytest.mark.parametrize("name", [BETA_LOG_1, BETA_LOG_2], ids=["log_1", "log_2"])
def test_beta_capture_item_order_follows_previous_item_ids(name: str) -> None:
    events = jsonl_server_events(name)
    oracle = Oracle.of(events)
    items = [item["id"] for item in replay(events).conv.get_items()]
    assert sorted(items) == sorted(oracle.in_conversation)
    assert oracle.in_conversation[items[0]] is None
    for previous, item_id in itertools.pairwise(items):
        assert oracle.in_conversation[item_id] == previous


def test_beta_log_1_details() -> None:
    """Spot checks of what the capture shows, so the oracle itself is checked against known facts."""
    events = jsonl_server_events(BETA_LOG_1)
    assert len(events) == 414
    replayed = replay(events)
    conv = replayed.conv
    items = conv.get_items()
    assert len(items) == 21
    assert [i["type"] for i in items].count("function_call") == 1
    call = conv.get_item("item_BaPtftRlSksSFbdHsj0OZ")
    assert call is not None
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta")
    assert call["formatted"]["tool"]["arguments"] == deltas
    assert call["formatted"]["tool"]["name"] == "transferToSupervisor"
    assert json.loads(deltas)  # the streamed arguments form one JSON document
    assert conv.response_of("item_BaPtftRlSksSFbdHsj0OZ") == "resp_BaPtbPrPNx7k1k6Gl19Lx"
    # barge-in: the item cut at 20 ms lost its transcript "Okay, to best"; the untouched one keeps its own
    cut = conv.get_item("item_BaPtaOCkNJBMKTaklmBnQ")
    assert cut is not None
    assert cut["status"] == "incomplete"
    assert cut["formatted"]["transcript"] == ""
    kept = conv.get_item("item_BaPshXGi8GvHWZeZWLcq6")
    assert kept is not None
    assert kept["formatted"]["transcript"].startswith("I'm here to help!")
    assert len(Oracle.of(events).truncated) == 5
    cancelled = [r for r in Oracle.of(events).responses.values() if r["status"] == "cancelled"]
    assert len(cancelled) == 8
    # transcripts of different turns arrived out of order; each is on its own item
    user = conv.get_item("item_BaPtPuO0nN5xZuigb5Qav")
    assert user is not None
    assert user["formatted"]["transcript"] == "I just can't get over it.\n"


# -- GA capture (individual events are not in chronological order) ----------------------------


def test_ga_capture_replays_to_final_items() -> None:
    events = jsonl_server_events(GA_LOG)
    replayed = replay(events)
    oracle = Oracle.of(events)
    assert set(oracle.final) == {
        "item_CsZyLdZ3sHZ2DniSNrTKs",
        "item_Ct1OXLqYLre7VW2Bz9Eoy",
        "item_Ct1OhVepyDFpDovHrgmNp",
    }
    # In file order the transcript.done of the first run's reply comes after its output_item.done (and says
    # something else: the author pasted these from different moments); the cache follows the later event.
    assert oracle.late_patches == ["event_CsZyNlwuZTwgsto2LiqQf"]
    assert_items_match(replayed, oracle)
    assert_flags(replayed, oracle)
    assert_responses(replayed, oracle)


def test_ga_capture_conversation_and_out_of_band_items() -> None:
    events = jsonl_server_events(GA_LOG)
    conv = replay(events).conv
    listed = [item["id"] for item in conv.get_items()]
    oracle = Oracle.of(events)
    assert sorted(listed) == sorted(oracle.in_conversation)
    for item_id in listed:  # an item whose previous item is listed comes right after it
        previous = oracle.in_conversation[item_id]
        if previous in listed:
            assert listed.index(previous) + 1 == listed.index(item_id)
    # output items whose conversation.item.added was not captured: tracked by id, never listed
    for item_id in ("item_CsZyLdZ3sHZ2DniSNrTKs", "item_Ct1OZd4ZkrcbhoRueeC2O"):
        assert item_id not in listed
        assert conv.get_item(item_id) is not None
    first_reply = conv.get_item("item_Ct1OZd4ZkrcbhoRueeC2O")
    assert first_reply is not None
    assert conv.response_of("item_Ct1OZd4ZkrcbhoRueeC2O") == "resp_Ct1OZ5ukpGEZNeUWx1iOH"
    part_done = next(e for e in events if e["type"] == "response.content_part.done")
    assert first_reply["content"] == [part_done["part"]]


def test_ga_ordered_second_turn_flags() -> None:
    """The author's in-order capture of a turn start: appended/completed fire where the protocol says."""
    events = jsonl_server_events(GA_LOG, part="ordered_sequence_second_turn")
    replayed = replay(events)
    flags = [(e["type"], u.appended, u.completed) for e, u in replayed.updates if u.appended or u.completed]
    assert flags == [
        ("conversation.item.added", True, True),  # the committed user item, complete on arrival
        ("conversation.item.added", True, False),  # the assistant item, still in progress
    ]
    conv = replayed.conv
    assert [item["id"] for item in conv.get_items()] == [
        "item_Ct1OhVepyDFpDovHrgmNp",
        "item_Ct1OkNEvGW5s0xZERnV95",
    ]
    reply = conv.get_item("item_Ct1OkNEvGW5s0xZERnV95")
    assert reply is not None
    assert reply["formatted"]["transcript"] == "The"
    assert reply["content"] == [{"type": "audio", "transcript": "The"}]


# -- beta WebSocket text response (Node console log) -----------------------------------------


def test_node_log_text_response() -> None:
    events = node_log_events()
    assert len(events) == 85
    assert [e["type"] for e in events].count("response.text.delta") == 77
    replayed = replay(events)
    conv = replayed.conv
    item_id = "item_C1PSbur7hgTONg4H8lKhl"
    assert [item["id"] for item in conv.get_items()] == [item_id]
    item = conv.get_item(item_id)
    assert item is not None
    text_done = next(e for e in events if e["type"] == "response.text.done")["text"]
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.text.delta")
    assert deltas == text_done
    assert json.loads(text_done)["word"] == "pending"
    assert item["formatted"]["text"] == text_done
    assert item["content"] == [{"type": "text", "text": text_done}]
    assert item["status"] == "completed"
    assert replayed.count("completed") == Counter({item_id: 1})
    assert replayed.count("appended") == Counter({item_id: 1})
    response = conv.get_response("resp_C1PSbsyhar4EpjNZg9fkB")
    assert response is not None
    assert response["status"] == "completed"
    assert response["usage"] == {"total_tokens": 151, "input_tokens": 72, "output_tokens": 79}
    assert response["output"] == [item_id]  # from output_item.added: the printed output list was elided


# -- the Node console-log reader itself ------------------------------------------------------


def test_node_reader_values() -> None:
    text = """{
  type: 'x',
  n: -1.5e3,
  i: 42,
  flags: [ true, false, null, undefined ],
  'quoted key': "it's",
  tpl: `both ' and "`,
  joined: 'a\\n' +
    "b" +
    `c`,
  esc: 'tab\\there \\u00e9 \\x41 \\\\ \\'q\\'',
  nested: { deep: [Object], list: [ [Object] ], keep: [] }
}"""
    value = parse_value(text)
    assert value["type"] == "x"
    assert value["n"] == -1500.0
    assert value["i"] == 42
    assert value["flags"] == [True, False, None, None]
    assert value["quoted key"] == "it's"
    assert value["tpl"] == "both ' and \""
    assert value["joined"] == "a\nbc"
    assert value["esc"] == "tab\there é A \\ 'q'"
    assert value["nested"]["deep"] is ELIDED
    assert value["nested"]["list"] == [ELIDED]


def test_node_reader_drops_elided_fields_and_skips_console_lines() -> None:
    log = "\n".join(
        [
            "[API] some console line",
            "```js",
            "{",
            "  type: 'a',",
            "  item: { id: 'i', content: [ [Object] ], extra: [Object], keep: 1 }",
            "}",
            "No pending context for response undefined",
            "{",
            "  type: 'b'",
            "}",
            "```",
        ]
    )
    assert parse_events(log) == [{"type": "a", "item": {"id": "i", "keep": 1}}, {"type": "b"}]


@pytest.mark.parametrize(
    "bad", ["{ a: 1", "{ a: foo }", "{ a: 'x' + 1 }", "{ a: 1 } }", "{ a: 'unterminated }"]
)
def test_node_reader_rejects_what_it_does_not_understand(bad: str) -> None:
    with pytest.raises(NodeLogError):
        parse_value(bad)
