"""Every event on the wire as a JSON line (``realtime.event``), with long audio fields shortened."""

from __future__ import annotations

import json
from typing import Any

from _common import realtime_client, run


def shorten(value: Any) -> Any:
    """Replace long strings (base64 audio) by their length, recursively."""
    if isinstance(value, str) and len(value) > 80:
        return f"<{len(value)} chars>"
    if isinstance(value, dict):
        return {key: shorten(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shorten(item) for item in value]
    return value


async def main() -> None:
    async with realtime_client(plugins=False) as client:

        def log(event: dict[str, Any]) -> None:
            record = {"time": event["time"], "source": event["source"], "event": shorten(event["event"])}
            print(json.dumps(record))

        client.on("realtime.event", log)
        async with client:
            await client.send_user_message_content([{"type": "input_text", "text": "Say hello."}])
            await client.realtime.wait_for_next("server.response.done", timeout=30)


if __name__ == "__main__":
    run(main)
