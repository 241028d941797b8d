"""``agent-rt relay`` and ``agent-rt console`` stopped as systemd, docker stop or Ctrl-C stop them.

Open sessions end with 1001 and a reason, every session writes its summary line, no traceback,
and the process ends as a plain uvicorn app does: one process dies of SIGTERM (systemd: a clean
stop) and exits 0 after SIGINT; ``--workers`` exits 0 (uvicorn's supervisor).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import signal
from pathlib import Path

import anyio
import httpx
import pytest
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from agent_rt.errors import ConnectionClosedError
from agent_rt.relay import create_relay_app
from agent_rt.relay.shutdown import DrainState, Verdict

from ..mcp.helpers import new_marker, processes_with, stdio_server
from .helpers import SessionEnds, peer, running
from .test_cli import TOKEN, CommandOutput, _free_port, command_process, until_accepting

pytestmark = pytest.mark.anyio
REASON = "the relay is shutting down"
SIGNALS = [pytest.param(signal.SIGTERM, id="SIGTERM"), pytest.param(signal.SIGINT, id="SIGINT")]


class Sessions:
    """Sessions held open in the background until the relay closes them."""

    def __init__(self, url: str, token: str | None = TOKEN) -> None:
        self.url = url
        self.token = token
        self.closes: list[ConnectionClosedError] = []
        self.open = 0
        self._opened = anyio.Event()
        self.wanted = 0

    async def hold(self) -> None:
        while True:
            async with peer(self.url, token=self.token) as client:
                refused: ConnectionClosedError | None = None
                try:
                    await client.until("session.created")
                except ConnectionClosedError as exc:
                    refused = exc
                if refused is not None:
                    # --max-sessions: the worker this connection reached is full; another is not.
                    assert refused.code == 1013, (refused.code, refused.reason)
                    continue
                self.open += 1
                if self.open >= self.wanted:
                    self._opened.set()
                self.closes.append(await client.closed(timeout=30))
                return

    async def start(self, tasks: anyio.abc.TaskGroup, count: int) -> None:
        """Open ``count`` sessions and return once all of them have started."""
        self.wanted = count
        for _ in range(count):
            tasks.start_soon(self.hold)
        with anyio.fail_after(30):
            await self._opened.wait()


def _summaries(output: CommandOutput) -> list[dict[str, object]]:
    found = []
    for line in output.lines:
        if '"event": "relay.session"' in line:
            found.append(json.loads(line.split(": ", 1)[1]))
    return found


def _check_clean(
    output: CommandOutput, closes: list[ConnectionClosedError], sessions: int, *, logged: bool = True
) -> None:
    assert "Traceback" not in output.text, output.text
    assert [(c.code, c.reason) for c in closes] == [(1001, REASON)] * sessions
    if not logged:
        return
    summaries = _summaries(output)
    assert len(summaries) == sessions, output.text
    for summary in summaries:
        ending = (summary["close_code"], summary["close_reason"], summary["closed_by"])
        assert ending == (1001, REASON, "relay")


@pytest.mark.parametrize("stop", SIGNALS)
async def test_one_process_closes_its_sessions_and_ends_as_uvicorn_does(stop: signal.Signals) -> None:
    async with command_process("relay", "--port", "0") as (process, output):
        with anyio.fail_after(30):
            await output.wait_for("relay: listening at")
        url = next(line for line in output.lines if "listening at" in line).split()[3]
        sessions = Sessions(url)
        async with anyio.create_task_group() as tasks:
            await sessions.start(tasks, 2)
            process.send_signal(stop)
            with anyio.fail_after(20):  # the sessions close at once; the bound is uvicorn's timeout
                await process.wait()
                await output.ended.wait()
    _check_clean(output, sessions.closes, 2)
    # As `uvicorn app:app`: SIGTERM ends the process by that signal once it has shut down, SIGINT exits 0.
    assert process.returncode == (-signal.SIGTERM if stop == signal.SIGTERM else 0), output.text


@pytest.mark.parametrize("stop", SIGNALS)
async def test_every_worker_closes_its_sessions(stop: signal.Signals) -> None:
    port = _free_port()
    args = ("relay", "--port", str(port), "--workers", "2", "--max-sessions", "2")
    async with command_process(*args) as (process, output):
        with anyio.fail_after(30):
            await output.wait_for("Application startup complete", 2)
        await until_accepting(port)
        sessions = Sessions(f"ws://127.0.0.1:{port}/v1/realtime")
        async with anyio.create_task_group() as tasks:
            await sessions.start(tasks, 4)  # two per worker: each takes two at most
            process.send_signal(stop)  # to the command only: it passes the signal on
            with anyio.fail_after(30):
                await process.wait()
                await output.ended.wait()
    _check_clean(output, sessions.closes, 4)
    workers = [summary["worker"] for summary in _summaries(output)]
    assert len(set(workers)) == 2, workers
    assert output.count("Finished server process") == 2
    assert process.returncode == 0, output.text  # as `uvicorn --workers N`, for both signals


async def test_mcp_servers_start_before_listening_and_stop_after_the_sessions(tmp_path: Path) -> None:
    marker = new_marker()
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"calc": stdio_server(marker)}}))
    async with command_process("relay", "--port", "0", "--mcp-config", str(config)) as (process, output):
        with anyio.fail_after(60):
            await output.wait_for("relay: listening at")
        # "listening" comes once the app's startup (the MCP servers) has succeeded
        mcp_line = next(i for i, line in enumerate(output.lines) if "relay: MCP server 'calc'" in line)
        listening = next(i for i, line in enumerate(output.lines) if "relay: listening at" in line)
        assert mcp_line < listening, output.text
        url = output.lines[listening].split()[3]
        sessions = Sessions(url)
        async with anyio.create_task_group() as tasks:
            await sessions.start(tasks, 1)
            assert len(processes_with(marker)) == 1
            process.send_signal(signal.SIGTERM)
            with anyio.fail_after(20):
                await process.wait()
                await output.ended.wait()
    _check_clean(output, sessions.closes, 1)
    assert process.returncode == -signal.SIGTERM
    assert processes_with(marker) == []


@pytest.mark.parametrize("stop", SIGNALS)
async def test_the_console_closes_its_sessions(stop: signal.Signals) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "AGENT_RT_MCP_CONFIG")}
    async with command_process("console", "--port", "0", "--no-browser", env=env) as (process, output):
        with anyio.fail_after(30):
            await output.wait_for("console: open ")
        line = next(line for line in output.lines if "console: open " in line)
        url = line.split()[2].replace("http://", "ws://") + "v1/realtime"
        sessions = Sessions(url, token=None)  # the console's relay takes loopback clients without a token
        async with anyio.create_task_group() as tasks:
            await sessions.start(tasks, 1)
            process.send_signal(stop)
            with anyio.fail_after(20):
                await process.wait()
                await output.ended.wait()
    _check_clean(output, sessions.closes, 1, logged=False)  # the console logs warnings only
    assert process.returncode == (-signal.SIGTERM if stop == signal.SIGTERM else 0), output.text


async def test_close_sessions_closes_them_with_1001_and_refuses_new_ones() -> None:
    ends = SessionEnds()
    with running(create_relay_app(tokens=[TOKEN], on_session_end=ends)) as served:
        async with peer(served.url, token=TOKEN) as client:
            await client.until("session.created")
            # close_sessions runs on the relay's loop (uvicorn's thread), as the signal step runs it;
            # in a context of its own, not this test's (on trio, sniffio's variable would say trio there)
            loop = served.server.servers[0].get_loop()
            coroutine = served.relay.close_sessions()
            closing = contextvars.Context().run(asyncio.run_coroutine_threadsafe, coroutine, loop)
            ended = await client.closed()
            assert (ended.code, ended.reason) == (1001, REASON)
            await anyio.to_thread.run_sync(closing.result, 10)
        async with peer(served.url, token=TOKEN) as late:
            refused = await late.closed()
            assert (refused.code, refused.reason) == (1001, REASON)
        async with httpx.AsyncClient() as http:
            health = await http.get(f"{served.http}/healthz")
        assert health.status_code == 503
        assert health.json()["status"] == "shutting_down"
        (record,) = await ends.wait_for(1)
    assert (record["close_code"], record["close_reason"], record["closed_by"]) == (1001, REASON, "relay")
    assert served.relay.metrics.closes[1001] == 2


def test_the_first_signal_drains_one_reaches_the_server_then_the_rest_go_straight() -> None:
    state = DrainState()
    assert state.received() is Verdict.DRAIN
    assert state.received() is Verdict.DROP  # e.g. the supervisor's SIGTERM after the terminal's SIGINT
    state.finished()
    assert state.received() is Verdict.FORWARD  # uvicorn: a second Ctrl-C forces the exit


class DrainMachine(RuleBasedStateMachine):
    """Signals and the end of the drain in any order: one drain, and nothing lost after it."""

    def __init__(self) -> None:
        super().__init__()
        self.state = DrainState()
        self.verdicts: list[Verdict] = []
        self.finished = False

    @rule()
    def a_signal(self) -> None:
        verdict = self.state.received()
        if not self.verdicts:
            assert verdict is Verdict.DRAIN
        elif self.finished:
            assert verdict is Verdict.FORWARD
        else:
            assert verdict is Verdict.DROP
        self.verdicts.append(verdict)

    @precondition(lambda self: bool(self.verdicts) and not self.finished)
    @rule()
    def drained(self) -> None:  # the drain task ends only after it was started
        self.state.finished()
        self.finished = True

    @invariant()
    def one_drain(self) -> None:
        assert self.verdicts.count(Verdict.DRAIN) == (1 if self.verdicts else 0)


TestDrainMachine = DrainMachine.TestCase
