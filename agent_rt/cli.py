"""The ``agent-rt`` command: a demo, a text chat, a WAV round trip, tools, and the local server.

Every command runs against the bundled local Realtime server unless told otherwise (``--url``, or
``--live`` with ``OPENAI_API_KEY``), so it works with no key and no network. Errors print one line
on stderr and exit non-zero; ``--debug`` shows the traceback and the client's debug log.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import inspect
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

import anyio
import numpy as np

from . import audio as audio_utils
from .client import RealtimeClient
from .errors import ConnectionClosedError, NotConnectedError
from .mcp.cli import add_mcp_argument, format_mcp_report, mcp_config_from_args, running_mcp_servers
from .plugins import load_plugins
from .plugins_cli import add_plugin_commands, tools_list, tools_payload
from .server import LocalRealtimeServer, Scenario
from .server.addresses import connectable_urls, is_loopback
from .tools import ToolRegistry, ToolResult, execute_tool_call

DEMO_SCENARIO: dict[str, Any] = {
    "rules": [
        {
            "match": "hello",
            "reply": "Hi! I'm a local stand-in for a realtime model. Ask me the time, or some maths.",
        },
        {
            "regex": r"time .*in tokyo",
            "calls": [{"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}}],
            "after_output": "In Tokyo it is {output.time} on {output.weekday}.",
        },
        {
            "regex": r"what is (?P<expression>[0-9 +*/().-]+)",
            "calls": [{"name": "calculate", "arguments": {"expression": "{expression}"}}],
            "after_output": "{output.expression} is {output.result}.",
        },
        {
            "match": "joke",
            "reply": "Why did the packet cross the socket? To get to the other side, in order.",
        },
    ],
    "transcripts": ["tell me a joke"],
}

#: Modules that add commands: each has ``register(commands)``, taking the subparsers object; a
#: command's parser sets ``handler=`` (``args -> int``, sync or async) with ``set_defaults``.
COMMAND_MODULES: tuple[str, ...] = (
    "agent_rt.relay.cli",
    "agent_rt.console.cli",
    "agent_rt.plugins_cli",
    "agent_rt.doctor",
)

DEMO_TURNS = ["Hello!", "What time is it in Tokyo?", "What is (17 + 4) * 23?"]


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


def _print(*parts: object, end: str = "\n") -> None:
    print(*parts, end=end, flush=True)


# -- connection helpers ------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _endpoint(args: argparse.Namespace, scenario: Any = None) -> AsyncIterator[tuple[str | None, str]]:
    """Yield ``(url, label)``: the given URL, the real service (``--live``) or a local server."""
    if getattr(args, "live", False):
        if not os.environ.get("OPENAI_API_KEY"):
            raise CliError("--live needs OPENAI_API_KEY in the environment")
        yield None, "the OpenAI Realtime API (live)"
        return
    if getattr(args, "url", None):
        yield args.url, args.url
        return
    async with LocalRealtimeServer(scenario=scenario) as server:
        yield server.url, f"the local Realtime server at {server.url}"


def _client(
    args: argparse.Namespace, url: str | None, *, plugins: bool = True, reconnect: bool = False
) -> RealtimeClient:
    api_key = os.environ.get("OPENAI_API_KEY") if url is None else os.environ.get("OPENAI_API_KEY", "local")
    return RealtimeClient(
        api_key=api_key,
        url=url,
        model=getattr(args, "model", None),
        protocol=getattr(args, "protocol", "ga"),
        debug=args.debug,
        plugins=plugins,
        reconnect=reconnect,
        mcp_servers=mcp_config_from_args(args),
    )


class _Printer:
    """Streams transcript deltas as they arrive and prints tool calls."""

    def __init__(self, client: RealtimeClient) -> None:
        self.streaming: str | None = None
        client.on("conversation.updated", self.on_update)
        client.on("tool.call.started", self.on_tool_started)
        client.on("tool.call.finished", self.on_tool_finished)
        client.on("error", self.on_error)

    def on_update(self, event: dict[str, Any]) -> None:
        item, delta = event["item"], event.get("delta") or {}
        text = delta.get("transcript") or delta.get("text")
        if text and item.get("role") == "assistant":
            if self.streaming != item["id"]:
                self.streaming = item["id"]
                _print("assistant> ", end="")
            _print(text, end="")

    def end_line(self) -> None:
        if self.streaming is not None:
            _print()
            self.streaming = None

    def on_tool_started(self, event: dict[str, Any]) -> None:
        self.end_line()
        _print(f"  tool call  {event.get('name')}({event.get('arguments', '')})")

    def on_tool_finished(self, event: dict[str, Any]) -> None:
        status = "ok" if event.get("ok") else f"error: {event.get('error')}"
        duration = float(event.get("duration") or 0.0) * 1000
        _print(f"  tool done  {event.get('name')} [{status}, {duration:.1f} ms] -> {event.get('output')}")

    def on_error(self, event: dict[str, Any]) -> None:
        self.end_line()
        error = event.get("error") if isinstance(event.get("error"), dict) else event
        message = error.get("message") if isinstance(error, dict) else error
        _error_line(str(message))  # the conversation goes on: reported, not fatal


async def _answer(client: RealtimeClient, printer: _Printer, timeout: float) -> dict[str, Any]:
    """Wait for the assistant's next finished message (tool calls in between run by themselves)."""
    while True:
        item = await client.wait_for_next_completed_item(timeout=timeout)
        if item.get("type") == "message" and item.get("role") == "assistant":
            printer.end_line()
            return item


