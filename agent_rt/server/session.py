"""The local server's sans-I/O session: client events in, server events out.

One :class:`RealtimeSession` per connection. It never touches a socket or reads a clock: the
driver feeds client events to :meth:`~RealtimeSession.receive`, sends what it returns, and
calls :meth:`~RealtimeSession.step` while :attr:`~RealtimeSession.streaming` is true to move
active responses forward a batch at a time (so client events arriving between batches —
``response.cancel``, barge-in audio — take effect mid-response). Time inside the session is
audio time: sample counts of the appended input, and the ``now`` given at construction (only
used for ``expires_at``).

Usage without sockets::

    session = RealtimeSession(dialect="ga", scenario=[{"match": "hi", "reply": "Hello!"}])
    events = session.start()                         # [session.created]
    events += session.receive({"type": "conversation.item.create", "item": {...}})
    events += session.receive({"type": "response.create"})
    events += session.drain()                        # the whole response
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ConfigurationError
from . import errors
from .codec import decode, ms_to_samples, rate_of, samples_to_ms
from .config import (
    BETA_DEFAULT_MODEL,
    GA_DEFAULT_MODEL,
    SESSION_SECONDS,
    Dialect,
    SessionConfig,
    response_config,
)
from .conversation import Conversation, StoredItem
from .ids import IdFactory
from .input_buffer import InputAudioBuffer
from .items import client_item, user_audio_item
from .remote_mcp import CallRequest, ListRequest, RemoteMcp, mask_tool_secrets
from .responder import ContextItem, McpResult, Responder, ResponseRequest
from .response import (
    CHARS_PER_TOKEN,
    INPUT_AUDIO_MS_PER_TOKEN,
    ResponseStream,
    ServerEvent,
    Usage,
    split_words,
)
from .scenario import Scenario, ScenarioSource
from .vad import EnergyVad
from .validate import check_int

_SEMANTIC_SILENCE_MS = {"low": 1000, "medium": 500, "auto": 500, "high": 250}
_MIN_COMMIT_MS = 100.0
_AUDIO_DELTAS = ("response.output_audio.delta", "response.audio.delta")


class RealtimeSession:
    """Server-side state of one Realtime connection (GA or beta dialect).

    Args:
        dialect: ``"ga"`` (default) or ``"beta"``; decides every shape and event name.
        model: the model from the URL, echoed in the session. Without one the session starts with
            ``gpt-realtime`` / ``gpt-4o-realtime-preview-2024-12-17`` and the first
            ``session.update`` naming a model sets it; after that it cannot change.
        scenario: the scripted replies (see :mod:`agent_rt.server.scenario`); ignored if
            ``responder`` is given.
        responder: any object with ``transcribe`` and ``respond`` (:class:`~.responder.Responder`).
        now: the current unix time, for ``expires_at``.
        seed: makes ids reproducible.
        max_seconds: the session's maximum duration (``expires_at`` = ``now`` + it); the
            dialect's default (3600 GA, 1800 beta) when None.
    """

    def __init__(
        self,
        *,
        dialect: Dialect = "ga",
        model: str | None = None,
        scenario: ScenarioSource = None,
        responder: Responder | None = None,
        now: float = 0.0,
        seed: int | None = None,
        max_seconds: int | None = None,
    ) -> None:
        if dialect not in ("ga", "beta"):
            raise ConfigurationError(f"dialect must be 'ga' or 'beta', not {dialect!r}")
        self.dialect: Dialect = dialect
        self.ids = IdFactory(seed)
        default_model = GA_DEFAULT_MODEL if dialect == "ga" else BETA_DEFAULT_MODEL
        self.config = SessionConfig.create(
            dialect,
            session_id=self.ids.session(),
            model=model or default_model,
            expires_at=int(now) + (max_seconds or SESSION_SECONDS[dialect]),
            model_fixed=model is not None,
        )
        self.conversation = Conversation()
        self.responder: Responder = (
            responder if responder is not None else Scenario.load(scenario).responder()
        )
        self.last_step_audio_ms = 0.0
        self._conversation_id = self.ids.conversation()
        self._buffer = InputAudioBuffer(rate_of(self.config.input_format))
        self._vad: EnergyVad | None = None
        self._vad_key: tuple[Any, ...] | None = None
        self._prefix_ms = 0
        self._speech_start: int | None = None
        self._speech_item_id: str | None = None
        self._streams: list[ResponseStream] = []
        self.remote_mcp = RemoteMcp(self.ids, ga=dialect == "ga")
        self._audio_produced = False
        self._call_ids: set[str] = set()
        self._handlers: dict[str, Callable[[dict[str, Any]], list[ServerEvent]]] = {
            "session.update": self._session_update,
            "input_audio_buffer.append": self._buffer_append,
            "input_audio_buffer.commit": self._buffer_commit,
            "input_audio_buffer.clear": self._buffer_clear,
            "conversation.item.create": self._item_create,
            "conversation.item.retrieve": self._item_retrieve,
            "conversation.item.truncate": self._item_truncate,
            "conversation.item.delete": self._item_delete,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
            "output_audio_buffer.clear": self._unsupported,
        }
        if dialect == "beta":
            self._handlers["transcription_session.update"] = self._unsupported
        self._configure_vad()

    # -- public surface --------------------------------------------------------------------------

    @property
    def ga(self) -> bool:
        return self.dialect == "ga"

    @property
    def streaming(self) -> bool:
        """True while some response has events to send now: call :meth:`step`.

        A response waiting for a remote MCP call has none until :meth:`mcp_called` delivers it.
        """
        return any(stream.waiting is None for stream in self._streams)

    @property
    def active_response(self) -> ResponseStream | None:
        """The in-progress default-conversation response, if any."""
        return next((s for s in self._streams if s.in_conversation), None)

    @property
    def input_buffer(self) -> InputAudioBuffer:
        return self._buffer

    def start(self) -> list[ServerEvent]:
        """The first event of the connection: ``session.created``."""
        snapshot = self.config.snapshot()
        snapshot["tools"] = mask_tool_secrets(snapshot.get("tools") or [])
        events = [self._event("session.created", session=snapshot)]
        if self.ga:  # a client secret's bound session may bring mcp tools
            events.extend(self.remote_mcp.tools_updated(self.config.tools, self.conversation))
        return events

    def receive(self, message: str | bytes | Mapping[str, Any]) -> list[ServerEvent]:
        """Handle one client event (a JSON frame or an already-parsed dict); return events to send now.

        Bad input never raises: it becomes an ``error`` event and leaves the session unchanged.
        """
        client_event_id: str | None = None
        try:
            event = self._parse(message)
            raw_id = event.get("event_id")
            client_event_id = raw_id if isinstance(raw_id, str) else None
            event_type = event.get("type")
            if event_type is None:
                raise errors.missing_type()
            handler = self._handlers.get(event_type) if isinstance(event_type, str) else None
            if handler is None:
                raise errors.unknown_event_type(event_type, list(self._handlers))
            return handler(event)
        except errors.ClientEventError as exc:
            return [self._event("error", error=errors.error_payload(exc, client_event_id))]

    def step(self) -> list[ServerEvent]:
        """Advance the active responses by one batch (round robin); ``[]`` when nothing streams."""
        self.last_step_audio_ms = 0.0
        stream = next((s for s in self._streams if s.waiting is None), None)
        if stream is None:
            return []
        self._streams.remove(stream)
        events = stream.step()
        if stream.done:
            self._retire(stream)
        else:
            self._streams.append(stream)
            if stream.waiting is not None:  # an mcp_call: the listener runs it (take_mcp_requests)
                self.remote_mcp.request_call(*stream.waiting)
        self.last_step_audio_ms = sum(self.audio_ms(e, stream) for e in events)
        return events

    def drain(self) -> list[ServerEvent]:
        """Run every active response to its end, or until all wait for remote MCP calls."""
        events: list[ServerEvent] = []
        while self.streaming:
            events.extend(self.step())
        return events

    # -- remote MCP (the I/O is the listener's: RemoteMcpDriver) ---------------------------------

    def take_mcp_requests(self) -> list[ListRequest | CallRequest]:
        """Listings and calls of the session's ``mcp`` tools that are due; each is returned once."""
        return self.remote_mcp.take_requests()

    def mcp_listed(
        self, request: ListRequest, tools: list[dict[str, Any]] | None, error: str | None
    ) -> list[ServerEvent]:
        """A listing finished (``tools``, or ``None`` and ``error``): the events to send."""
        return self.remote_mcp.list_done(request, tools, error, self.conversation)

    def mcp_called(self, request: CallRequest, result: McpResult) -> None:
        """A call finished: its response streams on (:attr:`streaming`); a cancelled one ignores it."""
        for stream in self._streams:
            if stream.waiting is not None and stream.waiting[0] == request.item_id:
                stream.resume(result)

    def audio_ms(self, event: Mapping[str, Any], stream: ResponseStream | None = None) -> float:
        """Duration of the audio in an audio delta event (0 for any other event)."""
        if event.get("type") not in _AUDIO_DELTAS:
            return 0.0
        fmt = stream.config.output_format if stream is not None else self.config.output_format
        size = len(decode(str(event.get("delta", "")), fmt))
        return samples_to_ms(size, rate_of(fmt))

    # -- plumbing ------------------------------------------------------------------------------

    def _event(self, event_type: str, **fields: Any) -> ServerEvent:
        return {"type": event_type, "event_id": self.ids.event(), **fields}

    @staticmethod
    def _parse(message: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
        if isinstance(message, Mapping):
            return dict(message)
        size = len(message) if isinstance(message, bytes) or message.isascii() else len(message.encode())
        if size > errors.MAX_CLIENT_EVENT_BYTES:  # refused unparsed, like the service
            raise errors.event_too_large(size)
        try:
            parsed = json.loads(message)
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.invalid_json(str(exc)) from None
        if not isinstance(parsed, dict):
            raise errors.ClientEventError("invalid_event", "A client event must be a JSON object.")
        return parsed

    def _unsupported(self, event: dict[str, Any]) -> list[ServerEvent]:
        raise errors.ClientEventError(
            "unsupported_event",
            f"'{event['type']}' is not supported by the local Realtime server on a WebSocket connection.",
            param="type",
        )

    def _retire(self, stream: ResponseStream) -> None:
        if stream in self._streams:
            self._streams.remove(stream)
        self._audio_produced = self._audio_produced or stream.produced_audio

    # -- session ---------------------------------------------------------------------------------

    def _session_update(self, event: dict[str, Any]) -> list[ServerEvent]:
        if "session" not in event:
            raise errors.missing_parameter("session")
        produced = self._audio_produced or any(s.produced_audio for s in self._streams)
        self.config.update(event["session"], voice_locked=produced)
        self._configure_vad()
        snapshot = self.config.snapshot()
        snapshot["tools"] = mask_tool_secrets(snapshot.get("tools") or [])
        events = [self._event("session.updated", session=snapshot)]
        if self.ga:
            events.extend(self.remote_mcp.tools_updated(self.config.tools, self.conversation))
        return events

    def _configure_vad(self) -> None:
        rate = rate_of(self.config.input_format)
        if rate != self._buffer.rate:  # format change: the old buffered audio cannot be kept
            old = self._buffer
            self._buffer = InputAudioBuffer(
                rate, offset_ms=old.offset_ms + samples_to_ms(old.total, old.rate)
            )
            self._vad_key = None
            self._speech_start = self._speech_item_id = None
        td = self.config.turn_detection
        if td is None:
            self._vad = None
            self._vad_key = None
            self._speech_start = self._speech_item_id = None
            return
        if td["type"] == "server_vad":
            key: tuple[Any, ...] = (rate, td["threshold"], td["silence_duration_ms"], td["prefix_padding_ms"])
        else:
            key = (rate, 0.5, _SEMANTIC_SILENCE_MS[td["eagerness"]], 300)
        if key != self._vad_key:
            self._vad_key = key
            self._vad = EnergyVad(
                rate, threshold=key[1], silence_duration_ms=key[2], position=self._buffer.total
            )
            self._prefix_ms = key[3]
            self._speech_start = self._speech_item_id = None

    # -- input audio -----------------------------------------------------------------------------

    def _buffer_append(self, event: dict[str, Any]) -> list[ServerEvent]:
        if "audio" not in event:
            raise errors.missing_parameter("audio")
        samples = decode(event["audio"], self.config.input_format)
        self._buffer.append(samples)
        if self._vad is None:
            return []
        events: list[ServerEvent] = []
        for boundary in self._vad.feed(samples):
            if boundary.kind == "start":
                events.extend(self._speech_started(boundary.position))
            else:
                events.extend(self._speech_stopped(boundary.position))
        if not self._vad.speaking:  # keep only what a future prefix padding may need
            self._buffer.discard_before(
                self._vad.position - ms_to_samples(self._prefix_ms, self._buffer.rate)
            )
        return events

    def _speech_started(self, onset: int) -> list[ServerEvent]:
        start = max(self._buffer.start, onset - ms_to_samples(self._prefix_ms, self._buffer.rate))
        self._speech_start = start
        self._speech_item_id = self.ids.item()
        events = [
            self._event(
                "input_audio_buffer.speech_started",
                audio_start_ms=self._buffer.ms(start),
                item_id=self._speech_item_id,
            )
        ]
        td = self.config.turn_detection or {}
        active = self.active_response
        if td.get("interrupt_response") and active is not None:
            events.extend(active.cancel("turn_detected"))
            self._retire(active)
        return events

    def _speech_stopped(self, position: int) -> list[ServerEvent]:
        item_id = self._speech_item_id or self.ids.item()
        begin = self._speech_start
        self._speech_start = self._speech_item_id = None
        events = [
            self._event(
                "input_audio_buffer.speech_stopped", audio_end_ms=self._buffer.ms(position), item_id=item_id
            )
        ]
        events.extend(self._commit(item_id, begin, position))
        td = self.config.turn_detection or {}
        if td.get("create_response") and self.active_response is None:
            events.extend(self._start_response(None))
        return events

    def _buffer_commit(self, event: dict[str, Any]) -> list[ServerEvent]:
        if self._buffer.duration_ms < _MIN_COMMIT_MS:
            raise errors.commit_empty(self._buffer.duration_ms)
        item_id = self._speech_item_id or self.ids.item()
        self._speech_start = self._speech_item_id = None
        events = self._commit(item_id, None, None)
        if self._vad is not None:
            self._vad.reset(self._buffer.total)
        return events

    def _buffer_clear(self, event: dict[str, Any]) -> list[ServerEvent]:
        self._buffer.clear()
        self._speech_start = self._speech_item_id = None
        if self._vad is not None:
            self._vad.reset(self._buffer.total)
        return [self._event("input_audio_buffer.cleared")]

    def _commit(self, item_id: str, begin: int | None, end: int | None) -> list[ServerEvent]:
        samples = self._buffer.take(begin, end)
        fmt = self.config.input_format
        stored = StoredItem(
            item=user_audio_item(item_id, ga=self.ga), audio={0: samples}, audio_format={0: fmt}
        )
        duration = samples_to_ms(len(samples), rate_of(fmt))
        stored.heard = self.responder.transcribe(duration)
        previous = self.conversation.insert(stored)
        events = [self._event("input_audio_buffer.committed", previous_item_id=previous, item_id=item_id)]
        events.extend(self._item_added(stored, previous))
        transcription = self.config.transcription
        if transcription is not None:
            events.extend(self._transcribe(stored, transcription, duration))
        return events

    def _transcribe(
        self, stored: StoredItem, transcription: dict[str, Any], duration_ms: float
    ) -> list[ServerEvent]:
        text = stored.heard or ""
        model = transcription.get("model") or "whisper-1"
        pieces = [text] if model == "whisper-1" else split_words(text)
        events: list[ServerEvent] = []
        for piece in pieces:
            delta = self._event(
                "conversation.item.input_audio_transcription.delta",
                item_id=stored.id,
                content_index=0,
                delta=piece,
            )
            if self.ga:
                delta["obfuscation"] = self.ids.obfuscation()
            events.append(delta)
        completed = self._event(
            "conversation.item.input_audio_transcription.completed",
            item_id=stored.id,
            content_index=0,
            transcript=text,
        )
        if self.ga:
            audio_tokens = math.ceil(duration_ms / INPUT_AUDIO_MS_PER_TOKEN)
            text_tokens = math.ceil(len(text) / CHARS_PER_TOKEN)
            completed["usage"] = {
                "type": "tokens",
                "total_tokens": audio_tokens + text_tokens,
                "input_tokens": audio_tokens,
                "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
                "output_tokens": text_tokens,
            }
        events.append(completed)
        stored.item["content"][0]["transcript"] = text
        return events

    # -- conversation items ----------------------------------------------------------------------

    def _item_added(self, stored: StoredItem, previous: str | None) -> list[ServerEvent]:
        if self.ga:
            return [
                self._event("conversation.item.added", previous_item_id=previous, item=stored.public()),
                self._event("conversation.item.done", previous_item_id=previous, item=stored.public()),
            ]
        return [self._event("conversation.item.created", previous_item_id=previous, item=stored.public())]

    def _item_create(self, event: dict[str, Any]) -> list[ServerEvent]:
        if "item" not in event:
            raise errors.missing_parameter("item")
        stored = client_item(event["item"], ga=self.ga, ids=self.ids, input_format=self.config.input_format)
        if stored.id in self.conversation:
            raise errors.ClientEventError(
                "invalid_value", f"Item with id '{stored.id}' already exists.", param="item.id"
            )
        if stored.item["type"] == "mcp_approval_response":
            request_id = stored.item["approval_request_id"]
            if not self.remote_mcp.is_approval_request(request_id):
                raise errors.ClientEventError(
                    "invalid_value",
                    f"No mcp_approval_request with id '{request_id}' is waiting for an answer.",
                    param="item.approval_request_id",
                )
            self.remote_mcp.decide(request_id, stored.item["approve"])
        if stored.item["type"] == "function_call_output" and not self._known_call(stored.item["call_id"]):
            raise errors.ClientEventError(
                "invalid_value",
                f"No function call with call_id '{stored.item['call_id']}' found in the conversation.",
                param="item.call_id",
            )
        after: str | None = None
        at_start = False
        previous_id = event.get("previous_item_id")
        if previous_id == "root":
            at_start = True
        elif previous_id is not None:
            if not isinstance(previous_id, str) or previous_id not in self.conversation:
                raise errors.item_not_found(previous_id, param="previous_item_id")
            after = previous_id
        for index, part in enumerate(stored.item.get("content") or []):
            if part.get("type") == "input_audio" and index in stored.audio and not part.get("transcript"):
                stored.heard = self.responder.transcribe(stored.audio_ms(index))
        previous = self.conversation.insert(stored, after, at_start=at_start)
        return self._item_added(stored, previous)

    def _known_call(self, call_id: str) -> bool:
        if call_id in self._call_ids or any(call_id in s.call_ids for s in self._streams):
            return True
        return any(
            s.item.get("call_id") == call_id
            for s in self.conversation.items()
            if s.item["type"] == "function_call"
        )

    def _lookup(self, event: dict[str, Any]) -> StoredItem:
        if "item_id" not in event:
            raise errors.missing_parameter("item_id")
        stored = self.conversation.get(event["item_id"]) if isinstance(event["item_id"], str) else None
        if stored is None:
            raise errors.item_not_found(event["item_id"])
        return stored

    def _item_retrieve(self, event: dict[str, Any]) -> list[ServerEvent]:
        stored = self._lookup(event)
        return [self._event("conversation.item.retrieved", item=stored.with_audio(ga=self.ga))]

    def _item_delete(self, event: dict[str, Any]) -> list[ServerEvent]:
        stored = self._lookup(event)
        self.conversation.delete(stored.id)
        return [self._event("conversation.item.deleted", item_id=stored.id)]

    def _item_truncate(self, event: dict[str, Any]) -> list[ServerEvent]:
        stored = self._lookup(event)
        for key in ("content_index", "audio_end_ms"):
            if key not in event:
                raise errors.missing_parameter(key)
        index = check_int(event["content_index"], "content_index", minimum=0)
        end_ms = check_int(event["audio_end_ms"], "audio_end_ms", minimum=0)
        item = stored.item
        if item.get("type") != "message" or item.get("role") != "assistant":
            raise errors.ClientEventError(
                "invalid_value", "Only assistant messages can be truncated.", param="item_id"
            )
        if item.get("status") == "in_progress":
            raise errors.ClientEventError(
                "invalid_value",
                "The item is still being generated; cancel the response before truncating it.",
                param="item_id",
            )
        content = item.get("content") or []
        if index >= len(content) or content[index].get("type") not in ("audio", "output_audio"):
            raise errors.ClientEventError(
                "invalid_value",
                f"Content part {index} of item '{stored.id}' is not audio.",
                param="content_index",
            )
        audio_ms = int(stored.audio_ms(index))
        if end_ms > audio_ms:
            raise errors.audio_too_short(audio_ms, end_ms)
        fmt = stored.audio_format[index]
        stored.audio[index] = stored.audio[index][: ms_to_samples(end_ms, rate_of(fmt))]
        content[index]["transcript"] = ""
        return [
            self._event(
                "conversation.item.truncated", item_id=stored.id, content_index=index, audio_end_ms=end_ms
            )
        ]

    # -- responses -------------------------------------------------------------------------------

    def _response_create(self, event: dict[str, Any]) -> list[ServerEvent]:
        return self._start_response(event.get("response"))

    def _start_response(self, overrides: Any) -> list[ServerEvent]:
        config = response_config(self.config, overrides)
        active = self.active_response
        if not config.out_of_band and active is not None:
            raise errors.active_response(active.id, beta=not self.ga)
        context = self._context(config.input)
        request = ResponseRequest(
            items=[ContextItem(item=s.item, heard=s.heard) for s in context],
            new_call_id=self.ids.call,
            instructions=config.instructions,
            tools=config.tools,
            tool_choice=config.tool_choice,
            mcp_tools=self.remote_mcp.tool_names(),
        )
        last = context[-1].item if context else None
        plan = self.remote_mcp.plan_after_approval(last)
        if plan is None:
            plan = self.remote_mcp.gate(self.responder.respond(request))
        stream = ResponseStream(
            response_id=self.ids.response(),
            conversation_id=self._conversation_id,
            config=config,
            plan=plan,
            conversation=self.conversation,
            ids=self.ids,
            ga=self.ga,
            input_usage=self._input_usage(config.instructions, context),
        )
        self._streams.append(stream)
        self._call_ids.update(stream.call_ids)
        return [stream.created()]

    def _context(self, given: list[Any] | None) -> list[StoredItem]:
        if given is None:
            return self.conversation.items()
        context: list[StoredItem] = []
        for index, entry in enumerate(given):
            param = f"response.input[{index}]"
            if isinstance(entry, dict) and entry.get("type") == "item_reference":
                ref = entry.get("id")
                stored = self.conversation.get(ref) if isinstance(ref, str) else None
                if stored is None:
                    raise errors.item_not_found(ref, param=f"{param}.id")
                context.append(stored)
            else:
                context.append(
                    client_item(
                        entry, ga=self.ga, ids=self.ids, input_format=self.config.input_format, param=param
                    )
                )
        return context

    @staticmethod
    def _input_usage(instructions: str, context: list[StoredItem]) -> Usage:
        chars = len(instructions)
        audio_ms = 0.0
        for stored in context:
            item = stored.item
            for key in ("arguments", "output"):
                chars += len(item.get(key) or "")
            for part in item.get("content") or []:
                chars += len(part.get("text") or part.get("transcript") or "")
            audio_ms += sum(stored.audio_ms(i) for i in stored.audio)
        return Usage(
            input_text=math.ceil(chars / CHARS_PER_TOKEN),
            input_audio=math.ceil(audio_ms / INPUT_AUDIO_MS_PER_TOKEN),
        )

    def _response_cancel(self, event: dict[str, Any]) -> list[ServerEvent]:
        response_id = event.get("response_id")
        if response_id is not None:
            target = next((s for s in self._streams if s.id == response_id), None)
        else:
            target = self.active_response
        if target is None:
            raise errors.cancel_not_active()
        events = target.cancel("client_cancelled")
        self._retire(target)
        return events
