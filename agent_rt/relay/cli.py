"""``agent-rt relay``: run the relay under uvicorn.

One worker runs in this process; ``--workers N`` (or ``--trio``, since uvicorn runs on asyncio)
starts uvicorn's process manager in a child process (:mod:`agent_rt.relay.workers`) on the socket
bound here, each worker building the app from the ``AGENT_RT_RELAY_CONFIG`` environment variable.
With no upstream URL and no key, the embedded local server runs here, once, and every worker
relays to it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import anyio
import anyio.abc

from ..mcp.cli import add_mcp_argument, mcp_config_from_args
from ..mcp.config import ENV_VAR as MCP_CONFIG_ENV
from ..mcp.config import McpServerConfig
from ..server.scenario import Scenario
from .limits import Limits
from .shutdown import DEFAULT_SHUTDOWN_TIMEOUT, stop_signal_recorded
from .upstream import DEFAULT_KEY_ENV, resolve_upstream

CONFIG_ENV = "AGENT_RT_RELAY_CONFIG"
TOKENS_ENV = "AGENT_RT_RELAY_TOKENS"


def _tokens(args: argparse.Namespace) -> list[str]:
    tokens = list(args.token or [])
    tokens += [t.strip() for t in os.environ.get(TOKENS_ENV, "").split(",") if t.strip()]
    return list(dict.fromkeys(tokens))


def _config(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of ``create_relay_app`` (JSON-able, tokens excluded), from the options."""
    limits = {
        "events_per_second": args.events_per_second,
        "max_sessions": args.max_sessions,
        "max_sessions_per_identity": args.max_sessions_per_identity,
        "idle_timeout": args.idle_timeout,
        "max_session_seconds": args.max_session_seconds,
    }
    lock: dict[str, Any] = {}
    for item in args.lock or []:
        path, _, raw = item.partition("=")
        try:
            lock[path] = json.loads(raw)
        except ValueError:
            lock[path] = raw
    return {
        "upstream_url": args.upstream,
        "upstream_key_env": args.upstream_key_env,
        "allowed_origins": args.origin,
        "models": args.model,
        "token_budget": args.token_budget,
        "session_lock": lock,
        "limits": {k: v for k, v in limits.items() if v is not None},
        "tools": args.tools,
        "console": args.console,
        "debug": bool(getattr(args, "debug", False)),
        "scenario": str(args.scenario) if args.scenario else None,
        "mcp_config": _mcp_config_path(args),
        "shutdown_timeout": args.timeout_graceful_shutdown,
    }


def _mcp_config_path(args: argparse.Namespace) -> str | None:
    """The MCP configuration file (``--mcp-config``, else ``AGENT_RT_MCP_CONFIG``), absolute.

    Workers get the path, not the servers' settings: their env values and headers stay in the file.
    """
    path = getattr(args, "mcp_config", None) or os.environ.get(MCP_CONFIG_ENV, "").strip()
    return str(Path(path).resolve()) if path else None


def app_from_config(
    config: dict[str, Any], tokens: list[str], *, mcp_servers: list[McpServerConfig] | None = None
) -> Any:
    """The relay app of a ``_config()`` dict; parsed ``mcp_servers`` win over its ``mcp_config``."""
    from .app import create_relay_app

    scenario = Scenario.load(config["scenario"]) if config.get("scenario") else None
    app = create_relay_app(
        config.get("upstream_url"),
        tokens=tokens,
        upstream_key=config.get("upstream_key"),
        upstream_key_env=config.get("upstream_key_env") or DEFAULT_KEY_ENV,
        allowed_origins=config.get("allowed_origins"),
        models=config.get("models"),
        token_budget=config.get("token_budget"),
        session_lock=config.get("session_lock") or {},
        limits=Limits(**(config.get("limits") or {})),
        console=bool(config.get("console")),
        tools=bool(config.get("tools", True)),
        debug=bool(config.get("debug")),
        scenario=scenario,
        mcp_servers=mcp_servers if mcp_servers is not None else config.get("mcp_config"),
    )
    timeout = config.get("shutdown_timeout")
    app.state.relay.drain_on_signals(DEFAULT_SHUTDOWN_TIMEOUT if timeout is None else float(timeout))
    return app


