"""Fuzz the local server's sans-I/O state machine with random client-event sequences.

Property: :meth:`RealtimeSession.receive` and :meth:`RealtimeSession.step` never raise; bad input
comes back as ``error`` events (with an ``error`` object carrying ``type`` and ``message``), and
every event the session produces is a JSON-serializable dict with a string ``type``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_rt.audio import pcm16_to_base64
from agent_rt.server import RealtimeSession

from .corpus import junk
from .profiles import FUZZ, TIMEOUT

pytestmark = pytest.mark.timeout(TIMEOUT)

SCENARIO = {
    "rules": [
        {"match": "weather", "calls": [{"name": "get_weather", "arguments": {"location": "Paris"}}]},
        {
            "match": "both",
            "say": "Checking.",
            "calls": [{"name": "a", "arguments": {}}, {"name": "b", "arguments": {}}],
        },
        {"match": "hi", "reply": "Hello there, how are you today?"},
    ],
    "transcripts": ["what is the weather", "hi"],
}
ITEM_IDS = ["item_x", "item_y", "root", ""]
CALL_IDS = ["call_1", "call_x"]

_tone = (0.3 * 32767 * np.sin(2 * np.pi * 440 * np.arange(2400) / 24000)).astype(np.int16)
AUDIO = st.sampled_from(
    [
        pcm16_to_base64(_tone),
        pcm16_to_base64(np.zeros(2400, dtype=np.int16)),
        pcm16_to_base64(_tone[:7]),
        "",
        "@@@",
        "AAA",
    ]
)

maybe = st.one_of(junk, st.sampled_from(ITEM_IDS))

client_item = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("message"), "role": st.sampled_from(["user", "assistant", "system", "x"])},
        optional={
            "id": maybe,
            "content": st.lists(
                st.one_of(
                    st.fixed_dictionaries(
                        {
                            "type": st.sampled_from(
                                ["input_text", "text", "output_text", "input_audio", "audio"]
                            )
                        },
                        optional={
                            "text": st.one_of(st.sampled_from(["hi", "weather", "both"]), junk),
                            "audio": st.one_of(AUDIO, junk),
                        },
                    ),
                    junk,
                ),
                max_size=2,
            ),
            "status": junk,
        },
    ),
    st.fixed_dictionaries(
        {"type": st.just("function_call_output"), "call_id": st.one_of(st.sampled_from(CALL_IDS), junk)},
        optional={"output": st.one_of(st.just('{"ok": true}'), junk), "id": maybe},
    ),
    st.fixed_dictionaries(
        {"type": st.just("function_call")},
        optional={"name": junk, "call_id": junk, "arguments": junk, "id": maybe},
    ),
    junk,
)

session_update = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["realtime", "transcription", "x"]),
        "instructions": junk,
        "modalities": st.one_of(st.sampled_from([["text"], ["audio", "text"]]), junk),
        "output_modalities": st.one_of(st.sampled_from([["text"], ["audio"]]), junk),
        "turn_detection": st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {"type": st.sampled_from(["server_vad", "semantic_vad", "none"])},
                optional={
                    "threshold": junk,
                    "silence_duration_ms": junk,
                    "create_response": st.booleans(),
                    "eagerness": junk,
                },
            ),
            junk,
        ),
        "input_audio_format": st.one_of(st.sampled_from(["pcm16", "g711_ulaw", "g711_alaw"]), junk),
        "output_audio_format": st.one_of(st.sampled_from(["pcm16", "g711_alaw"]), junk),
        "input_audio_transcription": st.one_of(st.none(), st.just({"model": "whisper-1"}), junk),
        "audio": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "input": st.one_of(
                        junk,
                        st.fixed_dictionaries(
                            {},
                            optional={
                                "format": st.one_of(
                                    st.just({"type": "audio/pcmu"}),
                                    st.just({"type": "audio/pcm", "rate": 24000}),
                                    junk,
                                ),
                                "turn_detection": st.one_of(st.none(), junk),
                            },
                        ),
                    ),
                    "output": st.one_of(
                        junk, st.fixed_dictionaries({}, optional={"voice": junk, "format": junk})
                    ),
                },
            ),
            junk,
        ),
        "tools": st.one_of(
            st.just([{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]), junk
        ),
        "tool_choice": junk,
        "voice": st.one_of(st.sampled_from(["alloy", "marin"]), junk),
        "model": junk,
        "temperature": junk,
        "max_response_output_tokens": junk,
        "x_unknown": junk,
    },
)


@st.composite
def client_event(draw: st.DrawFn) -> Any:
    kind = draw(
        st.sampled_from(
            [
                "session.update",
                "input_audio_buffer.append",
                "input_audio_buffer.append",
                "input_audio_buffer.commit",
                "input_audio_buffer.clear",
                "conversation.item.create",
                "conversation.item.create",
                "conversation.item.retrieve",
                "conversation.item.truncate",
                "conversation.item.delete",
                "response.create",
                "response.create",
                "response.cancel",
                "output_audio_buffer.clear",
                "transcription_session.update",
                "unknown",
                "raw",
            ]
        )
    )
    if kind == "raw":
        return draw(
            st.one_of(
                st.text(max_size=12),
                st.binary(max_size=6),
                st.just("[1,2]"),
                st.just('{"type": 3}'),
                st.just("{}"),
            )
        )
    event: dict[str, Any] = {"type": kind if kind != "unknown" else draw(junk)}
    if draw(st.booleans()):
        event["event_id"] = draw(st.one_of(st.just("evt_1"), junk))
    if kind == "session.update":
        event["session"] = draw(st.one_of(session_update, session_update, junk))
    elif kind == "input_audio_buffer.append":
        event["audio"] = draw(st.one_of(AUDIO, AUDIO, junk))
    elif kind == "conversation.item.create":
        event["item"] = draw(client_item)
        if draw(st.booleans()):
            event["previous_item_id"] = draw(maybe)
    elif kind in ("conversation.item.retrieve", "conversation.item.delete", "conversation.item.truncate"):
        event["item_id"] = draw(maybe)
        if kind.endswith("truncate"):
            event["content_index"] = draw(st.one_of(st.integers(-1, 2), junk))
            event["audio_end_ms"] = draw(st.one_of(st.integers(-1, 3000), junk))
    elif kind == "response.create" and draw(st.booleans()):
        event["response"] = draw(
            st.one_of(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "conversation": st.one_of(st.sampled_from(["none", "auto"]), junk),
                        "modalities": junk,
                        "output_modalities": st.one_of(st.just(["text"]), junk),
                        "instructions": junk,
                        "input": st.one_of(
                            st.lists(
                                st.one_of(
                                    client_item,
                                    st.fixed_dictionaries({"type": st.just("item_reference"), "id": maybe}),
                                ),
                                max_size=2,
                            ),
                            junk,
                        ),
                        "tool_choice": junk,
                        "tools": junk,
                        "metadata": junk,
                        "voice": junk,
                        "audio": junk,
                    },
                ),
                junk,
            )
        )
    elif kind == "response.cancel" and draw(st.booleans()):
        event["response_id"] = draw(junk)
    return event


def check(events: list[Any]) -> None:
    assert isinstance(events, list)
    for event in events:
        assert isinstance(event, dict), event
        assert isinstance(event.get("type"), str), event
        json.dumps(event)
        if event["type"] == "error":
            error = event["error"]
            assert isinstance(error, dict)
            assert isinstance(error.get("type"), str), error
            assert isinstance(error.get("message"), str), error


@FUZZ
@given(
    st.sampled_from(["ga", "beta"]),
    st.lists(st.tuples(client_event(), st.integers(0, 3)), min_size=1, max_size=25),
)
def test_random_client_events_never_raise(dialect: str, steps: list[tuple[Any, int]]) -> None:
    session = RealtimeSession(dialect=dialect, scenario=SCENARIO, seed=1)  # type: ignore[arg-type]
    check(session.start())
    for event, pumps in steps:
        message = json.dumps(event, default=repr) if isinstance(event, dict) and pumps == 3 else event
        check(session.receive(message))
        for _ in range(pumps):
            check(session.step())
    for _ in range(10_000):
        if not session.streaming:
            break
        check(session.step())
    assert not session.streaming, "a response never finished"
