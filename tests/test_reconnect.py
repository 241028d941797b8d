"""RealtimeClient(reconnect=...) against the local server over loopback, on asyncio and trio.

A recoverable close (1001, 1005, 1006, 1011-1013, 1015) starts a new session with the same
config and tools; the conversation cache starts empty and the lost items are handed over; the
application hears ``reconnecting`` / ``reconnected`` or ``reconnect.failed`` + one ``close``.
"""

from __future__ import annotations

import socket
import time
from collections import defaultdict
from typing import Any

import anyio
import pytest

from agent_rt import RealtimeClient
from agent_rt.client import RENEW_REASON
from agent_rt.errors import (
    ConfigurationError,
    ConnectionClosedError,
    HandshakeError,
    NotConnectedError,
    ReconnectHookError,
)
from agent_rt.reconnect import ReconnectPolicy
from agent_rt.server import Faults, LocalRealtimeServer
from tests.faults.harness import SCENARIO, WEATHER_TOOL

pytestmark = pytest.mark.anyio

INSTRUCTIONS = "Answer in one short sentence."
FAST = ReconnectPolicy(initial_delay=0.01, max_delay=0.04, jitter=0.0, max_attempts=3, attempt_timeout=5)
WAIT = 5.0
LIFECYCLE = ("reconnecting", "reconnected", "reconnect.failed", "close")


class Lifecycle:
    """Records the client's connection events in order and lets a test wait for the n-th of one."""

    def __init__(self, client: RealtimeClient) -> None:
        self.order: list[str] = []
        self.payloads: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._changed = anyio.Event()
        for name in LIFECYCLE:
            client.on(name, self._recorder(name))

    def _recorder(self, name: str) -> Any:
        def record(payload: dict[str, Any]) -> None:
            self.order.append(name)
            self.payloads[name].append(payload)
            self._changed.set()
            self._changed = anyio.Event()

        return record

    async def wait(self, name: str, count: int = 1) -> dict[str, Any]:
        with anyio.fail_after(WAIT):
            while len(self.payloads[name]) < count:
                await self._changed.wait()
        return self.payloads[name][count - 1]


async def weather(location: str) -> dict[str, Any]:
    return {"location": location, "temperature": 21}


def make_client(server: LocalRealtimeServer, **options: Any) -> tuple[RealtimeClient, Lifecycle]:
    options.setdefault("reconnect", FAST)
    client = RealtimeClient(url=server.url, api_key="test", plugins=False, **options)
    return client, Lifecycle(client)


async def say(client: RealtimeClient, text: str) -> dict[str, Any]:
    """Send a user message; the assistant message that answers it, completed."""
    await client.send_user_message_content([{"type": "input_text", "text": text}])
    while True:
        item = await client.wait_for_next_completed_item(timeout=WAIT)
        if item.get("type") == "message" and item.get("role") == "assistant":
            return item


def words(item: dict[str, Any]) -> str:
    """What an assistant message said: its transcript (audio replies) or its text."""
    formatted = item["formatted"]
    return str(formatted.get("transcript") or formatted.get("text"))


async def setup(client: RealtimeClient) -> None:
    await client.update_session(instructions=INSTRUCTIONS)
    await client.add_tool(WEATHER_TOOL, weather)
    await client.wait_for_session_created(timeout=WAIT)


