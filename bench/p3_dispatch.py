"""P3: tool dispatch overhead with a no-op handler — arguments complete to output + response.create sent."""

from __future__ import annotations

import json
from typing import Any

import anyio

from agent_rt import RealtimeClient
from agent_rt.tools import Tool, execute_tool_call

from .common import Row, now

DEFINITION = {
    "name": "noop",
    "description": "Does nothing",
    "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]},
}


async def _noop(arguments: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True}


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def executor_samples(count: int) -> list[float]:
    tool = Tool(DEFINITION, _noop)
    samples = []
    for index in range(count):
        start = now()
        result = await execute_tool_call(tool, "noop", f"call_{index}", '{"x": 1}')
        samples.append(now() - start)
        assert result.ok
    return samples


class _Recorder:
    """Stands in for the socket: records when the output and the response.create are written."""

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.sent: list[str] = []

    async def send_text(self, text: str) -> None:
        kind = json.loads(text)["type"]
        self.sent.append(kind)
        if kind == "response.create":
            self.done.set()


async def client_samples(count: int) -> list[float]:
    """Through RealtimeClient: server events in, until the output and response.create are written."""
    from agent_rt.server import LocalRealtimeServer

    scenario = {"rules": [{"calls": [{"name": "noop", "arguments": {"x": 1}}], "after_output": "done"}]}
    samples: list[float] = []
    async with LocalRealtimeServer(scenario=scenario) as server:
        client = RealtimeClient(url=server.url, api_key="bench", plugins=False)
        await client.add_tool(DEFINITION, _noop)
        marks: dict[str, float] = {}

        def on_server(event: dict[str, Any]) -> None:
            if event["type"] == "response.function_call_arguments.done":
                marks["start"] = now()

        def on_client(event: dict[str, Any]) -> None:
            if event["type"] == "response.create" and "start" in marks:
                samples.append(now() - marks.pop("start"))

        client.realtime.on("server.*", on_server)
        client.realtime.on("client.*", on_client)
        async with client:
            for _ in range(count):
                await client.send_user_message_content([{"type": "input_text", "text": "go"}])
                while True:
                    item = await client.wait_for_next_completed_item(timeout=10)
                    if item.get("role") == "assistant":
                        break
    return samples


def run(quick: bool) -> list[Row]:
    count = 300 if quick else 2000
    direct = anyio.run(executor_samples, count)
    through = anyio.run(client_samples, 30 if quick else 200)
    rows = []
    for label, samples in (("execute_tool_call", direct), ("client, args done → response.create", through)):
        p50, p99 = _percentile(samples, 0.5), _percentile(samples, 0.99)
        rows.append(
            Row(
                f"P3 tool dispatch ({label}, n={len(samples)})",
                f"p99 {p99 * 1e3:.3f} ms",
                f"p50 {p50 * 1e3:.3f} ms",
                None,
                "p99 < 1 ms",
                p99 < 1e-3,
            )
        )
    return rows