def _describe_audio(item: dict[str, Any]) -> str:
    samples = len(item["formatted"].get("audio", ()))
    return f"  audio      {samples / audio_utils.SAMPLE_RATE:.2f} s, {samples} samples at 24 kHz"


def _speech_like(seconds: float, seed: int = 7) -> audio_utils.Int16Array:
    """Noise shaped like syllables: loud enough for server VAD, clearly not silence."""
    rng = np.random.default_rng(seed)
    count = int(seconds * audio_utils.SAMPLE_RATE)
    envelope = 0.5 + 0.5 * np.sin(np.linspace(0, seconds * 2 * np.pi * 4, count))
    signal = rng.normal(0, 0.25, count) * envelope
    return audio_utils.float_to_pcm16(signal.astype(np.float32))


def _ensure_demo_tools(client: RealtimeClient) -> None:
    """Without the clock plugin installed, the demo brings its own ``get_time`` and ``calculate``."""
    from ._demo_tools import fallback_tools

    for tool in fallback_tools(client.tools.names()):
        client.tools.add(tool)


# -- commands --------------------------------------------------------------------------------


async def _demo(args: argparse.Namespace) -> int:
    scenario = dict(DEMO_SCENARIO)
    scenario["rules"] = [dict(rule) for rule in DEMO_SCENARIO["rules"]]
    async with _endpoint(args, Scenario.load(scenario)) as (url, label):
        _print(f"agent-rt demo: talking to {label} ({args.protocol} protocol)")
        client = _client(args, url)
        _ensure_demo_tools(client)
        loaded = client.plugins
        plugin_names = ", ".join(info.name for info in loaded.plugins) if loaded else ""
        _print(f"tools: {', '.join(client.tools.names())}  (plugins: {plugin_names or 'none'})")
        await client.update_session(
            instructions="You are a concise assistant. Use the tools for times and arithmetic.",
            voice="alloy",
            input_audio_transcription={"model": "whisper-1"},
        )
        printer = _Printer(client)
        async with client:
            session = await client.wait_for_session_created(timeout=args.timeout)
            _print(f"session {session.get('id', '?')} created; model {session.get('model', '?')}")
            for text in DEMO_TURNS:
                _print(f"\nuser> {text}")
                await client.send_user_message_content([{"type": "input_text", "text": text}])
                item = await _answer(client, printer, args.timeout)
                _print(_describe_audio(item))
            _print("\nuser> (speaking: 1.5 s of audio, push-to-talk)")
            await client.append_input_audio(_speech_like(1.5))
            await client.create_response()
            item = await _answer(client, printer, args.timeout)
            _print(_describe_audio(item))
            users = [i for i in client.conversation.get_items() if i.get("role") == "user"]
            heard = users[-1]["formatted"].get("transcript") if users else None
            _print(f"  the server heard the audio as: {heard!r}")
        _print(f"\ndone: {len(client.conversation.get_items())} items in the conversation")
    return 0