@pytest.mark.parametrize("protocol", ["ga", "beta"])
async def test_a_dropped_link_reconnects_with_the_same_config_and_tools(protocol: str) -> None:
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client, seen = make_client(server, protocol=protocol)
        async with client:
            await setup(client)
            first = await say(client, "hi")
            old_items = client.conversation.get_items()
            old_session_id = client.session["id"] if client.session else None

            server.connections[0].end(1006)  # the link drops without a close frame
            reconnected = await seen.wait("reconnected")

            assert seen.order == ["reconnecting", "reconnected"]
            attempt = seen.payloads["reconnecting"][0]
            assert (attempt["attempt"], attempt["max_attempts"], attempt["code"]) == (1, 3, 1006)
            assert attempt["delay"] == 0.01
            assert attempt["session_limit"] is False
            assert reconnected["attempt"] == 1
            # The server-side conversation is gone: the cache starts empty, the lost items are handed over.
            assert [item["id"] for item in reconnected["lost_items"]] == [item["id"] for item in old_items]
            assert first["id"] in {item["id"] for item in reconnected["lost_items"]}
            assert client.conversation.get_items() == []
            assert reconnected["session"]["id"] != old_session_id
            assert client.is_connected()
            assert not client.is_reconnecting

            # The new session got the config and the tools, in this dialect's shape.
            assert len(server.connections) == 2
            config = server.connections[1].session.config
            assert config.instructions == INSTRUCTIONS
            assert [tool["name"] for tool in config.tools] == ["get_weather"]
            assert server.connections[1].dialect == protocol

            # And it works: a text turn, then a tool turn answered by the client's handler.
            assert words(await say(client, "hi")) == "Hello there! Nice to hear from you."
            answer = await say(client, "what is the weather")
            assert words(answer) == "It is 21 degrees in Paris."
            assert [item["type"] for item in client.conversation.get_items()].count("function_call") == 1
        assert seen.order == ["reconnecting", "reconnected", "close"]
        assert seen.payloads["close"][0]["error"] is False


@pytest.mark.parametrize(
    "faults",
    [
        Faults(drop_after=1),
        Faults(close_after=1, close_code=1011, close_reason="internal error"),
        Faults(close_after=1, close_code=1012, close_reason="service restart"),
        Faults(close_after=1, close_code=1013, close_reason="try again later"),
        Faults(close_after=1, close_code=1001, close_reason="going away"),
    ],
    ids=["1006", "1011", "1012", "1013", "1001"],
)
async def test_each_recoverable_close_reconnects(faults: Faults) -> None:
    async with LocalRealtimeServer(scenario=SCENARIO, faults=[faults, None]) as server:
        client, seen = make_client(server)
        async with client:
            reconnected = await seen.wait("reconnected")
            expected = 1006 if faults.drop_after is not None else faults.close_code
            assert reconnected["code"] == expected
            assert reconnected["reason"] == ("" if faults.drop_after is not None else faults.close_reason)
            assert words(await say(client, "hi")) == "Hello there! Nice to hear from you."
        assert len(server.connections) == 2
        assert seen.order == ["reconnecting", "reconnected", "close"]


@pytest.mark.parametrize(("code", "reason"), [(1000, "bye"), (1008, "policy violation"), (4000, "gone")])
async def test_other_closes_end_the_client_once_without_reconnecting(code: int, reason: str) -> None:
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client, seen = make_client(server)
        async with client:
            await client.wait_for_session_created(timeout=WAIT)
            server.connections[0].end(code, reason)
            close = await seen.wait("close")
            assert (close["code"], close["reason"], close["error"]) == (code, reason, True)
            with pytest.raises(ConnectionClosedError, match=f"code {code}"):
                await client.wait_for_next_item(timeout=WAIT)
            with pytest.raises(NotConnectedError):
                await say(client, "hi")
        assert seen.order == ["close"]
        assert len(server.connections) == 1


async def test_without_the_option_a_drop_just_closes() -> None:
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client, seen = make_client(server, reconnect=False)
        async with client:
            await client.wait_for_session_created(timeout=WAIT)
            server.connections[0].end(1006)
            assert (await seen.wait("close"))["code"] == 1006
        assert seen.order == ["close"]
        assert len(server.connections) == 1


async def test_the_session_cap_starts_a_new_session_at_once() -> None:
    async with LocalRealtimeServer(scenario=SCENARIO, max_session_seconds=0.3) as server:
        client, seen = make_client(server)
        async with client:
            await setup(client)
            assert client.session is not None
            assert client.session["expires_at"] <= time.time() + 1
            reconnected = await seen.wait("reconnected")
            attempt = seen.payloads["reconnecting"][0]
            assert attempt["code"] == 1001
            assert attempt["reason"] == "Your session hit the maximum duration of 0.3 seconds."
            assert attempt["session_limit"] is True
            assert attempt["delay"] == 0.0  # routine, not a failure: no backoff
            assert reconnected["session_limit"] is True
            assert server.connections[1].session.config.instructions == INSTRUCTIONS
        assert server.connections[0].close_code == 1001


