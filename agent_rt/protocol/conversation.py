"""RealtimeConversation: the client-side cache of a Realtime conversation, built from server events.

Pure: it never does I/O. Feed it server events (either dialect) with :meth:`process_event`; it
keeps items in conversation order, each in its wire shape plus ``item["formatted"]``:

- ``audio``: int16 numpy array of all audio so far (assistant output, or the user's input audio),
- ``text``: accumulated text, ``transcript``: accumulated audio transcript,
- ``tool``: ``{"type", "name", "call_id", "arguments"}`` for function calls,
- ``output``: the output string of a ``function_call_output`` item,
- remote MCP items (``mcp_list_tools``, ``mcp_call``, ``mcp_approval_request`` /
  ``mcp_approval_response``): ``tool`` ``{"type": "mcp", "server_label", "name", "arguments"}``,
  a call's ``output`` and ``error``, a listing's ``tools``, ``mcp_status`` from the
  ``mcp_list_tools.*`` / ``response.mcp_call.*`` events.

Events the cache can't place (a delta for an unknown item, deleting an unknown item) raise
:class:`~agent_rt.errors.ConversationError`; the client turns that into an ``error`` event and
keeps running. Unknown event types and unknown fields are ignored.
"""

from __future__ import annotations

import binascii
import copy
import logging
import math
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any, NamedTuple

import numpy as np

from ..audio import alaw_decode, ulaw_decode
from ..errors import ConfigurationError, ConversationError
from .audio_buffer import AudioBuffer, InputAudioTrack, Int16Array, empty_audio
from .dialect import BETA_TO_GA_EVENTS, has_key, turn_detection_enabled

Item = dict[str, Any]
Delta = dict[str, Any]
Event = Mapping[str, Any]

_PCM16 = np.dtype("<i2")

logger = logging.getLogger("agent_rt.conversation")

#: Events can name an item before it exists (a transcription running ahead, speech the server is
#: still committing). At most this many such items are waited for per kind; beyond it the oldest
#: is dropped with a warning, so an item that never arrives cannot make the cache grow forever.
MAX_QUEUED_ITEMS = 32

_TEXT_PARTS = ("text", "output_text", "input_text")
_AUDIO_PARTS = ("audio", "output_audio", "input_audio")


class ConversationUpdate(NamedTuple):
    """What one server event did to the cache."""

    item: Item | None
    delta: Delta | None
    #: The item entered the conversation with this event (``conversation.item.appended``).
    appended: bool = False
    #: The item reached ``completed`` with this event, for the first time (``conversation.item.completed``).
    completed: bool = False


_NOTHING = ConversationUpdate(None, None)


def decode_audio(data: str, audio_format: str = "pcm16") -> Int16Array:
    """Base64 audio in ``audio_format`` to int16 samples (PCM16 without an extra copy)."""
    try:
        raw = binascii.a2b_base64(data)  # what base64.b64decode calls, without its copy of ``data``
    except (binascii.Error, ValueError) as exc:
        raise ConversationError(f"audio is not valid base64: {exc}") from None
    if audio_format == "g711_ulaw":
        return ulaw_decode(raw)
    if audio_format == "g711_alaw":
        return alaw_decode(raw)
    if len(raw) % 2:
        raw = raw[:-1]
    return np.frombuffer(raw, dtype=_PCM16)


_NO_AUDIO = empty_audio()


def _set_compacted(item: Item, audio: AudioBuffer) -> None:
    """Set ``formatted["audio"]`` to the exact-size audio, dropping the old view first (in-place shrink)."""
    formatted = item["formatted"]
    formatted["audio"] = _NO_AUDIO
    formatted["audio"] = audio.compact()


def _copy_without_output(response: Mapping[str, Any]) -> dict[str, Any]:
    # The response's items live in the item cache; the rest is copied so the cache never aliases events.
    return {key: copy.deepcopy(value) for key, value in response.items() if key != "output"}


#: Item types of remote MCP (GA): tool listings, calls, and the approval round trip.
_MCP_ITEMS = frozenset({"mcp_list_tools", "mcp_call", "mcp_approval_request", "mcp_approval_response"})


