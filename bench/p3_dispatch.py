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


async def client_samples(count: int) -> tuple[list[float], list[float]]:
    """Through RealtimeClient and the local server, two legs of the critical path.

    * call → output: ``response.function_call_arguments.done`` (the call is complete) received,
      until ``conversation.item.create`` (its function_call_output) is sent;
    * done → create: ``response.done`` of that response received (the API takes no
      ``response.create`` before it), until ``response.create`` is sent.

    Marks are taken by ``server.<type>`` listeners, which run before the client handles the event,
    and by ``client.<type>`` listeners, which run as the event is written.
    """
    from agent_rt.server import LocalRealtimeServer

    scenario = {"rules": [{"calls": [{"name": "noop", "arguments": {"x": 1}}], "after_output": "done"}]}
    to_output: list[float] = []
    to_create: list[float] = []
    async with LocalRealtimeServer(scenario=scenario) as server:
        client = RealtimeClient(url=server.url, api_key="bench", plugins=False)
        await client.add_tool(DEFINITION, _noop)
        marks: dict[str, float] = {}

        def on_arguments_done(event: dict[str, Any]) -> None:
            marks["call"] = now()

        def on_response_done(event: dict[str, Any]) -> None:
            if any(item.get("type") == "function_call" for item in event["response"].get("output", [])):
                marks["done"] = now()

        def on_output(event: dict[str, Any]) -> None:
            if event["item"].get("type") == "function_call_output" and "call" in marks:
                to_output.append(now() - marks.pop("call"))

        def on_create(event: dict[str, Any]) -> None:
            if "done" in marks:
                to_create.append(now() - marks.pop("done"))

        client.realtime.on("server.response.function_call_arguments.done", on_arguments_done)
        client.realtime.on("server.response.done", on_response_done)
        client.realtime.on("client.conversation.item.create", on_output)
        client.realtime.on("client.response.create", on_create)
        async with client:
            for _ in range(count):
                marks.clear()
                await client.send_user_message_content([{"type": "input_text", "text": "go"}])
                while True:
                    item = await client.wait_for_next_completed_item(timeout=10)
                    if item.get("role") == "assistant":
                        break
    return to_output, to_create


def run(quick: bool) -> list[Row]:
    count = 300 if quick else 2000
    direct = anyio.run(executor_samples, count)
    to_output, to_create = anyio.run(client_samples, 30 if quick else 200)
    rows = []
    for label, samples in (
        ("execute_tool_call", direct),
        ("client, call complete → output sent", to_output),
        ("client, response.done → response.create sent", to_create),
    ):
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
