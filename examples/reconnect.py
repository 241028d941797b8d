"""Survive a dropped connection: a new session with the same config and tools, and a recap.

The link is cut mid-call (``client.realtime.abort()`` drops the socket as a failed network would,
code 1006). With ``reconnect=`` the client opens a new session, sends the session config and
tools again, and hands over the items of the lost conversation, which the server no longer has:
here the app turns them into a recap in the instructions, so the model keeps the context.
"""

from __future__ import annotations

from typing import Any

import anyio
from _common import ask, realtime_client, run, stream_transcripts

from agent_rt.reconnect import ReconnectPolicy

INSTRUCTIONS = "You are a friendly assistant. Keep answers short."
SCENARIO = {
    "rules": [
        {"match": "ada", "reply": "Nice to meet you, Ada!"},
        {"match": "back", "reply": "Welcome back! Where were we?"},
    ]
}


def recap(items: list[dict[str, Any]]) -> str:
    """The lost conversation as a few lines of text (the end matters most)."""
    lines = [
        f"{item['role']}: {item['formatted']['transcript'] or item['formatted']['text']}"
        for item in items
        if item.get("type") == "message"
    ]
    return "\n".join(lines)[-2000:]


async def main() -> None:
    policy = ReconnectPolicy(initial_delay=0.2, max_attempts=5)
    async with realtime_client(SCENARIO, plugins=False, reconnect=policy) as client:
        stream_transcripts(client)
        reconnected = anyio.Event()
        client.on(
            "reconnecting", lambda e: print(f"reconnecting: attempt {e['attempt']} in {e['delay']:.2f} s")
        )

        async def on_reconnected(event: dict[str, Any]) -> None:
            print(f"reconnected: new session {event['session']['id']}; {len(event['lost_items'])} items lost")
            await client.update_session(
                instructions=f"{INSTRUCTIONS}\n\nEarlier in this call:\n{recap(event['lost_items'])}"
            )
            reconnected.set()

        client.on("reconnected", on_reconnected)
        async with client:
            await client.update_session(instructions=INSTRUCTIONS, modalities=["text"])
            await client.wait_for_session_created(timeout=30)
            first = client.session["id"] if client.session else "?"
            print(f"session {first}")
            await ask(client, "Hi, I'm Ada.")

            print("-- the network drops --")
            await client.realtime.abort()
            with anyio.fail_after(60):
                await reconnected.wait()
            items = len(client.conversation.get_items())
            print(f"the cache holds {items} items; the recap is in the instructions")
            await ask(client, "I'm back.")


if __name__ == "__main__":
    run(main)