def app_from_environment() -> Any:
    """The uvicorn factory for worker processes (``--factory agent_rt.relay.cli:app_from_environment``).

    SIGTERM/SIGINT close the sessions with 1001 before uvicorn stops (``shutdown_timeout`` in the
    configuration, seconds; default 5).
    """
    config = json.loads(os.environ.get(CONFIG_ENV) or "{}")
    tokens = [t.strip() for t in os.environ.get(TOKENS_ENV, "").split(",") if t.strip()]
    logging.getLogger("agent_rt.relay").setLevel(logging.DEBUG if config.get("debug") else logging.INFO)
    logging.getLogger("agent_rt.mcp").setLevel(logging.INFO)
    if not logging.getLogger().handlers:  # uvicorn configures only its own loggers
        logging.basicConfig(format="%(name)s: %(message)s")
    app = app_from_config(config, tokens)
    return _ProtocolReport(app) if config.get("debug") else app


class _ProtocolReport:
    """ASGI wrapper (debug only) logging which WebSocket protocol serves each connection.

    The protocol is the object whose bound ``receive`` the server hands the app, so the line says
    what this worker really runs (the relay's protocol, or uvicorn's when it was not passed on).
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            protocol = type(getattr(receive, "__self__", receive)).__name__
            logging.getLogger("agent_rt.relay").debug(
                "relay: worker %d: websocket protocol %s", os.getpid(), protocol
            )
        await self.app(scope, receive, send)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def _run_relay(args: argparse.Namespace) -> int:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        _say('agent-rt: error: the relay needs its extra: pip install "agentrt[relay]"')
        return 1
    from .auth import is_loopback

    tokens = _tokens(args)
    if not tokens and not is_loopback(args.host):
        _say(
            f"agent-rt: error: no relay token: the relay then accepts loopback clients only, so it will not "
            f"listen on {args.host}; give --token (or {TOKENS_ENV}) or use --host 127.0.0.1"
        )
        return 2
    logging.getLogger("agent_rt.relay").setLevel(
        logging.DEBUG if getattr(args, "debug", False) else logging.INFO
    )
    logging.getLogger("agent_rt.mcp").setLevel(logging.INFO)  # the MCP servers' stderr, line by line
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(name)s: %(message)s")
    config = _config(args)
    mcp_servers = mcp_config_from_args(args)  # a bad file fails here, in one line
    if mcp_servers:
        from .mcp import mcp_configs

        mcp_servers = mcp_configs(mcp_servers)  # checks that the SDK is installed
    target = resolve_upstream(args.upstream, key_env=args.upstream_key_env)
    host_shown = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
    if not tokens:
        _say("relay: no token configured: only loopback clients are accepted")
    subprocess_mode = args.workers > 1 or _on_trio()
    if target.embedded:
        from ..server import LocalRealtimeServer

        scenario = Scenario.load(args.scenario) if args.scenario else None
        async with LocalRealtimeServer(scenario=_scenario_or_default(scenario)) as server:
            config["upstream_url"] = server.url
            # The local server takes any key; one is needed for its client-secrets endpoint.
            config["upstream_key"] = f"agent-rt-local-{secrets.token_hex(8)}"
            _say(f"relay: upstream is the embedded local Realtime server ({server.url})")
            return await _serve(args, config, tokens, host_shown, subprocess_mode, mcp_servers)
    _say(f"relay: upstream {target.describe()}")
    return await _serve(args, config, tokens, host_shown, subprocess_mode, mcp_servers)


def _scenario_or_default(scenario: Scenario | None) -> Any:
    from .app import RELAY_SCENARIO

    return scenario if scenario is not None else RELAY_SCENARIO


def _on_trio() -> bool:
    try:  # not a dependency of ours (nor of anyio 4 or httpx 0.28): trio brings it
        import sniffio
    except ImportError:
        return False  # no trio installed, so this is asyncio
    return sniffio.current_async_library() == "trio"


async def _serve(
    args: argparse.Namespace,
    config: dict[str, Any],
    tokens: list[str],
    host_shown: str,
    subprocess_mode: bool,
    mcp_servers: list[McpServerConfig],
) -> int:
    """Serve until SIGTERM/SIGINT; the exit status of a plain uvicorn app stopped the same way.

    One process: the status is ``-SIGTERM`` after SIGTERM (the command then ends by that signal,
    as uvicorn does), 0 after SIGINT. ``--workers``: uvicorn's supervisor exits 0 for both.
    """
    if subprocess_mode:
        return await _serve_workers(args, config, tokens, host_shown, mcp_servers)
    from .serving import make_server

    app = app_from_config(config, tokens, mcp_servers=mcp_servers)
    listener = _listen(args.host, args.port)
    if listener is None:
        return 1
    port = listener.getsockname()[1]
    listening = f"relay: listening at ws://{host_shown}:{port}/v1/realtime (health: http://{host_shown}:{port}/healthz)"
    server = make_server(
        app, graceful_seconds=args.timeout_graceful_shutdown, on_started=lambda: _say(listening)
    )
    try:
        stopped_by = await serve_relay(server, [listener])
    finally:
        listener.close()
    return exit_status(server, stopped_by)


def _listen(host: str, port: int) -> socket.socket | None:
    """The relay's listening socket (``port`` 0: any free port), or None once the error is said.

    Bound here, not by uvicorn, so the command knows the port before it says where it listens.
    TCP_NODELAY is set on it for the connections it accepts to inherit: with ``--workers`` uvicorn
    takes the socket by file descriptor as a Unix socket, and then sets no TCP option itself.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        _say(f"agent-rt: error: cannot listen on {host}:{port}: {exc.strerror}")
        return None
    listener.listen(2048)
    return listener


