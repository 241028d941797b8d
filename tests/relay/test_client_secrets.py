"""POST /v1/realtime/client_secrets: behind the relay's auth; the relay's token never goes upstream."""

from __future__ import annotations

import json

import httpx
import pytest

from agent_rt.relay import Identity, create_relay_app
from agent_rt.server import LocalRealtimeServer
from agent_rt.transport import connect

from .helpers import running

pytestmark = pytest.mark.anyio
TOKEN = "relay-token-secrets"
KEY = "sk-upstream-key-for-minting-0123"


@pytest.fixture(autouse=True)
def _no_upstream_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


async def test_minting_from_the_embedded_server_needs_the_relay_token() -> None:
    with running(create_relay_app(tokens=[TOKEN])) as relay:
        url = relay.http + "/v1/realtime/client_secrets"
        body = {"session": {"type": "realtime", "model": "gpt-realtime", "instructions": "Be nice."}}
        async with httpx.AsyncClient() as http:
            refused = await http.post(url, json=body)
            wrong = await http.post(url, json=body, headers={"Authorization": "Bearer nope"})
            minted = await http.post(url, json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "relay_unauthorized"
    assert wrong.status_code == 401
    assert minted.status_code == 200
    secret = minted.json()
    assert secret["value"].startswith("ek_")
    assert secret["session"]["instructions"] == "Be nice."


async def test_minting_from_a_url_upstream_uses_the_upstream_key_and_the_lock() -> None:
    async with LocalRealtimeServer() as upstream:
        seen: list[httpx.Request] = []

        async def forward(request: httpx.Request) -> httpx.Response:
            seen.append(request)  # then on to the real local server
            async with httpx.AsyncClient() as http:
                answer = await http.send(request)
                return httpx.Response(answer.status_code, content=answer.content, headers=answer.headers)

        tokens = {TOKEN: Identity("alice", models=frozenset({"gpt-realtime"}))}
        app = create_relay_app(
            upstream.url,
            tokens=tokens,
            upstream_key=KEY,
            session_lock={"instructions": "The relay's instructions."},
            http_transport=httpx.MockTransport(forward),
        )
        with running(app) as relay:
            url = relay.http + "/v1/realtime/client_secrets"
            auth = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx.AsyncClient() as http:
                minted = await http.post(
                    url, headers=auth, json={"session": {"type": "realtime", "instructions": "Mine!"}}
                )
                other_model = await http.post(
                    url, headers=auth, json={"session": {"type": "realtime", "model": "gpt-4o-realtime"}}
                )
        assert minted.status_code == 200, minted.text
        assert other_model.status_code == 403
        assert len(seen) == 1
        request = seen[0]
        assert str(request.url) == upstream.http_url + "/realtime/client_secrets"
        assert request.headers["authorization"] == f"Bearer {KEY}"
        assert TOKEN not in repr(request.headers.raw) + request.content.decode()
        assert json.loads(request.content)["session"]["instructions"] == "The relay's instructions."
        assert KEY not in minted.text
        # The secret opens a session on that upstream directly, as the official browser flow does.
        websocket = await connect(upstream.url, {"Authorization": f"Bearer {minted.json()['value']}"})
        try:
            created = json.loads(await websocket.receive())
        finally:
            await websocket.close()
        assert created["session"]["instructions"] == "The relay's instructions."
