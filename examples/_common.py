"""Shared by the examples: the local Realtime server unless ``OPENAI_API_KEY`` is set.

Offline (no key), each example starts :class:`agent_rt.server.LocalRealtimeServer` in-process with
its own scenario, so it runs with no network. With a key, the same code talks to the real service.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio

from agent_rt import RealtimeClient
from agent_rt.server import LocalRealtimeServer


def backend() -> str:
    """``--trio`` on the command line runs the example on trio instead of asyncio."""
    return "trio" if "--trio" in sys.argv[1:] else "asyncio"


def live() -> bool:
    return bool(os.environ.get("OPENAI_API_KEY"))


@contextlib.asynccontextmanager
async def realtime_client(scenario: Any = None, **options: Any) -> AsyncIterator[RealtimeClient]:
    """A (not yet connected) client for the real API when a key is set, else for a local server."""
    paced = bool(options.pop("realtime_audio", False))  # local server only: pace audio in real time
    if live():
        print("using the OpenAI Realtime API (OPENAI_API_KEY is set)")
        yield RealtimeClient(**options)
        return
    async with LocalRealtimeServer(scenario=scenario, realtime_audio=paced) as server:
        print(f"using the local Realtime server at {server.url} (no key, no network)")
        yield RealtimeClient(url=server.url, api_key="local", **options)


def stream_transcripts(client: RealtimeClient) -> None:
    """Print the assistant's words as they arrive."""

    def on_update(event: dict[str, Any]) -> None:
        delta = event.get("delta") or {}
        text = delta.get("transcript") or delta.get("text")
        if text and event["item"].get("role") == "assistant":
            print(text, end="", flush=True)

    client.on("conversation.updated", on_update)


async def next_assistant_message(client: RealtimeClient, timeout: float = 30) -> dict[str, Any]:
    """The assistant's next finished message; tool calls in between are answered by the client."""
    while True:
        item = await client.wait_for_next_completed_item(timeout=timeout)
        if item.get("type") == "message" and item.get("role") == "assistant":
            print()
            return item


def run(main: Any) -> None:
    anyio.run(main, backend=backend())


async def ask(client: RealtimeClient, text: str) -> dict[str, Any]:
    """Print and send a user line; the assistant's answer streams (``stream_transcripts``) and is returned."""
    print(f"user: {text}\nassistant: ", end="", flush=True)
    await client.send_user_message_content([{"type": "input_text", "text": text}])
    return await next_assistant_message(client)
