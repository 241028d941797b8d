"""The relay mounted in an existing Starlette application (as in docs/relay.md)."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from agent_rt.relay import create_relay_app

from .helpers import peer, running

pytestmark = pytest.mark.anyio
TOKEN = "relay-token-mounted"


@pytest.fixture(autouse=True)
def _no_upstream_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


async def test_mounted_relay_serves_sessions_under_its_prefix() -> None:
    async def home(request: object) -> PlainTextResponse:
        return PlainTextResponse("my app")

    relay_app = create_relay_app(tokens=[TOKEN])
    app = Starlette(routes=[Route("/", home), Mount("/realtime", relay_app)])
    app.state.relay = relay_app.state.relay
    with running(app) as server:
        url = f"ws://127.0.0.1:{server.port}/realtime/v1/realtime"
        async with peer(url, token=TOKEN) as client:  # the mounted app's lifespan does not run:
            await client.until("session.created")  # the session gets a local server of its own
            done = await client.text_turn("hello mounted relay")
            assert done["response"]["status"] == "completed"


async def test_mounted_relay_shares_one_local_server_with_the_apps_lifespan() -> None:
    relay_app = create_relay_app(tokens=[TOKEN])
    relay = relay_app.state.relay
    app = Starlette(routes=[Mount("/realtime", relay_app)], lifespan=relay.lifespan)
    app.state.relay = relay
    with running(app) as server:
        url = f"ws://127.0.0.1:{server.port}/realtime/v1/realtime"
        async with peer(url, token=TOKEN) as first, peer(url, token=TOKEN) as second:
            one = await first.until("session.created")
            two = await second.until("session.created")
            assert one["session"]["id"] != two["session"]["id"]
            assert relay.embedded_server is not None
            assert len(relay.embedded_server.connections) == 2
