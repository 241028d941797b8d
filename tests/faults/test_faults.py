"""Fault injection with the local server, on asyncio and trio.

A dropped connection at every event of a text, an audio and a tool turn (92 placements; with
``AGENT_RT_FAULTS=long`` also broken frames and clean closes at every placement), malformed
frames, a server that goes silent mid-response, and tool handlers that hang. For each: no waiter
outlives its timeout, the client reports the disconnect exactly once, a tool output is never sent
twice, and nothing is sent once the socket is closed. The 92 drops run again with
``reconnect=``: one new session with the tools restored, no ``close``, nothing of the lost
session sent into the new one, and the next turn completes.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import anyio
import pytest

from agent_rt.errors import ConnectionClosedError, NotConnectedError
from agent_rt.reconnect import ReconnectPolicy
from agent_rt.server import Faults, LocalRealtimeServer

from .harness import (
    GUARD,
    LONG,
    SCENARIO,
    TURN_EVENTS,
    TURN_ITEMS,
    WAIT,
    assert_closed_socket_refuses_sends,
    assert_tool_outputs_once,
    configure,
    make_client,
    run_turn,
)

pytestmark = pytest.mark.anyio

PLACEMENTS = [(kind, n) for kind, total in TURN_EVENTS.items() for n in range(total + 1)]
assert len(PLACEMENTS) >= 50


def _sample(placements: list[tuple[str, int]], every: int) -> list[tuple[str, int]]:
    return placements if LONG else placements[::every]


@pytest.mark.parametrize("kind", list(TURN_EVENTS))
async def test_turn_lengths(kind: str) -> None:
    """The placements cover each whole turn: the event counts match what the server sends."""
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer(scenario=SCENARIO) as server:
            client, seen = make_client(server, kind)
            await configure(client, kind)
            received = 0
            all_received = anyio.Event()

            def count(event: dict[str, Any]) -> None:
                nonlocal received
                received += 1
                if received == TURN_EVENTS[kind]:
                    all_received.set()

            client.realtime.on("server.*", count)
            async with client:
                assert await run_turn(client, kind, seen) is None
                assert len(seen.completed) == TURN_ITEMS[kind]
                with anyio.fail_after(WAIT):
                    await all_received.wait()
            with anyio.fail_after(WAIT):  # the connection is over: nothing more can be sent
                await server.connections[0].closed.wait()
            assert server.connections[0].events_sent == TURN_EVENTS[kind]
            assert received == TURN_EVENTS[kind]
            assert len(seen.closes) <= 1
            assert_tool_outputs_once(server, seen)


async def _faulted_turn(kind: str, faults: Faults) -> None:
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer(scenario=SCENARIO, faults=faults) as server:
            client, seen = make_client(server, kind)
            await configure(client, kind)
            waiter_error: list[BaseException] = []

            async def idle_waiter() -> None:
                try:
                    await client.wait_for_next("never.emitted")
                except ConnectionClosedError as exc:
                    waiter_error.append(exc)

            with contextlib.suppress(ConnectionClosedError, NotConnectedError):
                await client.connect()  # may drop before the session.update went out
            async with anyio.create_task_group() as tg:
                tg.start_soon(idle_waiter)
                started = time.monotonic()
                ended = await run_turn(client, kind, seen)
                # a waiter woken by the disconnect returns at once; none may sit out its timeout
                assert time.monotonic() - started < TURN_ITEMS[kind] * WAIT + WAIT
                with anyio.fail_after(WAIT):
                    await seen.closed.wait()
            assert waiter_error, "a wait_for_next waiter was not woken by the disconnect"
            await assert_closed_socket_refuses_sends(client, seen)
            await client.disconnect()
            await client.disconnect()  # idempotent
            assert len(seen.closes) == 1, seen.closes  # reported once, not again by disconnect()
            assert_tool_outputs_once(server, seen)
            if ended is not None:
                assert isinstance(ended, (ConnectionClosedError, NotConnectedError))


@pytest.mark.parametrize(("kind", "after"), PLACEMENTS, ids=[f"{k}-{n}" for k, n in PLACEMENTS])
async def test_drop_at_every_placement(kind: str, after: int) -> None:
    await _faulted_turn(kind, Faults(drop_after=after))


@pytest.mark.parametrize(("kind", "after"), _sample(PLACEMENTS, 7), ids=lambda v: str(v))
async def test_broken_frame(kind: str, after: int) -> None:
    await _faulted_turn(kind, Faults(bad_frame_after=after))


@pytest.mark.parametrize(("kind", "after"), _sample(PLACEMENTS, 9), ids=lambda v: str(v))
async def test_clean_close_mid_turn(kind: str, after: int) -> None:
    await _faulted_turn(kind, Faults(close_after=after, close_code=1011, close_reason="boom"))


@pytest.mark.parametrize(("kind", "after"), _sample(PLACEMENTS, 6), ids=lambda v: str(v))
async def test_malformed_frame_is_reported_and_the_turn_completes(kind: str, after: int) -> None:
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer(scenario=SCENARIO, faults=Faults(malformed_after=after)) as server:
            client, seen = make_client(server, kind)
            await configure(client, kind)
            async with client:
                assert await run_turn(client, kind, seen) is None
                assert not seen.closes
            protocol_errors = [
                e for e in seen.errors if isinstance(e, dict) and e.get("type") == "protocol_error"
            ]
            if after < TURN_EVENTS[kind] - 3:  # the client leaves once the last item completed
                assert len(protocol_errors) == 1, seen.errors
            assert len(seen.closes) <= 1
            assert_tool_outputs_once(server, seen)


@pytest.mark.parametrize("after", [1, 3, 6, 10])
@pytest.mark.parametrize("kind", list(TURN_EVENTS))
async def test_silent_server_waiters_time_out(kind: str, after: int) -> None:
    """A server that stops answering mid-response: waiters raise TimeoutError at their timeout."""
    timeout = 0.2
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer(scenario=SCENARIO, faults=Faults(silent_after=after)) as server:
            client, seen = make_client(server, kind)
            await configure(client, kind)
            async with client:
                started = time.monotonic()
                with pytest.raises(TimeoutError):  # noqa: PT012
                    if after < 1:
                        await client.wait_for_session_created(timeout=timeout)
                    await client.wait_for_session_created(timeout=timeout)
                    await client.send_user_message_content([{"type": "input_text", "text": "hi"}])
                    for _ in range(TURN_ITEMS[kind]):
                        await client.wait_for_next_completed_item(timeout=timeout)
                elapsed = time.monotonic() - started
                assert elapsed < timeout * (TURN_ITEMS[kind] + 2) + 1.0
                with pytest.raises(TimeoutError):
                    await client.wait_for_next("conversation.item.completed", timeout=timeout)
            assert len(seen.closes) <= 1  # our own disconnect, reported at most once
            assert_tool_outputs_once(server, seen)


async def test_hanging_async_tool_times_out_and_answers_once() -> None:
    async def hang(arguments: dict[str, Any]) -> Any:
        await anyio.sleep_forever()

    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer(scenario=SCENARIO) as server:
            client, seen = make_client(server, "tool")
            await configure(client, "tool", hang, timeout=0.2)
            finished: list[dict[str, Any]] = []
            client.on("tool.call.finished", finished.append)
            async with client:
                assert await run_turn(client, "tool", seen) is None
            assert len(finished) == 1
            assert not finished[0]["ok"]
            assert "timed out" in finished[0]["error"]
            assert len(seen.tool_outputs()) == 1
            assert "timed out" in seen.completed[2]["formatted"]["output"]
            assert_tool_outputs_once(server, seen)


async def test_hanging_sync_tool_times_out_and_answers_once() -> None:
    def stuck(arguments: dict[str, Any]) -> Any:
        time.sleep(0.5)
        return {"temperature": 0}

    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer(scenario=SCENARIO) as server:
            client, seen = make_client(server, "tool")
            await configure(client, "tool", stuck, timeout=0.1)
            async with client:
                assert await run_turn(client, "tool", seen) is None
            assert len(seen.tool_outputs()) == 1
            assert_tool_outputs_once(server, seen)


@pytest.mark.parametrize("after", range(11, 15))  # the call is done at event 11, its output waits
async def test_drop_while_a_tool_runs_sends_no_output(after: int) -> None:
    """The connection drops while a slow tool runs: its output is never written, the task ends."""
    release = anyio.Event()

    async def slow(arguments: dict[str, Any]) -> Any:
        await release.wait()
        return {"temperature": 1}

    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer(scenario=SCENARIO, faults=Faults(drop_after=after)) as server:
            client, seen = make_client(server, "tool")
            await configure(client, "tool", slow, timeout=5)
            await client.connect()
            ended = await run_turn(client, "tool", seen)
            assert isinstance(ended, (ConnectionClosedError, NotConnectedError))
            with anyio.fail_after(WAIT):
                await seen.closed.wait()
            release.set()
            await anyio.wait_all_tasks_blocked()  # a tool task still alive would run now
            await assert_closed_socket_refuses_sends(client, seen)
            await client.disconnect()
            assert len(seen.closes) == 1
            assert_tool_outputs_once(server, seen)


async def test_hanging_tool_is_cancelled_by_disconnect() -> None:
    cancelled = anyio.Event()

    async def hang(arguments: dict[str, Any]) -> Any:
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()

    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer(scenario=SCENARIO) as server:
            client, seen = make_client(server, "tool")
            await configure(client, "tool", hang, timeout=None)
            await client.connect()
            await client.send_user_message_content([{"type": "input_text", "text": "weather"}])
            with anyio.fail_after(WAIT):
                while not any(i["type"] == "function_call" for i in seen.completed):
                    seen.completed.append(await client.wait_for_next_completed_item(timeout=WAIT))
            await client.disconnect()
            with anyio.fail_after(WAIT):
                await cancelled.wait()
            assert not seen.tool_outputs()
            assert len(seen.closes) <= 1
            await assert_closed_socket_refuses_sends(client, seen)


RECONNECT = ReconnectPolicy(
    initial_delay=0.01, max_delay=0.05, jitter=0.0, max_attempts=3, attempt_timeout=WAIT
)


@pytest.mark.parametrize(("kind", "after"), PLACEMENTS, ids=[f"{k}-{n}" for k, n in PLACEMENTS])
async def test_with_reconnect_a_drop_anywhere_leads_to_a_working_new_session(kind: str, after: int) -> None:
    """The same 92 drops with ``reconnect=``: one new session, no close, and the next turn completes."""
    with anyio.fail_after(GUARD):
        faults = [Faults(drop_after=after), None]
        async with LocalRealtimeServer(scenario=SCENARIO, faults=faults) as server:
            client, seen = make_client(server, kind, reconnect=RECONNECT)
            await configure(client, kind)
            reconnected = anyio.Event()
            client.on("reconnected", lambda payload: reconnected.set())
            with contextlib.suppress(ConnectionClosedError, NotConnectedError):
                await client.connect()  # may drop before the session.update went out
            try:
                ended = await run_turn(client, kind, seen)
                if ended is not None:  # cut short by the drop: a connection error, never a timeout
                    assert isinstance(ended, (ConnectionClosedError, NotConnectedError))
                with anyio.fail_after(WAIT):
                    await reconnected.wait()
                assert client.conversation.get_items() == []  # the new session starts empty
                seen.completed.clear()
                assert await run_turn(client, kind, seen) is None  # the new session works
                assert len(seen.completed) == TURN_ITEMS[kind]
                assert not seen.closes
            finally:
                await client.disconnect()
            assert len(seen.closes) == 1
            assert len(server.connections) == 2
            new_tools = [tool["name"] for tool in server.connections[1].session.config.tools]
            assert new_tools == ["get_weather"]  # restored on the new session
            assert_tool_outputs_once(server, seen)
            old_calls = {
                s.item.get("call_id")
                for s in server.connections[0].session.conversation.items()
                if s.item.get("type") == "function_call"
            }
            resent = [
                s.item.get("call_id")
                for s in server.connections[1].session.conversation.items()
                if s.item.get("type") == "function_call_output" and s.item.get("call_id") in old_calls
            ]
            assert not resent, f"an output for the lost session reached the new one: {resent}"
