"""What a response says: the interface between the session and whatever decides the reply.

The session asks a :class:`Responder` for a plan — a list of :class:`TextOutput` (one assistant
message, spoken or written depending on the response's modality) and :class:`CallOutput`
(one ``function_call`` item each) — and streams it. The scripted scenario of
:mod:`agent_rt.server.scenario` is the built-in responder; anything with the same two methods
can replace it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class TextOutput:
    """One assistant message with this text (the transcript when spoken)."""

    text: str


@dataclass(frozen=True)
class CallOutput:
    """One ``function_call`` item. ``arguments`` is the JSON text streamed to the client."""

    name: str
    arguments: str
    call_id: str


@dataclass(frozen=True)
class McpResult:
    """What a remote MCP call gave: ``output`` (the text the item carries) or ``error`` (its object)."""

    output: str | None = None
    error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class McpCallOutput:
    """One ``mcp_call`` item: the server calls ``name`` on the ``mcp`` session tool ``server_label``.

    The call runs between two batches of the response (the listener does the I/O); ``follow``
    plans what the response says once the result is known (a responder can't know it earlier).
    """

    server_label: str
    name: str
    arguments: str
    follow: Callable[[McpResult], Sequence[TextOutput]] | None = None
    approval_request_id: str | None = None


@dataclass(frozen=True)
class McpApprovalOutput:
    """One ``mcp_approval_request`` item: the call waits for the client's ``mcp_approval_response``."""

    id: str
    call: McpCallOutput


PlannedOutput = TextOutput | CallOutput | McpCallOutput | McpApprovalOutput


@dataclass(frozen=True)
class ContextItem:
    """A conversation item as the responder sees it.

    ``heard`` is the text the "model" understood from a user audio item (scenario transcript or
    placeholder), whether or not input transcription is switched on.
    """

    item: dict[str, Any]
    heard: str | None = None


@dataclass(frozen=True)
class ResponseRequest:
    """Everything a responder may look at when planning one response."""

    items: Sequence[ContextItem]
    new_call_id: Callable[[], str]
    instructions: str = ""
    tools: Sequence[dict[str, Any]] = field(default_factory=tuple)
    tool_choice: Any = "auto"
    mcp_tools: Mapping[str, str] = field(default_factory=dict)
    """Tools listed from the session's ``mcp`` tools: name -> ``server_label`` (remote MCP)."""


class Responder(Protocol):
    """Decides the content of responses and of user-audio transcripts."""

    def transcribe(self, duration_ms: float) -> str:
        """The text heard in a committed user audio item of this length."""
        ...

    def respond(self, request: ResponseRequest) -> list[PlannedOutput]:
        """The outputs of one response, in order."""
        ...


def user_text(context: ContextItem) -> str:
    """The text of a user message: its ``input_text`` parts and the heard/transcribed audio."""
    parts: list[str] = []
    for part in context.item.get("content") or []:
        if part.get("type") == "input_text" and isinstance(part.get("text"), str):
            parts.append(part["text"])
        elif part.get("type") == "input_audio":
            transcript = part.get("transcript")
            if isinstance(transcript, str) and transcript:
                parts.append(transcript)
            elif context.heard:
                parts.append(context.heard)
    return " ".join(parts).strip()
