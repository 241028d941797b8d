"""Fuzz the pure protocol core: mutated captures and random event sequences.

Properties: ``RealtimeConversation.process_event`` raises nothing but ``ConversationError`` (its
documented error, also for non-dict events), never mutates the event, and keeps the cache
consistent: every item of ``get_items()`` is found by ``get_item(id)``, ids are unique, and an
item's ``formatted["audio"]`` holds exactly the decoded samples of the audio deltas accepted for it,
cut at the last truncation. The dialect layer's config translation raises only
``ConfigurationError``; RealtimeAPI + RealtimeClient fed the same frames report problems as
``error`` events and never through a failing handler.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_rt import RealtimeClient
from agent_rt.errors import ConfigurationError, ConversationError
from agent_rt.protocol.conversation import RealtimeConversation
from agent_rt.protocol.dialect import (
    config_to_wire,
    flatten_config,
    merge_config,
    normalize_event_type,
    read_setting,
    turn_detection_enabled,
)

from .corpus import CREATING_EVENTS, capture_sessions, junk, mutated_sequence, random_sequence
from .profiles import FUZZ, TIMEOUT

pytestmark = pytest.mark.timeout(TIMEOUT)

_AUDIO_DELTAS = ("response.output_audio.delta", "response.audio.delta")


def _samples(delta: Any) -> int:
    if isinstance(delta, str) and delta:
        return len(base64.b64decode(delta)) // 2
    return 0


def feed(events: list[Any]) -> RealtimeConversation:
    """Feed ``events``, checking the error contract and the cache after every event."""
    conv = RealtimeConversation()
    expected: dict[str, int] = {}  # item id -> samples the cache must hold
    for event in events:
        snapshot = copy.deepcopy(event)
        kind = event.get("type") if isinstance(event, dict) else None
        item = event.get("item") if isinstance(event, dict) else None
        created_id = item.get("id") if isinstance(item, dict) and kind in CREATING_EVENTS else None
        is_new = isinstance(created_id, str) and conv.get_item(created_id) is None
        try:
            conv.process_event(event)
        except ConversationError as exc:
            accepted = False
            error_event = exc.event
            assert error_event is None or isinstance(error_event, dict)
        else:
            accepted = True
        assert event == snapshot, "process_event mutated its event"
        if accepted and isinstance(event, dict):
            kind = normalize_event_type(kind) if isinstance(kind, str) else kind
            item_id = event.get("item_id")
            if is_new and isinstance(created_id, str):
                parts = item.get("content") if isinstance(item, dict) else None
                has_audio = isinstance(parts, list) and any(
                    isinstance(p, dict) and "audio" in p for p in parts
                )
                if has_audio:
                    expected.pop(created_id, None)  # audio given whole in the item: not tracked
                else:
                    expected[created_id] = 0
            if kind in ("response.output_audio.delta",) and isinstance(item_id, str) and item_id in expected:
                expected[item_id] += _samples(event.get("delta"))
            elif kind == "conversation.item.truncated" and item_id in expected:
                end = int(event["audio_end_ms"] * 24000 // 1000)
                expected[item_id] = min(expected[item_id], end)
            elif kind == "conversation.item.deleted" and isinstance(item_id, str):
                expected.pop(item_id, None)
            elif kind == "conversation.item.retrieved" and isinstance(created_id, str):
                expected.pop(created_id, None)  # retrieved audio replaces what was streamed
        check_cache(conv, expected)
    return conv


def check_cache(conv: RealtimeConversation, expected: dict[str, int]) -> None:
    items = conv.get_items()
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)), f"duplicate items in the conversation: {ids}"
    for item in items:
        assert conv.get_item(item["id"]) is item
        formatted = item["formatted"]
        assert isinstance(formatted["text"], str)
        assert isinstance(formatted["transcript"], str)
        assert formatted["audio"].dtype.itemsize == 2
    for item_id, samples in expected.items():
        cached = conv.get_item(item_id)
        if cached is not None:
            assert len(cached["formatted"]["audio"]) == samples, (item_id, samples)


@FUZZ
@given(mutated_sequence())
def test_mutated_captures_keep_the_cache_consistent(case: tuple[str, list[Any]]) -> None:
    _, events = case
    feed(events)


@FUZZ
@given(random_sequence)
def test_random_sequences_keep_the_cache_consistent(events: list[Any]) -> None:
    feed(events)


def test_unmutated_captures_feed_without_errors() -> None:
    from .corpus import captures

    for _, events in captures():
        conv = RealtimeConversation()
        for event in events:
            conv.process_event(copy.deepcopy(event))


@FUZZ
@given(
    st.one_of(
        st.none(), st.integers(), st.text(max_size=5), st.lists(junk, max_size=2), st.binary(max_size=3)
    )
)
def test_a_non_dict_event_is_a_conversation_error(event: Any) -> None:
    conv = RealtimeConversation()
    try:
        conv.process_event(event)
    except ConversationError:
        pass
    else:
        raise AssertionError("a non-dict event was accepted")


# -- the dialect layer -----------------------------------------------------------------------------


@st.composite
def session_config(draw: st.DrawFn) -> dict[str, Any]:
    sessions = capture_sessions()
    config: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(sessions))) if sessions else {}
    flat_keys = [
        "modalities",
        "output_modalities",
        "voice",
        "input_audio_format",
        "output_audio_format",
        "turn_detection",
        "audio",
        "max_response_output_tokens",
        "max_output_tokens",
        "temperature",
        "tools",
    ]
    for _ in range(draw(st.integers(0, 4))):
        key = draw(st.sampled_from(flat_keys + sorted(config)))
        if draw(st.integers(0, 3)) == 0:
            config.pop(key, None)
        else:
            config[key] = draw(
                st.one_of(
                    junk,
                    st.sampled_from(
                        ["pcm16", "g711_ulaw", {"type": "audio/pcmu"}, ["text"], ["audio", "text"]]
                    ),
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "input": st.one_of(
                                junk,
                                st.fixed_dictionaries({}, optional={"format": junk, "turn_detection": junk}),
                            ),
                            "output": st.one_of(
                                junk, st.fixed_dictionaries({}, optional={"format": junk, "voice": junk})
                            ),
                        },
                    ),
                )
            )
    return config


@FUZZ
@given(session_config(), session_config(), st.sampled_from(["ga", "beta"]))
def test_dialect_config_translation_raises_only_configuration_errors(
    config: dict[str, Any], update: dict[str, Any], dialect: str
) -> None:
    given_config, given_update = copy.deepcopy(config), copy.deepcopy(update)
    for step in (
        lambda: config_to_wire(config, dialect),  # type: ignore[arg-type]
        lambda: config_to_wire(config, dialect, session=False),  # type: ignore[arg-type]
        lambda: config_to_wire(merge_config(flatten_config(config), flatten_config(update)), dialect),  # type: ignore[arg-type]
        lambda: read_setting(config, "turn_detection"),
        lambda: turn_detection_enabled(config),
    ):
        try:
            result = step()
        except ConfigurationError:
            continue
        assert result is None or isinstance(result, (dict, bool, str, int, float, list))
    assert config == given_config, "the dialect layer mutated its input"
    assert update == given_update, "the dialect layer mutated its input"


@FUZZ
@given(st.text(max_size=40))
def test_normalize_event_type_is_total_on_strings(name: str) -> None:
    assert isinstance(normalize_event_type(name), str)


# -- the same frames through RealtimeAPI and RealtimeClient (no socket) ----------------------------


def _frames(events: list[Any], data: st.DataObject) -> list[str | bytes]:
    frames: list[str | bytes] = []
    for event in events:
        frames.append(json.dumps(event, default=repr))
        if data.draw(st.integers(0, 15)) == 0:
            frames.append(data.draw(st.one_of(st.text(max_size=10), st.binary(max_size=4))))
    return frames


@FUZZ
@given(mutated_sequence(), st.data())
def test_client_reports_bad_frames_as_error_events(case: tuple[str, list[Any]], data: st.DataObject) -> None:
    dialect, events = case
    client = RealtimeClient(
        url="ws://127.0.0.1:9/v1/realtime", api_key="test", protocol=dialect, plugins=False
    )
    errors: list[Any] = []
    client.on("error", errors.append)
    client.realtime.on("error", errors.append)
    for frame in _frames(events, data):
        client.realtime._on_message(frame)
    handler_errors = [e for e in errors if isinstance(e, dict) and e.get("type") == "handler_error"]
    assert not handler_errors, handler_errors[0]
    for item in client.conversation.get_items():
        assert client.conversation.get_item(item["id"]) is item