def _report_reconnects(client: RealtimeClient, printer: _Printer) -> None:
    def on_reconnecting(event: dict[str, Any]) -> None:
        printer.end_line()
        _print(
            f"  connection lost (code {event['code']}): reconnecting, "
            f"attempt {event['attempt']} of {event['max_attempts']} in {event['delay']:.1f} s"
        )

    def on_reconnected(event: dict[str, Any]) -> None:
        lost = len(event["lost_items"])
        _print(f"  reconnected: a new session (the server no longer has the {lost} items before)")

    client.on("reconnecting", on_reconnecting)
    client.on("reconnected", on_reconnected)


async def _chat_turn(client: RealtimeClient, printer: _Printer, text: str, timeout: float) -> None:
    """Send one line and print the answer; a line cut off by a drop is sent again once reconnected."""
    for attempt in (1, 2):
        if client.is_reconnecting:
            await client.wait_for_next("reconnected")  # raises if the client gives up
        try:
            await client.send_user_message_content([{"type": "input_text", "text": text}])
            await _answer(client, printer, timeout)
            return
        except (ConnectionClosedError, NotConnectedError):
            if attempt == 2 or not client.is_reconnecting:
                raise
            printer.end_line()
            _print("  (the turn was cut off: sending it again on the new session)")


async def _chat(args: argparse.Namespace) -> int:
    async with _endpoint(args) as (url, label):
        client = _client(args, url, reconnect=args.reconnect)
        printer = _Printer(client)
        if args.reconnect:
            _report_reconnects(client, printer)
        _print(f"chatting with {label}; end with Ctrl-D")
        async with client:
            await client.wait_for_session_created(timeout=args.timeout)
            while True:
                _print("you> ", end="")
                line = await anyio.to_thread.run_sync(sys.stdin.readline)
                if not line:
                    _print()
                    return 0
                if not line.strip():
                    continue
                await _chat_turn(client, printer, line.strip(), args.timeout)