def exit_status(server: Any, stopped_by: int | None) -> int:
    """The status of a command that served ``server`` until ``stopped_by`` (a signal, or None).

    As a plain uvicorn app: ended by SIGTERM (negative: the command ends by that signal once done,
    which systemd counts as a clean stop), 0 after SIGINT; 1 if it never started.
    """
    if not server.started:
        return 1
    return -signal.SIGTERM if stopped_by == signal.SIGTERM else 0


async def _serve_workers(
    args: argparse.Namespace,
    config: dict[str, Any],
    tokens: list[str],
    host_shown: str,
    mcp_servers: list[McpServerConfig],
) -> int:
    """uvicorn's process manager in a child process; SIGTERM/SIGINT are passed on to it.

    The child (:mod:`agent_rt.relay.workers`) serves the socket bound here, so the URL said is
    the real one (``--port 0``) and connectable at once: connections wait in its backlog for the
    workers. Each worker closes its own sessions (``app_from_environment``); the supervisor exits
    0 once they have stopped, and so does this command, as ``uvicorn --workers`` does.
    """
    env = dict(os.environ)
    env[CONFIG_ENV] = json.dumps(config)
    env[TOKENS_ENV] = ",".join(tokens)
    processes: list[anyio.abc.Process] = []
    code = 0
    async with anyio.create_task_group() as tasks:

        async def pass_signals_on() -> None:
            # SIGTERM (systemd, docker stop) or Ctrl-C: uvicorn's supervisor stops its workers
            # gracefully; this process waits for it instead of dying first. Before it runs (the
            # MCP servers' check), a signal just stops the command.
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as received:
                async for sig in received:
                    if not processes:
                        tasks.cancel_scope.cancel()
                        return
                    processes[0].send_signal(sig)

        tasks.start_soon(pass_signals_on)
        try:
            if mcp_servers:
                await _check_mcp_servers(mcp_servers)
            listener = _listen(args.host, args.port)
            if listener is None:
                tasks.cancel_scope.cancel()
                return 1
            with listener:
                port = listener.getsockname()[1]
                _say(f"relay: starting {args.workers} worker(s) at ws://{host_shown}:{port}/v1/realtime")
                command = [
                    sys.executable,
                    "-m",
                    "agent_rt.relay.workers",
                    "--fd",
                    str(listener.fileno()),
                    "--workers",
                    str(args.workers),
                    "--timeout-graceful-shutdown",
                    str(args.timeout_graceful_shutdown),
                ]
                # Shielded: a signal while the child starts must not leave it running unrecorded
                # (the finally below stops whatever is in ``processes``).
                with anyio.CancelScope(shield=True):
                    process = await anyio.open_process(
                        command, env=env, stdin=None, stdout=None, stderr=None, pass_fds=[listener.fileno()]
                    )
                    processes.append(process)
            code = await processes[0].wait()
            tasks.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                for process in processes:
                    if process.returncode is None:
                        process.terminate()
                        await process.wait()
    # One worker (--trio) is a plain uvicorn process: it ends by SIGTERM, and so does this command.
    # Killed by another signal (SIGKILL of an OOM killer): the shell's convention, 128 + N.
    return code if code >= 0 or code == -signal.SIGTERM else 128 - code


async def _check_mcp_servers(configs: list[McpServerConfig]) -> None:
    """Start and stop the MCP servers once before the workers start theirs.

    A worker whose startup fails is restarted or takes its supervisor down with a traceback per
    worker; checking here gives one clear line instead (each worker still runs its own servers).
    """
    from ..tools import ToolRegistry
    from .mcp import RelayMcp

    async with RelayMcp(configs, ToolRegistry()).running():
        pass


class _StartupFailureNoise(logging.Filter):
    """Drop uvicorn's traceback of a relay startup failure that :func:`serve_relay` reports itself."""

    def __init__(self, relay: Any) -> None:
        super().__init__()
        self.relay = relay

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(self.relay, "startup_error", None) is None