async def test_the_service_wording_of_the_cap_is_recognised_and_can_be_declined() -> None:
    cap = Faults(
        close_after=1, close_code=1001, close_reason="Your session hit the maximum duration of 60 minutes."
    )
    async with LocalRealtimeServer(scenario=SCENARIO, faults=[cap, None]) as server:
        client, seen = make_client(server)
        async with client:
            reconnected = await seen.wait("reconnected")
            assert reconnected["session_limit"] is True
            assert seen.payloads["reconnecting"][0]["delay"] == 0.0
    declined = ReconnectPolicy(reconnect_at_session_limit=False, initial_delay=0.01)
    async with LocalRealtimeServer(scenario=SCENARIO, faults=[cap, None]) as server:
        client, seen = make_client(server, reconnect=declined)
        async with client:
            close = await seen.wait("close")
            assert close["code"] == 1001
        assert seen.order == ["close"]
        assert len(server.connections) == 1


async def test_refused_handshakes_back_off_and_the_third_attempt_gets_in() -> None:
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client, seen = make_client(server)
        async with client:
            await client.wait_for_session_created(timeout=WAIT)
            server.app.refuse_handshakes(503, 429)
            server.connections[0].end(1011, "oops")
            reconnected = await seen.wait("reconnected")
            attempts = seen.payloads["reconnecting"]
            assert [a["attempt"] for a in attempts] == [1, 2, 3]
            assert [a["delay"] for a in attempts] == [0.01, 0.02, 0.04]
            assert attempts[0]["error"] is None
            assert isinstance(attempts[1]["error"], HandshakeError)
            assert attempts[1]["error"].status == 503
            assert attempts[2]["error"].status == 429
            assert reconnected["attempt"] == 3
            assert server.app.refused == 2
            assert words(await say(client, "hi")) == "Hello there! Nice to hear from you."
        assert seen.order == ["reconnecting"] * 3 + ["reconnected", "close"]


async def test_running_out_of_attempts_fails_once_and_closes_once() -> None:
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client, seen = make_client(server)
        async with client:
            await client.wait_for_session_created(timeout=WAIT)
            server.app.refuse_handshakes(503, 503, 503)
            server.connections[0].end(1006)
            failed = await seen.wait("reconnect.failed")
            close = await seen.wait("close")
            assert failed["attempts"] == 3
            assert isinstance(failed["error"], HandshakeError)
            assert (close["code"], close["error"]) == (1006, True)
            assert not client.is_reconnecting
            assert not client.is_connected()
            with pytest.raises(ConnectionClosedError, match="reconnecting failed after 3 attempt"):
                await client.wait_for_next_item(timeout=WAIT)
            with pytest.raises(ConnectionClosedError):
                await client.create_response()
        assert seen.order == ["reconnecting"] * 3 + ["reconnect.failed", "close"]
        assert len(server.connections) == 1


async def test_a_refusal_that_will_repeat_stops_at_once() -> None:
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client, seen = make_client(server)
        async with client:
            await client.wait_for_session_created(timeout=WAIT)
            server.app.refuse_handshakes(401)
            server.connections[0].end(1006)
            failed = await seen.wait("reconnect.failed")
            assert failed["attempts"] == 1
            assert failed["error"].status == 401
        assert seen.order == ["reconnecting", "reconnect.failed", "close"]


async def test_an_unreachable_server_fails_every_attempt_and_closes() -> None:
    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client, seen = make_client(server)
        async with client:
            await client.wait_for_session_created(timeout=WAIT)
            client.realtime.url = f"ws://127.0.0.1:{dead_port}/v1/realtime"  # the service went away
            server.connections[0].end(1006)
            failed = await seen.wait("reconnect.failed")
            assert failed["attempts"] == 3
            assert "could not connect" in str(failed["error"])
        assert seen.order == ["reconnecting"] * 3 + ["reconnect.failed", "close"]


