"""``agent-rt relay`` as a user runs it: one process, ``--workers 2``, and the loopback-only rule."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import pytest
from anyio.streams.text import TextReceiveStream

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


@asynccontextmanager
async def relay_command(
    *args: str, ready: str, count: int = 1, entry: tuple[str, ...] = ("-m", "agent_rt.cli")
) -> AsyncIterator[list[str]]:
    """Run ``agent-rt relay ARGS``; yield once ``ready`` is on stderr ``count`` times (all lines so far)."""
    command = [sys.executable, *entry, "relay", *args]
    process = await anyio.open_process(command, env=_env(), stdout=subprocess.DEVNULL)
    assert process.stderr is not None
    lines: list[str] = []
    seen = anyio.Event()
    buffer = ""

    async def read() -> None:
        nonlocal buffer
        assert process.stderr is not None
        async for chunk in TextReceiveStream(process.stderr):
            buffer += chunk
            *complete, buffer = buffer.split("\n")
            lines.extend(complete)
            if sum(ready in line for line in lines) >= count:
                seen.set()

    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(read)
            with anyio.fail_after(30):
                await seen.wait()
            yield lines
            process.terminate()  # SIGTERM, as systemd or docker stop would
            with anyio.fail_after(20):
                await process.wait()
    finally:
        with anyio.CancelScope(shield=True):
            if process.returncode is None:
                process.kill()
                await process.wait()


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
    not "upstream connection lost" (1011), and the relay exits without error tracebacks."""
    async with contextlib.AsyncExitStack() as stack:
        args = ["--port", str(_free_port())]
        if upstream == "url":
            server = await stack.enter_async_context(LocalRealtimeServer())
            args += ["--upstream", server.url]
        command = [sys.executable, "-m", "agent_rt.cli", "relay", *args]
        process = await stack.enter_async_context(
            await anyio.open_process(command, env=_env(), stdout=subprocess.DEVNULL)
        )
        assert process.stderr is not None
        stderr = TextReceiveStream(process.stderr)
        output = ""
        with anyio.fail_after(30):
            while "relay: listening at" not in output:
                output += await stderr.receive()
        url = output.split("relay: listening at ")[1].split()[0]
        async with peer(url, token=TOKEN) as client:
            await client.until("session.created")
            process.terminate()
            closed = await client.closed(timeout=20)
        with anyio.fail_after(20):
            await process.wait()
            async for chunk in stderr:
                output += chunk
    assert closed.code in (1001, 1012), closed
    assert "upstream" not in str(closed)
    assert "Traceback" not in output
    assert process.returncode in (0, -signal.SIGTERM)


async def test_no_token_on_a_public_interface_is_refused() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "AGENT_RT_RELAY_TOKENS")}
    result = await anyio.run_process(
        [sys.executable, "-m", "agent_rt.cli", "relay", "--host", "0.0.0.0", "--port", "0"],
        env=env,
        check=False,
    )
    assert result.returncode == 2
    assert b"accepts loopback clients only" in result.stderr
