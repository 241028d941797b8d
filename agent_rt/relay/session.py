"""One relayed session: two pumps and a watchdog between a client WebSocket and the upstream.

The per-frame path is short on purpose: a size check, a token bucket, :func:`peek_type` (no
parsing of audio payloads), a set lookup for the allow-list, then the frame goes on untouched.
Only the few event types the relay acts on are parsed (``session.update`` and
``response.create`` from the client; ``error`` and ``response.done`` from the upstream, plus
what the server-side tools need).

How a session ends is decided once: the first of the pumps and the watchdog to call
:meth:`RelaySession.finish` sets the close code and reason (synchronously, so no await can
interleave) and cancels the rest; the client and the upstream are closed after that. A failed
send to the client decides nothing: the client's ``websocket.disconnect``, which the client
pump reads, says how the client went (its close frame's code, or a lost connection).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
from starlette.types import Message, Receive, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from .._secrets import MASK, redact
from ..errors import ConnectionClosedError
from . import limits as L
from .auth import Identity
from .debuglog import describe_frame
from .peek import peek_type
from .policy import merge_tools, relay_error, strip_locked, strip_model
from .upstream import UpstreamConnection
from .usage import usage_of

if TYPE_CHECKING:
    from .app import Relay
    from .tools import SessionTools

logger = logging.getLogger("agent_rt.relay")
debug_logger = logging.getLogger("agent_rt.relay.events")

_CLIENT_ACTS_ON = frozenset({"session.update", "response.create"})
_LOST = frozenset({1005, 1006, 1015})  # codes that say "no close frame": never sent in one
_CLOSE_REASON_BYTES = 123
#: How long the upstream pump, unable to send to the client, waits for the client pump to read how
#: the client went (see ``RelaySession._client_unreachable``) before recording 1006 itself.
CLIENT_SAYS_WITHIN = 5.0


def close_reason(text: str) -> str:
    """A close reason that fits a close frame (123 bytes of UTF-8), redacted."""
    data = redact(text).encode()[:_CLOSE_REASON_BYTES]
    return data.decode(errors="ignore")


@dataclass
class Ending:
    code: int
    reason: str
    by: str
    """``client``, ``upstream`` or ``relay``: who ended the session."""


@dataclass
class SessionStats:
    frames_in: int = 0
    frames_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    tokens: dict[str, int] = field(default_factory=dict)


class RelaySession:
    """Forwards frames both ways until either side closes or a limit ends the session."""

    def __init__(
        self,
        relay: Relay,
        client: WebSocket,
        upstream: UpstreamConnection,
        identity: Identity,
        *,
        receive: Receive,
        send: Send,
        model: str | None,
        beta: bool = False,
        ticket: L.SlotTicket | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ticket = ticket
        self.relay = relay
        self.beta = beta
        # The raw ASGI channels: the per-frame path skips Starlette's state checks (the session
        # only starts once the handshake is done, and ends through ``client.close``).
        self._receive = receive
        self._send = send
        self.client = client
        self.upstream = upstream
        self.identity = identity
        self.model = model
        self.clock = clock
        self.started = clock()
        self.last_activity = self.started
        self.stats = SessionStats()
        self.ending: Ending | None = None
        self._scope = anyio.CancelScope()
        limits = relay.limits
        self._limiter = (
            L.RateLimiter(limits.events_per_second, limits.burst, self.started)
            if limits.events_per_second is not None
            else None
        )
        self._budget = relay.budget_for(identity)
        self._models = relay.models_for(identity)
        self._tasks: anyio.abc.TaskGroup | None = None
        self._client_tools: list[Any] | None = None
        """The tools of the client's last ``session.update`` (before the relay added its own)."""
        self.tools: SessionTools | None = None
        if relay.tools is not None:
            from .tools import SessionTools

            self.tools = SessionTools(relay.tools, self._send_upstream, relay.tool_definitions)

    # -- ending ------------------------------------------------------------------------------

    def finish(self, code: int, reason: str, by: str) -> None:
        """Decide how the session ends (the first call wins) and stop the pumps."""
        if self.ending is None:
            self.ending = Ending(code, reason, by)
            self._scope.cancel()

    async def run(self) -> None:
        try:
            with self._scope:
                async with anyio.create_task_group() as tasks:
                    self._tasks = tasks  # tool handlers run here, and end with the session
                    tasks.start_soon(self._from_upstream)
                    tasks.start_soon(self._watchdog)
                    # The client pump runs as a task of its own, not at the bottom of the ASGI
                    # server's task: each frame then resumes a short chain of coroutines instead
                    # of every middleware's frame above the route.
                    tasks.start_soon(self._client_side)
        finally:
            with anyio.CancelScope(shield=True):
                await self.close()

    async def close(self) -> None:
        """Close both sides (as :meth:`finish` decided) and log the session's summary line."""
        await self._close_both()
        self._log_summary()

    async def _close_both(self) -> None:
        ending = self.ending or Ending(L.CLOSE_GOING_AWAY, "the relay is shutting down", "relay")
        self.ending = ending
        code = L.CLOSE_UPSTREAM if ending.by != "client" and ending.code in _LOST else ending.code
        # Accounting first: once either peer sees its close, the relay holds nothing of the session.
        metrics = self.relay.metrics
        metrics.upstreams_open -= 1
        metrics.sessions_active -= 1
        metrics.closes[code] += 1
        if self.ticket is not None:
            self.ticket.release()
        if self.tools is not None:
            self.tools.close()
        if ending.by != "upstream":
            with anyio.move_on_after(2):
                await self.upstream.close(1000, "client gone" if ending.by == "client" else "relay closed")
        await self.upstream.abort()
        if ending.by != "client":
            try:
                with anyio.move_on_after(2):
                    await self.client.close(code, close_reason(ending.reason))
            except (WebSocketDisconnect, OSError, RuntimeError):
                pass

    def _log_summary(self) -> None:
        ending = self.ending
        assert ending is not None
        record: dict[str, Any] = {
            "event": "relay.session",
            "identity": self.identity.name,
            "model": self.model,
            "duration": round(self.clock() - self.started, 3),
            "frames_in": self.stats.frames_in,
            "frames_out": self.stats.frames_out,
            "bytes_in": self.stats.bytes_in,
            "bytes_out": self.stats.bytes_out,
            "tokens": self.stats.tokens,
            "close_code": ending.code,
            "close_reason": redact(ending.reason),
            "closed_by": ending.by,
            "worker": os.getpid(),
        }
        logger.info("%s", json.dumps(record, sort_keys=True))
        if self.relay.on_session_end is not None:
            try:
                self.relay.on_session_end(record)
            except Exception:  # an observer's bug must not break the relay
                logger.exception("relay: on_session_end failed")

    def relay_tools_changed(self) -> None:
        """The relay's tools changed (an MCP server's list did): the upstream session is told."""
        if self.ending is None and self._tasks is not None:
            self._tasks.start_soon(self._send_relay_tools)

    async def _send_relay_tools(self) -> None:
        relay = self.relay
        update = relay.tools_update(self._client_tools, beta=self.beta)
        if self.tools is not None:
            self.tools.declare(relay.tool_definitions)
        await self._send_upstream(json.dumps(update))

    # -- sending to the client ------------------------------------------------------------------

    async def send_client(self, text: str) -> bool:
        """Send a frame to the client; False if the client is gone (the session goes on for now).

        A failed send does not decide how the session ends: the client's close frame may be what
        made it fail, and its code is in the ``websocket.disconnect`` message the client pump has
        yet to read. Two tasks may send (the upstream pump, and the client pump's error events)
        without a lock: an ASGI server writes each ``websocket.send`` message as one whole frame.
        """
        try:
            await self._send({"type": "websocket.send", "text": text})
        except (WebSocketDisconnect, OSError, RuntimeError):
            return False
        return True

    async def send_error(
        self, code: str, message: str, *, param: str | None = None, event_id: Any = None
    ) -> bool:
        self.relay.metrics.events_refused[code] += 1
        return await self.send_client(
            relay_error(code, message, param=param, event_id=event_id if isinstance(event_id, str) else None)
        )

    async def _client_unreachable(self) -> None:
        """The upstream pump cannot send to the client: let the client pump say how it went.

        The ASGI server queues ``websocket.disconnect`` (with the close frame's code, or the
        connection's loss) before a send can fail, or when the connection is gone; the client
        pump reads it after the frames the client sent before it, and its :meth:`finish` cancels
        this wait. Recording "client gone" here would race that read (a client closing with 1000
        while deltas stream would be logged 1006). The bound is for a server that never says.
        """
        await anyio.sleep(CLIENT_SAYS_WITHIN)
        self.finish(1006, "client gone", "client")

    # -- client to upstream --------------------------------------------------------------------

    async def _client_side(self) -> None:
        await self._opening()
        if self.ending is None:
            await self._from_client()

    async def _opening(self) -> None:
        """Before any client event: the relay's own session settings (lock, server-side tools)."""
        if self._budget_spent():
            await self.send_error("relay_budget_spent", self._budget_message())
            self.finish(L.CLOSE_POLICY, "token budget spent", "relay")
            return
        opening = self.relay.opening_update(beta=self.beta)
        if opening is not None:
            await self._send_upstream(json.dumps(opening))

    def _budget_message(self) -> str:
        return (
            f"the token budget of {self.identity.name!r} ({self._budget} tokens) is spent; "
            "this relay accepts no more responses for it"
        )

    async def _send_upstream(self, text: str) -> None:
        try:
            await self.upstream.send_text(text)
        except ConnectionClosedError as exc:
            self._upstream_closed(exc)

    def _upstream_closed(self, exc: ConnectionClosedError) -> None:
        code = exc.code if exc.code is not None else 1006
        if code in _LOST:
            self.finish(L.CLOSE_UPSTREAM, "upstream connection lost", "upstream")
        else:
            self.finish(code, exc.reason or f"upstream closed with code {code}", "upstream")

    def _client_closed(self, message: Message) -> None:
        """The client's ``websocket.disconnect``: its close frame's code, 1006 if it just vanished."""
        code = int(message.get("code") or 1005)
        self.finish(code, "client connection lost" if code == 1006 else "client closed", "client")

    async def _from_client(self) -> None:
        receive = self._receive
        relay = self.relay
        limits = relay.limits
        max_chars = limits.max_event_bytes
        allowed = relay.allowed_events
        metrics = relay.metrics
        debug = relay.debug
        tools = self.tools
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                self._client_closed(message)
                return
            text = message.get("text")
            now = self.clock()
            self.last_activity = now
            if text is None:
                await self.send_error(
                    "relay_binary_frame", "Realtime events are JSON text frames, not binary"
                )
                continue
            size = len(text)
            if size > max_chars or (size * 4 > max_chars and len(text.encode()) > max_chars):
                self.finish(L.CLOSE_TOO_BIG, f"an event may be at most {max_chars} bytes", "relay")
                return
            if self._limiter is not None and not self._limiter.allow(now):
                rate = limits.events_per_second
                self.finish(L.CLOSE_POLICY, f"over the limit of {rate:g} events per second", "relay")
                return
            self.stats.frames_in += 1
            self.stats.bytes_in += size
            metrics.frames["client"] += 1
            metrics.bytes["client"] += size
            kind = peek_type(text)
            if kind is None:
                await self.send_error(
                    "relay_invalid_event",
                    "not a Realtime event: a JSON object with exactly one top-level 'type' is expected",
                    param="type",
                )
                continue
            if allowed is not None and kind not in allowed:
                await self.send_error(
                    "relay_event_not_allowed",
                    f"this relay does not forward events of type {kind!r}",
                    param="type",
                    event_id=_event_id(text),
                )
                continue
            if tools is not None and tools.answers.expecting and not self._forwards_answer(kind, text):
                self.relay.metrics.events_dropped["relay_answers_the_call"] += 1
                continue
            if kind in _CLIENT_ACTS_ON:
                rewritten = await self._act_on_client(kind, text)
                if rewritten is None:
                    if self.ending is not None:
                        return
                    continue
                text = rewritten
            if debug:  # what goes upstream: refused events are not, rewritten ones as rewritten
                debug_logger.debug("client -> upstream %s", describe_frame(text))
            await self._send_upstream(text)
            if self.ending is not None:
                return

    def _forwards_answer(self, kind: str, text: str) -> bool:
        """False for a client's answer to a call the relay answers (see ``ClientAnswers``)."""
        assert self.tools is not None
        answers = self.tools.answers
        if kind == "response.create":
            forward = answers.forward_create()
        elif kind == "conversation.item.create" and '"function_call_output"' in text:
            item = _parsed(text).get("item")
            if isinstance(item, dict) and item.get("type") == "function_call_output":
                forward = answers.forward_output(item.get("call_id"))
            else:
                answers.other_event(kind)
                forward = True
        else:
            answers.other_event(kind)
            forward = True
        if not forward and self.relay.debug:
            debug_logger.debug("client -> (dropped: the relay answers this call) %s", describe_frame(text))
        return forward

    async def _act_on_client(self, kind: str, text: str) -> str | None:
        """Apply the lock, allow-lists and budget; the text to forward, or None to drop the event."""
        try:
            event = json.loads(text)
        except ValueError:
            return text  # the upstream answers malformed JSON with its own error
        if not isinstance(event, dict):
            return text
        event_id = event.get("event_id")
        relay = self.relay
        if kind == "response.create":
            if self._budget_spent():
                await self.send_error("relay_budget_spent", self._budget_message(), event_id=event_id)
                self.finish(L.CLOSE_POLICY, "token budget spent", "relay")
                return None
            body = event.get("response")
            lock = relay.lock_for(beta=self.beta)
            changed = False
            if isinstance(body, dict) and lock:
                overridden = strip_locked(body, lock)
                changed = True
                if overridden:
                    await self._say_locked(overridden, event_id, "response")
            if self.tools is not None and self.tools.client_request(event):
                changed = True  # it had no event id: it has one now
            # No await from here until it is forwarded: the request counts before it is sent.
            return json.dumps(event) if changed else text
        session = event.get("session")
        if not isinstance(session, dict):
            return text
        changed = False
        lock = relay.lock_for(beta=self.beta)
        if lock:
            overridden = strip_locked(session, lock)
            changed = True
            if overridden:
                await self._say_locked(overridden, event_id, "session")
        refused_model = strip_model(session, self._models)
        if refused_model is not None:
            changed = True
            await self.send_error(
                "relay_model_not_allowed",
                f"model {refused_model!r} is not allowed for this identity; the session keeps its model",
                param="session.model",
                event_id=event_id,
            )
        if isinstance(session.get("tools"), list):
            self._client_tools = list(session["tools"])
        theirs = merge_tools(session, relay.tool_definitions)
        if self.tools is not None:
            self.tools.declare(relay.tool_definitions)
            if theirs is not None:
                self.tools.client_declares(theirs)
        if "tools" in session and relay.tool_definitions:
            changed = True
        return json.dumps(event) if changed else text

    async def _say_locked(self, paths: list[str], event_id: Any, where: str) -> None:
        names = ", ".join(paths)
        await self.send_error(
            "relay_session_locked",
            f"this relay fixes {names}: your values were not applied (the rest of the update was)",
            param=f"{where}.{paths[0]}",
            event_id=event_id,
        )

    # -- upstream to client --------------------------------------------------------------------

    async def _from_upstream(self) -> None:
        upstream = self.upstream
        relay = self.relay
        metrics = relay.metrics
        key = relay.upstream_key
        debug = relay.debug
        acts_on = relay.server_acts_on
        while True:
            frame = upstream.receive_queued()  # a burst is drained without a coroutine per frame
            if frame is None:
                try:
                    frame = await upstream.receive()
                except ConnectionClosedError as exc:
                    self._upstream_closed(exc)
                    return
            self.last_activity = self.clock()
            if isinstance(frame, bytes):
                frame = frame.decode(errors="replace")
            if key is not None and key in frame:
                frame = frame.replace(key, MASK)
            kind = peek_type(frame, strict=False)
            if kind in acts_on:
                acted = self._act_on_server(kind, frame)
                if acted is None:
                    continue
                frame = acted
            size = len(frame)
            self.stats.frames_out += 1
            self.stats.bytes_out += size
            metrics.frames["server"] += 1
            metrics.bytes["server"] += size
            if debug:
                debug_logger.debug("upstream -> client %s", describe_frame(frame))
            if not await self.send_client(frame):
                await self._client_unreachable()
                return
            if kind == "response.done" and self._budget_spent():
                # With turn detection the server starts responses by itself: the session ends
                # after the response that spent the budget, not at the next response.create.
                if not await self.send_error("relay_budget_spent", self._budget_message()):
                    await self._client_unreachable()
                    return
                self.finish(L.CLOSE_POLICY, "token budget spent", "relay")
                return

    def _budget_spent(self) -> bool:
        return self._budget is not None and self.relay.usage.spent(self.identity.name) >= self._budget

    def _act_on_server(self, kind: str | None, frame: str) -> str | None:
        """Meter, feed the server-side tools; the frame to forward, or None when it is the relay's."""
        tools = self.tools
        if kind == "error":
            frame = redact(frame)
            if tools is None:
                return frame
        try:
            event = json.loads(frame)
        except ValueError:
            return frame
        if not isinstance(event, dict):
            return frame
        if kind == "response.done":
            response = event.get("response")
            if isinstance(response, dict):
                self._meter(response)
        if tools is not None and self._tasks is not None and not tools.on_server_event(event, self._tasks):
            logger.info("relay: the service refused a tool follow-up (a response was active); asking again")
            return None
        return frame

    def _meter(self, response: dict[str, Any]) -> None:
        counts = usage_of(response)
        if not counts:
            return
        name = self.identity.name
        self.relay.usage.add(name, counts)
        for kind, value in counts.items():
            self.stats.tokens[kind] = self.stats.tokens.get(kind, 0) + value
            self.relay.metrics.tokens[(name, kind)] += value

    # -- limits in time ------------------------------------------------------------------------

    async def _watchdog(self) -> None:
        limits = self.relay.limits
        idle, longest = limits.idle_timeout, limits.max_session_seconds
        if idle is None and longest is None:
            return
        while True:
            now = self.clock()
            if longest is not None and now - self.started >= longest:
                self.finish(
                    L.CLOSE_GOING_AWAY,
                    f"the relay's maximum session length of {longest:g} s was reached",
                    "relay",
                )
                return
            if idle is not None and now - self.last_activity >= idle:
                self.finish(L.CLOSE_GOING_AWAY, f"idle for {idle:g} s: no frame in either direction", "relay")
                return
            deadlines = []
            if longest is not None:
                deadlines.append(self.started + longest)
            if idle is not None:
                deadlines.append(self.last_activity + idle)
            await anyio.sleep(max(min(deadlines) - now, 0.001))


def _parsed(text: str) -> dict[str, Any]:
    try:
        event = json.loads(text)
    except ValueError:
        return {}
    return event if isinstance(event, dict) else {}


def _event_id(text: str) -> str | None:
    if len(text) > 4096:
        return None
    try:
        event = json.loads(text)
    except ValueError:
        return None
    value = event.get("event_id") if isinstance(event, dict) else None
    return value if isinstance(value, str) else None