async def test_a_waiter_of_the_lost_session_fails_at_once() -> None:
    # Drop in the middle of the assistant's reply (event 10 of 21 of a text turn).
    async with LocalRealtimeServer(scenario=SCENARIO, faults=[Faults(drop_after=10), None]) as server:
        client, seen = make_client(server)
        async with client:
            await client.wait_for_session_created(timeout=WAIT)
            with pytest.raises(ConnectionClosedError, match="reconnecting") as caught:
                await say(client, "hi")  # never a TimeoutError: the reply it waits for is gone
            assert caught.value.code == 1006
            await seen.wait("reconnected")
            assert words(await say(client, "hi")) == "Hello there! Nice to hear from you."


async def test_waiters_on_the_lost_session_fail_and_waiters_on_the_connection_go_on() -> None:
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client, seen = make_client(server)
        lost: list[ConnectionClosedError] = []
        fate: list[Any] = []

        async def wait_for(name: str) -> None:
            try:
                fate.append((name, await client.wait_for_next(name, timeout=WAIT)))
            except ConnectionClosedError as exc:
                lost.append(exc)

        async with client, anyio.create_task_group() as group:
            await client.wait_for_session_created(timeout=WAIT)
            group.start_soon(wait_for, "conversation.item.completed")
            group.start_soon(wait_for, "reconnected")
            await anyio.wait_all_tasks_blocked()
            server.connections[0].end(1006)
        assert len(lost) == 1
        assert lost[0].code == 1006
        assert [name for name, _ in fate] == ["reconnected"]
        assert seen.order == ["reconnecting", "reconnected", "close"]


async def test_sends_while_reconnecting_fail_fast_and_config_changes_reach_the_new_session() -> None:
    slow = ReconnectPolicy(initial_delay=0.5, jitter=0.0, max_attempts=2)
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client, seen = make_client(server, reconnect=slow)
        async with client:
            await setup(client)
            server.connections[0].end(1006)
            await seen.wait("reconnecting")  # the first attempt waits 0.5 s: we act inside that window
            assert client.is_reconnecting
            assert not client.is_connected()
            for send in (
                client.send_user_message_content([{"type": "input_text", "text": "hi"}]),
                client.append_input_audio(b"\x00\x00" * 240),
                client.create_response(),
                client.cancel_response(),
                client.clear_input_audio(),
                client.delete_item("item_1"),
            ):
                with pytest.raises(NotConnectedError, match="reconnecting after close code 1006"):
                    await send
            await client.update_session(instructions="Be brief.")  # kept, and sent on the new session
            await client.remove_tool("get_weather")
            await seen.wait("reconnected")
            config = server.connections[1].session.config
            assert config.instructions == "Be brief."
            assert config.tools == []


async def test_disconnect_while_reconnecting_stops_it_and_reports_one_close() -> None:
    slow = ReconnectPolicy(initial_delay=0.5, jitter=0.0)
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client, seen = make_client(server, reconnect=slow)
        await client.connect()
        await client.wait_for_session_created(timeout=WAIT)
        server.connections[0].end(1006)
        await seen.wait("reconnecting")
        await client.disconnect()
        assert not client.is_reconnecting
        assert not client.is_connected()
        assert seen.order == ["reconnecting", "close"]
        assert seen.payloads["close"][0] == {"code": 1000, "reason": "", "error": False}
        with pytest.raises(ConnectionClosedError, match="disconnected"):
            await client.wait_for_next_item(timeout=WAIT)
        assert len(server.connections) == 1  # no attempt ran after disconnect()


