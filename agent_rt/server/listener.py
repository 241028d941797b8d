"""The WebSocket driver around :class:`~agent_rt.server.session.RealtimeSession`.

It only moves events: a reader task feeds client frames to the session, a pump task calls
``step()`` while a response streams (waiting until the previous batch is on the wire, so a
``response.cancel`` or barge-in audio read meanwhile is honoured before the next batch), and a
writer task sends everything in the order the session produced it. With ``realtime_audio`` the
pump sleeps for the duration of each batch's audio, like a service streaming speech; otherwise
responses go out as fast as the socket takes them. ``first_response_delay`` (seconds) holds each
response's first output back after ``response.created``, like a model's time to first token: with
both, a browser can hear and interrupt answers offline (the console's sessions use them).

:class:`Faults` injects the failures clients must survive: a dropped connection (no close
frame, the client sees 1006), a non-JSON text frame, a broken WebSocket frame, a server that
goes silent, a close with a chosen code — each after N server events. Like the service, a
session ends at its maximum duration (60 minutes GA, 30 beta; ``max_session_seconds`` makes it
short for tests) with close code 1001, and :meth:`RealtimeServerApp.refuse_handshakes` answers
the next upgrades with an HTTP error, as a service that is restarting or rate limiting does.

Runs on asyncio and trio (anyio)::

    async with LocalRealtimeServer(scenario=[{"match": "hi", "reply": "Hello!"}]) as server:
        client = RealtimeClient(url=server.url, api_key="test")
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import anyio.abc

from ..errors import ConnectionClosedError
from ..transport import HandshakeRequest, WebSocket, reason_phrase, serve
from . import errors
from .addresses import url_host
from .auth import ApiKeyCheck, error_body, offered_subprotocols, presented_key
from .client_secrets import ClientSecretIssuer
from .config import SESSION_SECONDS, Dialect
from .remote_mcp import CallRequest, ListRequest, RemoteMcpDriver
from .responder import McpResult
from .scenario import Scenario, ScenarioSource
from .session import RealtimeSession

logger = logging.getLogger("agent_rt.server")

MALFORMED_FRAME = "this is not JSON {"
#: A final frame with the reserved opcode 0x3: any WebSocket client must fail the connection (1002).
BROKEN_FRAME = b"\x83\x00"


@dataclass(frozen=True)
class Faults:
    """Failures to inject into a connection, each after that many server events have been sent.

    ``0`` means before the first event (before ``session.created``).
    """

    drop_after: int | None = None
    """Abort the TCP connection without a close frame (the client sees code 1006)."""
    malformed_after: int | None = None
    """Send one text frame that is not JSON, then carry on normally."""
    bad_frame_after: int | None = None
    """Write bytes that break WebSocket framing (the client fails the connection with 1002)."""
    silent_after: int | None = None
    """Stop sending anything (client events are still read and processed)."""
    close_after: int | None = None
    """Close the connection cleanly with ``close_code`` / ``close_reason``."""
    close_code: int = 1011
    close_reason: str = ""


FaultPlan = Faults | Sequence[Faults | None] | None


@dataclass
class ConnectionInfo:
    """What the server learnt about one connection (for tests to assert on)."""

    path: str
    model: str | None
    dialect: Dialect
    authorization: bool
    headers: Mapping[str, str] = field(repr=False)  # they carry the key
    session: RealtimeSession = field(repr=False)
    events_sent: int = 0
    client_secret: bool = False
    """The connection was authorized with an ephemeral client secret this server issued."""
    close_code: int | None = None
    """The close code the server saw (the client's close frame, or 1006 if the link dropped)."""
    closed: anyio.Event = field(default_factory=anyio.Event)
    _end: Callable[[int, str], None] | None = field(default=None, repr=False)

    def end(self, code: int = 1006, reason: str = "") -> None:
        """End this connection now: 1006 drops the link without a close frame, else a close with ``code``."""
        if self._end is not None and not self.closed.is_set():
            self._end(code, reason)


def _faults_for(plan: FaultPlan, index: int) -> Faults | None:
    if plan is None or isinstance(plan, Faults):
        return plan
    return plan[index] if index < len(plan) else None


def session_limit_reason(seconds: float) -> str:
    """The close reason the service gives at the session cap ("... of 60 minutes.")."""
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"Your session hit the maximum duration of {minutes} minute{'s' if minutes != 1 else ''}."
    return f"Your session hit the maximum duration of {seconds:g} seconds."


def _refuse_other_paths(request: HandshakeRequest) -> tuple[int, str] | None:
    path = urlsplit(request.path).path.rstrip("/")
    return None if path.endswith("/realtime") else (404, "Not Found: the Realtime endpoint is /v1/realtime\n")


class _Outbox:
    """An ordered queue of outgoing events that knows when everything put in it has been sent."""

    def __init__(self) -> None:
        self._queue: deque[dict[str, Any]] = deque()
        self._ready = anyio.Event()
        self._drained = anyio.Event()
        self._drained.set()

    def put(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        self._queue.extend(events)
        self._ready.set()
        if self._drained.is_set():
            self._drained = anyio.Event()

    async def get(self) -> dict[str, Any]:
        while not self._queue:
            self._drained.set()  # the previous event is on the wire and nothing is waiting
            self._ready = anyio.Event()
            await self._ready.wait()
        return self._queue.popleft()

    async def wait_drained(self) -> None:
        await self._drained.wait()


class _Connection:
    """Drives one session over one WebSocket."""

    def __init__(
        self,
        websocket: WebSocket,
        info: ConnectionInfo,
        faults: Faults | None,
        realtime_audio: bool,
        max_seconds: float,
        first_response_delay: float = 0.0,
    ) -> None:
        self.max_seconds = max_seconds
        self.first_response_delay = first_response_delay
        self._delayed: object = None  # the last response held back by first_response_delay
        self.ws = websocket
        self.info = info
        self.session = info.session
        self.faults = faults or Faults()
        self.realtime_audio = realtime_audio
        self.outbox = _Outbox()
        self.silent = False
        self.wake = anyio.Event()
        self.cancel_scope = anyio.CancelScope()
        self.ending: tuple[int, str] | None = None  # (close code, reason); code 1006 = abort
        self.remote_mcp = RemoteMcpDriver(self.session.take_mcp_requests, self._mcp_listed, self._mcp_called)
        info._end = self.end

    def end(self, code: int, reason: str) -> None:
        if self.ending is None:
            self.ending = (code, reason)
            self.cancel_scope.cancel()

    async def run(self) -> None:
        with self.cancel_scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._writer)
                tg.start_soon(self._pump)
                tg.start_soon(self._session_cap)
                tg.start_soon(self.remote_mcp.run)
                self.outbox.put(self.session.start())
                self._poke_remote_mcp()
                try:
                    await self._reader()
                finally:
                    tg.cancel_scope.cancel()
        # Closing happens here, once the reader has stopped: only one task may receive at a time.
        if self.ending is not None:
            code, reason = self.ending
            if code == 1006:
                await self.ws.abort()
            else:
                await self.ws.close(code, reason)

    async def _session_cap(self) -> None:
        """End the session at its maximum duration, as the service does (1001, reason says why)."""
        await anyio.sleep(self.max_seconds)
        self.end(1001, session_limit_reason(self.max_seconds))

    async def _reader(self) -> None:
        while True:
            try:
                message = await self.ws.receive()
            except ConnectionClosedError:
                return
            try:
                events = self.session.receive(message)
            except Exception:  # a server bug must not kill the listener; report it like the service
                logger.exception("local server failed on a client event")
                events = [self._server_error()]
            self.outbox.put(events)
            self._poke_remote_mcp()
            if self.session.streaming:
                self.wake.set()

    def _poke_remote_mcp(self) -> None:
        if self.session.remote_mcp.has_requests:
            self.remote_mcp.poke()

    def _mcp_listed(
        self, request: ListRequest, tools: list[dict[str, Any]] | None, error: str | None
    ) -> None:
        self.outbox.put(self.session.mcp_listed(request, tools, error))

    def _mcp_called(self, request: CallRequest, result: McpResult) -> None:
        self.session.mcp_called(request, result)
        if self.session.streaming:
            self.wake.set()

    async def _pump(self) -> None:
        while True:
            if not self.session.streaming:
                self.wake = anyio.Event()
                await self.wake.wait()
                continue
            await self.outbox.wait_drained()
            if not self.session.streaming:
                continue
            stream = self.session.active_response
            if self.first_response_delay > 0 and stream is not None and stream is not self._delayed:
                self._delayed = stream
                await anyio.sleep(self.first_response_delay)
                continue  # a cancel or barge-in read meanwhile is honoured before any output
            try:
                events = self.session.step()
            except Exception:  # a server bug: say so and end the connection like a 1011
                logger.exception("local server failed while streaming a response")
                self.outbox.put([self._server_error()])
                await self.outbox.wait_drained()
                self.ending = (1011, "internal server error")
                self.cancel_scope.cancel()
                return
            self.outbox.put(events)
            self._poke_remote_mcp()
            if self.realtime_audio and self.session.last_step_audio_ms:
                await anyio.sleep(self.session.last_step_audio_ms / 1000)

    async def _writer(self) -> None:
        try:
            if await self._inject():
                return
            while True:
                event = await self.outbox.get()
                if self.silent:
                    continue
                await self.ws.send_text(json.dumps(event))
                self.info.events_sent += 1
                if await self._inject():
                    return
        except ConnectionClosedError:  # the client went away: stop reading too
            self.cancel_scope.cancel()

    def _server_error(self) -> dict[str, Any]:
        fault = errors.ClientEventError("server_error", "The server had an error.", error_type="server_error")
        return {
            "type": "error",
            "event_id": self.session.ids.event(),
            "error": errors.error_payload(fault, None),
        }

    async def _inject(self) -> bool:
        """Apply the faults due after ``events_sent`` events; True once the connection is gone."""
        sent, faults = self.info.events_sent, self.faults
        if faults.malformed_after == sent:
            await self.ws.send_text(MALFORMED_FRAME)
        if faults.bad_frame_after == sent:
            await self.ws.send_raw(BROKEN_FRAME)
        if faults.silent_after == sent:
            self.silent = True
        if faults.drop_after == sent:
            self.ending = (1006, "")
        elif faults.close_after == sent:
            self.ending = (faults.close_code, faults.close_reason)
        if self.ending is not None:
            self.cancel_scope.cancel()
            return True
        return False


@dataclass
class ServerCounters:
    """What a long-running server keeps about its sessions once they are gone: numbers only."""

    opened: int = 0
    """WebSocket sessions accepted so far."""
    closed: int = 0
    """Sessions whose socket has closed (their audio, conversation and config are freed)."""
    rejected: int = 0
    """Upgrades answered with an HTTP error (wrong path, failed authentication, refusals)."""

    @property
    def active(self) -> int:
        """Sessions open right now."""
        return self.opened - self.closed


class RealtimeServerApp:
    """The connection handler: one :class:`RealtimeSession` per WebSocket.

    ``connections`` lists the open connections and, for tests to inspect, the last
    ``keep_closed`` closed ones (``None``: all of them); a closed connection beyond that is
    dropped with everything its session held, and only ``counters`` remember it. A
    long-running server wants ``keep_closed=0`` (``agent-rt serve`` does that).
    """

    def __init__(
        self,
        *,
        scenario: ScenarioSource = None,
        realtime_audio: bool = False,
        faults: FaultPlan = None,
        reject_beta: bool = False,
        seed: int | None = None,
        max_session_seconds: float | None = None,
        first_response_delay: float = 0.0,
        api_key: str | None = None,
        keep_closed: int | None = 0,
    ) -> None:
        if not first_response_delay >= 0:
            raise ValueError(f"first_response_delay must be >= 0, not {first_response_delay!r}")
        self.first_response_delay = first_response_delay
        if max_session_seconds is not None and not max_session_seconds > 0:
            raise ValueError(f"max_session_seconds must be > 0, not {max_session_seconds!r}")
        if keep_closed is not None and keep_closed < 0:
            raise ValueError(f"keep_closed must be >= 0 or None, not {keep_closed!r}")
        self.keep_closed = keep_closed
        self.counters = ServerCounters()
        self.scenario = Scenario.load(scenario)
        self.realtime_audio = realtime_audio
        self.faults = faults
        self.reject_beta = reject_beta
        self.seed = seed
        self.max_session_seconds = max_session_seconds
        self.connections: list[ConnectionInfo] = []
        self.api_key = ApiKeyCheck(api_key)
        self.client_secrets = ClientSecretIssuer(api_key=self.api_key)
        self._refusals: deque[int] = deque()
        self.refused = 0
        """How many upgrades :meth:`refuse_handshakes` refused so far."""

    def refuse_handshakes(self, *statuses: int) -> None:
        """Answer the next upgrade requests with these HTTP statuses (one each), then accept again."""
        for status in statuses:
            if not 400 <= status <= 599:
                raise ValueError(f"a refusal needs a 4xx or 5xx status, not {status}")
        self._refusals.extend(statuses)

    def _check_request(self, request: HandshakeRequest) -> tuple[int, str] | None:
        refusal = self._refusal(request)
        if refusal is not None:
            self.counters.rejected += 1
        return refusal

    def _refusal(self, request: HandshakeRequest) -> tuple[int, str] | None:
        refusal = _refuse_other_paths(request)
        if refusal is not None:
            return refusal
        if self._refusals:
            status = self._refusals.popleft()
            self.refused += 1
            return (status, f"{reason_phrase(status, 'Refused')} (refused by refuse_handshakes)\n")
        unauthorized = self.api_key.refusal(request.headers, also_valid=self.client_secrets.is_valid)
        if unauthorized is not None:
            return (401, unauthorized)
        token = presented_key(request.headers)
        if token is not None and token.startswith("ek_") and not self.client_secrets.is_valid(token):
            return (401, error_body("Invalid or expired ephemeral key.", "invalid_api_key"))
        return None

    async def __call__(self, websocket: WebSocket, request: HandshakeRequest) -> None:
        headers = dict(request.headers)
        protocols = offered_subprotocols(headers)
        beta = "realtime=v1" in headers.get("openai-beta", "") or "openai-beta.realtime-v1" in protocols
        model = parse_qs(request.query).get("model", [None])[0]
        index = self.counters.opened
        seed = None if self.seed is None else self.seed + index
        dialect: Dialect = "beta" if beta else "ga"
        max_seconds = self.max_session_seconds or SESSION_SECONDS[dialect]
        token = presented_key(headers) or ""
        bound = self.client_secrets.session_for(token) if dialect == "ga" else None
        if bound is not None and isinstance(bound.get("model"), str):
            model = bound["model"]  # a secret's session names the model; the URL need not
        session = RealtimeSession(
            dialect=dialect,
            model=model,
            scenario=self.scenario,
            now=time.time(),
            seed=seed,
            max_seconds=math.ceil(max_seconds),
        )
        if bound is not None:  # checked when the secret was minted; session.created shows it
            session.config.update({key: value for key, value in bound.items() if key != "model"})
        info = ConnectionInfo(
            path=request.path,
            model=model,
            dialect=session.dialect,
            authorization="authorization" in headers
            or any(p.startswith("openai-insecure-api-key.") for p in protocols),
            headers=headers,
            session=session,
            client_secret=self.client_secrets.is_valid(token),
        )
        self.connections.append(info)
        self.counters.opened += 1
        try:
            if beta and self.reject_beta:
                await self._refuse_beta(websocket, session)
                return
            faults = _faults_for(self.faults, index)
            await _Connection(
                websocket, info, faults, self.realtime_audio, max_seconds, self.first_response_delay
            ).run()
        finally:
            info.close_code = websocket.close_code
            info._end = None  # the connection object (and its outbox) goes with its tasks
            self.counters.closed += 1
            info.closed.set()
            self._forget_closed()

    def _forget_closed(self) -> None:
        """Drop closed connections beyond ``keep_closed``, oldest first, with their sessions."""
        if self.keep_closed is None:
            return
        closed = [info for info in self.connections if info.closed.is_set()]
        excess = len(closed) - self.keep_closed
        if excess > 0:
            drop = {id(info) for info in closed[:excess]}
            self.connections[:] = [info for info in self.connections if id(info) not in drop]

    @staticmethod
    async def _refuse_beta(websocket: WebSocket, session: RealtimeSession) -> None:
        """Answer like the retired beta interface: one error event, then close code 4000."""
        payload = errors.error_payload(errors.beta_shape_disabled(), None)
        await websocket.send_text(
            json.dumps({"type": "error", "event_id": session.ids.event(), "error": payload})
        )
        await websocket.close(4000, "invalid_request_error.beta_api_shape_disabled")

    async def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen until cancelled; ``task_status.started`` receives the bound port."""
        await serve(
            self,
            host,
            port,
            process_request=self._check_request,
            http_handler=self.client_secrets.handle,
            task_status=task_status,
        )


async def serve_realtime(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    scenario: ScenarioSource = None,
    realtime_audio: bool = False,
    faults: FaultPlan = None,
    reject_beta: bool = False,
    seed: int | None = None,
    max_session_seconds: float | None = None,
    first_response_delay: float = 0.0,
    api_key: str | None = None,
    keep_closed: int | None = 0,
    task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Run a local Realtime server until cancelled (``await task_group.start(serve_realtime)`` → port).

    ``faults`` applies to every connection, or per connection when a sequence (``None`` = none).
    ``reject_beta`` answers beta handshakes the way the retired beta interface does;
    ``max_session_seconds`` overrides the session cap (60 minutes GA, 30 beta); ``api_key``
    makes every WebSocket and REST request authenticate (see :class:`RealtimeServerApp`);
    ``first_response_delay`` holds each response's first output back that many seconds.
    """
    app = RealtimeServerApp(
        scenario=scenario,
        realtime_audio=realtime_audio,
        faults=faults,
        reject_beta=reject_beta,
        seed=seed,
        max_session_seconds=max_session_seconds,
        first_response_delay=first_response_delay,
        api_key=api_key,
        keep_closed=keep_closed,
    )
    await app.serve(host, port, task_status=task_status)


#: How many closed connections :class:`LocalRealtimeServer` keeps for tests to inspect by default.
KEEP_CLOSED_FOR_TESTS = 8


class LocalRealtimeServer:
    """``async with LocalRealtimeServer() as server:`` — a local Realtime endpoint at ``server.url``.

    It keeps the last ``keep_closed`` closed connections (8 by default) in ``connections`` so a test
    can look at what a finished session did; everything older is freed. Pass ``keep_closed=0``
    when the server runs for long (``agent-rt serve`` does).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        scenario: ScenarioSource = None,
        realtime_audio: bool = False,
        faults: FaultPlan = None,
        reject_beta: bool = False,
        seed: int | None = None,
        max_session_seconds: float | None = None,
        first_response_delay: float = 0.0,
        api_key: str | None = None,
        keep_closed: int | None = KEEP_CLOSED_FOR_TESTS,
    ) -> None:
        self.host = host
        self.port = port
        self.app = RealtimeServerApp(
            scenario=scenario,
            realtime_audio=realtime_audio,
            faults=faults,
            reject_beta=reject_beta,
            seed=seed,
            max_session_seconds=max_session_seconds,
            first_response_delay=first_response_delay,
            api_key=api_key,
            keep_closed=keep_closed,
        )
        self._task_group: anyio.abc.TaskGroup | None = None

    @property
    def url(self) -> str:
        """The WebSocket URL of the Realtime endpoint (append ``?model=...`` as with the service).

        A wildcard host (``0.0.0.0``, ``::``) is not an address to connect to: the URL names
        the loopback interface instead.
        """
        return f"ws://{url_host(self.host)}:{self.port}/v1/realtime"

    @property
    def http_url(self) -> str:
        """The REST base URL (``create_client_secret(base_url=server.http_url)``)."""
        return f"http://{url_host(self.host)}:{self.port}/v1"

    @property
    def connections(self) -> list[ConnectionInfo]:
        """The open connections and the last ``keep_closed`` closed ones, in the order they opened."""
        return self.app.connections

    @property
    def counters(self) -> ServerCounters:
        """Sessions opened, closed and active, and refused upgrades, since the server started."""
        return self.app.counters

    async def __aenter__(self) -> LocalRealtimeServer:
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        try:
            self.port = await task_group.start(self.app.serve, self.host, self.port)
        except BaseException as exc:
            task_group.cancel_scope.cancel()
            await task_group.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        self._task_group = task_group
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        task_group, self._task_group = self._task_group, None
        if task_group is None:
            return None
        task_group.cancel_scope.cancel()
        # Exit the task group as if the body succeeded, so a failure in the body propagates as
        # itself (not wrapped in an exception group); errors of the server tasks still surface.
        await task_group.__aexit__(None, None, None)
        return None
