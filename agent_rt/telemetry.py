"""OpenTelemetry spans for a client: the session, each response, each tool call (extra ``otel``).

``instrument(client)`` attaches an observer (:mod:`agent_rt.observers`) that turns the client's
events into spans, with the OpenTelemetry GenAI semantic-convention attributes where one applies:

- ``realtime {model}`` (kind CLIENT): one server session, from ``session.created`` to the close
  (or the drop before a reconnect). ``gen_ai.operation.name = "realtime"``, ``gen_ai.provider.name``,
  ``gen_ai.request.model``, ``gen_ai.conversation.id`` (the session id), ``server.address`` /
  ``server.port``; server ``error`` events become span events (type and code only).
- ``chat {model}`` (CLIENT), child of the session: one response, ``response.created`` to
  ``response.done``: ``gen_ai.response.id``, ``gen_ai.response.finish_reasons`` (the status, or
  the reason of an incomplete one), ``gen_ai.usage.input_tokens`` / ``output_tokens`` /
  ``cache_read.input_tokens`` and ``agent_rt.usage.*`` (audio and text token counts) from the
  ``usage`` of ``response.done``; a failed response has status ERROR and ``error.type``.
- ``execute_tool {name}`` (INTERNAL), child of the response that asked for it: ``gen_ai.tool.name``,
  ``gen_ai.tool.call.id``, ``gen_ai.tool.type``, ``agent_rt.tool.outcome`` (``ok``, ``error`` or
  ``cancelled``) and ``agent_rt.tool.duration`` (seconds in the handler); an error sets status ERROR.

No content is recorded: no audio, no text, no instructions, no tool arguments or results, no
headers or keys. The library depends only on ``opentelemetry-api``: spans are recorded when the
application configures an SDK (``TracerProvider``) and cost almost nothing otherwise; nothing here
is imported unless the application imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import __version__
from .errors import ConfigurationError
from .observers import ObserverHandle, attach

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer, TracerProvider

    from .client import RealtimeClient

__all__ = ["RealtimeTracer", "instrument", "observer_for"]

INSTRUMENTATION_NAME = "agent_rt"
PROVIDER = "openai"  # the protocol's provider; server.address tells a relay or the local server apart
_CALL_EVENTS = frozenset(
    {"response.output_item.added", "response.function_call_arguments.done", "response.output_item.done"}
)


def instrument(client: RealtimeClient, *, tracer_provider: TracerProvider | None = None) -> ObserverHandle:
    """Trace ``client``'s sessions, responses and tool calls; ``handle.detach()`` stops it.

    ``tracer_provider`` defaults to the global one (``opentelemetry.trace.set_tracer_provider``).
    Raises :class:`~agent_rt.errors.ConfigurationError` when ``opentelemetry-api`` is missing.
    """
    return attach(client, observer_for(client, tracer_provider=tracer_provider), name="agent_rt.telemetry")


def observer_for(client: RealtimeClient, *, tracer_provider: TracerProvider | None = None) -> RealtimeTracer:
    """The tracing observer for ``client``, unattached: what a plugin's ``agent_rt_observer`` returns."""
    try:
        from opentelemetry import trace
    except ImportError:
        raise ConfigurationError(
            "agent_rt.telemetry needs opentelemetry-api: pip install 'agentrt[otel]'"
        ) from None
    tracer = trace.get_tracer(INSTRUMENTATION_NAME, __version__, tracer_provider=tracer_provider)
    return RealtimeTracer(tracer, url=client.realtime.url, model=client.realtime.model)