async def _say(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not await anyio.Path(path).is_file():
        raise CliError(f"no such file: {path}")
    samples = await anyio.to_thread.run_sync(audio_utils.load_wav_for_realtime, path)
    output = Path(args.output) if args.output else path.with_name(path.stem + ".reply.wav")
    async with _endpoint(args) as (url, label):
        client = _client(args, url)
        printer = _Printer(client)
        await client.update_session(turn_detection=None, input_audio_transcription={"model": "whisper-1"})
        _print(f"sending {len(samples) / audio_utils.SAMPLE_RATE:.2f} s of audio to {label}")
        async with client:
            await client.wait_for_session_created(timeout=args.timeout)
            await client.append_input_audio(samples)
            await client.create_response()
            item = await _answer(client, printer, args.timeout)
    reply = item["formatted"].get("audio")
    if reply is None or len(reply) == 0:
        raise CliError("the reply has no audio")
    audio_utils.write_wav(output, reply, audio_utils.SAMPLE_RATE)
    _print(f"transcript: {item['formatted'].get('transcript') or item['formatted'].get('text')}")
    _print(f"wrote {output} ({len(reply) / audio_utils.SAMPLE_RATE:.2f} s, 24 kHz mono 16-bit)")
    return 0


async def _tools_list(args: argparse.Namespace) -> int:
    """Plugin tools (``plugins_cli.tools_list``), then the tools of the ``--mcp-config`` servers."""
    configs = mcp_config_from_args(args)
    if not configs:
        return tools_list(args)
    loaded = args.loaded_plugins
    registry = ToolRegistry()
    for tool in loaded.tools:
        registry.add(tool)
    async with running_mcp_servers(configs, registry, report=False) as servers:
        failed = bool(servers.failures)
        if args.json:
            payload = tools_payload(loaded)
            payload["mcp_tools"] = [
                {"name": tool.name, "server": server, "definition": tool.definition}
                for server, tool in servers.tools()
            ]
            payload["mcp_errors"] = [
                {"server": name, "message": str(error)} for name, error in servers.failures.items()
            ]
            _print(json.dumps(payload, indent=2))
            return 1 if loaded.failures or failed else 0
        status = tools_list(args)
        _print()
        _print(format_mcp_report(servers))
        for server, tool in servers.tools():
            _print(f"\n{tool.name} (MCP server {server}):")
            _print(json.dumps(tool.definition, indent=2))
    return 1 if status or failed else 0


async def _tools_call(args: argparse.Namespace) -> int:
    try:
        json.loads(args.arguments)
    except ValueError as exc:
        raise CliError(f"arguments are not valid JSON: {exc}") from exc
    loaded = load_plugins()
    registry = ToolRegistry()
    for tool in loaded.tools:
        registry.add(tool)
    configs = mcp_config_from_args(args)
    tools_log = logging.getLogger("agent_rt.tools")
    if not args.debug:  # the failure is reported in one line below; --debug shows its traceback
        tools_log.setLevel(logging.CRITICAL)
    async with contextlib.AsyncExitStack() as stack:
        if configs:
            await stack.enter_async_context(running_mcp_servers(configs, registry))
        chosen = registry.get(args.name)
        if chosen is None:
            names = ", ".join(registry.names()) or "none"
            raise CliError(f"unknown tool {args.name!r} (available: {names})")
        result: ToolResult = await execute_tool_call(chosen, chosen.name, "call_cli", args.arguments)
    if not result.ok:  # the tool failed (bad arguments included): 1; 2 stays argparse's usage error
        raise CliError(str(result.error))
    _print(result.output)
    return 0


#: ``agent-rt serve --api-key`` defaults to this environment variable.
API_KEY_ENV = "AGENT_RT_SERVER_API_KEY"


async def _serve(args: argparse.Namespace) -> int:
    scenario = Scenario.load(Path(args.scenario)) if args.scenario else None
    api_key = args.api_key or os.environ.get(API_KEY_ENV) or None
    if not is_loopback(args.host):
        _warn(
            f"listening on {args.host}: the server is reachable from other machines"
            + ("" if api_key else f"; anyone who reaches it can use it (set --api-key or {API_KEY_ENV})")
        )
    server = LocalRealtimeServer(
        host=args.host,
        port=args.port,
        scenario=scenario,
        realtime_audio=args.realtime_audio,
        max_session_seconds=args.max_session_seconds,
        api_key=api_key,
        keep_closed=0,  # a long-running server frees each session when its socket closes
    )
    try:
        await server.__aenter__()
    except Exception as exc:
        inner = _innermost(exc)
        if isinstance(inner, OSError) and inner.errno == errno.EADDRINUSE:
            raise CliError(
                f"port {args.port} on {args.host} is already in use (address already in use); "
                "choose another with --port"
            ) from exc
        raise
    try:
        _print(f"local Realtime server listening at {server.url} (Ctrl-C to stop)")
        for url in connectable_urls(args.host, server.port)[1:]:
            _print(f"  also reachable at {url}")
        if api_key:
            _print("  clients must send Authorization: Bearer <the --api-key value>")
        await anyio.sleep_forever()
    finally:
        await server.__aexit__(None, None, None)
    return 0


def _error_line(message: str) -> None:
    """The one error format of the command, on stderr (secrets redacted)."""
    from ._secrets import redact

    print(f"agent-rt: error: {redact(' '.join(message.split()))}", file=sys.stderr, flush=True)


def _warn(message: str) -> None:
    print(f"agent-rt: warning: {message}", file=sys.stderr, flush=True)


# -- entry point -----------------------------------------------------------------------------


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


class _Parser(argparse.ArgumentParser):
    """Usage errors carry the same ``agent-rt: error:`` prefix as every other error (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"agent-rt: error: {message}\n")


class _HelpFormatter(argparse.HelpFormatter):
    """Help text comes from docstrings too: show ``code`` as plain code, not reStructuredText."""

    def format_help(self) -> str:
        return super().format_help().replace("``", "")


def _add_global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """``--debug`` and ``--trio`` on every parser, so they work before or after the command.

    Below the top level they default to SUPPRESS: an option given before the command is not reset
    by the subcommand's parser. A command that defines one itself (the relay's ``--debug``, with
    its own help) keeps it and still gets the other.
    """
    default: Any = False if top else argparse.SUPPRESS
    present = {option for action in parser._actions for option in action.option_strings}
    if "--debug" not in present:
        parser.add_argument(
            "--debug", action="store_true", default=default, help="debug logging and full tracebacks"
        )
    if "--trio" not in present:
        parser.add_argument(
            "--trio", action="store_true", default=default, help="run on trio instead of asyncio"
        )


def _finish(parser: argparse.ArgumentParser) -> None:
    """Give every (sub)command parser, including those of COMMAND_MODULES, the globals and the formatter."""
    parser.formatter_class = _HelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                _add_global_options(sub, top=False)
                _finish(sub)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="agent-rt", description=__doc__.splitlines()[0])
    _add_global_options(parser, top=True)
    commands = parser.add_subparsers(dest="command", required=True)

    def connection(sub: argparse.ArgumentParser, live: bool = True) -> None:
        sub.add_argument("--url", help="a Realtime WebSocket URL (default: a local server)")
        sub.add_argument("--model", help="model name sent in the URL")
        sub.add_argument("--protocol", choices=["ga", "beta"], default="ga")
        sub.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each reply")
        if live:
            sub.add_argument("--live", action="store_true", help="use the real API (needs OPENAI_API_KEY)")
        add_mcp_argument(sub)

    connection(commands.add_parser("demo", help="a scripted conversation with a tool call (the main demo)"))
    chat = commands.add_parser("chat", help="an interactive text chat")
    connection(chat)
    chat.add_argument(
        "--no-reconnect",
        dest="reconnect",
        action="store_false",
        help="end the chat when the connection drops (default: reconnect with a new session)",
    )
    say = commands.add_parser("say", help="send a WAV file, write the spoken reply to a WAV file")
    say.add_argument("file")
    say.add_argument("-o", "--output", help="reply WAV (default: FILE.reply.wav)")
    connection(say)
    tools = commands.add_parser("tools", help="list or call plugin and MCP tools").add_subparsers(
        dest="tools_command", required=True
    )
    tools_list_parser = tools.add_parser(
        "list", help="installed plugins and MCP servers, their tools and schemas"
    )
    tools_list_parser.add_argument(
        "--json", action="store_true", help="print the tools, load errors and conflicts as JSON"
    )
    add_mcp_argument(tools_list_parser)
    call = tools.add_parser("call", help="validate and run a tool locally")
    add_mcp_argument(call)
    call.add_argument("name")
    call.add_argument("arguments", nargs="?", default="{}", help="JSON object of arguments")
    serve = commands.add_parser("serve", help="run the local Realtime server")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s; 0.0.0.0 for all)"
    )
    serve.add_argument("--port", type=int, default=8765, help="port to listen on (default: %(default)s)")
    serve.add_argument(
        "--api-key",
        help=f"require this key from clients: Authorization: Bearer KEY, or the browser subprotocol "
        f"openai-insecure-api-key.KEY (default: ${API_KEY_ENV}; unset: accept anyone)",
    )
    serve.add_argument("--scenario", help="a scenario JSON file")
    serve.add_argument("--realtime-audio", action="store_true", help="pace audio in real time")
    serve.add_argument(
        "--max-session-seconds",
        type=_positive_float,
        help="end each session after this long with close 1001, as the service does (default: 3600)",
    )
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(commands)
    add_plugin_commands(parser, commands)  # last: a plugin never takes a built-in command's name
    _finish(parser)
    return parser


async def _run(args: argparse.Namespace) -> int:
    handler = getattr(args, "handler", None)
    if handler is not None:  # a command registered by a module of COMMAND_MODULES
        result = handler(args)
        return int(await result) if inspect.isawaitable(result) else int(result)
    if args.command == "demo":
        return await _demo(args)
    if args.command == "chat":
        return await _chat(args)
    if args.command == "say":
        return await _say(args)
    if args.command == "serve":
        return await _serve(args)
    if args.tools_command == "list":
        return await _tools_list(args)
    return await _tools_call(args)


async def _run_until_terminated(args: argparse.Namespace) -> int:
    """Run the command; SIGTERM cancels it like Ctrl-C does, so every ``finally`` runs (exit 143).

    Child processes such as stdio MCP servers live in their own process session: a plain SIGTERM
    of the command would leave them running. A command whose parser sets ``handles_signals``
    (the relay and the console, stopped as uvicorn apps are) takes SIGTERM and SIGINT itself.
    """
    import signal

    outcome: list[int] = []
    failure: list[BaseException] = []

    async def watch(scope: anyio.CancelScope) -> None:
        with (
            contextlib.suppress(NotImplementedError, ValueError),
            anyio.open_signal_receiver(signal.SIGTERM) as signals,
        ):
            async for _ in signals:
                scope.cancel()
                return

    async with anyio.create_task_group() as group:
        if not getattr(args, "handles_signals", False):
            group.start_soon(watch, group.cancel_scope)
        try:
            outcome.append(await _run(args))
        except (Exception, KeyboardInterrupt) as exc:  # re-raised as itself, not in an exception group
            failure.append(exc)
        finally:
            group.cancel_scope.cancel()
    if failure:
        raise failure[0]
    return outcome[0] if outcome else 143


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING, format="%(name)s: %(message)s"
    )
    try:
        status = anyio.run(_run_until_terminated, args, backend="trio" if args.trio else "asyncio")
        return _end_by_signal(-status) if status < 0 else status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `agent-rt tools list | head`: the reader left; not an error
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's final flush quiet
        return 0
    except Exception as exc:
        if args.debug:
            raise
        _error_line(_one_line(_innermost(exc)))
        return 1
    except BaseException as exc:  # on trio, Ctrl-C can land in a task and come wrapped in a group
        if _interrupted(exc):
            return 130
        raise


def _end_by_signal(number: int) -> int:
    """End the process by signal ``number`` (a command's status ``-number``), as uvicorn does.

    A service stopped by SIGTERM that then dies of it is a clean stop to systemd; exit code 143
    would be a failure there. The command has cleaned up already; only the streams are left.
    """
    import signal

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    with contextlib.suppress(OSError, ValueError):  # a signal whose handler cannot be set
        signal.signal(number, signal.SIG_DFL)
        signal.raise_signal(number)
    return 128 + number  # not reached for a signal whose default action ends the process


def _interrupted(exc: BaseException) -> bool:
    """A KeyboardInterrupt, maybe inside (nested) exception groups."""
    inner = getattr(exc, "exceptions", None)
    if isinstance(inner, tuple) and inner:
        return any(isinstance(e, BaseException) and _interrupted(e) for e in inner)
    return isinstance(exc, KeyboardInterrupt)


def _innermost(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups raised by task groups."""
    while isinstance(getattr(exc, "exceptions", None), tuple) and exc.exceptions:  # type: ignore[attr-defined]
        exc = exc.exceptions[0]  # type: ignore[attr-defined]
    return exc


def _one_line(exc: BaseException) -> str:
    from ._secrets import redact

    text = str(exc) or type(exc).__name__
    return redact(" ".join(text.split()))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
