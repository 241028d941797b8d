"""openai-python's realtime client, pointed at the relay as a new user would (asyncio: its transport)."""

from __future__ import annotations

from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from agent_rt.relay import create_relay_app

from .helpers import running, user_message

openai = pytest.importorskip("openai")

pytestmark = pytest.mark.anyio
TOKEN = "relay-token-for-openai-python"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # openai-python's realtime connection runs on asyncio only


@pytest.fixture(autouse=True)
def _no_upstream_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


async def _turn(connection: Any, text: str) -> tuple[Any, list[str]]:
    await connection.conversation.item.create(item=user_message(text))
    await connection.response.create()
    types: list[str] = []
    async for event in connection:
        types.append(event.type)
        if event.type == "response.done":
            return event, types
    raise AssertionError("the connection ended before response.done")


async def test_text_turns_through_the_relay() -> None:
    with running(create_relay_app(tokens=[TOKEN])) as relay:
        client = openai.AsyncOpenAI(api_key=TOKEN, websocket_base_url=f"ws://127.0.0.1:{relay.port}/v1")
        async with client.realtime.connect(model="gpt-realtime") as connection:
            await connection.session.update(session={"type": "realtime", "output_modalities": ["text"]})
            for turn in range(4):
                done, types = await _turn(connection, f"turn {turn}, are you there?")
                assert done.response.status == "completed"
                assert "response.output_text.delta" in types
                content = done.response.output[0].content[0]
                assert f"turn {turn}, are you there?" in content.text


async def test_a_plugin_tool_turn_through_the_relay() -> None:
    # The relay's embedded server calls the clock plugin's calculate for "what is ..." (RELAY_SCENARIO).
    with running(create_relay_app(tokens=[TOKEN], tools=True)) as relay:
        client = openai.AsyncOpenAI(api_key=TOKEN, websocket_base_url=f"ws://127.0.0.1:{relay.port}/v1")
        async with client.realtime.connect(model="gpt-realtime") as connection:
            await connection.session.update(session={"type": "realtime", "output_modalities": ["text"]})
            for left, right in ((17, 4), (2, 3)):
                first, _ = await _turn(connection, f"what is ({left} + {right}) * 23")
                call = first.response.output[0]
                assert (call.type, call.name) == ("function_call", "calculate")
                # The application sends nothing: the relay answers and asks for the follow-up.
                second = None
                async for event in connection:
                    if event.type == "response.done":
                        second = event
                        break
                assert second is not None
                text = second.response.output[0].content[0].text
                assert text == f"({left} + {right}) * 23 is {(left + right) * 23}."


async def test_a_wrong_token_is_refused_at_the_handshake() -> None:
    with running(create_relay_app(tokens=[TOKEN])) as relay:
        client = openai.AsyncOpenAI(
            api_key="not-the-token", websocket_base_url=f"ws://127.0.0.1:{relay.port}/v1"
        )
        with pytest.raises(InvalidStatus) as caught:
            async with client.realtime.connect(model="gpt-realtime"):
                pass
        assert "401" in str(caught.value)
        assert relay.relay.metrics.sessions_total == 0