class RealtimeTracer:
    """The observer behind :func:`instrument`: client events in, spans out (one client, in order)."""

    def __init__(self, tracer: Tracer, *, url: str, model: str | None) -> None:
        self._tracer = tracer
        parts = urlsplit(url)
        self._server: dict[str, Any] = {"server.address": parts.hostname or ""}
        if parts.port is not None or parts.scheme in ("ws", "wss"):
            self._server["server.port"] = parts.port or (443 if parts.scheme == "wss" else 80)
        self._model = model
        self._session: Span | None = None
        self._session_id: str | None = None
        self._responses: dict[str, Span] = {}
        self._call_response: dict[str, str] = {}  # call_id -> response id that asked for it
        self._tools: dict[str, Span] = {}

    def __call__(self, name: str, payload: Mapping[str, Any]) -> None:
        if name == "realtime.event":
            event = payload.get("event")
            if isinstance(event, Mapping) and payload.get("source") == "server":
                self._on_server_event(event)
        elif name == "tool.call.started":
            self._tool_started(payload)
        elif name == "tool.call.finished":
            self._tool_finished(payload)
        elif name in ("close", "reconnecting"):
            self._end_session(payload.get("code"))

    # -- server events ---------------------------------------------------------------------

    def _on_server_event(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        if kind == "session.created":
            session = event.get("session")
            self._start_session(session if isinstance(session, Mapping) else {})
        elif kind == "response.created":
            response = event.get("response")
            if isinstance(response, Mapping):
                self._start_response(response)
        elif kind in _CALL_EVENTS:  # whichever comes first tells which response asked for the call
            item = event.get("item")
            call_id = item.get("call_id") if isinstance(item, Mapping) else event.get("call_id")
            response_id = event.get("response_id")
            if isinstance(call_id, str) and isinstance(response_id, str):
                self._call_response.setdefault(call_id, response_id)
        elif kind == "response.done":
            response = event.get("response")
            if isinstance(response, Mapping):
                self._end_response(response)
        elif kind == "error" and self._session is not None:
            error = event.get("error")
            details = error if isinstance(error, Mapping) else {}
            self._session.add_event(
                "error",
                _attributes({"error.type": details.get("type"), "agent_rt.error.code": details.get("code")}),
            )

    def _start_session(self, session: Mapping[str, Any]) -> None:
        from opentelemetry.trace import SpanKind

        self._end_session(None)
        model = session.get("model") if isinstance(session.get("model"), str) else self._model
        self._session_id = session.get("id") if isinstance(session.get("id"), str) else None
        self._session = self._tracer.start_span(
            f"realtime {model}" if model else "realtime",
            kind=SpanKind.CLIENT,
            attributes=_attributes(
                {
                    "gen_ai.operation.name": "realtime",
                    "gen_ai.provider.name": PROVIDER,
                    "gen_ai.request.model": model,
                    "gen_ai.conversation.id": self._session_id,
                    **self._server,
                }
            ),
        )

    def _end_session(self, code: object) -> None:
        for call_id in list(self._tools):
            self._end_tool(call_id, "cancelled", None, None)
        for response_id in list(self._responses):
            span = self._responses.pop(response_id)
            span.set_attribute("agent_rt.response.status", "interrupted")
            span.end()
        self._call_response.clear()
        session, self._session = self._session, None
        if session is None:
            return
        if isinstance(code, int):
            session.set_attribute("agent_rt.close.code", code)
        session.end()

    def _parent(self, span: Span | None) -> Any:
        from opentelemetry import trace

        return trace.set_span_in_context(span) if span is not None else None

    def _start_response(self, response: Mapping[str, Any]) -> None:
        from opentelemetry.trace import SpanKind

        response_id = response.get("id")
        if not isinstance(response_id, str):
            return
        model = self._model
        self._responses[response_id] = self._tracer.start_span(
            f"chat {model}" if model else "chat",
            context=self._parent(self._session),
            kind=SpanKind.CLIENT,
            attributes=_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": PROVIDER,
                    "gen_ai.request.model": model,
                    "gen_ai.response.id": response_id,
                    "gen_ai.conversation.id": self._session_id,
                    **self._server,
                }
            ),
        )

    def _end_response(self, response: Mapping[str, Any]) -> None:
        from opentelemetry.trace import StatusCode

        span = self._responses.pop(str(response.get("id")), None)
        if span is None:
            return
        status = response.get("status")
        details = response.get("status_details")
        details = details if isinstance(details, Mapping) else {}
        reason = details.get("reason") if status == "incomplete" else None
        attributes: dict[str, Any] = {
            "agent_rt.response.status": status,
            "gen_ai.response.finish_reasons": [str(reason or status)] if status else None,
            "gen_ai.response.model": response.get("model")
            if isinstance(response.get("model"), str)
            else None,
        }
        usage = response.get("usage")
        if isinstance(usage, Mapping):
            attributes.update(_usage(usage))
        span.set_attributes(_attributes(attributes))
        if status == "failed":
            error = details.get("error")
            error_type = error.get("type") if isinstance(error, Mapping) else None
            span.set_attribute("error.type", str(error_type or "failed"))
            span.set_status(StatusCode.ERROR)
        span.end()

    # -- tool calls ------------------------------------------------------------------------

    def _tool_started(self, payload: Mapping[str, Any]) -> None:
        from opentelemetry.trace import SpanKind

        call_id, name = payload.get("call_id"), payload.get("name")
        if not isinstance(call_id, str):
            return
        response_id = self._call_response.get(call_id)
        parent = self._responses.get(response_id) if response_id else None
        context = self._parent(parent if parent is not None else self._session)
        self._tools[call_id] = self._tracer.start_span(
            f"execute_tool {name}",
            context=context,
            kind=SpanKind.INTERNAL,
            attributes=_attributes(
                {
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": name,
                    "gen_ai.tool.call.id": call_id,
                    "gen_ai.tool.type": "function",
                    "gen_ai.response.id": response_id,
                }
            ),
        )

    def _tool_finished(self, payload: Mapping[str, Any]) -> None:
        call_id = payload.get("call_id")
        if isinstance(call_id, str):
            duration = payload.get("duration")
            outcome = "ok" if payload.get("ok") else "error"
            self._end_tool(
                call_id, outcome, duration if isinstance(duration, (int, float)) else None, payload
            )

    def _end_tool(self, call_id: str, outcome: str, duration: float | None, payload: object) -> None:
        from opentelemetry.trace import StatusCode

        span = self._tools.pop(call_id, None)
        if span is None:
            return
        span.set_attributes(
            _attributes({"agent_rt.tool.outcome": outcome, "agent_rt.tool.duration": duration})
        )
        if outcome != "ok":
            span.set_attribute("error.type", "tool_cancelled" if outcome == "cancelled" else "tool_error")
            span.set_status(StatusCode.ERROR)
        span.end()


def _usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    """``response.done`` usage as GenAI attributes (totals) and agent_rt ones (by modality)."""
    found: dict[str, Any] = {
        "gen_ai.usage.input_tokens": usage.get("input_tokens"),
        "gen_ai.usage.output_tokens": usage.get("output_tokens"),
    }
    for side in ("input", "output"):
        details = usage.get(f"{side}_token_details")
        if not isinstance(details, Mapping):
            continue
        for kind in ("text", "audio", "image"):
            found[f"agent_rt.usage.{side}_{kind}_tokens"] = details.get(f"{kind}_tokens")
        if side == "input":
            found["gen_ai.usage.cache_read.input_tokens"] = details.get("cached_tokens")
    return found


def _attributes(values: Mapping[str, Any]) -> dict[str, Any]:
    """Drop the unknown (None) values and anything that is not a valid attribute type."""
    kept: dict[str, Any] = {}
    for key, value in values.items():
        strings = isinstance(value, list) and all(isinstance(part, str) for part in value)
        if strings or isinstance(value, (str, bool, int, float)):
            kept[key] = value
    return kept
