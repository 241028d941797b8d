"""One response, streamed step by step in the order of protocol.md §7.

``response.created`` → per output item: ``response.output_item.added``, the conversation's
item event (GA ``conversation.item.added``, beta ``conversation.item.created``), then for a
message ``response.content_part.added``, transcript/text deltas interleaved with audio deltas,
the ``.done`` events and ``response.content_part.done``; for a function call
``response.function_call_arguments.delta`` ×N and ``.done``; then (GA) ``conversation.item.done``
and ``response.output_item.done`` → ``response.done`` → ``rate_limits.updated``.

Each :meth:`ResponseStream.step` returns the next small batch, so a driver can interleave
client events (``response.cancel``, barge-in audio) between batches. :meth:`ResponseStream.cancel`
closes the open item with partial ``.done`` events (status ``incomplete``) and ends the
response with ``status: "cancelled"``, like the service.
"""

from __future__ import annotations

import math
import re
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .codec import Samples, encode, rate_of, samples_to_ms
from .config import ResponseConfig
from .conversation import Conversation, StoredItem
from .ids import IdFactory
from .items import assistant_item, audio_type, function_call_item, mcp_call_item, text_type
from .responder import CallOutput, McpApprovalOutput, McpCallOutput, McpResult, PlannedOutput
from .synth import synthesize

ServerEvent = dict[str, Any]

_WORDS = re.compile(r"\s*\S+\s*$|\s*\S+")
_ARGUMENT_CHUNK = 12
#: Token arithmetic for ``usage``: ~4 characters a text token, 20 audio tokens a second of output.
CHARS_PER_TOKEN = 4
OUTPUT_AUDIO_MS_PER_TOKEN = 50
INPUT_AUDIO_MS_PER_TOKEN = 100


def split_words(text: str) -> list[str]:
    """Delta-sized pieces: each word with its leading whitespace (trailing space kept at the end)."""
    pieces = _WORDS.findall(text)
    return pieces if "".join(pieces) == text else [text]


@dataclass
class _OpenItem:
    stored: StoredItem
    output_index: int
    previous_item_id: str | None
    kind: str  # "audio" | "text" | "call" | "mcp_call" | "mcp_approval"
    text: str = ""
    chunks: list[Samples] = field(default_factory=list)


@dataclass
class Usage:
    """Token counts of one response."""

    input_text: int = 0
    input_audio: int = 0
    output_text: int = 0
    output_audio: int = 0

    def to_wire(self, *, ga: bool) -> dict[str, Any]:
        input_details: dict[str, Any] = {"text_tokens": self.input_text, "audio_tokens": self.input_audio}
        cached: dict[str, Any] = {"text_tokens": 0, "audio_tokens": 0}
        if ga:
            input_details["image_tokens"] = 0
            cached["image_tokens"] = 0
        input_details["cached_tokens"] = 0
        input_details["cached_tokens_details"] = cached
        inputs = self.input_text + self.input_audio
        outputs = self.output_text + self.output_audio
        return {
            "total_tokens": inputs + outputs,
            "input_tokens": inputs,
            "output_tokens": outputs,
            "input_token_details": input_details,
            "output_token_details": {"text_tokens": self.output_text, "audio_tokens": self.output_audio},
        }

    @property
    def total(self) -> int:
        return self.input_text + self.input_audio + self.output_text + self.output_audio


