"""Event sequences for the fuzzers: the real captures, and hypothesis strategies that mutate them.

The captures (``tests/protocol/fixtures``) are WebRTC and text sessions, so they carry no audio
deltas; the mutations inject synthetic ``response.(output_)audio.delta`` events for the items the
sequence mentions, so the audio bookkeeping is fuzzed too.
"""

from __future__ import annotations

import base64
import copy
import functools
from typing import Any

from hypothesis import strategies as st

from tests.protocol.test_replay import BETA_LOG_1, BETA_LOG_2, GA_LOG, jsonl_server_events, node_log_events

Event = dict[str, Any]


@functools.cache
def captures() -> tuple[tuple[str, tuple[Event, ...]], ...]:
    """Every capture's server events, in wire order, as (dialect, events)."""
    return (
        ("beta", tuple(jsonl_server_events(BETA_LOG_1))),
        ("beta", tuple(jsonl_server_events(BETA_LOG_2))),
        ("ga", tuple(jsonl_server_events(GA_LOG))),
        ("beta", tuple(node_log_events())),
    )


@functools.cache
def capture_sessions() -> tuple[dict[str, Any], ...]:
    """Every ``session`` object in the captures (session.created / session.updated)."""
    sessions = []
    for _, events in captures():
        for event in events:
            if isinstance(event.get("session"), dict):
                sessions.append(event["session"])
    return tuple(sessions)


@functools.cache
def capture_types() -> tuple[str, ...]:
    return tuple(sorted({str(e.get("type")) for _, events in captures() for e in events}))


def mentioned_ids(events: list[Any]) -> list[str]:
    ids: list[str] = []
    for event in events:
        if not isinstance(event, dict):
            continue
        for value in (
            event.get("item_id"),
            (event.get("item") or {}).get("id") if isinstance(event.get("item"), dict) else None,
        ):
            if isinstance(value, str) and value not in ids:
                ids.append(value)
    return ids


# -- strategies ------------------------------------------------------------------------------------

ID_POOL = ["item_a", "item_b", "item_c", "root", ""]

junk: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**40), max_value=2**40),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=6),
        st.sampled_from(ID_POOL),
        st.sampled_from(
            ["audio", "output_audio", "text", "input_audio", "function_call", "completed", "message"]
        ),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)

non_dict_event: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=8),
    st.lists(junk, max_size=3),
    st.booleans(),
    st.binary(max_size=4),
)