async def serve_relay(server: Any, sockets: list[socket.socket]) -> int | None:
    """Serve a relay app with ``uvicorn.Server.serve``; a failed startup raises its own error.

    An MCP server that does not start fails the app's lifespan: uvicorn would log a traceback and
    exit the process; the command prints the error in one line instead. Returns the signal that
    stopped the server (uvicorn would raise it again; the caller decides how the process ends).
    """
    relay = getattr(getattr(server.config.app, "state", None), "relay", None)
    quiet = _StartupFailureNoise(relay)
    log = logging.getLogger("uvicorn.error")
    log.addFilter(quiet)
    try:
        with stop_signal_recorded() as received:
            await server.serve(sockets=sockets)
    except SystemExit:  # uvicorn's way to say "startup failed"
        error = getattr(relay, "startup_error", None)
        if error is None:
            raise
        raise error from None
    finally:
        log.removeFilter(quiet)
    error = getattr(relay, "startup_error", None)
    if error is not None and not server.started:
        raise error
    return received[0] if received else None


def _graceful_timeout(text: str) -> int:
    value = int(text)  # whole seconds, as uvicorn's option
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 second, not {text}")
    return value


def _optional_positive(text: str) -> float | None:
    if text.lower() in ("none", "off", "0"):
        return None
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0 (or 'off'), not {text}")
    return value


def _optional_count(text: str) -> int | None:
    value = _optional_positive(text)
    return None if value is None else int(value)


def register(commands: Any) -> None:
    """Add ``agent-rt relay`` to the CLI's subcommands."""
    relay = commands.add_parser(
        "relay",
        help="run a relay: clients reach a Realtime API through it, with auth, limits and server-side tools",
        description="Run the relay (Starlette under uvicorn). Upstream: --upstream URL, else the OpenAI "
        "service when the key is set, else an embedded local server.",
    )
    relay.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    relay.add_argument("--port", type=int, default=8787, help="port to bind (default: 8787)")
    relay.add_argument(
        "--token",
        action="append",
        help=f"a relay token clients must present (repeatable; also {TOKENS_ENV}, comma-separated)",
    )
    relay.add_argument("--upstream", help="upstream Realtime WebSocket URL (default: see above)")
    relay.add_argument(
        "--upstream-key-env",
        default=DEFAULT_KEY_ENV,
        metavar="NAME",
        help=f"environment variable holding the upstream key (default: {DEFAULT_KEY_ENV})",
    )
    relay.add_argument(
        "--tools",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="answer the installed plugins' tools on the server (default: on)",
    )
    relay.add_argument("--origin", action="append", help="allowed browser Origin (repeatable; default: any)")
    relay.add_argument("--model", action="append", help="allowed model (repeatable; default: any)")
    relay.add_argument("--token-budget", type=int, help="tokens each identity may use (default: no limit)")
    relay.add_argument(
        "--lock",
        action="append",
        metavar="FIELD=JSON",
        help="a session field clients cannot change (repeatable)",
    )
    defaults = Limits()
    relay.add_argument(
        "--events-per-second",
        type=_optional_positive,
        help=f"client events per second per session (default: {defaults.events_per_second:g}; 'off')",
    )
    relay.add_argument(
        "--max-sessions",
        type=_optional_count,
        help=f"concurrent sessions per process (default: {defaults.max_sessions})",
    )
    relay.add_argument(
        "--max-sessions-per-identity",
        type=_optional_count,
        help=f"concurrent sessions per identity (default: {defaults.max_sessions_per_identity})",
    )
    relay.add_argument(
        "--idle-timeout", type=_optional_positive, help=f"seconds (default: {defaults.idle_timeout:g})"
    )
    relay.add_argument(
        "--max-session-seconds",
        type=_optional_positive,
        help=f"longest session in seconds (default: {defaults.max_session_seconds:g})",
    )
    relay.add_argument("--scenario", help="scenario JSON file for the embedded local server")
    add_mcp_argument(relay)
    relay.add_argument("--console", action="store_true", help="serve the web console at /")
    relay.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    relay.add_argument(
        "--timeout-graceful-shutdown",
        type=_graceful_timeout,
        default=DEFAULT_SHUTDOWN_TIMEOUT,
        metavar="SECONDS",
        help="on SIGTERM/Ctrl-C, how long open sessions get to close (with 1001) before they are cut, "
        f"as uvicorn's option (default: {DEFAULT_SHUTDOWN_TIMEOUT})",
    )
    relay.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log every event (audio elided, secrets redacted)",
    )
    relay.set_defaults(handler=_run_relay, handles_signals=True)