def _tool_type(item: Mapping[str, Any]) -> str:
    return "mcp" if item.get("type") == "mcp_call" else "function"


def _format_mcp(item: Mapping[str, Any], formatted: dict[str, Any]) -> None:
    """``formatted`` of an MCP item: ``tool`` for calls and approval requests, ``output``/``error``
    of a call, ``tools`` of a listing, ``approve`` of an approval response."""
    kind = item.get("type")
    if kind in ("mcp_call", "mcp_approval_request"):
        tool = formatted.setdefault("tool", {"type": "mcp"})
        tool.update(
            {
                "type": "mcp",
                "server_label": item.get("server_label"),
                "name": item.get("name"),
                "arguments": item.get("arguments") or "",
            }
        )
        if kind == "mcp_call":
            tool["approval_request_id"] = item.get("approval_request_id")
            formatted["output"] = item.get("output")
            formatted["error"] = copy.deepcopy(item.get("error"))
    elif kind == "mcp_list_tools":
        formatted["tools"] = copy.deepcopy(item.get("tools") or [])
    elif kind == "mcp_approval_response":
        formatted["approve"] = item.get("approve")


def sample_rate(audio_format: str) -> int:
    """Samples per second of a flat audio format name (G.711 is 8 kHz, PCM16 24 kHz)."""
    return 8000 if audio_format in ("g711_ulaw", "g711_alaw") else 24000


_USER_CONTENT_TYPES = frozenset({"input_text", "input_audio", "input_image", "item_reference"})


def user_message(content: Iterable[Mapping[str, Any]], encode_audio: Callable[[Any], str]) -> dict[str, Any]:
    """A user ``message`` item from content parts; ``input_audio`` that is not base64 yet is encoded."""
    parts: list[dict[str, Any]] = []
    for part in content:
        if not isinstance(part, Mapping) or part.get("type") not in _USER_CONTENT_TYPES:
            allowed = ", ".join(sorted(_USER_CONTENT_TYPES))
            raise ConfigurationError(f"user content parts must be dicts of type {allowed}: {part!r:.80}")
        converted = dict(part)
        audio = converted.get("audio")
        if converted["type"] == "input_audio" and audio is not None and not isinstance(audio, str):
            converted["audio"] = encode_audio(audio)
        parts.append(converted)
    return {"type": "message", "role": "user", "content": parts}


def audio_part_index(item: Mapping[str, Any]) -> int:
    """The content index of an assistant message's audio (what ``conversation.item.truncate`` names).

    Raises :class:`~agent_rt.errors.ConfigurationError` for any other item, or one with no audio.
    """
    if item.get("type") != "message" or item.get("role") != "assistant":
        raise ConfigurationError("can only truncate the audio of assistant messages")
    for index, part in enumerate(item.get("content") or ()):
        if part.get("type") in ("audio", "output_audio"):
            return index
    raise ConfigurationError(f"item {item.get('id')!r} has no audio to truncate")


def truncation(item: Mapping[str, Any], sample_count: int, audio_format: str) -> dict[str, Any]:
    """The ``conversation.item.truncate`` fields that cut an assistant item's audio after
    ``sample_count`` played samples, clamped to the audio received (the server rejects more)."""
    played = max(0, min(int(sample_count), len(item["formatted"]["audio"])))
    audio_end_ms = math.floor(played / sample_rate(audio_format) * 1000)
    return {"item_id": item["id"], "content_index": audio_part_index(item), "audio_end_ms": audio_end_ms}


class _ItemState:
    """Bookkeeping kept beside an item dict (not visible to users)."""

    __slots__ = ("audio", "completed", "in_conversation", "response_id")

    def __init__(self) -> None:
        self.audio: AudioBuffer | None = None
        self.completed = False
        self.in_conversation = False
        self.response_id: str | None = None