async def test_a_tool_running_at_the_drop_is_cancelled_and_its_output_never_sent() -> None:
    started = anyio.Event()
    cancelled: list[bool] = []

    async def slow_weather(location: str) -> dict[str, Any]:
        started.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled.append(True)
            raise
        raise AssertionError("unreachable")

    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client, seen = make_client(server)
        sent: list[dict[str, Any]] = []
        client.realtime.on("client.*", sent.append)
        async with client:
            await client.add_tool(WEATHER_TOOL, slow_weather)
            await client.send_user_message_content([{"type": "input_text", "text": "weather please"}])
            with anyio.fail_after(WAIT):
                await started.wait()
            server.connections[0].end(1006)
            await seen.wait("reconnected")
            assert cancelled == [True]
            # The new session works and knows the tool; the old call's output was never sent.
            assert [tool["name"] for tool in server.connections[1].session.config.tools] == ["get_weather"]
        outputs = [
            event
            for event in sent
            if event["type"] == "conversation.item.create" and event["item"]["type"] == "function_call_output"
        ]
        assert outputs == []


async def test_every_drop_gets_its_own_reconnect_and_attempts_start_again() -> None:
    # A session that stayed up stable_after (0 here) ends the outage: the next drop starts at attempt 1.
    stable = ReconnectPolicy(initial_delay=0.01, jitter=0.0, max_attempts=3, stable_after=0.0)
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client, seen = make_client(server, reconnect=stable)
        async with client:
            await client.wait_for_session_created(timeout=WAIT)
            for round_ in range(1, 4):
                server.connections[-1].end(1006 if round_ % 2 else 1012)
                reconnected = await seen.wait("reconnected", round_)
                assert reconnected["attempt"] == 1
                assert words(await say(client, "hi")) == "Hello there! Nice to hear from you."
        assert len(server.connections) == 4
        assert seen.order == ["reconnecting", "reconnected"] * 3 + ["close"]


@pytest.mark.parametrize("reconnect", [False, True])
async def test_a_drop_on_our_side_reads_1006_and_is_recovered_like_any_other(reconnect: bool) -> None:
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client, seen = make_client(server, reconnect=FAST if reconnect else False)
        async with client:
            await client.wait_for_session_created(timeout=WAIT)
            await client.realtime.abort()  # as a failed network would: no closing handshake
            if reconnect:
                assert (await seen.wait("reconnected"))["code"] == 1006
                assert words(await say(client, "hi")) == "Hello there! Nice to hear from you."
            else:
                close = await seen.wait("close")
                assert (close["code"], close["error"]) == (1006, True)
        with anyio.fail_after(WAIT):
            await server.connections[0].closed.wait()
        assert server.connections[0].close_code == 1006


async def test_connect_again_by_hand_after_a_close_and_not_while_reconnecting() -> None:
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client, seen = make_client(server, reconnect=False)
        async with client:
            await client.wait_for_session_created(timeout=WAIT)
            server.connections[0].end(1006)
            await seen.wait("close")
            await client.connect()  # no disconnect() in between: the ended connection is cleaned up
            await client.wait_for_session_created(timeout=WAIT)
            assert words(await say(client, "hi")) == "Hello there! Nice to hear from you."
        assert len(server.connections) == 2
        slow = ReconnectPolicy(initial_delay=0.5, jitter=0.0)
        client, seen = make_client(server, reconnect=slow)
        async with client:
            await client.wait_for_session_created(timeout=WAIT)
            server.connections[-1].end(1006)
            await seen.wait("reconnecting")
            with pytest.raises(ConfigurationError, match="already reconnecting"):
                await client.connect()
            await seen.wait("reconnected")


async def test_a_server_that_accepts_and_drops_at_once_is_not_retried_forever() -> None:
    flapping = [None] + [Faults(drop_after=1)] * 10  # every new session drops after session.created
    async with LocalRealtimeServer(scenario=SCENARIO, faults=flapping) as server:
        client, seen = make_client(server)  # max_attempts=3
        async with client:
            await client.wait_for_session_created(timeout=WAIT)
            server.connections[0].end(1006)
            failed = await seen.wait("reconnect.failed")
            assert failed["attempts"] == 3
            attempts = [payload["attempt"] for payload in seen.payloads["reconnecting"]]
            assert attempts == [1, 2, 3]  # one outage: numbering and backoff go on across the flaps
            assert [payload["delay"] for payload in seen.payloads["reconnecting"]] == [0.01, 0.02, 0.04]
        assert seen.order[-2:] == ["reconnect.failed", "close"]
        assert seen.order.count("close") == 1
        assert len(server.connections) == 4


