"""Send a WAV file, get the spoken reply back as a WAV file (24 kHz mono PCM16).

Any WAV works (``python wav_conversation.py my.wav``); any rate, mono or stereo: it is converted to
what the API wants. Without an argument a short synthetic recording is generated first.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import next_assistant_message, realtime_client, run

from agent_rt import audio


def make_recording(path: Path) -> None:
    """1.2 s of syllable-like noise at 16 kHz stereo: loud enough to count as speech."""
    rng = np.random.default_rng(3)
    count = int(1.2 * 16000)
    envelope = 0.5 + 0.5 * np.sin(np.linspace(0, 1.2 * 2 * np.pi * 4, count))
    mono = audio.float_to_pcm16((rng.normal(0, 0.25, count) * envelope).astype(np.float32))
    audio.write_wav(path, np.ascontiguousarray(np.stack([mono, mono], axis=1)), 16000)


async def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="agent_rt_"))
    args = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    source = Path(args[0]) if args else workdir / "question.wav"
    if not args:
        make_recording(source)
    samples = audio.load_wav_for_realtime(source)
    print(f"input: {source} -> {len(samples)} samples at 24 kHz mono")
    scenario = {
        "transcripts": ["what is a websocket"],  # what the local server "hears" in the audio
        "rules": [{"match": "websocket", "reply": "A two-way pipe."}],
    }
    async with realtime_client(scenario, plugins=False) as client:
        await client.update_session(turn_detection=None, input_audio_transcription={"model": "whisper-1"})
        async with client:
            await client.append_input_audio(samples)
            await client.create_response()  # push-to-talk: commits the audio, then asks for a reply
            item = await next_assistant_message(client)
    reply = workdir / "reply.wav"
    audio.write_wav(reply, item["formatted"]["audio"])
    user = next(i for i in client.conversation.get_items() if i.get("role") == "user")
    print(f"heard: {user['formatted'].get('transcript')!r}")
    print(f"reply: {item['formatted']['transcript']!r}")
    print(f"wrote {reply} ({len(item['formatted']['audio']) / 24000:.2f} s)")


if __name__ == "__main__":
    run(main)
