"""The relay on trio: served by hypercorn's trio worker, its sessions use the anyio upstream driver.

Under uvicorn (asyncio) the relay talks to its upstream through the lean asyncio driver; on any
other event loop it falls back to :mod:`agent_rt.transport`. This runs the whole app (lifespan
with the embedded local server, auth, server-side tools) on trio, over real loopback sockets.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from agent_rt.errors import HandshakeError
from agent_rt.relay import create_relay_app
from agent_rt.relay.app import Relay

from .helpers import TOOL_SCENARIO as SCENARIO
from .helpers import peer

pytestmark = pytest.mark.anyio
TOKEN = "relay-token-trio"


@pytest.fixture(autouse=True)
def _no_upstream_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@contextlib.contextmanager
def on_trio(app: Any) -> Iterator[int]:
    """Serve ``app`` with hypercorn on trio in a thread; yield its port; stop it at the end."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{listener.detach()}"]  # hypercorn owns (and closes) the socket
    config.loglevel = "WARNING"
    started = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> None:
        stop = trio.Event()
        state["token"], state["stop"] = trio.lowlevel.current_trio_token(), stop
        started.set()
        await serve(app, config, shutdown_trigger=stop.wait)

    thread = threading.Thread(target=trio.run, args=(main,), daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield port
    finally:
        state["token"].run_sync_soon(state["stop"].set)  # thread-safe, never blocks
        thread.join(15)
    assert not thread.is_alive(), "hypercorn did not stop"


async def test_text_and_tool_turns_through_the_relay_on_trio() -> None:
    app = create_relay_app(tokens=[TOKEN], tools=True, scenario=SCENARIO)
    relay: Relay = app.state.relay
    with on_trio(app) as port:
        url = f"ws://127.0.0.1:{port}/v1/realtime"
        for _ in range(2):  # a second session after the first closed
            async with peer(url, token=TOKEN) as client:
                await client.until("session.created")
                await client.until("session.updated")  # the relay's tools
                for turn in range(4):
                    done = await client.text_turn(f"hello number {turn}")
                    assert done["response"]["status"] == "completed"
                    await client.ask(f"what is {turn} + 4")
                    call_done = await client.until("response.done")
                    assert call_done["response"]["output"][0]["name"] == "calculate"
                    answer = await client.until("response.done")  # the relay's follow-up
                    part = answer["response"]["output"][-1]["content"][0]
                    assert (part.get("transcript") or part.get("text")) == f"{turn} + 4 is {turn + 4}."
                    added = [e["item"] for e in client.seen if e["type"] == "conversation.item.added"]
                    outputs = [item for item in added if item["type"] == "function_call_output"]
                    assert json.loads(outputs[-1]["output"])["result"] == turn + 4
        with pytest.raises(HandshakeError) as refused:
            async with peer(url, token="wrong"):
                pass
        assert refused.value.status == 401
    assert relay.metrics.sessions_active == 0
    assert relay.metrics.upstreams_open == 0
    assert relay.metrics.sessions_total == 2