async def test_before_reconnect_can_mint_a_fresh_ephemeral_key() -> None:
    """An expired ``ek_`` key is refused with 401 at the handshake; the hook replaces it first."""
    from agent_rt import create_client_secret

    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        first = await create_client_secret("sk-test", expires_after=60, base_url=server.http_url)
        minted: list[str] = []

        async def mint(info: dict[str, Any]) -> None:
            secret = await create_client_secret("sk-test", expires_after=60, base_url=server.http_url)
            minted.append(secret.value)
            client.realtime.set_api_key(secret.value)

        for hook in (None, mint):
            client = RealtimeClient(url=server.url, api_key=first.value, plugins=False, reconnect=FAST)
            client.before_reconnect = hook
            seen = Lifecycle(client)
            server.app.client_secrets.clock = time.time  # the first key is valid again
            async with client:
                await client.wait_for_session_created(timeout=WAIT)
                server.app.client_secrets.clock = lambda: time.time() + 120  # now it has expired
                server.connections[-1].end(1006)
                if hook is None:
                    failed = await seen.wait("reconnect.failed")
                    assert failed["error"].status == 401  # refused, and not retried
                else:
                    await seen.wait("reconnected")
                    assert len(minted) == 1
                    assert server.connections[-1].client_secret  # the new session used the fresh key
                    assert words(await say(client, "hi")) == "Hello there! Nice to hear from you."


async def test_a_failing_before_reconnect_hook_fails_that_attempt_only() -> None:
    calls: list[int] = []

    def flaky(info: dict[str, Any]) -> None:
        calls.append(info["attempt"])
        if info["attempt"] == 1:
            raise RuntimeError("vault unreachable (token sk-hidden-123)")

    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client, seen = make_client(server, before_reconnect=flaky)
        client.realtime.set_api_key("sk-hidden-123")
        async with client:
            await client.wait_for_session_created(timeout=WAIT)
            server.connections[0].end(1006)
            reconnected = await seen.wait("reconnected")
            assert reconnected["attempt"] == 2
            error = seen.payloads["reconnecting"][1]["error"]
            assert isinstance(error, ReconnectHookError)
            assert "vault unreachable" in str(error)
            assert "sk-hidden-123" not in str(error)
        assert calls == [1, 2]


@pytest.mark.parametrize("reconnect", [False, True])
async def test_renew_session_replaces_the_session_at_a_quiet_moment(reconnect: bool) -> None:
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client, seen = make_client(server, reconnect=FAST if reconnect else False)
        with pytest.raises(NotConnectedError, match="nothing to renew"):
            await client.renew_session()
        async with client:
            await setup(client)
            await say(client, "hi")
            old = client.session["id"] if client.session else None
            new = await client.renew_session(timeout=WAIT)
            assert new["id"] != old
            assert client.session is new
            attempt = seen.payloads["reconnecting"][0]
            assert (attempt["code"], attempt["reason"], attempt["delay"]) == (1000, RENEW_REASON, 0.0)
            assert len(seen.payloads["reconnected"][0]["lost_items"]) == 2
            assert client.conversation.get_items() == []
            with anyio.fail_after(WAIT):
                await server.connections[0].closed.wait()
            assert server.connections[0].close_code == 1000  # closed cleanly by the client
            assert server.connections[1].session.config.instructions == INSTRUCTIONS
            assert [tool["name"] for tool in server.connections[1].session.config.tools] == ["get_weather"]
            assert words(await say(client, "what is the weather")) == "It is 21 degrees in Paris."
        assert seen.order == ["reconnecting", "reconnected", "close"]
        assert seen.payloads["close"][0]["error"] is False
