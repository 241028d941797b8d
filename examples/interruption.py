"""Barge-in: stop the assistant mid-sentence with ``cancel_response``.

In a voice app the user starts talking while the reply plays; the app knows how much audio it has
played (``sample_count``) and cancels: the server stops the response and truncates the item's audio
(and transcript) to what the user heard. Offline, the local server paces audio in real time here.
"""

from __future__ import annotations

import anyio
from _common import realtime_client, run

from agent_rt import audio

STORY = "Once upon a time there was a very long story that nobody ever got to finish."
SCENARIO = {"rules": [{"reply": STORY}]}


async def main() -> None:
    async with realtime_client(SCENARIO, plugins=False, realtime_audio=True) as client:
        client.on("conversation.interrupted", lambda e: print("event: conversation.interrupted"))
        truncated_by_server = anyio.Event()
        client.realtime.on("server.conversation.item.truncated", lambda e: truncated_by_server.set())
        async with client:
            await client.send_user_message_content([{"type": "input_text", "text": "Tell me a story."}])
            await client.wait_for_next_item(timeout=30)  # the user's item
            item = await client.wait_for_next_item(timeout=30)  # the assistant's item
            while len(item["formatted"]["audio"]) < 12000:  # wait until 0.5 s of audio has arrived
                await client.wait_for_next("conversation.updated", timeout=30)
            played = audio.ms_to_samples(300)  # pretend the speaker played 300 ms so far
            await client.cancel_response(item["id"], played)
            response = await client.wait_for_response_done(timeout=30)  # the cancelled response's end
            with anyio.fail_after(30):
                await truncated_by_server.wait()  # the server confirms the truncation, after the cancel
            kept = (client.conversation.get_item(item["id"]) or item)["formatted"]["audio"]
            print(f"cancelled after {played} samples played; the item keeps {len(kept)} samples")
            print(f"response status: {response.get('status')}")


if __name__ == "__main__":
    run(main)
