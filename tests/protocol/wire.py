"""Server-event builders for conversation tests, in either dialect (GA or beta)."""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent_rt.protocol.audio_buffer import Int16Array

Event = dict[str, Any]

_GA = {
    "item_added": "conversation.item.added",
    "text_delta": "response.output_text.delta",
    "text_done": "response.output_text.done",
    "audio_delta": "response.output_audio.delta",
    "audio_done": "response.output_audio.done",
    "transcript_delta": "response.output_audio_transcript.delta",
    "transcript_done": "response.output_audio_transcript.done",
    "text_content": "output_text",
    "audio_content": "output_audio",
}
_BETA = {
    "item_added": "conversation.item.created",
    "text_delta": "response.text.delta",
    "text_done": "response.text.done",
    "audio_delta": "response.audio.delta",
    "audio_done": "response.audio.done",
    "transcript_delta": "response.audio_transcript.delta",
    "transcript_done": "response.audio_transcript.done",
    "text_content": "text",
    "audio_content": "audio",
}


def pcm16_b64(samples: Int16Array) -> str:
    return base64.b64encode(samples.astype("<i2").tobytes()).decode("ascii")


@dataclass
class Wire:
    """Builds the server events of one dialect; ``names`` maps roles to that dialect's event names."""

    dialect: str
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def names(self) -> dict[str, str]:
        return _GA if self.dialect == "ga" else _BETA

    @property
    def ga(self) -> bool:
        return self.dialect == "ga"

    def _event(self, event_type: str, **fields: Any) -> Event:
        return {"type": event_type, "event_id": f"event_{next(self._ids)}", **fields}

    # -- items ---------------------------------------------------------------------------

    def item_added(self, item: dict[str, Any], previous_item_id: str | None = None) -> Event:
        return self._event(self.names["item_added"], previous_item_id=previous_item_id, item=item)

    def item_done(self, item: dict[str, Any], previous_item_id: str | None = None) -> Event:
        """GA only: ``conversation.item.done``."""
        return self._event("conversation.item.done", previous_item_id=previous_item_id, item=item)

    def client_item(self, item: dict[str, Any], previous_item_id: str | None = None) -> list[Event]:
        """What the server sends when an item is created from the client or a commit (GA: added + done)."""
        events = [self.item_added(item, previous_item_id)]
        if self.ga:
            events.append(self.item_done(item, previous_item_id))
        return events

    def truncated(self, item_id: str, audio_end_ms: int, content_index: int = 0) -> Event:
        return self._event(
            "conversation.item.truncated",
            item_id=item_id,
            content_index=content_index,
            audio_end_ms=audio_end_ms,
        )

    def deleted(self, item_id: str) -> Event:
        return self._event("conversation.item.deleted", item_id=item_id)

    # -- input audio ---------------------------------------------------------------------

    def speech_started(self, item_id: str, audio_start_ms: int) -> Event:
        return self._event(
            "input_audio_buffer.speech_started", audio_start_ms=audio_start_ms, item_id=item_id
        )

    def speech_stopped(self, item_id: str, audio_end_ms: int) -> Event:
        return self._event("input_audio_buffer.speech_stopped", audio_end_ms=audio_end_ms, item_id=item_id)

    def committed(self, item_id: str, previous_item_id: str | None = None) -> Event:
        return self._event("input_audio_buffer.committed", previous_item_id=previous_item_id, item_id=item_id)

    def transcription_delta(self, item_id: str, delta: str) -> Event:
        return self._event(
            "conversation.item.input_audio_transcription.delta", item_id=item_id, content_index=0, delta=delta
        )

    def transcription_completed(self, item_id: str, transcript: str) -> Event:
        return self._event(
            "conversation.item.input_audio_transcription.completed",
            item_id=item_id,
            content_index=0,
            transcript=transcript,
        )

    # -- responses -----------------------------------------------------------------------

    def response_created(self, response_id: str, conversation_id: str | None = "conv_1") -> Event:
        response: dict[str, Any] = {
            "object": "realtime.response",
            "id": response_id,
            "status": "in_progress",
            "status_details": None,
            "output": [],
            "conversation_id": conversation_id,
            "usage": None,
        }
        return self._event("response.created", response=response)

    def response_done(
        self,
        response_id: str,
        output: list[dict[str, Any]],
        status: str = "completed",
        usage: dict[str, Any] | None = None,
        status_details: dict[str, Any] | None = None,
    ) -> Event:
        response = {
            "object": "realtime.response",
            "id": response_id,
            "status": status,
            "status_details": status_details,
            "output": output,
            "usage": usage,
        }
        return self._event("response.done", response=response)

    def output_item_added(self, response_id: str, item: dict[str, Any], output_index: int = 0) -> Event:
        return self._event(
            "response.output_item.added", response_id=response_id, output_index=output_index, item=item
        )

    def output_item_done(self, response_id: str, item: dict[str, Any], output_index: int = 0) -> Event:
        return self._event(
            "response.output_item.done", response_id=response_id, output_index=output_index, item=item
        )

    def _item_event(self, role: str, response_id: str, item_id: str, **fields: Any) -> Event:
        return self._event(
            self.names.get(role, role),
            response_id=response_id,
            item_id=item_id,
            output_index=0,
            content_index=0,
            **fields,
        )

    def content_part_added(self, response_id: str, item_id: str, part: dict[str, Any]) -> Event:
        return self._item_event("response.content_part.added", response_id, item_id, part=part)

    def content_part_done(self, response_id: str, item_id: str, part: dict[str, Any]) -> Event:
        return self._item_event("response.content_part.done", response_id, item_id, part=part)

    def text_delta(self, response_id: str, item_id: str, delta: str) -> Event:
        return self._item_event("text_delta", response_id, item_id, delta=delta)

    def text_done(self, response_id: str, item_id: str, text: str) -> Event:
        return self._item_event("text_done", response_id, item_id, text=text)

    def audio_delta(self, response_id: str, item_id: str, data: str) -> Event:
        return self._item_event("audio_delta", response_id, item_id, delta=data)

    def audio_done(self, response_id: str, item_id: str) -> Event:
        return self._item_event("audio_done", response_id, item_id)

    def transcript_delta(self, response_id: str, item_id: str, delta: str) -> Event:
        return self._item_event("transcript_delta", response_id, item_id, delta=delta)

    def transcript_done(self, response_id: str, item_id: str, transcript: str) -> Event:
        return self._item_event("transcript_done", response_id, item_id, transcript=transcript)

    def arguments_delta(self, response_id: str, item_id: str, call_id: str, delta: str) -> Event:
        return self._event(
            "response.function_call_arguments.delta",
            response_id=response_id,
            item_id=item_id,
            output_index=0,
            call_id=call_id,
            delta=delta,
        )

    def arguments_done(
        self, response_id: str, item_id: str, call_id: str, name: str, arguments: str
    ) -> Event:
        return self._event(
            "response.function_call_arguments.done",
            response_id=response_id,
            item_id=item_id,
            output_index=0,
            call_id=call_id,
            name=name,
            arguments=arguments,
        )


# -- item shapes -------------------------------------------------------------------------------


def user_text(item_id: str, text: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
    }


def user_audio(item_id: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": None}],
    }


def assistant(item_id: str, status: str = "in_progress", content: list[Any] | None = None) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content if content is not None else [],
    }


def ramp(start: int, count: int) -> Int16Array:
    return (np.arange(start, start + count) % 30000).astype(np.int16)
