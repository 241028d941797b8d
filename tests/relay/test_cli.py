"""``agent-rt relay`` as a user runs it: one process, ``--workers 2``, and the loopback-only rule."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import anyio.lowlevel
import pytest
from anyio.streams.text import TextReceiveStream

from agent_rt.errors import ConnectionClosedError
from agent_rt.server import LocalRealtimeServer

from .helpers import peer

pytestmark = pytest.mark.anyio
TOKEN = "relay-token-cli"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "AGENT_RT_RELAY_TOKENS")}
    env["AGENT_RT_RELAY_TOKENS"] = f"env-token-abc,{TOKEN}"
    return env


class CommandOutput:
    """The stderr lines of a running command, and a way to wait for the lines that matter."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ended = anyio.Event()
        self._changed = anyio.Event()

    def add(self, lines: list[str]) -> None:
        self.lines.extend(lines)
        self._changed.set()
        self._changed = anyio.Event()

    def end(self) -> None:
        """The command's output has ended: a waiter for a line that never came fails now."""
        self.ended.set()
        self._changed.set()

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    async def wait_for(self, text: str, count: int = 1) -> None:
        """Until ``text`` is on ``count`` lines (fails if the output ends first)."""
        while self.count(text) < count:
            assert not self.ended.is_set(), f"{text!r} never came:\n" + "\n".join(self.lines)
            await self._changed.wait()

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


async def until_accepting(port: int) -> None:
    """Until uvicorn's workers accept on ``port``: they call listen() just after logging "Application
    startup complete", and nothing marks that moment, so a refused connection is tried again (the
    socket is shared: once one worker listens, connections wait in its backlog for either)."""
    with anyio.fail_after(30):
        while True:
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except ConnectionRefusedError:
                await anyio.lowlevel.checkpoint()
                continue
            await stream.aclose()
            return


@asynccontextmanager
async def command_process(
    *args: str, env: dict[str, str] | None = None, entry: tuple[str, ...] = ("-m", "agent_rt.cli")
) -> AsyncIterator[tuple[anyio.abc.Process, CommandOutput]]:
    """Run ``agent-rt ARGS``, reading its stdout and stderr lines; killed at the end if still running."""
    command = [sys.executable, *entry, *args]
    process = await anyio.open_process(command, env=env or _env())
    output = CommandOutput()

    async def read(stream: anyio.abc.ByteReceiveStream | None) -> None:
        assert stream is not None
        buffer = ""
        async for chunk in TextReceiveStream(stream):
            buffer += chunk
            *complete, buffer = buffer.split("\n")
            output.add(complete)
        output.add([buffer] if buffer else [])

    async def read_both() -> None:
        async with anyio.create_task_group() as readers:
            readers.start_soon(read, process.stdout)
            readers.start_soon(read, process.stderr)
        output.end()

    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(read_both)
            try:
                yield process, output
            except BaseException:
                print("the command's output:", output.text, sep="\n")  # shown with the failure
                raise
            tasks.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            if process.returncode is None:
                process.kill()
            await process.aclose()  # its pipes too: none is left to the garbage collector


@asynccontextmanager
async def relay_command(
    *args: str, ready: str, count: int = 1, entry: tuple[str, ...] = ("-m", "agent_rt.cli")
) -> AsyncIterator[list[str]]:
    """Run ``agent-rt relay ARGS``; yield once ``ready`` is on stderr ``count`` times (all lines so far)."""
    async with command_process("relay", *args, entry=entry) as (process, output):
        with anyio.fail_after(30):
            await output.wait_for(ready, count)
        yield output.lines
        process.terminate()  # SIGTERM, as systemd or docker stop would
        with anyio.fail_after(20):
            await process.wait()
            await output.ended.wait()


async def test_one_process_with_tokens_from_the_environment() -> None:
    async with relay_command("--port", "0", ready="relay: listening at") as lines:
        url = next(line for line in lines if "listening at" in line).split()[3]
        async with peer(url, token=TOKEN) as client:
            await client.until("session.created")
            call = await client.text_turn("what is (17 + 4) * 23")  # the clock plugin's tool,
            assert call["response"]["output"][0]["name"] == "calculate"  # answered by the relay
            answer = await client.until("response.done")
            assert answer["response"]["output"][0]["content"][0]["transcript"] == "(17 + 4) * 23 is 483."
        async with peer(url, token="env-token-abc") as client:
            await client.until("session.created")
    assert not any("no token configured" in line for line in lines)


#: ``agent-rt`` as installed by ``pip install "agentrt[relay]"``: sniffio is no dependency of it (anyio
#: 4.x and httpx 0.28 no longer pull it in; only trio does), so the command must run without it.
WITHOUT_SNIFFIO = (
    "-c",
    "import runpy, sys; sys.modules['sniffio'] = None; runpy.run_module('agent_rt.cli', run_name='__main__')",
)


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_the_command_runs_where_sniffio_is_not_installed(workers: str) -> None:
    port = _free_port()
    args = ("--port", str(port), "--workers", workers)
    ready = "relay: listening at" if workers == "1" else "Application startup complete"
    url = f"ws://127.0.0.1:{port}/v1/realtime"
    command = relay_command(*args, ready=ready, count=int(workers), entry=WITHOUT_SNIFFIO)
    async with command as lines, peer(url, token=TOKEN) as client:
        await client.until("session.created")
        done = await client.text_turn("hello")
        assert done["response"]["status"] == "completed"
    assert not any("sniffio" in line for line in lines)


