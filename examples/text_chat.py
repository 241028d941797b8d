"""A few text turns; the assistant's transcript streams as it arrives (audio comes along too)."""

from __future__ import annotations

from _common import ask, realtime_client, run, stream_transcripts

SCENARIO = {"rules": [{"match": "name", "reply": "I'm a local stand-in model. Nice to meet you!"}]}
TURNS = ["Hi, what's your name?", "Tell me something about realtime APIs."]


async def main() -> None:
    async with realtime_client(SCENARIO, plugins=False) as client:
        await client.update_session(instructions="Answer in one short sentence.")
        stream_transcripts(client)
        async with client:
            for text in TURNS:
                item = await ask(client, text)
                print(f"  ({len(item['formatted']['audio']) / 24000:.2f} s of audio)")


if __name__ == "__main__":
    run(main)
