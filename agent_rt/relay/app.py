"""The relay as an ASGI application: :func:`create_relay_app` and the :class:`Relay` behind it.

Run it with ``agent-rt relay`` (uvicorn underneath) or mount it in an existing application::

    app.mount("/realtime", create_relay_app(tokens=["..."]))   # ws://host/realtime/v1/realtime

Routes: the WebSocket ``/v1/realtime`` (same path and ``?model=`` as the service), ``GET /healthz``,
``GET /metrics`` (Prometheus text), ``POST /v1/realtime/client_secrets`` and, with
``console=True``, the web console's static files at ``/``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import anyio
import httpx
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from .._secrets import MASK, redact, register_secret
from ..errors import ConfigurationError, HandshakeError
from ..server import LocalRealtimeServer
from ..server.scenario import ScenarioSource
from ..tools import Tool, ToolRegistry
from .auth import BETA_SUBPROTOCOL, Authenticator, AuthHook, Identity, offered_subprotocols
from .limits import CLOSE_GOING_AWAY, CLOSE_TRY_LATER, CLOSE_UPSTREAM, Limits, SessionSlots, SlotTicket
from .metrics import RelayMetrics
from .policy import CLIENT_EVENT_TYPES, locked_session, merge_tools, wire_lock
from .session import RelaySession, close_reason
from .upstream import (
    DEFAULT_KEY_ENV,
    UpstreamTarget,
    forced_model,
    open_upstream,
    resolve_upstream,
    rest_base,
    session_headers,
    session_url,
)
from .usage import UsageLedger

if TYPE_CHECKING:
    from ..mcp.config import McpServerConfig, McpServersSource
    from .mcp import RelayMcp

logger = logging.getLogger("agent_rt.relay")

#: The close reason (with code 1001) of the sessions open when the relay stops.
SHUTDOWN_REASON = "the relay is shutting down"

#: The embedded local server's replies when no scenario is given: the plugin tools get called.
RELAY_SCENARIO: dict[str, Any] = {
    "rules": [
        {
            "regex": r"time .*in (?P<zone>[A-Za-z_/]+)",
            "calls": [{"name": "get_time", "arguments": {"timezone": "{zone}"}}],
            "after_output": "It is {output.time} there.",
        },
        {
            "regex": r"what is (?P<expression>[0-9 +*/().-]+)",
            "calls": [{"name": "calculate", "arguments": {"expression": "{expression}"}}],
            "after_output": "{output.expression} is {output.result}.",
        },
    ],
}


def _put_path(container: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        child = container.get(part)
        if not isinstance(child, dict):
            child = container[part] = {}
        container = child
    container[last] = value


def _error_body(message: str, code: str | None = None, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class Relay:
    """The relay's configuration and process-wide state (counters, session slots, usage).

    Nothing here belongs to one session: sessions are :class:`~agent_rt.relay.session.RelaySession`.
    """

    def __init__(
        self,
        upstream: UpstreamTarget,
        authenticator: Authenticator,
        *,
        limits: Limits,
        allowed_events: Collection[str] | None,
        session_lock: Mapping[str, Any],
        models: Collection[str] | None,
        token_budget: int | None,
        usage: UsageLedger,
        scenario: ScenarioSource,
        debug: bool,
        http_transport: httpx.AsyncBaseTransport | None,
        on_session_end: Callable[[dict[str, Any]], None] | None = None,
        tools: ToolRegistry | None = None,
        mcp_servers: Sequence[McpServerConfig] = (),
    ) -> None:
        self.on_session_end = on_session_end
        self.mcp: RelayMcp | None = None
        """The MCP servers whose tools the relay answers (running while the app's lifespan runs)."""
        if mcp_servers:
            from .mcp import RelayMcp

            tools = _own_registry(tools)
            self.mcp = RelayMcp(mcp_servers, tools, on_tools_changed=self._tools_changed)
        self.tools = tools
        """The relay's server-side tools (None: the relay answers no calls)."""
        self.startup_error: Exception | None = None
        """Why the last lifespan failed to start (an MCP server), for the command to report."""
        self.upstream = upstream
        self.auth = authenticator
        self.limits = limits
        self.allowed_events = None if allowed_events is None else frozenset(allowed_events)
        self.session_lock = dict(session_lock)
        try:  # checked once here: a bad lock is the operator's error, not a client's
            self._locks = {beta: wire_lock(self.session_lock, beta=beta) for beta in (False, True)}
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"session_lock: {exc}") from exc
        self.models = None if models is None else frozenset(models)
        self.token_budget = token_budget
        self.usage = usage
        self.scenario = scenario
        self.debug = debug
        self.http_transport = http_transport
        self.metrics = RelayMetrics()
        self.slots = SessionSlots(limits)
        self.tool_definitions: list[dict[str, Any]] = tools.definitions() if tools else []
        """The definitions added to each new session (MCP tools join once their servers run)."""
        # With tools the relay also watches responses start (its follow-ups wait for them to end).
        tool_events = {"response.output_item.done", "response.created"} if tools is not None else set()
        acts_on = {"error", "response.done"} | tool_events
        self.server_acts_on: frozenset[str | None] = frozenset(acts_on)
        self.upstream_key = upstream.key
        register_secret(upstream.key)
        self._embedded: LocalRealtimeServer | None = None
        self.closing = False
        """True once :meth:`close_sessions` ran: new sessions are refused with 1001."""
        self._sessions: set[RelaySession] = set()
        self._handlers = 0  # WebSocket connections being served, sessions or not yet
        self._all_closed: anyio.Event | None = None
        self._drain_timeout: float | None = None

    def drain_on_signals(self, timeout: float) -> None:
        """Close the sessions (1001) on SIGTERM/SIGINT before the ASGI server's own handler runs.

        For uvicorn running the app in the main thread (``agent-rt relay``, its workers): its handler
        would close every WebSocket with 1012 and no reason. Takes effect at the next lifespan start.
        """
        self._drain_timeout = timeout

    async def close_sessions(self) -> None:
        """Close every session with 1001 and :data:`SHUTDOWN_REASON`, refuse new ones, wait for all.

        Call it before the ASGI server stops, when the relay is mounted in an application of yours.
        """
        self.closing = True
        for session in list(self._sessions):
            session.finish(CLOSE_GOING_AWAY, SHUTDOWN_REASON, "relay")
        while self._handlers:
            if self._all_closed is None or self._all_closed.is_set():
                self._all_closed = anyio.Event()
            await self._all_closed.wait()

    def _tools_changed(self) -> None:
        """MCP tools came or went: new sessions get the new definitions, open ones an update."""
        self.tool_definitions = self.tools.definitions() if self.tools is not None else []
        for session in list(self._sessions):
            session.relay_tools_changed()

    @property
    def embedded_server(self) -> LocalRealtimeServer | None:
        """The shared embedded local server while the app's lifespan runs (else None)."""
        return self._embedded

    # -- per identity ------------------------------------------------------------------------------

    def budget_for(self, identity: Identity) -> int | None:
        return identity.token_budget if identity.token_budget is not None else self.token_budget

    def models_for(self, identity: Identity) -> frozenset[str] | None:
        return identity.models if identity.models is not None else self.models

    def lock_for(self, *, beta: bool) -> dict[str, Any]:
        """The session lock as dotted paths of the GA or the beta wire shape."""
        return self._locks[beta]

    def opening_update(self, *, beta: bool) -> dict[str, Any] | None:
        """The relay's own ``session.update`` sent before any client event, if it has one."""
        session = locked_session(self._locks[beta], beta=beta)
        if self.tool_definitions:
            session = session or ({} if beta else {"type": "realtime"})
            locked_tools = session.get("tools")
            base = list(locked_tools) if isinstance(locked_tools, list) else []
            session["tools"] = base + self.tool_definitions
        return None if session is None else {"type": "session.update", "session": session}

    def tools_update(self, client_tools: list[Any] | None, *, beta: bool) -> dict[str, Any]:
        """The ``session.update`` giving an open session the relay's tools as they are now.

        The session keeps what it has besides: the locked tools, else the tools of the client's
        last ``session.update`` (``client_tools``), whose definitions win over the relay's.
        """
        session: dict[str, Any] = {} if beta else {"type": "realtime"}
        locked = self._locks[beta].get("tools")
        if isinstance(locked, list):
            session["tools"] = list(locked) + self.tool_definitions
        else:
            session["tools"] = list(client_tools or [])
            merge_tools(session, self.tool_definitions)
        return {"type": "session.update", "session": session}

    # -- upstream ------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, app: object = None) -> AsyncIterator[None]:
        """Run what the sessions share for the app's life: the MCP servers, the embedded local server.

        An MCP server that fails to start raises :class:`~agent_rt.mcp.McpServerError` (also kept
        in :attr:`startup_error`); the servers that did start are stopped first.
        """
        async with contextlib.AsyncExitStack() as stack:
            if self.mcp:
                self.startup_error = None
                try:
                    await stack.enter_async_context(self.mcp.running())
                except Exception as exc:
                    self.startup_error = exc
                    raise
            if self.upstream.embedded:
                server = await stack.enter_async_context(LocalRealtimeServer(scenario=self.scenario))
                self._embedded = server
                stack.callback(setattr, self, "_embedded", None)
                logger.info("relay upstream: embedded local Realtime server at %s", server.url)
            if self._drain_timeout is not None:  # last in, first out: the sessions close before the servers
                from .shutdown import drain_on_signals

                await stack.enter_async_context(drain_on_signals(self.close_sessions, self._drain_timeout))
            self.closing = False
            yield

    @contextlib.asynccontextmanager
    async def _upstream_base(self) -> AsyncIterator[str]:
        if self.upstream.url is not None:
            yield self.upstream.url
        elif self._embedded is not None:
            yield self._embedded.url
        else:  # mounted without our lifespan: one local server for this session
            async with LocalRealtimeServer(scenario=self.scenario) as server:
                yield server.url

    # -- HTTP routes ---------------------------------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        if self.closing:  # a load balancer stops sending clients here
            return JSONResponse({"status": "shutting_down", **self.metrics.health()}, status_code=503)
        return JSONResponse({"status": "ok", **self.metrics.health()})

    async def metrics_endpoint(self, request: Request) -> Response:
        return PlainTextResponse(self.metrics.render(), media_type="text/plain; version=0.0.4")

    async def client_secrets(self, request: Request) -> Response:
        """Mint an ephemeral client secret from the upstream, behind the relay's own auth."""
        verdict = await self.auth.authenticate(request)
        if isinstance(verdict, tuple):
            status, message = verdict
            self.metrics.refused["unauthorized" if status == 401 else "forbidden"] += 1
            return JSONResponse(_error_body(message, "relay_unauthorized"), status_code=status)
        try:
            body: Any = json.loads(await request.body() or b"{}")
        except ValueError:
            return JSONResponse(_error_body("the request body is not JSON"), status_code=400)
        if not isinstance(body, dict):
            return JSONResponse(_error_body("the request body must be a JSON object"), status_code=400)
        session = body.get("session")
        if isinstance(session, dict):
            allowed = self.models_for(verdict)
            model = session.get("model")
            if allowed is not None and model is not None and model not in allowed:
                message = f"model {model!r} is not allowed for this identity"
                return JSONResponse(_error_body(message, "relay_model_not_allowed"), status_code=403)
            for path, value in self._locks[False].items():  # the bound session follows the lock
                _put_path(session, path, value)
        if self.upstream.url is not None:
            base, key = rest_base(self.upstream.url), self.upstream.key
        elif self._embedded is not None:
            base, key = self._embedded.http_url, "local"
        else:
            message = "the embedded local server runs only within the relay app's lifespan"
            return JSONResponse(_error_body(message, kind="server_error"), status_code=503)
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        try:
            async with httpx.AsyncClient(transport=self.http_transport, timeout=20.0) as http:
                answer = await http.post(
                    f"{base}/realtime/client_secrets", content=json.dumps(body), headers=headers
                )
        except httpx.HTTPError as exc:
            message = f"could not reach the upstream: {redact(type(exc).__name__)}"
            return JSONResponse(_error_body(message, kind="server_error"), status_code=502)
        text = answer.text
        if key and key in text:
            text = text.replace(key, MASK)
        return Response(
            redact(text) if answer.status_code >= 400 else text,
            status_code=answer.status_code,
            media_type="application/json",
        )

    # -- the WebSocket route ---------------------------------------------------------------------------

    async def _deny(self, websocket: WebSocket, status: int, message: str, reason: str) -> None:
        self.metrics.refused[reason] += 1
        code = "relay_unauthorized" if status == 401 else "relay_forbidden"
        response = JSONResponse(_error_body(message, code), status_code=status)
        try:
            await websocket.send_denial_response(response)
        except RuntimeError:  # the ASGI server lacks the denial extension: it answers 403
            await websocket.close()

    def _allowed_model(self, connection: HTTPConnection, identity: Identity) -> tuple[str | None, str | None]:
        """The model to ask the upstream for, and a refusal message if the allow-list says no."""
        forced = forced_model(self.session_lock)
        model = forced or connection.query_params.get("model")
        allowed = self.models_for(identity)
        if allowed is None:
            return model, None
        if model is None:
            return None, f"this relay needs ?model= naming one of: {', '.join(sorted(allowed))}"
        if model not in allowed:
            return None, f"model {model!r} is not allowed for this identity"
        return model, None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The WebSocket route, as a raw ASGI app: the session pumps use ``receive``/``send`` directly."""
        await self.websocket_endpoint(WebSocket(scope, receive, send), receive, send)

    async def websocket_endpoint(self, websocket: WebSocket, receive: Receive, send: Send) -> None:
        self._handlers += 1
        try:
            await self._serve_websocket(websocket, receive, send)
        finally:
            self._handlers -= 1
            if not self._handlers and self._all_closed is not None:
                self._all_closed.set()

    async def _serve_websocket(self, websocket: WebSocket, receive: Receive, send: Send) -> None:
        if self.closing:
            offered = offered_subprotocols(websocket)
            await websocket.accept(subprotocol="realtime" if "realtime" in offered else None)
            await websocket.close(CLOSE_GOING_AWAY, SHUTDOWN_REASON)
            self.metrics.closes[CLOSE_GOING_AWAY] += 1
            return
        verdict = await self.auth.authenticate(websocket)
        if isinstance(verdict, tuple):
            status, message = verdict
            await self._deny(websocket, status, message, "unauthorized" if status == 401 else "forbidden")
            return
        identity = verdict
        model, refusal = self._allowed_model(websocket, identity)
        if refusal is not None:
            await self._deny(websocket, 403, refusal, "model")
            return
        offered = offered_subprotocols(websocket)
        subprotocol = "realtime" if "realtime" in offered else None
        beta = BETA_SUBPROTOCOL in offered or "realtime=v1" in websocket.headers.get("openai-beta", "")
        busy = self.slots.acquire(identity.name)  # taken before any await, given back in finally
        if busy is not None:
            self.metrics.refused["sessions"] += 1
            await websocket.accept(subprotocol=subprotocol)
            await websocket.close(CLOSE_TRY_LATER, close_reason(busy))
            self.metrics.closes[CLOSE_TRY_LATER] += 1
            return
        ticket = SlotTicket(self.slots, identity.name)
        try:
            await self._relay(
                websocket, identity, ticket, receive, send, subprotocol=subprotocol, beta=beta, model=model
            )
        finally:
            ticket.release()

    async def _relay(
        self,
        websocket: WebSocket,
        identity: Identity,
        ticket: SlotTicket,
        receive: Receive,
        send: Send,
        *,
        subprotocol: str | None,
        beta: bool,
        model: str | None,
    ) -> None:
        if self.mcp and self.mcp.servers is None:
            # Mounted without our lifespan: the MCP tools would be missing without a word.
            reason = "the relay's MCP servers are not running (run the app's lifespan: see docs/relay.md)"
            logger.error("relay: %s", reason)
            await websocket.accept(subprotocol=subprotocol)
            await websocket.close(CLOSE_UPSTREAM, close_reason(reason))
            self.metrics.closes[CLOSE_UPSTREAM] += 1
            return
        async with self._upstream_base() as base:
            url = session_url(base, websocket.url.query, model if forced_model(self.session_lock) else None)
            try:
                upstream = await open_upstream(url, session_headers(self.upstream.key, beta=beta))
            except (HandshakeError, ConfigurationError) as exc:
                status = getattr(exc, "status", None)
                reason = (
                    f"the upstream refused the session (HTTP {status})"
                    if status
                    else "the upstream could not be reached"
                )
                logger.warning("relay: %s: %s", reason, redact(str(exc)))
                await websocket.accept(subprotocol=subprotocol)
                await websocket.close(CLOSE_UPSTREAM, close_reason(reason))
                self.metrics.closes[CLOSE_UPSTREAM] += 1
                return
            self.metrics.upstreams_open += 1
            self.metrics.sessions_active += 1
            self.metrics.sessions_total += 1
            session = RelaySession(
                self,
                websocket,
                upstream,
                identity,
                receive=receive,
                send=send,
                model=model,
                beta=beta,
                ticket=ticket,
            )
            self._sessions.add(session)
            try:
                if self.closing:  # the relay began to stop while the upstream connected
                    session.finish(CLOSE_GOING_AWAY, SHUTDOWN_REASON, "relay")
                try:
                    await websocket.accept(subprotocol=subprotocol)
                except BaseException:  # the client left during the handshake: no session to run
                    session.finish(1006, "client gone before the session opened", "client")
                    with anyio.CancelScope(shield=True):
                        await session.close()
                    raise
                await session.run()
            finally:
                self._sessions.discard(session)


class _DenialNoise(logging.Filter):
    """Drop uvicorn's false alarm after a refused handshake.

    uvicorn's websockets-sansio protocol sends the relay's 401/403 denial response but does not
    mark the handshake complete, so it logs "ASGI callable returned without completing handshake"
    for every refused client (and then sends nothing more: the response is already out).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing handshake" not in record.getMessage()


