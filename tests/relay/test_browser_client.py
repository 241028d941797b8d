"""A browser-style client (WebSocket API, subprotocol auth; run by Node) does turns through the relay."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from anyio import run_process

from agent_rt.relay import create_relay_app

from .helpers import running

pytestmark = pytest.mark.anyio
TOKEN = "relay-token-for-browsers"
CLIENT = Path(__file__).with_name("browser_client.mjs")
NODE = shutil.which("node")


@pytest.fixture(autouse=True)
def _no_upstream_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


async def _browser(url: str, token: str, *texts: str) -> list[dict[str, object]]:
    assert NODE is not None, "node is needed for the browser-style client"
    result = await run_process(
        [NODE, "--no-warnings", "--experimental-websocket", str(CLIENT), url, token, *texts]
    )
    return [json.loads(line) for line in result.stdout.decode().splitlines() if line.strip()]


async def test_browser_client_with_subprotocols_completes_turns() -> None:
    with running(create_relay_app(tokens=[TOKEN])) as relay:
        events = await _browser(relay.url, TOKEN, *(f"browser turn {n}" for n in range(6)))
    assert events[0] == {"type": "client.open", "protocol": "realtime"}
    assert events[1]["type"] == "session.created"
    assert "modalities" in events[1]["session"]  # type: ignore[operator]  # beta, as the page asked
    done = [event for event in events if event["type"] == "response.done"]
    assert len(done) == 6
    assert all(event["response"]["status"] == "completed" for event in done)  # type: ignore[index]
    # The page closed with 1000 and the relay saw it. (What Node's WebSocket reports back varies:
    # when the server's rate_limits.updated crosses the page's close frame, undici says 1006.)
    assert events[-1]["type"] == "client.close"
    assert relay.relay.metrics.closes == {1000: 1}


async def test_browser_client_with_a_wrong_token_never_opens() -> None:
    with running(create_relay_app(tokens=[TOKEN])) as relay:
        events = await _browser(relay.url, "wrong-token", "hello")
    kinds = [event["type"] for event in events]
    assert kinds[0] == "client.error"
    assert set(kinds) <= {"client.error", "client.close"}  # never opened, no server event
    assert relay.relay.metrics.refused["unauthorized"] == 1
