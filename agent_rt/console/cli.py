"""``agent-rt console``: the web console in your browser, through a relay on loopback.

The relay (``agent_rt.relay``, the ``relay`` extra) serves the page at ``/`` and relays
``/v1/realtime`` to the upstream: the real service when ``OPENAI_API_KEY`` is set, any Realtime
URL with ``--upstream``, otherwise a local server started here, paced like the service (audio at
real time, a short first-response latency) so barge-in can be tried offline. The relay runs the
installed plugins' tools and those of the ``--mcp-config`` MCP servers, and the page shows their calls.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
import webbrowser
from collections.abc import AsyncIterator, Callable
from typing import Any

from ..mcp.cli import add_mcp_argument, mcp_config_from_args
from ..server.scenario import Scenario, ScenarioSource
from .scenario import CONSOLE_SCENARIO, FIRST_RESPONSE_DELAY

DEFAULT_PORT = 8788
KEY_ENV = "OPENAI_API_KEY"


def register(commands: Any) -> None:
    """Add ``console`` to the ``agent-rt`` subcommands."""
    parser = commands.add_parser(
        "console",
        help="open the web console (mic, playback with barge-in, tool calls, event inspector)",
        description=(
            "Serve the web console at http://127.0.0.1:PORT/ through a relay on loopback. Upstream: "
            f"--upstream URL, else the OpenAI Realtime API when {KEY_ENV} is set, else a local server "
            "paced like the service (offline). The relay runs the installed plugins' tools."
        ),
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any)"
    )
    parser.add_argument("--upstream", metavar="URL", help="relay to this Realtime WebSocket URL")
    parser.add_argument("--scenario", metavar="FILE", help="scenario JSON for the local server (offline)")
    parser.add_argument(
        "--tools",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the relay answers the installed plugins' tools (default: on)",
    )
    add_mcp_argument(parser)
    parser.add_argument("--no-browser", action="store_true", help="print the URL, do not open a browser")
    parser.set_defaults(handler=run_console, handles_signals=True)


def _say(text: str) -> None:
    print(text, flush=True)


@contextlib.asynccontextmanager
async def _upstream(args: argparse.Namespace) -> AsyncIterator[tuple[str | None, str]]:
    """Yield ``(upstream_url, label)``: ``None`` lets the relay use the service with the key."""
    if args.upstream:
        yield args.upstream, args.upstream
    elif os.environ.get(KEY_ENV):
        yield None, f"the OpenAI Realtime API ({KEY_ENV} is set)"
    else:
        from ..server import LocalRealtimeServer

        scenario: ScenarioSource = Scenario.load(args.scenario) if args.scenario else CONSOLE_SCENARIO
        async with LocalRealtimeServer(  # keep_closed=0: a long-running server keeps no closed sessions
            scenario=scenario, realtime_audio=True, first_response_delay=FIRST_RESPONSE_DELAY, keep_closed=0
        ) as server:
            yield server.url, "the local Realtime server (offline, scripted replies)"


def listen(port: int) -> socket.socket:
    """A listening loopback socket, so the URL is known (and printed) before the server runs."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def relay_server(
    upstream_url: str | None,
    *,
    tools: bool = True,
    on_started: Callable[[], None] | None = None,
    **options: Any,
) -> Any:
    """A ``uvicorn.Server`` running the relay with the console at ``/`` (serve it on :func:`listen`).

    ``tools``: the relay answers the installed plugins' tools; ``options`` go to
    :func:`agent_rt.relay.create_relay_app` (``tokens=``, ``limits=``, ``mcp_servers=``...).
    ``on_started`` runs once the app has started and the server listens. Served in the main
    thread, SIGTERM and Ctrl-C close the open sessions with 1001 before the server stops.
    """
    from ..relay import create_relay_app
    from ..relay.serving import make_server
    from ..relay.shutdown import DEFAULT_SHUTDOWN_TIMEOUT

    app = create_relay_app(upstream_url, console=True, tools=tools, **options)
    app.state.relay.drain_on_signals(DEFAULT_SHUTDOWN_TIMEOUT)
    return make_server(app, graceful_seconds=DEFAULT_SHUTDOWN_TIMEOUT, on_started=on_started)


async def run_console(args: argparse.Namespace) -> int:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        print(
            'agent-rt: error: the console needs the relay extra: pip install "agentrt[relay]"',
            file=sys.stderr,
        )
        return 1
    if getattr(args, "trio", False):
        print(
            "agent-rt: error: the console's relay runs under uvicorn, on asyncio: drop --trio",
            file=sys.stderr,
        )
        return 2
    from ..relay.cli import exit_status, serve_relay

    mcp_servers = mcp_config_from_args(args)  # a bad file fails here, in one line
    try:
        sock = listen(args.port)
    except OSError as exc:
        print(f"agent-rt: error: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    with sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        async with _upstream(args) as (upstream_url, label):

            def started() -> None:
                _say(f"console: open {url}  (Ctrl-C to stop)")
                if not args.no_browser:
                    webbrowser.open(url)

            server = relay_server(
                upstream_url, tools=args.tools, mcp_servers=mcp_servers or None, on_started=started
            )
            _say(f"console: upstream is {label}")
            stopped_by = await serve_relay(server, [sock])  # an MCP server that fails to start raises here
            return exit_status(server, stopped_by)
