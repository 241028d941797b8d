"""Ephemeral client secrets against the local server's endpoint over loopback, and error shapes."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest

from agent_rt import (
    ClientSecretError,
    ConfigurationError,
    HandshakeError,
    RealtimeClient,
    create_client_secret,
)
from agent_rt.server import LocalRealtimeServer

pytestmark = pytest.mark.anyio

KEY = "sk-test-CLIENTSECRETKEY0123456789"


async def test_issued_secret_connects_and_is_recorded() -> None:
    async with LocalRealtimeServer() as server:
        secret = await create_client_secret(
            KEY, session={"model": "gpt-realtime"}, expires_after=60, base_url=server.http_url
        )
        assert secret.value.startswith("ek_")
        assert secret.value not in repr(secret)
        assert secret.session["type"] == "realtime"
        assert secret.session["model"] == "gpt-realtime"
        client = RealtimeClient(api_key=secret.value, url=server.url, plugins=False)
        async with client:
            await client.send_user_message_content([{"type": "input_text", "text": "hi"}])
            await client.wait_for_next_item(timeout=5)
            await client.wait_for_next_item(timeout=5)
            item = await client.wait_for_next_completed_item(timeout=5)
        assert item["formatted"]["transcript"] == "You said: hi"
        assert server.connections[0].client_secret is True
        assert secret.value not in repr(client)


async def test_unknown_client_secret_is_refused_at_the_handshake() -> None:
    async with LocalRealtimeServer() as server:
        client = RealtimeClient(api_key="ek_" + "0" * 32, url=server.url, plugins=False)
        with pytest.raises(HandshakeError) as caught:
            await client.connect()
        assert "401" in str(caught.value)
        assert "0" * 32 not in str(caught.value)


async def test_bad_expiry_is_a_typed_error_with_the_server_message() -> None:
    async with LocalRealtimeServer() as server:
        with pytest.raises(ClientSecretError) as caught:
            await create_client_secret(KEY, expires_after=5, base_url=server.http_url)
    assert caught.value.status == 400
    assert "expires_after.seconds" in str(caught.value)


async def test_missing_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigurationError):
        await create_client_secret(base_url="http://127.0.0.1:9/v1")


async def test_service_error_shape_and_request_body() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        error = {
            "message": f"Incorrect API key provided: {KEY}",
            "type": "invalid_request_error",
            "code": "x",
        }
        return httpx.Response(401, json={"error": error})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        with pytest.raises(ClientSecretError) as caught:
            await create_client_secret(KEY, session={"model": "m"}, expires_after=120, http_client=http)
    assert caught.value.status == 401
    assert caught.value.code == "x"
    assert KEY not in str(caught.value)
    request = seen[0]
    assert str(request.url) == "https://api.openai.com/v1/realtime/client_secrets"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert json.loads(request.content) == {
        "session": {"type": "realtime", "model": "m"},
        "expires_after": {"anchor": "created_at", "seconds": 120},
    }


async def test_unreachable_endpoint_is_a_typed_error() -> None:
    with pytest.raises(ClientSecretError, match="could not reach"):
        await create_client_secret(KEY, base_url="http://127.0.0.1:1/v1")


async def test_the_session_a_secret_is_bound_to_starts_every_session_it_opens() -> None:
    bound = {
        "type": "realtime",
        "model": "gpt-realtime-mini",
        "instructions": "Speak like a pirate.",
        "audio": {"output": {"voice": "marin"}},
    }
    async with LocalRealtimeServer() as server:
        secret = await create_client_secret(KEY, session=bound, expires_after=60, base_url=server.http_url)
        client = RealtimeClient(api_key=secret.value, url=server.url, plugins=False)
        created: list[dict[str, object]] = []
        client.realtime.on("server.session.created", lambda event: created.append(event["session"]))
        async with client:
            await client.wait_for_session_created(timeout=5)
        (session,) = created
        assert session["model"] == "gpt-realtime-mini"  # from the secret, not the URL's default
        assert session["instructions"] == "Speak like a pirate."
        assert session["audio"]["output"]["voice"] == "marin"  # type: ignore[index]
        # A plain key gets the defaults: the binding belongs to the secret.
        async with RealtimeClient(api_key=KEY, url=server.url, plugins=False) as plain:
            await plain.wait_for_session_created(timeout=5)
        assert server.connections[1].session.config.instructions != "Speak like a pirate."


async def test_a_bad_bound_session_is_refused_when_the_secret_is_minted() -> None:
    async with LocalRealtimeServer() as server:
        with pytest.raises(ClientSecretError) as caught:
            await create_client_secret(
                KEY, session={"type": "realtime", "audio": {"output": {"voice": 7}}}, base_url=server.http_url
            )
    assert caught.value.status == 400
    assert "voice" in str(caught.value)


async def test_without_session_defaults_the_bound_session_survives_the_connect() -> None:
    bound = {
        "type": "realtime",
        "instructions": "Speak like a pirate.",
        "audio": {"output": {"voice": "marin", "format": {"type": "audio/pcmu"}}},
    }
    async with LocalRealtimeServer() as server:
        secret = await create_client_secret(KEY, session=bound, expires_after=60, base_url=server.http_url)
        client = RealtimeClient(api_key=secret.value, url=server.url, plugins=False, session_defaults=False)
        sent: list[dict[str, object]] = []
        client.realtime.on("client.*", sent.append)
        async with client:
            await client.wait_for_session_created(timeout=5)
            assert [event["type"] for event in sent] == []  # nothing to override
            config = server.connections[0].session.config
            assert config.instructions == "Speak like a pirate."
            assert client.conversation.output_audio_format == "g711_ulaw"  # learnt from the server

            tool = {"name": "noop", "description": "Does nothing.", "parameters": {"type": "object"}}
            await client.add_tool(tool, lambda: "ok")
            await client.update_session(max_output_tokens=200)
            await client.remove_tool("noop")
            updates = [event["session"] for event in sent if event["type"] == "session.update"]
            assert [sorted(update) for update in updates] == [  # type: ignore[call-overload]
                ["tools", "type"],
                ["max_output_tokens", "tools", "type"],
                ["max_output_tokens", "tools", "type"],  # tools=[] removes the last one
            ]
            assert updates[-1]["tools"] == []  # type: ignore[index]
        with anyio.fail_after(5):
            await server.connections[0].closed.wait()  # every update above has been applied
        assert config.instructions == "Speak like a pirate."  # never overwritten
        assert config.tools == []


async def test_by_default_the_client_sends_the_reference_defaults_on_connect() -> None:
    async with LocalRealtimeServer() as server:
        client = RealtimeClient(api_key=KEY, url=server.url, plugins=False)
        sent: list[dict[str, object]] = []
        client.realtime.on("client.*", sent.append)
        async with client:
            await client.wait_for_session_created(timeout=5)
        (update,) = [event for event in sent if event["type"] == "session.update"]
        assert update["session"]["instructions"] == ""  # type: ignore[index]