class ResponseStream:
    """The events of one response, produced a batch at a time."""

    def __init__(
        self,
        *,
        response_id: str,
        conversation_id: str,
        config: ResponseConfig,
        plan: list[PlannedOutput],
        conversation: Conversation,
        ids: IdFactory,
        ga: bool,
        input_usage: Usage,
    ) -> None:
        self.id = response_id
        self.config = config
        self.ga = ga
        self.done = False
        self.produced_audio = False
        self.status = "in_progress"
        self._conversation_id = None if config.out_of_band else conversation_id
        self._plan = plan
        self._conversation = conversation
        self._ids = ids
        self._input_usage = input_usage
        self._output: list[StoredItem] = []
        self._open: _OpenItem | None = None
        self._text_chars = 0
        self._audio_ms = 0.0
        self._budget = (
            None if config.max_output_tokens == "inf" else int(config.max_output_tokens) * CHARS_PER_TOKEN
        )
        self._limited = False
        #: The ``mcp_call`` this response waits for (the listener runs it); None when it can go on.
        self.waiting: tuple[str, McpCallOutput] | None = None
        self._mcp_result: McpResult | None = None
        self._steps: Generator[list[ServerEvent], None, None] = self._run()

    # -- driving ------------------------------------------------------------------------------

    @property
    def in_conversation(self) -> bool:
        return not self.config.out_of_band

    @property
    def call_ids(self) -> list[str]:
        return [o.call_id for o in self._plan if isinstance(o, CallOutput)]

    def created(self) -> ServerEvent:
        return self._event("response.created", response=self._response_object(usage=None))

    def resume(self, result: McpResult) -> None:
        """The remote MCP call this response waited for has its result: the next step goes on."""
        self._mcp_result = result
        self.waiting = None

    def step(self) -> list[ServerEvent]:
        """The next batch of events (the last batch ends with ``response.done``)."""
        if self.done or self.waiting is not None:
            return []
        try:
            return next(self._steps)
        except StopIteration:  # pragma: no cover - _run always ends by finishing
            self.done = True
            return []

    def cancel(self, reason: str) -> list[ServerEvent]:
        """Stop now: partial ``.done`` events for the open item, then a cancelled ``response.done``."""
        if self.done:
            return []
        self._steps.close()
        events: list[ServerEvent] = []
        if self._open is not None:
            events.extend(self._finish_item(self._open, "incomplete"))
        events.extend(self._finish("cancelled", {"type": "cancelled", "reason": reason}))
        return events

    # -- the script ---------------------------------------------------------------------------

    def _run(self) -> Generator[list[ServerEvent], None, None]:
        for planned in self._plan:
            if self._limited:
                break
            if isinstance(planned, CallOutput):
                yield from self._stream_call(planned)
            elif isinstance(planned, McpCallOutput):
                yield from self._stream_mcp_call(planned)
            elif isinstance(planned, McpApprovalOutput):
                yield from self._stream_approval(planned)
            else:
                yield from self._stream_message(planned.text)
        if self._limited:
            yield self._finish("incomplete", {"type": "incomplete", "reason": "max_output_tokens"})
        else:
            yield self._finish("completed", None)

    def _clip(self, text: str) -> str:
        if self._budget is None:
            return text
        room = self._budget - self._text_chars
        if len(text) > room:
            self._limited = True
            return text[: max(room, 0)]
        return text

    def _stream_message(self, full_text: str) -> Generator[list[ServerEvent], None, None]:
        text = self._clip(full_text)
        kind = "audio" if self.config.audio else "text"
        opened = self._begin(assistant_item(self._ids.item(), ga=self.ga), kind)
        part = {"type": "audio", "transcript": ""} if kind == "audio" else {"type": "text", "text": ""}
        first = self._begin_events(opened)
        first.append(self._item_event("response.content_part.added", opened, part=part))
        yield first
        rate = rate_of(self.config.output_format)
        for piece in split_words(text) if text else []:
            opened.text += piece
            self._text_chars += len(piece)
            if kind == "text":
                yield [self._item_event(self._name("text.delta"), opened, delta=piece)]
                continue
            samples = synthesize(piece, rate)
            opened.chunks.append(samples)
            self._audio_ms += samples_to_ms(len(samples), rate)
            self.produced_audio = True
            transcript = self._item_event(self._name("audio_transcript.delta"), opened, delta=piece)
            if self.ga:
                transcript["obfuscation"] = self._ids.obfuscation()
            audio = self._item_event(
                self._name("audio.delta"), opened, delta=encode(samples, self.config.output_format)
            )
            yield [transcript, audio]
        yield self._finish_item(opened, "incomplete" if self._limited else "completed")

    def _stream_call(self, call: CallOutput) -> Generator[list[ServerEvent], None, None]:
        item = function_call_item(self._ids.item(), name=call.name, call_id=call.call_id, ga=self.ga)
        opened = self._begin(item, "call")
        yield self._begin_events(opened)
        for start in range(0, len(call.arguments), _ARGUMENT_CHUNK):
            piece = call.arguments[start : start + _ARGUMENT_CHUNK]
            opened.text += piece
            self._text_chars += len(piece)
            yield [self._call_event("response.function_call_arguments.delta", opened, delta=piece)]
        yield self._finish_item(opened, "completed")

    def _stream_mcp_call(self, call: McpCallOutput) -> Generator[list[ServerEvent], None, None]:
        """An ``mcp_call`` item: arguments, then a pause while the listener runs the call."""
        item = mcp_call_item(self._ids.item(), call, ga=self.ga)
        opened = self._begin(item, "mcp_call")
        yield self._begin_events(opened)
        for start in range(0, len(call.arguments), _ARGUMENT_CHUNK):
            piece = call.arguments[start : start + _ARGUMENT_CHUNK]
            opened.text += piece
            self._text_chars += len(piece)
            yield [self._mcp_event("response.mcp_call_arguments.delta", opened, delta=piece)]
        item["arguments"] = opened.text
        self.waiting = (opened.stored.id, call)
        yield [
            self._mcp_event("response.mcp_call_arguments.done", opened, arguments=opened.text),
            self._event(
                "response.mcp_call.in_progress", item_id=opened.stored.id, output_index=opened.output_index
            ),
        ]
        result = self._mcp_result or McpResult(
            error={"type": "protocol_error", "code": -1, "message": "no result"}
        )
        self._mcp_result = None
        if result.ok:
            item["output"] = result.output
            outcome = "response.mcp_call.completed"
        else:
            item["error"] = result.error
            outcome = "response.mcp_call.failed"
        events = [self._event(outcome, item_id=opened.stored.id, output_index=opened.output_index)]
        events.extend(self._finish_item(opened, "completed"))
        if call.follow is not None:
            self._plan.extend(call.follow(result))  # _run iterates the live list: it says these next
        yield events

    def _stream_approval(self, approval: McpApprovalOutput) -> Generator[list[ServerEvent], None, None]:
        call = approval.call
        item = {
            "id": approval.id,
            "type": "mcp_approval_request",
            "server_label": call.server_label,
            "name": call.name,
            "arguments": call.arguments,
        }
        opened = self._begin(item, "mcp_approval")
        yield self._begin_events(opened)
        yield self._finish_item(opened, "completed")

    # -- items --------------------------------------------------------------------------------

    def _begin(self, item: dict[str, Any], kind: str) -> _OpenItem:
        stored = StoredItem(item=item)
        previous = self._conversation.insert(stored) if self.in_conversation else None
        opened = _OpenItem(
            stored=stored, output_index=len(self._output), previous_item_id=previous, kind=kind
        )
        self._output.append(stored)
        self._open = opened
        return opened

    def _begin_events(self, opened: _OpenItem) -> list[ServerEvent]:
        events = [
            self._event(
                "response.output_item.added",
                response_id=self.id,
                output_index=opened.output_index,
                item=opened.stored.public(),
            )
        ]
        if self.in_conversation:
            name = "conversation.item.added" if self.ga else "conversation.item.created"
            events.append(
                self._event(name, previous_item_id=opened.previous_item_id, item=opened.stored.public())
            )
        return events

    def _finish_item(self, opened: _OpenItem, status: str) -> list[ServerEvent]:
        self._open = None
        item = opened.stored.item
        item["status"] = status
        events: list[ServerEvent] = []
        if opened.kind == "call":
            item["arguments"] = opened.text
            events.append(
                self._call_event(
                    "response.function_call_arguments.done", opened, name=item["name"], arguments=opened.text
                )
            )
        elif opened.kind == "audio":
            samples = np.concatenate(opened.chunks) if opened.chunks else np.zeros(0, dtype=np.int16)
            opened.stored.audio[0] = samples
            opened.stored.audio_format[0] = self.config.output_format
            item["content"] = [{"type": audio_type(self.ga), "transcript": opened.text}]
            events.append(self._item_event(self._name("audio.done"), opened))
            events.append(
                self._item_event(self._name("audio_transcript.done"), opened, transcript=opened.text)
            )
            events.append(
                self._item_event(
                    "response.content_part.done", opened, part={"type": "audio", "transcript": opened.text}
                )
            )
        elif opened.kind in ("mcp_call", "mcp_approval"):
            if opened.kind == "mcp_approval":
                item.pop("status", None)  # approval requests carry no status
        else:
            item["content"] = [{"type": text_type(self.ga), "text": opened.text}]
            events.append(self._item_event(self._name("text.done"), opened, text=opened.text))
            events.append(
                self._item_event(
                    "response.content_part.done", opened, part={"type": "text", "text": opened.text}
                )
            )
        if self.in_conversation and self.ga:
            events.append(
                self._event(
                    "conversation.item.done",
                    previous_item_id=opened.previous_item_id,
                    item=opened.stored.public(),
                )
            )
        events.append(
            self._event(
                "response.output_item.done",
                response_id=self.id,
                output_index=opened.output_index,
                item=opened.stored.public(),
            )
        )
        return events

    # -- the end ------------------------------------------------------------------------------

    def usage(self) -> Usage:
        if not self._output:
            return Usage()
        return Usage(
            input_text=self._input_usage.input_text,
            input_audio=self._input_usage.input_audio,
            output_text=math.ceil(self._text_chars / CHARS_PER_TOKEN),
            output_audio=math.ceil(self._audio_ms / OUTPUT_AUDIO_MS_PER_TOKEN),
        )

    def _finish(self, status: str, details: dict[str, Any] | None) -> list[ServerEvent]:
        self.done = True
        self.status = status
        usage = self.usage()
        done = self._event(
            "response.done", response=self._response_object(usage=usage.to_wire(ga=self.ga), details=details)
        )
        return [done, self._rate_limits(usage.total)]

    def _rate_limits(self, used: int) -> ServerEvent:
        tokens = {"name": "tokens", "limit": 40000, "remaining": max(0, 40000 - used), "reset_seconds": 0.0}
        tokens["reset_seconds"] = round(used * 60 / 40000, 3)
        if self.ga:  # GA captures show the tokens bucket only
            return self._event("rate_limits.updated", rate_limits=[tokens])
        requests = {"name": "requests", "limit": 20000, "remaining": 19999, "reset_seconds": 0.003}
        tokens.update(limit=15000000, remaining=15000000 - used, reset_seconds=round(used * 60 / 15000000, 3))
        return self._event("rate_limits.updated", rate_limits=[requests, tokens])

    def _response_object(
        self, *, usage: dict[str, Any] | None, details: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        response: dict[str, Any] = {
            "object": "realtime.response",
            "id": self.id,
            "status": self.status,
            "status_details": details,
            "output": [stored.public() for stored in self._output],
            "conversation_id": self._conversation_id,
        }
        if self.ga:
            response["output_modalities"] = list(self.config.modalities)
            response["max_output_tokens"] = self.config.max_output_tokens
            response["audio"] = {
                "output": {"format": self.config.output_format_object, "voice": self.config.voice}
            }
        else:
            response["modalities"] = list(self.config.modalities)
            response["voice"] = self.config.voice
            response["output_audio_format"] = self.config.output_format_object
            response["temperature"] = self.config.temperature
            response["max_output_tokens"] = self.config.max_output_tokens
        response["usage"] = usage
        response["metadata"] = self.config.metadata
        return response

    # -- event helpers ------------------------------------------------------------------------

    def _name(self, suffix: str) -> str:
        """``text.delta`` → ``response.output_text.delta`` (GA) / ``response.text.delta`` (beta)."""
        return f"response.output_{suffix}" if self.ga else f"response.{suffix}"

    def _event(self, event_type: str, **fields: Any) -> ServerEvent:
        return {"type": event_type, "event_id": self._ids.event(), **fields}

    def _item_event(self, event_type: str, opened: _OpenItem, **fields: Any) -> ServerEvent:
        return self._event(
            event_type,
            response_id=self.id,
            item_id=opened.stored.id,
            output_index=opened.output_index,
            content_index=0,
            **fields,
        )

    def _mcp_event(self, event_type: str, opened: _OpenItem, **fields: Any) -> ServerEvent:
        return self._event(
            event_type,
            response_id=self.id,
            item_id=opened.stored.id,
            output_index=opened.output_index,
            **fields,
        )

    def _call_event(self, event_type: str, opened: _OpenItem, **fields: Any) -> ServerEvent:
        return self._event(
            event_type,
            response_id=self.id,
            item_id=opened.stored.id,
            output_index=opened.output_index,
            call_id=opened.stored.item["call_id"],
            **fields,
        )