async def test_two_workers_serve_sessions() -> None:
    port = _free_port()
    args = ("--port", str(port), "--workers", "2")
    async with relay_command(*args, ready="Application startup complete", count=2) as lines:
        await until_accepting(port)
        url = f"ws://127.0.0.1:{port}/v1/realtime"

        async def session(index: int) -> None:
            async with peer(url, token=TOKEN) as client:
                await client.until("session.created")
                done = await client.text_turn(f"session {index}")
                assert done["response"]["status"] == "completed"

        async with anyio.create_task_group() as tasks:
            for index in range(6):
                tasks.start_soon(session, index)
    assert sum("Started server process" in line for line in lines) == 2
    assert sum('"event": "relay.session"' in line for line in lines) == 6


@pytest.mark.parametrize("upstream", ["embedded", "url"])
async def test_sigterm_closes_open_sessions_gracefully(upstream: str) -> None:
    """systemctl stop / docker stop: open sessions get a close that says the relay is going away,
    not "upstream connection lost" (1011), with the embedded upstream and with a URL one."""
    async with contextlib.AsyncExitStack() as stack:
        args = ["--port", str(_free_port())]
        if upstream == "url":
            server = await stack.enter_async_context(LocalRealtimeServer())
            args += ["--upstream", server.url]
        process, output = await stack.enter_async_context(command_process("relay", *args))
        with anyio.fail_after(30):
            await output.wait_for("relay: listening at")
        url = output.text.split("relay: listening at ")[1].split()[0]
        async with peer(url, token=TOKEN) as client:
            await client.until("session.created")
            process.terminate()
            closed = await client.closed(timeout=20)
        with anyio.fail_after(20):
            await process.wait()
            await output.ended.wait()
    assert (closed.code, closed.reason) == (1001, "the relay is shutting down")
    assert "Traceback" not in output.text
    assert process.returncode == -signal.SIGTERM


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_a_port_in_use_is_one_error_line_and_exit_1(workers: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = await anyio.run_process(
            [sys.executable, "-m", "agent_rt.cli", "relay", "--port", port, "--workers", workers],
            env=_env(),
            check=False,
        )
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.decode().splitlines() if line.startswith("agent-rt: error: ")]
    assert errors == [f"agent-rt: error: cannot listen on 127.0.0.1:{port}: Address already in use"]
    assert b"Traceback" not in result.stderr


async def test_no_token_on_a_public_interface_is_refused() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "AGENT_RT_RELAY_TOKENS")}
    result = await anyio.run_process(
        [sys.executable, "-m", "agent_rt.cli", "relay", "--host", "0.0.0.0", "--port", "0"],
        env=env,
        check=False,
    )
    assert result.returncode == 2
    assert b"accepts loopback clients only" in result.stderr


def _starting_url(lines: list[str]) -> str:
    """The URL of the command's "relay: starting N worker(s) at URL" line."""
    return next(line for line in lines if "relay: starting " in line).split(" at ")[1].strip()


@pytest.mark.parametrize("args", [("--workers", "2"), ("--trio",)], ids=["workers 2", "relay --trio"])
async def test_port_0_with_workers_says_the_real_port(args: tuple[str, ...]) -> None:
    """The URL said is the bound one, connectable at once (the workers then accept what waited);
    ``agent-rt relay --trio`` is ``agent-rt --trio relay``: one uvicorn worker in a child process."""
    async with command_process("relay", "--port", "0", *args) as (process, output):
        with anyio.fail_after(30):
            await output.wait_for("relay: starting ")
        url = _starting_url(output.lines)
        assert not url.startswith("ws://127.0.0.1:0/"), url
        async with peer(url, token=TOKEN) as client:
            await client.until("session.created", timeout=30)  # the workers may still be starting
            call = await client.text_turn("what is (17 + 4) * 23")
            assert call["response"]["output"][0]["name"] == "calculate"
            answer = await client.until("response.done")
            assert answer["response"]["output"][0]["content"][0]["transcript"] == "(17 + 4) * 23 is 483."
        process.terminate()
        with anyio.fail_after(20):
            await process.wait()
            await output.ended.wait()
    workers = 1 if args == ("--trio",) else 2
    assert output.count(f"relay: starting {workers} worker(s) at ") == 1
    assert output.count("Started server process") == workers
    assert "Traceback" not in output.text
    # `uvicorn --workers 2` exits 0 after SIGTERM; one uvicorn process ends by it
    assert process.returncode == (-signal.SIGTERM if workers == 1 else 0), output.text


async def test_every_worker_runs_the_relays_websocket_protocol() -> None:
    """Under --debug each worker says which protocol object hands its app the messages."""
    args = ("relay", "--port", "0", "--workers", "2", "--max-sessions", "1", "--debug")
    async with command_process(*args) as (process, output):
        with anyio.fail_after(30):
            await output.wait_for("relay: starting ")
        url = _starting_url(output.lines)
        opened = 0
        both_open = anyio.Event()
        done = anyio.Event()

        async def hold() -> None:
            nonlocal opened
            while True:
                async with peer(url, token=TOKEN) as client:
                    refused: ConnectionClosedError | None = None
                    try:
                        await client.until("session.created", timeout=30)
                    except ConnectionClosedError as exc:
                        refused = exc
                    if refused is not None:  # the worker this connection reached has its one session
                        assert refused.code == 1013, (refused.code, refused.reason)
                        continue
                    opened += 1
                    if opened == 2:
                        both_open.set()
                    await done.wait()
                    return

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(hold)
            tasks.start_soon(hold)
            with anyio.fail_after(30):
                await both_open.wait()
            done.set()
        process.terminate()
        with anyio.fail_after(20):
            await process.wait()
            await output.ended.wait()
    reports = [line.split("relay: worker ")[1] for line in output.lines if "websocket protocol" in line]
    pids = {report.split(":")[0] for report in reports}
    assert len(pids) == 2, output.text  # one session on each worker
    assert {report.split()[-1] for report in reports} == {"RelayWebSocketProtocol"}