class RealtimeConversation:
    """Client-side cache of conversation items and responses."""

    def __init__(self, input_audio_format: str = "pcm16", output_audio_format: str = "pcm16") -> None:
        self.input_audio = InputAudioTrack(sample_rate(input_audio_format))
        self._input_audio_format = input_audio_format
        #: ``pcm16`` (24 kHz), ``g711_ulaw`` or ``g711_alaw`` (8 kHz): how output audio deltas decode.
        self.output_audio_format = output_audio_format
        self._handlers: dict[str, Callable[[Event], ConversationUpdate]] = {
            "session.created": self._session,
            "session.updated": self._session,
            "conversation.item.created": self._item_created,
            "conversation.item.added": self._item_created,
            "conversation.item.done": self._item_done,
            "conversation.item.retrieved": self._item_retrieved,
            "conversation.item.truncated": self._item_truncated,
            "conversation.item.deleted": self._item_deleted,
            "conversation.item.input_audio_transcription.delta": self._transcription_delta,
            "conversation.item.input_audio_transcription.completed": self._transcription_completed,
            "conversation.item.input_audio_transcription.failed": self._transcription_failed,
            "input_audio_buffer.speech_started": self._speech_started,
            "input_audio_buffer.speech_stopped": self._speech_stopped,
            "input_audio_buffer.committed": self._committed,
            "input_audio_buffer.timeout_triggered": self._timeout_triggered,
            "input_audio_buffer.cleared": self._cleared,
            "response.created": self._response_created,
            "response.done": self._response_done,
            "response.output_item.added": self._output_item_added,
            "response.output_item.done": self._item_done,
            "response.content_part.added": self._content_part_added,
            "response.content_part.done": self._content_part_done,
            "response.output_text.delta": self._text_delta,
            "response.output_text.done": self._text_done,
            "response.output_audio_transcript.delta": self._transcript_delta,
            "response.output_audio_transcript.done": self._transcript_done,
            "response.output_audio.delta": self._audio_delta,
            "response.function_call_arguments.delta": self._arguments_delta,
            "response.function_call_arguments.done": self._arguments_done,
            # Remote MCP (GA): the service lists and calls the tools of an ``mcp`` session tool.
            "response.mcp_call_arguments.delta": self._arguments_delta,
            "response.mcp_call_arguments.done": self._arguments_done,
            "response.mcp_call.in_progress": self._mcp_status,
            "response.mcp_call.completed": self._mcp_status,
            "response.mcp_call.failed": self._mcp_status,
            "mcp_list_tools.in_progress": self._mcp_status,
            "mcp_list_tools.completed": self._mcp_status,
            "mcp_list_tools.failed": self._mcp_status,
        }
        # Beta spellings map straight to their handlers: no renaming per event.
        for beta, ga in BETA_TO_GA_EVENTS.items():
            if ga in self._handlers:
                self._handlers[beta] = self._handlers[ga]
        self.clear()

    # -- public API ------------------------------------------------------------------------

    @property
    def input_audio_format(self) -> str:
        return self._input_audio_format

    @input_audio_format.setter
    def input_audio_format(self, value: str) -> None:
        """Set by the client from the session config; input audio is tracked at this format's rate."""
        self._input_audio_format = value
        self.input_audio.sample_rate = sample_rate(value)

    def clear(self) -> None:
        """Forget every item and response (the input-audio track is kept in sync by the client)."""
        self._items: list[Item] = []
        self._by_id: dict[str, Item] = {}
        self._state: dict[str, _ItemState] = {}
        self._responses: dict[str, dict[str, Any]] = {}
        self._queued_speech: dict[str, dict[str, Any]] = {}
        self._queued_transcripts: dict[str, dict[str, Any]] = {}
        self._queued_audio: dict[str, Int16Array] = {}
        self.input_audio.clear()

    def get_item(self, item_id: str) -> Item | None:
        return self._by_id.get(item_id)

    def get_items(self) -> list[Item]:
        """Items in conversation order (a new list; the items are the live cache entries)."""
        return list(self._items)

    def get_response(self, response_id: str) -> dict[str, Any] | None:
        return self._responses.get(response_id)

    def response_of(self, item_id: str) -> str | None:
        """The id of the response that produced ``item_id``, if any."""
        state = self._state.get(item_id)
        return state.response_id if state else None

    def process_event(self, event: Event) -> tuple[Item | None, Delta | None]:
        """Apply one server event; return the item it touched and the delta it added."""
        update = self.process(event)
        return update.item, update.delta

    def process(self, event: Event) -> ConversationUpdate:
        """Like :meth:`process_event`, also saying whether the item was appended or completed."""
        if type(event) is not dict and not isinstance(event, Mapping):  # dict first: skip the ABC check
            raise ConversationError(f"event is not an object: {type(event).__name__}")
        event_type = event.get("type")
        if not isinstance(event_type, str):
            raise ConversationError("event has no type", event=dict(event))
        handler = self._handlers.get(event_type)
        if handler is None:
            return _NOTHING
        try:
            return handler(event)
        except ConversationError as exc:
            if exc.event is None:
                exc.event = dict(event)
            raise
        except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
            raise ConversationError(
                f"malformed {event_type} event: {type(exc).__name__}: {exc}", event=dict(event)
            ) from None

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _queue(store: MutableMapping[str, Any], item_id: str, value: Any, what: str) -> None:
        """Keep ``value`` for an item not seen yet; past MAX_QUEUED_ITEMS, drop the oldest (logged)."""
        if item_id not in store:
            while len(store) >= MAX_QUEUED_ITEMS:
                dropped = next(iter(store))
                del store[dropped]
                logger.warning(
                    "dropped the queued %s for item %s: it never arrived (%d items wait at most)",
                    what,
                    dropped,
                    MAX_QUEUED_ITEMS,
                )
        store[item_id] = value

    @staticmethod
    def _refresh_formatted(item: Item) -> None:
        """Rebuild ``formatted`` text and transcript from the item's final parts (they are the final word).

        Only when every part of that kind carries a string: parts missing their value (deltas that
        arrived without a ``content_part.added``) leave what the deltas built.
        """
        content = [part for part in item.get("content") or [] if isinstance(part, Mapping)]
        formatted = item["formatted"]
        for key, kinds in (("text", _TEXT_PARTS), ("transcript", _AUDIO_PARTS)):
            parts = [part for part in content if part.get("type") in kinds]
            if parts and all(isinstance(part.get(key), str) for part in parts):
                formatted[key] = "".join(part[key] for part in parts)

    def _require(self, event: Event, key: str = "item_id") -> Item:
        item_id = event.get(key)
        item = self._by_id.get(item_id) if isinstance(item_id, str) else None
        if item is None:
            raise ConversationError(f"{event.get('type')}: no item with id {item_id!r} in the conversation")
        return item

    def _new_item(self, wire: Mapping[str, Any]) -> Item:
        item_id = wire.get("id")
        if not isinstance(item_id, str) or not item_id:
            raise ConversationError("item has no id")
        item: Item = {key: copy.deepcopy(value) for key, value in wire.items() if key != "content"}
        content = wire.get("content")
        item["content"] = [self._store_part(part) for part in content] if isinstance(content, list) else []
        state = _ItemState()
        formatted: dict[str, Any] = {"audio": empty_audio(), "text": "", "transcript": ""}
        for part in content if isinstance(content, list) else []:
            if not isinstance(part, Mapping):
                continue
            kind = part.get("type")
            if kind in ("input_text", "text", "output_text") and isinstance(part.get("text"), str):
                formatted["text"] += part["text"]
            elif kind in ("input_audio", "audio", "output_audio"):
                if isinstance(part.get("transcript"), str):
                    formatted["transcript"] += part["transcript"]
                if isinstance(part.get("audio"), str):
                    state.audio = AudioBuffer(decode_audio(part["audio"], self._format_of(item)))
        kind = item.get("type")
        if kind == "function_call":
            formatted["tool"] = {
                "type": "function",
                "name": item.get("name"),
                "call_id": item.get("call_id"),
                "arguments": item.get("arguments") or "",
            }
        elif kind == "function_call_output":
            formatted["output"] = item.get("output")
        elif kind in _MCP_ITEMS:
            _format_mcp(item, formatted)
        item["formatted"] = formatted
        self._by_id[item_id] = item
        self._state[item_id] = state
        self._apply_queued(item_id, item, state)
        if state.audio is not None:
            formatted["audio"] = state.audio.compact()
        return item

    @staticmethod
    def _store_part(part: Any) -> Any:
        # Audio bytes live in formatted["audio"], not twice in the content part.
        if isinstance(part, Mapping):
            return {key: copy.deepcopy(value) for key, value in part.items() if key != "audio"}
        return part

    def _apply_queued(self, item_id: str, item: Item, state: _ItemState) -> None:
        audio = self._queued_audio.pop(item_id, None)
        speech = self._queued_speech.pop(item_id, None)
        if speech is not None and "audio" in speech:
            audio = speech["audio"]
        if audio is not None and len(audio) and state.audio is None:
            state.audio = AudioBuffer(audio)
        transcript = self._queued_transcripts.pop(item_id, None)
        if transcript is not None:
            self._set_input_transcript(item, transcript["content_index"], transcript["transcript"])

    def _format_of(self, item: Mapping[str, Any]) -> str:
        # Input items hold audio in the input format (tracked at its rate); outputs in the output format.
        if item.get("role") == "assistant":
            return self.output_audio_format
        return self._input_audio_format

    def _insert(self, item: Item, previous_item_id: Any) -> None:
        if isinstance(previous_item_id, str) and previous_item_id in self._by_id:
            for index, existing in enumerate(self._items):
                if existing["id"] == previous_item_id:
                    self._items.insert(index + 1, item)
                    return
        if previous_item_id == "root":
            self._items.insert(0, item)
            return
        self._items.append(item)

    def _merge_final(self, item: Item, wire: Mapping[str, Any]) -> None:
        """Take the final fields of an item from a ``.done`` event, keeping what only we have."""
        for key, value in wire.items():
            if key == "content":
                if isinstance(value, list):
                    item["content"] = self._final_content(item.get("content"), value)
            elif key not in ("formatted", "id"):
                item[key] = copy.deepcopy(value)
        formatted = item["formatted"]
        if item.get("type") == "function_call":
            tool = formatted.setdefault("tool", {"type": "function"})
            for field in ("name", "call_id"):
                if item.get(field) is not None:
                    tool[field] = item[field]
            if isinstance(item.get("arguments"), str):
                tool["arguments"] = item["arguments"]
        elif item.get("type") == "function_call_output":
            formatted["output"] = item.get("output")
        elif item.get("type") in _MCP_ITEMS:
            _format_mcp(item, formatted)
        elif item.get("role") == "assistant":  # the final parts correct what the deltas built
            self._refresh_formatted(item)

    def _final_content(self, known: Any, final: list[Any]) -> list[Any]:
        """The final content parts, keeping an input transcript that arrived before a ``transcript: null``."""
        parts = [self._store_part(part) for part in final]
        known_parts = known if isinstance(known, list) else []
        for part, old in zip(parts, known_parts, strict=False):
            if (
                isinstance(part, dict)
                and isinstance(old, dict)
                and part.get("type") == old.get("type")
                and part.get("transcript") is None
                and isinstance(old.get("transcript"), str)
            ):
                part["transcript"] = old["transcript"]
        return parts

    def _completion(self, item: Item, *, final: bool) -> bool:
        """Mark ``item`` completed once; ``final`` events count unless the item is incomplete."""
        state = self._state[item["id"]]
        if state.completed:
            return False
        status = item.get("status")
        if status == "completed" or (final and status not in ("incomplete", "in_progress")):
            state.completed = True
            if state.audio is not None:
                _set_compacted(item, state.audio)
            return True
        return False

    # -- items -----------------------------------------------------------------------------

    def _item_created(self, event: Event) -> ConversationUpdate:
        wire = event["item"]
        item_id = wire["id"]
        item = self._by_id.get(item_id)
        if item is None:
            item = self._new_item(wire)
        else:  # already known from response.output_item.added: refresh, keep accumulated data
            for key, value in wire.items():
                if key not in ("content", "formatted") and key not in item:
                    item[key] = copy.deepcopy(value)
        state = self._state[item_id]
        appended = not state.in_conversation
        if appended:
            state.in_conversation = True
            self._insert(item, event.get("previous_item_id"))
        completed = self._completion(item, final=False)
        return ConversationUpdate(item, None, appended, completed)

    def _item_done(self, event: Event) -> ConversationUpdate:
        wire = event["item"]
        item = self._by_id.get(wire["id"])
        if item is None:  # a done item we never saw start: take it whole
            item = self._new_item(wire)
        else:
            self._merge_final(item, wire)
        if event.get("type") == "conversation.item.done":
            state = self._state[item["id"]]
            if not state.in_conversation:
                state.in_conversation = True
                self._insert(item, event.get("previous_item_id"))
                return ConversationUpdate(item, None, True, self._completion(item, final=True))
        return ConversationUpdate(item, None, False, self._completion(item, final=True))

    def _item_retrieved(self, event: Event) -> ConversationUpdate:
        wire = event["item"]
        item = self._by_id.get(wire.get("id"))
        if item is None:
            return ConversationUpdate(self._new_item(wire), None)
        state = self._state[item["id"]]
        for part in wire.get("content") or []:
            if isinstance(part, Mapping) and isinstance(part.get("audio"), str):
                state.audio = AudioBuffer(decode_audio(part["audio"], self._format_of(item)))
                _set_compacted(item, state.audio)
                break
        self._merge_final(item, wire)
        return ConversationUpdate(item, None)

    def _item_truncated(self, event: Event) -> ConversationUpdate:
        item = self._require(event)
        end_ms = event.get("audio_end_ms")
        if not isinstance(end_ms, (int, float)) or isinstance(end_ms, bool) or end_ms < 0:
            raise ConversationError(f"conversation.item.truncated: bad audio_end_ms {end_ms!r}")
        rate = sample_rate(self.output_audio_format)
        end = int(end_ms * rate // 1000)
        state = self._state[item["id"]]
        if state.audio is not None:
            state.audio.truncate(end)
            _set_compacted(item, state.audio)
        # The service drops the transcript of a truncated item: keep the cache in step with it.
        item["formatted"]["transcript"] = ""
        index = event.get("content_index", 0)
        content = item.get("content") or []
        if isinstance(index, int) and 0 <= index < len(content) and isinstance(content[index], dict):
            content[index]["transcript"] = ""
        return ConversationUpdate(item, None)

    def _item_deleted(self, event: Event) -> ConversationUpdate:
        item = self._require(event)
        item_id = item["id"]
        del self._by_id[item_id]
        del self._state[item_id]
        self._items = [existing for existing in self._items if existing["id"] != item_id]
        return ConversationUpdate(item, None)

    # -- input audio and its transcription -------------------------------------------------

    def _set_input_transcript(self, item: Item, content_index: Any, transcript: str) -> None:
        content = item.get("content") or []
        if isinstance(content_index, int) and 0 <= content_index < len(content):
            part = content[content_index]
            if isinstance(part, dict):
                part["transcript"] = transcript
        item["formatted"]["transcript"] = transcript

    def _transcription_delta(self, event: Event) -> ConversationUpdate:
        delta = event.get("delta") or ""
        item = self._by_id.get(event["item_id"])
        if item is None:  # transcription can run ahead of the item: keep the text for later
            queued = self._queued_transcripts.get(event["item_id"])
            if queued is None:
                queued = {"content_index": event.get("content_index", 0), "transcript": ""}
                self._queue(self._queued_transcripts, event["item_id"], queued, "transcript")
            queued["transcript"] += delta
            return _NOTHING
        item["formatted"]["transcript"] += delta
        return ConversationUpdate(item, {"transcript": delta})

    def _transcription_completed(self, event: Event) -> ConversationUpdate:
        transcript = event.get("transcript")
        if transcript is None:
            transcript = ""
        elif not isinstance(transcript, str):
            raise ConversationError(f"transcript must be a string, not {type(transcript).__name__}")
        index = event.get("content_index", 0)
        item = self._by_id.get(event["item_id"])
        if item is None:
            queued = {"content_index": index, "transcript": transcript}
            self._queue(self._queued_transcripts, event["item_id"], queued, "transcript")
            return _NOTHING
        self._set_input_transcript(item, index, transcript)
        return ConversationUpdate(item, {"transcript": transcript})

    def _transcription_failed(self, event: Event) -> ConversationUpdate:
        item = self._by_id.get(event["item_id"])
        if item is not None:
            item["formatted"]["transcription_error"] = copy.deepcopy(event.get("error"))
        return ConversationUpdate(item, None)

    def _session(self, event: Event) -> ConversationUpdate:
        """Follow the server's turn detection: without VAD, input audio is kept until a manual commit."""
        session = event.get("session")
        if isinstance(session, Mapping) and has_key(session, "turn_detection"):
            self.input_audio.trim_idle = turn_detection_enabled(session)
        return _NOTHING

    def _speech_started(self, event: Event) -> ConversationUpdate:
        speech = {"audio_start_ms": event.get("audio_start_ms", 0)}
        self._queue(self._queued_speech, event["item_id"], speech, "speech")
        self.input_audio.speech_started()
        return _NOTHING

    def _speech_stopped(self, event: Event) -> ConversationUpdate:
        speech = self._queued_speech.get(event["item_id"])
        if speech is None:
            speech = {"audio_start_ms": 0}
            self._queue(self._queued_speech, event["item_id"], speech, "speech")
        end_ms = event.get("audio_end_ms", 0)
        speech["audio_end_ms"] = end_ms
        speech["audio"] = self.input_audio.slice_ms(speech["audio_start_ms"], end_ms)
        self.input_audio.commit_until_ms(end_ms)
        return _NOTHING

    def _timeout_triggered(self, event: Event) -> ConversationUpdate:
        """GA idle timeout: the server commits the silence ``[audio_start_ms, audio_end_ms)`` as an item."""
        start_ms = event.get("audio_start_ms", 0)
        end_ms = event.get("audio_end_ms", 0)
        speech = {
            "audio_start_ms": start_ms,
            "audio_end_ms": end_ms,
            "audio": self.input_audio.slice_ms(start_ms, end_ms),
        }
        self._queue(self._queued_speech, event["item_id"], speech, "speech")
        self.input_audio.commit_until_ms(end_ms)
        return _NOTHING

    def _committed(self, event: Event) -> ConversationUpdate:
        item_id = event["item_id"]
        if item_id not in self._queued_speech:  # a manual commit: all pending audio becomes the item's
            audio = self.input_audio.take_all()
            if len(audio):
                item = self._by_id.get(item_id)
                if item is None:
                    self._queue(self._queued_audio, item_id, audio, "input audio")
                elif self._state[item_id].audio is None:
                    self._state[item_id].audio = AudioBuffer(audio)
                    item["formatted"]["audio"] = self._state[item_id].audio.compact()  # type: ignore[union-attr]
        return _NOTHING

    def _cleared(self, event: Event) -> ConversationUpdate:
        self.input_audio.clear()
        return _NOTHING

    # -- responses -------------------------------------------------------------------------

    def _response_created(self, event: Event) -> ConversationUpdate:
        response = event["response"]
        response_id = response["id"]
        if response_id not in self._responses:
            self._responses[response_id] = {**_copy_without_output(response), "output": []}
        return _NOTHING

    def _response_done(self, event: Event) -> ConversationUpdate:
        response = event["response"]
        response_id = response.get("id")
        known = self._responses.get(response_id) if isinstance(response_id, str) else None
        output_ids = [item.get("id") for item in response.get("output") or [] if isinstance(item, Mapping)]
        merged = {**(known or {}), **_copy_without_output(response)}
        merged["output"] = output_ids or (known or {}).get("output", [])
        if isinstance(response_id, str):
            self._responses[response_id] = merged
        return _NOTHING

    def _output_item_added(self, event: Event) -> ConversationUpdate:
        wire = event["item"]
        response_id = event.get("response_id")
        item = self._by_id.get(wire["id"]) or self._new_item(wire)
        state = self._state[item["id"]]
        if isinstance(response_id, str):
            state.response_id = response_id
            response = self._responses.setdefault(response_id, {"id": response_id, "output": []})
            if item["id"] not in response["output"]:
                response["output"].append(item["id"])
        return ConversationUpdate(item, None)

    def _content_part_added(self, event: Event) -> ConversationUpdate:
        item = self._require(event)
        part = self._store_part(event["part"])
        content: list[Any] = item.setdefault("content", [])
        index = event.get("content_index", len(content))
        if isinstance(index, int) and index < len(content):
            content[index] = part
        else:
            content.append(part)
        return ConversationUpdate(item, None)

    def _content_part_done(self, event: Event) -> ConversationUpdate:
        item = self._require(event)
        part = self._store_part(event["part"])
        content: list[Any] = item.setdefault("content", [])
        index = event.get("content_index", 0)
        if isinstance(index, int) and 0 <= index < len(content):
            content[index] = part
        else:
            content.append(part)
        self._refresh_formatted(item)
        return ConversationUpdate(item, None)

    def _part(self, item: Item, event: Event) -> dict[str, Any] | None:
        content = item.get("content") or []
        index = event.get("content_index", 0)
        if isinstance(index, int) and 0 <= index < len(content) and isinstance(content[index], dict):
            part: dict[str, Any] = content[index]
            return part
        return None

    def _text_delta(self, event: Event) -> ConversationUpdate:
        item = self._require(event)
        delta = event.get("delta") or ""
        part = self._part(item, event)
        if part is not None:
            part["text"] = (part.get("text") or "") + delta
        item["formatted"]["text"] += delta
        return ConversationUpdate(item, {"text": delta})

    def _text_done(self, event: Event) -> ConversationUpdate:
        item = self._require(event)
        text = event.get("text")
        if isinstance(text, str):
            part = self._part(item, event)
            if part is None:  # no part to correct: the event's text is all there is
                item["formatted"]["text"] = text
            else:
                part["text"] = text
                self._refresh_formatted(item)
        return ConversationUpdate(item, None)

    def _transcript_delta(self, event: Event) -> ConversationUpdate:
        item = self._require(event)
        delta = event.get("delta") or ""
        part = self._part(item, event)
        if part is not None:
            part["transcript"] = (part.get("transcript") or "") + delta
        item["formatted"]["transcript"] += delta
        return ConversationUpdate(item, {"transcript": delta})

    def _transcript_done(self, event: Event) -> ConversationUpdate:
        item = self._require(event)
        transcript = event.get("transcript")
        if isinstance(transcript, str):
            part = self._part(item, event)
            if part is None:  # no part to correct: the event's transcript is all there is
                item["formatted"]["transcript"] = transcript
            else:
                part["transcript"] = transcript
                self._refresh_formatted(item)
        return ConversationUpdate(item, None)

    def _audio_delta(self, event: Event) -> ConversationUpdate:
        item = self._require(event)
        samples = decode_audio(event.get("delta") or "", self.output_audio_format)
        state = self._state[item["id"]]
        if state.audio is None:
            state.audio = AudioBuffer()
        formatted = item["formatted"]
        formatted["audio"] = _NO_AUDIO  # drop our view first, so that the buffer can grow in place
        state.audio.append(samples)
        formatted["audio"] = state.audio.view()
        return ConversationUpdate(item, {"audio": samples})

    def _arguments_delta(self, event: Event) -> ConversationUpdate:
        item = self._require(event)
        delta = event.get("delta") or ""
        item["arguments"] = (item.get("arguments") or "") + delta
        tool = item["formatted"].setdefault("tool", {"type": _tool_type(item), "arguments": ""})
        tool["arguments"] = item["arguments"]
        return ConversationUpdate(item, {"arguments": delta})

    def _arguments_done(self, event: Event) -> ConversationUpdate:
        item = self._require(event)
        arguments = event.get("arguments")
        if isinstance(arguments, str):
            item["arguments"] = arguments
            item["formatted"].setdefault("tool", {"type": _tool_type(item)})["arguments"] = arguments
        if isinstance(event.get("name"), str):
            item.setdefault("name", event["name"])
            item["formatted"].setdefault("tool", {"type": _tool_type(item)})["name"] = event["name"]
        return ConversationUpdate(item, None)

    def _mcp_status(self, event: Event) -> ConversationUpdate:
        """``mcp_list_tools.*`` / ``response.mcp_call.*``: the item's ``formatted["mcp_status"]``.

        These events carry only ``item_id``; one may arrive before its item (a listing starts as
        the session is updated), so an unknown id is no error.
        """
        item_id = event.get("item_id")
        item = self._by_id.get(item_id) if isinstance(item_id, str) else None
        if item is None:
            return _NOTHING
        item["formatted"]["mcp_status"] = str(event["type"]).rsplit(".", 1)[1]
        return ConversationUpdate(item, None)
