"""Authentication happens before the WebSocket is accepted: refused clients get 401/403, never a session."""

from __future__ import annotations

import httpx
import pytest

from agent_rt.errors import HandshakeError
from agent_rt.relay import AuthRefused, AuthRequest, Identity, create_relay_app
from agent_rt.transport import connect

from .helpers import peer, running

pytestmark = pytest.mark.anyio

TOKEN = "relay-token-0123456789"


@pytest.fixture(autouse=True)
def _no_upstream_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


async def _status(
    url: str, headers: dict[str, str] | None = None, subprotocols: list[str] | None = None
) -> int:
    with pytest.raises(HandshakeError) as caught:
        await connect(url, headers, subprotocols=subprotocols)
    assert caught.value.status is not None
    return caught.value.status


async def test_bearer_token_opens_a_session_and_the_subprotocol_is_echoed() -> None:
    with running(create_relay_app(tokens=[TOKEN])) as relay:
        async with peer(relay.url + "?model=gpt-realtime", token=TOKEN, subprotocols=["realtime"]) as client:
            created = await client.until("session.created")
            assert created["session"]["model"] == "gpt-realtime"
            assert client.ws._protocol.subprotocol == "realtime"
        async with httpx.AsyncClient() as http:
            health = await http.get(relay.http + "/healthz")
        assert health.status_code == 200
        assert health.json()["sessions_total"] == 1


async def test_browser_subprotocol_token_opens_a_session() -> None:
    offered = ["realtime", f"openai-insecure-api-key.{TOKEN}", "openai-beta.realtime-v1"]
    with running(create_relay_app(tokens=["another-token-xyz", TOKEN])) as relay:
        async with peer(relay.url, subprotocols=offered) as client:
            created = await client.until("session.created")
            assert created["session"]["object"] == "realtime.session"
            assert client.ws._protocol.subprotocol == "realtime"


async def test_missing_and_wrong_tokens_are_refused_at_the_handshake() -> None:
    with running(create_relay_app(tokens=[TOKEN])) as relay:
        assert await _status(relay.url) == 401
        assert await _status(relay.url, {"Authorization": "Bearer wrong-token"}) == 401
        assert await _status(relay.url, subprotocols=["realtime", "openai-insecure-api-key.nope"]) == 401
        assert await _status(relay.url, {"Authorization": f"Bearer {TOKEN}x"}) == 401
        assert relay.relay.metrics.sessions_total == 0
        assert relay.relay.metrics.refused["unauthorized"] == 4


async def test_origin_allow_list() -> None:
    app = create_relay_app(tokens=[TOKEN], allowed_origins=["http://app.example"])
    with running(app) as relay:
        evil = {"Authorization": f"Bearer {TOKEN}", "Origin": "http://evil.example"}
        assert await _status(relay.url, evil) == 403
        good = {"Origin": "http://app.example"}
        async with peer(relay.url, token=TOKEN, headers=good) as client:
            await client.until("session.created")


async def test_custom_auth_hook_names_the_identity_or_refuses() -> None:
    seen: list[str | None] = []

    async def hook(request: AuthRequest) -> Identity | None:
        seen.append(request.token)
        if request.token == "jwt-for-alice":
            return Identity("alice")
        if request.token == "banned-user":
            raise AuthRefused("this account is suspended", status=403)
        return None

    with running(create_relay_app(authenticate=hook)) as relay:
        async with peer(relay.url, token="jwt-for-alice") as client:
            await client.until("session.created")
            assert relay.relay.slots.per_identity["alice"] == 1
        assert await _status(relay.url, {"Authorization": "Bearer banned-user"}) == 403
        assert await _status(relay.url, {"Authorization": "Bearer someone-else"}) == 401
    assert seen == ["jwt-for-alice", "banned-user", "someone-else"]


async def test_without_tokens_only_loopback_clients_are_accepted() -> None:
    # A mounted relay behind a proxy sees the proxy's forwarded client address; uvicorn's
    # proxy-headers support makes it 203.0.113.9 here.
    app = create_relay_app()
    with running(app) as relay:
        async with peer(relay.url) as client:
            await client.until("session.created")
    with running(app, proxy_headers=True, forwarded_allow_ips="*") as relay:
        assert await _status(relay.url, {"X-Forwarded-For": "203.0.113.9"}) == 403