def audio_b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@st.composite
def audio_delta(draw: st.DrawFn, item_ids: list[str], dialect: str) -> Event:
    item_id = draw(st.sampled_from(item_ids)) if item_ids else draw(st.sampled_from(ID_POOL))
    size = draw(st.integers(min_value=0, max_value=600))
    raw = (
        draw(st.binary(min_size=size, max_size=size))
        if size < 40
        else bytes(range(256)) * (size // 256) + bytes(size % 256)
    )
    name = "response.output_audio.delta" if dialect == "ga" or draw(st.booleans()) else "response.audio.delta"
    return {
        "type": name,
        "event_id": "event_fuzz",
        "response_id": "resp_fuzz",
        "item_id": item_id,
        "output_index": 0,
        "content_index": 0,
        "delta": audio_b64(raw),
    }


def _mutate_fields(draw: st.DrawFn, target: dict[str, Any]) -> None:
    keys = sorted(target, key=str)
    action = draw(st.sampled_from(["delete", "set", "add"]))
    if action == "add" or not keys:
        target[
            draw(
                st.sampled_from(
                    [
                        "x_unknown",
                        "item_id",
                        "item",
                        "response",
                        "delta",
                        "content_index",
                        "audio_end_ms",
                        "previous_item_id",
                        "part",
                        "session",
                    ]
                )
            )
        ] = draw(junk)
        return
    key = draw(st.sampled_from(keys))
    if action == "delete":
        del target[key]
    else:
        target[key] = draw(junk)


@st.composite
def mutated_sequence(draw: st.DrawFn) -> tuple[str, list[Any]]:
    """A window of one capture with a few random mutations applied."""
    dialect, source = draw(st.sampled_from(captures()))
    start = draw(st.integers(min_value=0, max_value=max(0, len(source) - 1)))
    length = draw(st.integers(min_value=1, max_value=80))
    events: list[Any] = copy.deepcopy(list(source[start : start + length]))
    # windows from the start matter most: most ids are introduced there
    if draw(st.booleans()):
        events = copy.deepcopy(list(source[: start + length]))
    ids = mentioned_ids(events)
    for _ in range(draw(st.integers(min_value=0, max_value=8))):
        op = draw(
            st.sampled_from(
                [
                    "drop",
                    "dup",
                    "swap",
                    "move",
                    "field",
                    "nested",
                    "unknown",
                    "nondict",
                    "audio",
                    "audio",
                    "retype",
                ]
            )
        )
        n = len(events)
        i = draw(st.integers(min_value=0, max_value=max(0, n - 1)))
        if op == "audio":
            events.insert(min(i + 1, n), draw(audio_delta(ids, dialect)))
            continue
        if not events:
            continue
        if op == "drop":
            del events[i]
        elif op == "dup":
            events.insert(i, copy.deepcopy(events[i]))
        elif op in ("swap", "move"):
            j = draw(st.integers(min_value=0, max_value=n - 1))
            if op == "swap":
                events[i], events[j] = events[j], events[i]
            else:
                events.insert(j, events.pop(i))
        elif op == "unknown":
            events.insert(
                i,
                {
                    "type": draw(st.sampled_from(["response.fuzz", "", "conversation.item", "x"])),
                    "item_id": draw(st.sampled_from(ID_POOL)),
                },
            )
        elif op == "nondict":
            events.insert(i, draw(non_dict_event))
        elif op == "retype" and isinstance(events[i], dict):
            events[i]["type"] = draw(st.one_of(st.sampled_from(capture_types()), junk))
        elif op == "field" and isinstance(events[i], dict):
            _mutate_fields(draw, events[i])
        elif op == "nested" and isinstance(events[i], dict):
            nested = [v for v in events[i].values() if isinstance(v, dict)]
            for value in events[i].values():
                if isinstance(value, dict):
                    nested.extend(v for v in value.values() if isinstance(v, dict))
                    nested.extend(p for p in value.get("content") or [] if isinstance(p, dict)) if isinstance(
                        value.get("content"), list
                    ) else None
            if nested:
                _mutate_fields(draw, draw(st.sampled_from(nested)))
    return dialect, events


# -- purely random, protocol-shaped sequences ------------------------------------------------------

_ROLES = ["user", "assistant", "system", None]
_ITEM_TYPES = ["message", "function_call", "function_call_output", None]


@st.composite
def random_item(draw: st.DrawFn) -> dict[str, Any]:
    item: dict[str, Any] = {"id": draw(st.sampled_from(ID_POOL)), "type": draw(st.sampled_from(_ITEM_TYPES))}
    if draw(st.booleans()):
        item["role"] = draw(st.sampled_from(_ROLES))
    if draw(st.booleans()):
        item["status"] = draw(st.sampled_from(["completed", "in_progress", "incomplete", None]))
    if draw(st.booleans()):
        item["content"] = draw(
            st.lists(
                st.one_of(
                    st.fixed_dictionaries(
                        {
                            "type": st.sampled_from(
                                ["output_text", "output_audio", "audio", "text", "input_audio", "input_text"]
                            )
                        },
                        optional={
                            "text": st.one_of(st.text(max_size=4), junk),
                            "transcript": st.one_of(st.text(max_size=4), st.none()),
                        },
                    ),
                    junk,
                ),
                max_size=3,
            )
        )
    for key in ("name", "call_id", "arguments", "output"):
        if draw(st.integers(0, 3)) == 0:
            item[key] = draw(st.one_of(st.text(max_size=4), junk))
    return item


#: Server events that carry a whole item (and so may create it in the cache).
CREATING_EVENTS = (
    "conversation.item.created",
    "conversation.item.added",
    "conversation.item.done",
    "conversation.item.retrieved",
    "response.output_item.added",
    "response.output_item.done",
)


@st.composite
def random_event(draw: st.DrawFn) -> Any:
    kind = draw(
        st.sampled_from(
            [
                *CREATING_EVENTS,
                "conversation.item.truncated",
                "conversation.item.deleted",
                "conversation.item.input_audio_transcription.delta",
                "conversation.item.input_audio_transcription.completed",
                "conversation.item.input_audio_transcription.failed",
                "input_audio_buffer.speech_started",
                "input_audio_buffer.speech_stopped",
                "input_audio_buffer.committed",
                "input_audio_buffer.timeout_triggered",
                "input_audio_buffer.cleared",
                "response.created",
                "response.done",
                "response.content_part.added",
                "response.content_part.done",
                "response.output_text.delta",
                "response.text.done",
                "response.audio_transcript.delta",
                "response.output_audio_transcript.done",
                "response.output_audio.delta",
                "response.audio.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "session.updated",
                "error",
                "nondict",
            ]
        )
    )
    if kind == "nondict":
        return draw(non_dict_event)
    event: dict[str, Any] = {"type": kind, "event_id": "event_r"}
    if kind.endswith("audio.delta") and draw(st.integers(0, 4)):
        event["item_id"] = draw(st.sampled_from(ID_POOL))
        event["delta"] = audio_b64(draw(st.binary(max_size=64)))
        return event
    if (
        "item." in kind and kind.split(".")[-1] in ("created", "added", "done", "retrieved")
    ) or kind.startswith("response.output_item"):
        event["item"] = draw(st.one_of(random_item(), random_item(), junk))
        if draw(st.booleans()):
            event["previous_item_id"] = draw(st.one_of(st.sampled_from(ID_POOL), st.none()))
        if kind.startswith("response.") and draw(st.booleans()):
            event["response_id"] = draw(st.sampled_from(["resp_1", "resp_2"]))
    else:
        for key, values in (
            ("item_id", st.sampled_from(ID_POOL)),
            ("content_index", st.one_of(st.integers(-2, 3), junk)),
            ("audio_end_ms", st.one_of(st.integers(-10, 5000), st.floats(allow_nan=True), junk)),
            ("audio_start_ms", st.one_of(st.integers(-10, 5000), junk)),
            ("delta", st.one_of(st.text(max_size=4), junk)),
            ("text", st.one_of(st.text(max_size=4), junk)),
            ("transcript", st.one_of(st.text(max_size=4), junk)),
            ("arguments", st.one_of(st.text(max_size=4), junk)),
            (
                "part",
                st.one_of(
                    st.fixed_dictionaries({"type": st.sampled_from(["audio", "text", "output_audio"])}), junk
                ),
            ),
            (
                "response",
                st.one_of(
                    st.fixed_dictionaries(
                        {"id": st.sampled_from(["resp_1", "resp_2"])},
                        optional={
                            "output": st.lists(st.one_of(random_item(), junk), max_size=2),
                            "status": junk,
                        },
                    ),
                    junk,
                ),
            ),
            ("session", junk),
        ):
            if draw(st.integers(0, 2)):
                event[key] = draw(values)
    return event


random_sequence = st.lists(random_event(), min_size=1, max_size=40)