def quiet_uvicorn_denials() -> None:
    log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DenialNoise) for f in log.filters):
        log.addFilter(_DenialNoise())


def _tool_registry(tools: bool | ToolRegistry | Iterable[Tool]) -> ToolRegistry | None:
    if tools is False:
        return None
    from .tools import tool_registry  # the tool runtime loads only when tools are used

    return tool_registry(tools)


def _own_registry(tools: ToolRegistry | None) -> ToolRegistry:
    """A registry the MCP servers may add to: the application's own is copied, never changed."""
    if tools is None:
        return ToolRegistry()
    registry = ToolRegistry(default_timeout=tools.default_timeout)
    for tool in tools:
        registry.add(tool)
    return registry


def _console_routes() -> list[BaseRoute]:
    try:  # the console is its own package (agent_rt.console): the relay works without it
        console = importlib.import_module("agent_rt.console")
    except ImportError:
        logger.warning("relay: console=True but agent_rt.console is not available; serving no console")
        return []
    from starlette.staticfiles import StaticFiles

    directory = console.static_dir()
    return [Mount("/", app=StaticFiles(directory=str(directory), html=True), name="console")]


def create_relay_app(
    upstream_url: str | None = None,
    *,
    tokens: Iterable[str] | Mapping[str, str | Identity] = (),
    authenticate: AuthHook | None = None,
    allowed_origins: Collection[str] | None = None,
    upstream_key: str | None = None,
    upstream_key_env: str = DEFAULT_KEY_ENV,
    limits: Limits | None = None,
    allowed_events: Collection[str] | None = CLIENT_EVENT_TYPES,
    session_lock: Mapping[str, Any] | None = None,
    models: Collection[str] | None = None,
    token_budget: int | None = None,
    usage: UsageLedger | None = None,
    scenario: ScenarioSource = None,
    console: bool = False,
    debug: bool = False,
    http_transport: httpx.AsyncBaseTransport | None = None,
    on_session_end: Callable[[dict[str, Any]], None] | None = None,
    tools: bool | ToolRegistry | Iterable[Tool] = False,
    mcp_servers: McpServersSource | Sequence[McpServerConfig] = None,
) -> Starlette:
    """Build the relay's ASGI application.

    ``upstream_url``: a Realtime WebSocket URL; without it the service when the key is set
    (``upstream_key``, else the ``upstream_key_env`` variable, ``OPENAI_API_KEY``), otherwise an
    embedded local server (offline; ``scenario`` scripts it). ``tokens``: relay tokens (or a
    mapping token -> identity name or :class:`Identity`); ``authenticate``: a hook for other
    credentials; with neither, only loopback clients are accepted. ``session_lock``: session fields
    (dotted paths allowed) clients cannot change; ``models`` / ``token_budget``: defaults for
    identities that set none. ``allowed_events=None`` forwards any client event type.
    ``tools``: ``True`` answers the installed plugins' tools on the server (``AGENT_RT_PLUGINS`` /
    ``AGENT_RT_DISABLE_PLUGINS`` apply), or pass a :class:`~agent_rt.tools.ToolRegistry` or tools.
    ``mcp_servers``: MCP servers whose tools the relay answers beside those (a path, a dict in the
    ``mcpServers`` format or a list of configs, as for ``RealtimeClient``; ``None``: none, the
    environment is not read); they run for the app's lifespan, which must run (see docs/relay.md).
    ``on_session_end`` receives each session's summary (the fields of its log line), e.g. for
    billing or audit; ``http_transport`` replaces httpx's for minting client secrets.
    ``app.state.relay`` is the :class:`Relay` (metrics, usage).
    """
    if isinstance(models, str):
        raise TypeError("models takes a collection of model names, not a str")
    quiet_uvicorn_denials()
    configs: list[McpServerConfig] = []
    if mcp_servers is not None:
        from .mcp import mcp_configs  # MCP code loads only when servers are configured

        configs = mcp_configs(mcp_servers)
    relay = Relay(
        resolve_upstream(upstream_url, key=upstream_key, key_env=upstream_key_env),
        Authenticator(tokens, hook=authenticate, allowed_origins=allowed_origins),
        limits=limits or Limits(),
        allowed_events=allowed_events,
        session_lock=session_lock or {},
        models=models,
        token_budget=token_budget,
        usage=usage or UsageLedger(),
        scenario=scenario if scenario is not None else RELAY_SCENARIO,
        debug=debug,
        http_transport=http_transport,
        on_session_end=on_session_end,
        tools=_tool_registry(tools),
        mcp_servers=configs,
    )
    routes: list[BaseRoute] = [
        WebSocketRoute("/v1/realtime", relay),
        Route("/healthz", relay.healthz, methods=["GET"]),
        Route("/metrics", relay.metrics_endpoint, methods=["GET"]),
        Route("/v1/realtime/client_secrets", relay.client_secrets, methods=["POST"]),
    ]
    if console:
        routes.extend(_console_routes())
    app = Starlette(routes=routes, lifespan=relay.lifespan)
    app.state.relay = relay
    return app
