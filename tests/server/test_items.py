"""conversation.item.create / retrieve / delete / truncate and their errors."""

from __future__ import annotations

import pytest

from agent_rt.audio import base64_to_pcm16, pcm16_to_base64
from agent_rt.server import MS_PER_CHAR, RealtimeSession

from .helpers import error_of, one, only, tone, types, user_text


def _session(dialect: str = "ga", **kwargs: object) -> RealtimeSession:
    session = RealtimeSession(dialect=dialect, seed=3, **kwargs)  # type: ignore[arg-type]
    session.start()
    return session


def test_ga_create_answers_added_then_done_with_the_full_item() -> None:
    session = _session()
    events = session.receive(user_text("hi", event_id="c1"))
    assert types(events) == ["conversation.item.added", "conversation.item.done"]
    added = events[0]
    assert added["previous_item_id"] is None
    item = added["item"]
    assert item["id"].startswith("item_")
    assert item["status"] == "completed"
    assert item["role"] == "user"
    assert item["content"] == [{"type": "input_text", "text": "hi"}]
    assert "object" not in item
    assert events[1]["item"] == item


def test_beta_create_answers_created_with_object() -> None:
    session = _session("beta")
    [created] = session.receive(user_text("hi"))
    assert created["type"] == "conversation.item.created"
    assert created["item"]["object"] == "realtime.item"


def test_previous_item_id_places_the_item() -> None:
    session = _session()
    first = session.receive(user_text("one"))[0]["item"]["id"]
    second = session.receive(user_text("two"))[0]["item"]["id"]
    root = session.receive({**user_text("zero"), "previous_item_id": "root"})
    assert root[0]["previous_item_id"] is None
    middle = session.receive({**user_text("one and a half"), "previous_item_id": first})
    assert middle[0]["previous_item_id"] == first
    order = [s.item["content"][0]["text"] for s in session.conversation.items()]
    assert order == ["zero", "one", "one and a half", "two"]
    assert session.conversation.last_id == second


def test_unknown_previous_item_id_is_an_error_and_adds_nothing() -> None:
    session = _session()
    error = error_of(session.receive({**user_text("x"), "previous_item_id": "item_nope", "event_id": "c9"}))
    assert error["param"] == "previous_item_id"
    assert error["event_id"] == "c9"
    assert len(session.conversation) == 0


def test_client_supplied_id_is_kept_and_duplicates_refused() -> None:
    session = _session()
    item = {
        "id": "msg_1",
        "type": "message",
        "role": "system",
        "content": [{"type": "input_text", "text": "s"}],
    }
    created = session.receive({"type": "conversation.item.create", "item": item})
    assert created[0]["item"]["id"] == "msg_1"
    error = error_of(session.receive({"type": "conversation.item.create", "item": item}))
    assert error["param"] == "item.id"


@pytest.mark.parametrize(
    ("item", "param"),
    [
        ({"type": "thought"}, "item.type"),
        ({"type": "message", "role": "robot", "content": []}, "item.role"),
        ({"type": "message", "role": "user"}, "item.content"),
        (
            {"type": "message", "role": "user", "content": [{"type": "output_text", "text": "x"}]},
            "item.content[0].type",
        ),
        (
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_audio", "transcript": "x"}],
            },
            "item.content[0].type",
        ),
        ({"type": "function_call", "name": "f"}, "item.arguments"),
        ({"type": "function_call_output", "call_id": "call_x"}, "item.output"),
        ({"type": "function_call_output", "call_id": "call_unknown", "output": "{}"}, "item.call_id"),
        (
            {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": "%%%"}]},
            "item.content[0].audio",
        ),
    ],
)
def test_invalid_items_are_errors(item: dict[str, object], param: str) -> None:
    session = _session()
    error = error_of(session.receive({"type": "conversation.item.create", "item": item}))
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert len(session.conversation) == 0


def test_missing_item_is_an_error() -> None:
    error = error_of(_session().receive({"type": "conversation.item.create"}))
    assert error["code"] == "missing_required_parameter"
    assert error["message"] == "Missing required parameter: 'item'."


def test_assistant_text_item_uses_the_dialect_content_type() -> None:
    ga = _session().receive(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "ok"}],
            },
        }
    )
    assert ga[0]["item"]["content"][0]["type"] == "output_text"
    beta = _session("beta").receive(
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "assistant", "content": [{"type": "text", "text": "ok"}]},
        }
    )
    assert beta[0]["item"]["content"][0]["type"] == "text"


