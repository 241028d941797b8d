"""OpenTelemetry: one text turn with a tool call against the local server yields the expected span tree.

The SDK's in-memory exporter records what ``agent_rt.telemetry.instrument`` produced; asyncio and trio,
GA and beta.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from agent_rt import RealtimeClient, function_tool
from agent_rt.server import LocalRealtimeServer
from agent_rt.telemetry import instrument

SECRET = "sk-telemetry-0123456789abcdefghijSECRET"

SCENARIO = {
    "rules": [
        {
            "match": "weather",
            "calls": [{"name": "lookup_weather", "arguments": {"city": "Oslo"}}],
            "after_output": "It is {output.temperature} degrees in {output.city}.",
        },
        {"match": "fail", "calls": [{"name": "broken_tool", "arguments": {}}], "after_output": "Sorry."},
    ]
}


@function_tool
def lookup_weather(city: str) -> dict[str, Any]:
    """The weather in a city."""
    return {"city": city, "temperature": 7}


@function_tool
def broken_tool() -> str:
    """Always fails."""
    raise RuntimeError("the backend is down")


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


async def one_turn(exporter: InMemorySpanExporter, text: str, protocol: str = "ga") -> list[ReadableSpan]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client = RealtimeClient(api_key=SECRET, url=server.url, protocol=protocol, plugins=False)
        await client.add_tool(lookup_weather)
        await client.add_tool(broken_tool)
        handle = instrument(client, tracer_provider=provider)
        done: list[object] = []
        both_done = anyio.Event()

        def on_done(event: object) -> None:
            done.append(event)
            if len(done) == 2:  # the response that called the tool and the one after its output
                both_done.set()

        client.realtime.on("server.response.done", on_done)
        async with client:
            await client.send_user_message_content([{"type": "input_text", "text": text}])
            with anyio.fail_after(10):
                await both_done.wait()
    assert handle.failures == 0, handle.last_error
    return list(exporter.get_finished_spans())


def attrs(span: ReadableSpan) -> Mapping[str, Any]:
    return span.attributes or {}


def children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    return [
        span for span in spans if span.parent is not None and span.parent.span_id == parent.context.span_id
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("protocol", ["ga", "beta"])
async def test_a_turn_with_a_tool_call_makes_the_span_tree(
    exporter: InMemorySpanExporter, protocol: str
) -> None:
    spans = await one_turn(exporter, "weather please", protocol)
    [session] = [span for span in spans if span.parent is None]
    assert session.name.startswith("realtime ")
    assert session.kind == SpanKind.CLIENT
    assert attrs(session)["gen_ai.operation.name"] == "realtime"
    assert attrs(session)["gen_ai.provider.name"] == "openai"
    assert attrs(session)["server.address"] == "127.0.0.1"
    assert str(attrs(session)["gen_ai.conversation.id"]).startswith("sess_")

    responses = children(spans, session)
    assert [span.name.split()[0] for span in responses] == ["chat", "chat"]
    first, second = sorted(responses, key=lambda span: span.start_time or 0)
    for response in (first, second):
        values = attrs(response)
        assert values["gen_ai.operation.name"] == "chat"
        assert values["agent_rt.response.status"] == "completed"
        assert values["gen_ai.response.finish_reasons"] == ("completed",)
        assert str(values["gen_ai.response.id"]).startswith("resp_")
        assert int(values["gen_ai.usage.input_tokens"]) > 0
        assert int(values["gen_ai.usage.output_tokens"]) > 0
        assert values["gen_ai.conversation.id"] == attrs(session)["gen_ai.conversation.id"]

    [tool] = children(spans, first)
    assert children(spans, second) == []
    assert tool.name == "execute_tool lookup_weather"
    assert tool.kind == SpanKind.INTERNAL
    values = attrs(tool)
    assert values["gen_ai.tool.name"] == "lookup_weather"
    assert str(values["gen_ai.tool.call.id"]).startswith("call_")
    assert values["gen_ai.response.id"] == attrs(first)["gen_ai.response.id"]
    assert values["agent_rt.tool.outcome"] == "ok"
    assert float(values["agent_rt.tool.duration"]) >= 0
    assert tool.status.status_code == StatusCode.UNSET
    assert len(spans) == 4
    # the tool ran between the two responses, and everything ended inside the session
    assert first.start_time is not None
    assert tool.start_time is not None
    assert second.start_time is not None
    assert session.end_time is not None
    assert first.start_time <= tool.start_time <= second.start_time
    assert all(span.end_time is not None and span.end_time <= session.end_time for span in spans)


@pytest.mark.anyio
async def test_a_failing_tool_is_an_error_span(exporter: InMemorySpanExporter) -> None:
    spans = await one_turn(exporter, "fail now")
    [tool] = [span for span in spans if span.name.startswith("execute_tool")]
    assert tool.name == "execute_tool broken_tool"
    assert attrs(tool)["agent_rt.tool.outcome"] == "error"
    assert attrs(tool)["error.type"] == "tool_error"
    assert tool.status.status_code == StatusCode.ERROR


@pytest.mark.anyio
async def test_no_audio_no_text_and_no_secret_in_any_attribute(exporter: InMemorySpanExporter) -> None:
    spans = await one_turn(exporter, "weather please")
    for span in spans:
        recorded = [
            *attrs(span).values(),
            *(value for event in span.events for value in (event.attributes or {}).values()),
        ]
        for value in recorded:
            text = str(value)
            assert SECRET not in text
            assert len(text) < 100, (span.name, text)  # no base64 audio, no transcripts
            assert "Oslo" not in text  # no arguments or outputs
            assert "degrees" not in text  # no replies


def test_importing_agent_rt_does_not_import_opentelemetry() -> None:
    code = (
        "import sys, agent_rt; "
        "print(any(name.startswith(('opentelemetry', 'agent_rt.telemetry')) for name in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"


def test_without_opentelemetry_instrument_says_which_extra_to_install() -> None:
    code = (
        "import sys; sys.modules['opentelemetry'] = None\n"
        "from agent_rt import RealtimeClient, ConfigurationError\n"
        "from agent_rt.telemetry import instrument\n"
        "try:\n"
        "    instrument(RealtimeClient(api_key='x', plugins=False))\n"
        "except ConfigurationError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "agent_rt.telemetry needs opentelemetry-api: pip install 'agentrt[otel]'"


@pytest.mark.anyio
async def test_a_reconnect_ends_one_session_span_and_starts_another(exporter: InMemorySpanExporter) -> None:
    from agent_rt import ReconnectPolicy

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    fast = ReconnectPolicy(initial_delay=0.01, max_delay=0.04, jitter=0.0, max_attempts=3, attempt_timeout=5)
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client = RealtimeClient(api_key=SECRET, url=server.url, plugins=False, reconnect=fast)
        handle = instrument(client, tracer_provider=provider)
        async with client:
            await client.wait_for_session_created(timeout=10)
            with anyio.fail_after(10):
                await client.realtime.abort()  # as a failed network would
                await client.wait_for_next("reconnected")
            await client.wait_for_session_created(timeout=10)
    assert handle.failures == 0, handle.last_error
    sessions = sorted(
        (span for span in exporter.get_finished_spans() if span.name.startswith("realtime")),
        key=lambda span: span.start_time or 0,
    )
    assert len(sessions) == 2
    first, second = (attrs(span) for span in sessions)
    assert first["agent_rt.close.code"] == 1006
    assert first["gen_ai.conversation.id"] != second["gen_ai.conversation.id"]
    assert all(span.parent is None for span in sessions)
