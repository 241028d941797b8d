"""Who gets in, and with which subprotocol: ``--api-key``, browser subprotocols, oversized events."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import websockets.sync.client
from websockets.exceptions import InvalidStatus

from agent_rt.errors import HandshakeError
from agent_rt.server import LocalRealtimeServer
from agent_rt.server.errors import MAX_CLIENT_EVENT_BYTES
from agent_rt.transport import connect

pytestmark = pytest.mark.anyio

GUARD = 20  # seconds: a safety net, never a wait
KEY = "local-test-key-0123456789"
BROWSER = ["realtime", f"openai-insecure-api-key.{KEY}"]


def _sync_first_event(
    url: str, subprotocols: list[str], headers: dict[str, str] | None = None
) -> tuple[Any, dict[str, Any]]:
    """Connect with the websockets library's own client (not ours); return its subprotocol and first event."""
    with websockets.sync.client.connect(
        url, subprotocols=[websockets.Subprotocol(p) for p in subprotocols], additional_headers=headers
    ) as ws:
        first = json.loads(ws.recv(timeout=GUARD))
        return ws.subprotocol, first


async def first_event(
    url: str, subprotocols: list[str], headers: dict[str, str] | None = None
) -> tuple[Any, dict[str, Any]]:
    return await anyio.to_thread.run_sync(_sync_first_event, url, subprotocols, headers)


async def test_the_realtime_subprotocol_is_selected_when_offered() -> None:
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer() as server:
            selected, created = await first_event(server.url, ["realtime"])
            assert selected == "realtime"
            assert created["type"] == "session.created"
            selected, _ = await first_event(server.url, ["realtime", f"openai-insecure-api-key.{KEY}"])
            assert selected == "realtime"
            assert server.connections[-1].authorization is True


async def test_the_beta_subprotocol_selects_the_beta_generation() -> None:
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer() as server:
            selected, created = await first_event(server.url, [*BROWSER, "openai-beta.realtime-v1"])
            assert selected == "realtime"
            assert created["session"]["modalities"] == ["text", "audio"]  # the beta session shape
            dialects = [server.connections[-1].dialect]
            _, created = await first_event(server.url, BROWSER)
            assert created["session"]["type"] == "realtime"  # GA without it
            dialects.append(server.connections[-1].dialect)
            assert dialects == ["beta", "ga"]


async def test_without_an_api_key_anything_is_accepted() -> None:
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer() as server:
            ws = await connect(server.url, {})
            assert json.loads(await ws.receive())["type"] == "session.created"
            await ws.close()
            async with httpx.AsyncClient() as http:
                answer = await http.post(
                    server.http_url + "/realtime/client_secrets", headers={"Authorization": "Bearer anything"}
                )
            assert answer.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}],
    ids=["none", "wrong", "basic"],
)
async def test_with_an_api_key_a_websocket_without_it_gets_401_in_the_service_shape(
    headers: dict[str, str],
) -> None:
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer(api_key=KEY) as server:
            with pytest.raises(HandshakeError) as caught:
                await connect(server.url, headers)
            assert caught.value.status == 401
            with pytest.raises(InvalidStatus) as refused:
                await first_event(server.url, ["realtime", "openai-insecure-api-key.wrong"], headers)
            response = refused.value.response
            assert response.status_code == 401
            assert response.headers["Content-Type"] == "application/json"
            error = json.loads(response.body)["error"]
            assert error["type"] == "invalid_request_error"
            assert set(error) == {"message", "type", "param", "code"}
            assert KEY not in response.body.decode()
            assert server.connections == []
            assert server.counters.rejected == 2


async def test_with_an_api_key_the_bearer_or_the_browser_subprotocol_gets_in() -> None:
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer(api_key=KEY) as server:
            ws = await connect(server.url, {"Authorization": f"Bearer {KEY}"})
            assert json.loads(await ws.receive())["type"] == "session.created"
            await ws.close()
            selected, created = await first_event(server.url, BROWSER)
            assert (selected, created["type"]) == ("realtime", "session.created")
            assert KEY not in repr(server.connections[-1])
            assert KEY not in repr(server.app.api_key)


async def test_with_an_api_key_client_secrets_need_that_key_and_the_secret_opens_a_session() -> None:
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer(api_key=KEY) as server, httpx.AsyncClient() as http:
            url = server.http_url + "/realtime/client_secrets"
            for bearer in ("anything", "ek_" + "0" * 32):
                refused = await http.post(url, headers={"Authorization": f"Bearer {bearer}"})
                assert refused.status_code == 401
                assert refused.json()["error"]["code"] == "invalid_api_key"
            assert (await http.post(url)).status_code == 401
            minted = await http.post(url, headers={"Authorization": f"Bearer {KEY}"}, json={})
            assert minted.status_code == 200
            secret = minted.json()["value"]
            selected, created = await first_event(
                server.url, ["realtime", f"openai-insecure-api-key.{secret}"]
            )
            assert (selected, created["type"]) == ("realtime", "session.created")
            assert server.connections[-1].client_secret is True


async def test_an_oversized_event_gets_an_error_event_and_the_session_goes_on() -> None:
    with anyio.fail_after(GUARD):
        async with LocalRealtimeServer() as server:
            ws = await connect(server.url, {})
            await ws.receive()  # session.created
            audio = "A" * (MAX_CLIENT_EVENT_BYTES + 4)
            await ws.send_text(json.dumps({"type": "input_audio_buffer.append", "audio": audio}))
            error = json.loads(await ws.receive())
            assert error["type"] == "error"
            assert error["error"]["type"] == "invalid_request_error"
            assert error["error"]["code"] == "event_too_large"
            assert str(MAX_CLIENT_EVENT_BYTES) in error["error"]["message"]
            await ws.send_text(json.dumps({"type": "input_audio_buffer.clear", "event_id": "evt_after"}))
            assert json.loads(await ws.receive())["type"] == "input_audio_buffer.cleared"
            await ws.close()
            # just under the cap is still accepted
            ws = await connect(server.url, {})
            await ws.receive()
            event = {"type": "input_audio_buffer.append", "audio": ""}
            padding = MAX_CLIENT_EVENT_BYTES - len(json.dumps(event)) - 4
            event["audio"] = "AAAA" * (padding // 4)
            await ws.send_text(json.dumps(event))
            await ws.send_text(json.dumps({"type": "input_audio_buffer.clear"}))
            answer = json.loads(await ws.receive())
            assert answer["type"] != "error", answer
            await ws.close()


NODE_CLIENT = Path(__file__).with_name("browser_style_client.mjs")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
async def test_a_browser_style_node_client_connects_with_subprotocols_and_talks() -> None:
    """Node's global WebSocket (the browser API) fails the handshake unless the server echoes a protocol."""
    with anyio.fail_after(GUARD * 2):
        async with LocalRealtimeServer(
            api_key=KEY, scenario=[{"match": "hi", "reply": "Hello, node!"}]
        ) as server:
            for beta in (False, True):
                result = await anyio.run_process(
                    [
                        "node",
                        "--experimental-websocket",
                        str(NODE_CLIENT),
                        server.url,
                        KEY,
                        "beta" if beta else "ga",
                    ],
                    check=False,
                )
                assert result.returncode == 0, result.stderr.decode()
                report = json.loads(result.stdout.decode().strip().splitlines()[-1])
                assert report["protocol"] == "realtime"
                assert report["first"] == "session.created"
                assert report["transcript"] == "Hello, node!"
                assert server.connections[-1].dialect == ("beta" if beta else "ga")