def test_function_call_output_for_a_client_created_call_is_accepted() -> None:
    session = _session()
    call = {"type": "function_call", "name": "f", "call_id": "call_abc", "arguments": "{}"}
    session.receive({"type": "conversation.item.create", "item": call})
    events = session.receive(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": "call_abc", "output": "1"},
        }
    )
    assert types(events) == ["conversation.item.added", "conversation.item.done"]


def test_retrieve_returns_the_audio_of_a_user_audio_item() -> None:
    session = _session()
    samples = tone(200)
    item = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "audio": pcm16_to_base64(samples)}],
    }
    created = session.receive({"type": "conversation.item.create", "item": item})
    assert "audio" not in created[0]["item"]["content"][0]  # item events never carry audio bytes
    item_id = created[0]["item"]["id"]
    [retrieved] = session.receive({"type": "conversation.item.retrieve", "item_id": item_id})
    assert retrieved["type"] == "conversation.item.retrieved"
    part = retrieved["item"]["content"][0]
    assert part["type"] == "input_audio"
    assert (base64_to_pcm16(part["audio"]) == samples).all()


def test_retrieve_and_delete_unknown_items_are_errors() -> None:
    session = _session()
    for event_type in ("conversation.item.retrieve", "conversation.item.delete"):
        error = error_of(session.receive({"type": event_type, "item_id": "item_missing", "event_id": "x"}))
        assert error["code"] == "item_not_found"
        assert error["param"] == "item_id"
        assert error["event_id"] == "x"


def test_delete_removes_the_item() -> None:
    session = _session()
    item_id = session.receive(user_text("bye"))[0]["item"]["id"]
    [deleted] = session.receive({"type": "conversation.item.delete", "item_id": item_id})
    assert deleted["type"] == "conversation.item.deleted"
    assert deleted["item_id"] == item_id
    assert item_id not in session.conversation
    assert len(session.conversation) == 0


def _assistant_audio(session: RealtimeSession, reply: str) -> str:
    session.receive(user_text("say something"))
    session.receive({"type": "response.create"})
    events = session.drain()
    item = one(events, "response.output_item.done")["item"]
    assert item["content"][0]["transcript"] == reply
    return str(item["id"])


def test_truncate_drops_audio_after_the_point_and_the_transcript() -> None:
    session = _session(scenario=[{"reply": "Hello world"}])
    item_id = _assistant_audio(session, "Hello world")
    full_ms = len("Hello world") * MS_PER_CHAR
    [truncated] = session.receive(
        {"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": 300}
    )
    assert truncated == {
        "type": "conversation.item.truncated",
        "event_id": truncated["event_id"],
        "item_id": item_id,
        "content_index": 0,
        "audio_end_ms": 300,
    }
    [retrieved] = session.receive({"type": "conversation.item.retrieve", "item_id": item_id})
    part = retrieved["item"]["content"][0]
    assert part["transcript"] == ""
    assert part["type"] == "audio"
    assert part["format"] == "pcm16"
    assert len(base64_to_pcm16(part["audio"])) == 24000 * 300 // 1000
    assert full_ms > 300


def test_truncate_past_the_audio_is_the_real_error() -> None:
    session = _session(scenario=[{"reply": "Hi"}])
    item_id = _assistant_audio(session, "Hi")
    error = error_of(
        session.receive(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": 5000,
            }
        )
    )
    assert error["message"] == f"Audio content of {2 * MS_PER_CHAR}ms is already shorter than 5000ms"
    assert error["param"] == "audio_end_ms"
    negative = error_of(
        session.receive(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": -11,
            }
        )
    )
    assert negative["code"] == "integer_below_min_value"
    assert negative["message"] == (
        "Invalid 'audio_end_ms': integer below minimum value. Expected a value >= 0, but got -11 instead."
    )


def test_truncate_needs_an_assistant_audio_item() -> None:
    session = _session()
    user_id = session.receive(user_text("hi"))[0]["item"]["id"]
    error = error_of(
        session.receive(
            {"type": "conversation.item.truncate", "item_id": user_id, "content_index": 0, "audio_end_ms": 0}
        )
    )
    assert error["param"] == "item_id"
    missing = error_of(
        session.receive(
            {"type": "conversation.item.truncate", "item_id": "nope", "content_index": 0, "audio_end_ms": 0}
        )
    )
    assert missing["code"] == "item_not_found"


def test_items_of_a_response_are_in_the_conversation() -> None:
    session = _session(scenario=[{"reply": "Sure"}])
    user_id = session.receive(user_text("hi"))[0]["item"]["id"]
    session.receive({"type": "response.create"})
    events = session.drain()
    added = only(events, "conversation.item.added")
    assert len(added) == 1
    assert added[0]["previous_item_id"] == user_id
    assert [s.item["role"] for s in session.conversation.items()] == ["user", "assistant"]
