"""The weather lookup through the ``agent-rt-weather`` plugin (``pip install ./plugins/agent-rt-weather``).

The client loads installed plugins by itself: no tool code here. The model calls
``get_weather(lat, lng, location)``, the client validates the arguments, fetches the forecast and sends
the result back, and the model answers from it.

Offline, a small loopback stand-in for the Open-Meteo forecast endpoint answers instead of the real
one (``AGENT_RT_WEATHER_URL`` points the plugin at it), so the example needs no network.
"""

from __future__ import annotations

import json
import os
from typing import Any

import anyio
import anyio.abc
from _common import ask, live, realtime_client, run, stream_transcripts

SCENARIO = {
    "rules": [
        {
            "match": "weather",
            "calls": [
                {"name": "get_weather", "arguments": {"lat": 48.8566, "lng": 2.3522, "location": "Paris"}}
            ],
            "after_output": "Right now in {output.location} it is {output.temperature}{output.unit}, "
            "with wind at {output.wind_speed} {output.wind_speed_unit}.",
        }
    ]
}

FORECAST = {
    "latitude": 48.86,
    "longitude": 2.35,
    "current_units": {"temperature_2m": "°C", "wind_speed_10m": "km/h"},
    "current": {"time": "2026-11-24T12:00", "temperature_2m": 9.5, "wind_speed_10m": 14.2},
}


async def serve_forecast(task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
    """A minimal HTTP server that answers every request with :data:`FORECAST` (offline stand-in)."""
    body = json.dumps(FORECAST).encode()
    head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
    answer = head.encode() + b"connection: close\r\n\r\n" + body

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            request = b""
            while b"\r\n\r\n" not in request:
                request += await stream.receive()
            await stream.send(answer)

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    task_status.started(listener.extra(anyio.abc.SocketAttribute.local_port))
    await listener.serve(handle)


async def conversation() -> None:
    async with realtime_client(SCENARIO) as client:
        if client.tools.get("get_weather") is None:
            raise SystemExit("install the plugin first: pip install ./plugins/agent-rt-weather")
        client.on("tool.call.finished", lambda e: print(f"\n[tool] {e['name']} -> {e['output']}"))
        stream_transcripts(client)
        async with client:
            await ask(client, "What's the weather in Paris right now?")


async def main() -> None:
    if live():
        await conversation()
        return
    async with anyio.create_task_group() as group:
        port: Any = await group.start(serve_forecast)
        os.environ["AGENT_RT_WEATHER_URL"] = f"http://127.0.0.1:{port}/v1/forecast"
        print(f"offline: a loopback stand-in answers for api.open-meteo.com (port {port}), with canned data")
        await conversation()
        group.cancel_scope.cancel()


if __name__ == "__main__":
    run(main)
