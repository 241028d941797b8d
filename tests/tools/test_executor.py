"""execute_tool_call: every outcome becomes an output string; the handler only sees valid arguments."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from agent_rt.tools import Tool, ToolResult, execute_tool_call

pytestmark = pytest.mark.anyio

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "lat": {"type": "number"},
        "lng": {"type": "number"},
        "nested": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}},
    },
    "required": ["lat", "lng"],
}


def make_tool(
    handler: Callable[[dict[str, Any]], Any], *, timeout: float | None = None, schema: Any = None
) -> Tool:
    definition = {"name": "probe", "description": "A probe.", "parameters": schema or SCHEMA}
    return Tool(definition, handler, timeout=timeout)


class Recorder:
    """A handler that remembers its calls (async or sync flavour)."""

    def __init__(self, result: Any = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.threads: list[int] = []
        self.result = result

    async def async_handler(self, arguments: dict[str, Any]) -> Any:
        self.calls.append(arguments)
        return self.result

    def sync_handler(self, arguments: dict[str, Any]) -> Any:
        self.calls.append(arguments)
        self.threads.append(threading.get_ident())
        return self.result


def error_of(result: ToolResult) -> str:
    assert not result.ok
    assert result.error is not None
    assert json.loads(result.output) == {"error": result.error}
    return result.error


async def test_valid_call() -> None:
    recorder = Recorder({"temperature": 21.5, "unit": "°C"})
    result = await execute_tool_call(
        make_tool(recorder.async_handler), "probe", "call_1", '{"lat": 1, "lng": 2.5}'
    )
    assert recorder.calls == [{"lat": 1, "lng": 2.5}]
    assert result.ok
    assert result.error is None
    assert (result.name, result.call_id) == ("probe", "call_1")
    assert result.output == '{"temperature":21.5,"unit":"°C"}'
    assert result.duration > 0


async def test_result_is_frozen() -> None:
    result = await execute_tool_call(None, "x", "c", "{}")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.ok = True  # type: ignore[misc]


@pytest.mark.parametrize("value", [None, "text", 3, [1, 2], True])
async def test_any_json_value_is_encoded(value: Any) -> None:
    result = await execute_tool_call(
        make_tool(Recorder(value).async_handler), "probe", "c", '{"lat":0,"lng":0}'
    )
    assert result.ok
    assert json.loads(result.output) == value


async def test_unknown_tool() -> None:
    result = await execute_tool_call(None, "nope", "call_9", "{}")
    assert error_of(result) == "unknown tool 'nope'"
    assert (result.name, result.call_id) == ("nope", "call_9")


@pytest.mark.parametrize("arguments", ['{"lat": 1,', "not json", "{'lat': 1}"])
async def test_invalid_json_never_reaches_the_handler(arguments: str) -> None:
    recorder = Recorder()
    result = await execute_tool_call(make_tool(recorder.async_handler), "probe", "c", arguments)
    assert error_of(result).startswith("arguments are not valid JSON: ")
    assert recorder.calls == []


async def test_arguments_must_be_an_object() -> None:
    recorder = Recorder()
    result = await execute_tool_call(make_tool(recorder.async_handler), "probe", "c", "[1, 2]")
    assert error_of(result) == "arguments must be a JSON object, got list"
    assert recorder.calls == []


async def test_empty_arguments_count_as_an_empty_object() -> None:
    recorder = Recorder("ok")
    open_schema = {"type": "object", "properties": {}}
    result = await execute_tool_call(
        make_tool(recorder.async_handler, schema=open_schema), "probe", "c", "  "
    )
    assert result.ok
    assert recorder.calls == [{}]
    result = await execute_tool_call(make_tool(recorder.async_handler), "probe", "c", "")
    assert "'lat' is a required property" in error_of(result)


async def test_schema_violations_are_all_listed_with_paths() -> None:
    recorder = Recorder()
    arguments = json.dumps({"lat": "north", "nested": {"n": -1}})
    result = await execute_tool_call(make_tool(recorder.async_handler), "probe", "c", arguments)
    assert error_of(result) == (
        "invalid arguments: $: 'lng' is a required property; "
        "$.lat: 'north' is not of type 'number'; "
        "$.nested.n: -1 is less than the minimum of 0"
    )
    assert recorder.calls == []


async def test_sync_handler_never_called_with_bad_arguments() -> None:
    recorder = Recorder()
    result = await execute_tool_call(make_tool(recorder.sync_handler), "probe", "c", '{"lat": 1}')
    assert "'lng' is a required property" in error_of(result)
    assert recorder.calls == []


async def test_long_schema_messages_are_clipped() -> None:
    arguments = json.dumps({"lat": "x" * 5000, "lng": 0})
    result = await execute_tool_call(make_tool(Recorder().async_handler), "probe", "c", arguments)
    assert len(error_of(result)) < 400


async def test_handler_exception_becomes_an_error_output(caplog: pytest.LogCaptureFixture) -> None:
    async def boom(arguments: dict[str, Any]) -> None:
        raise ValueError("the sky fell")

    with caplog.at_level(logging.WARNING, logger="agent_rt.tools"):
        result = await execute_tool_call(make_tool(boom), "probe", "call_3", '{"lat":0,"lng":0}')
    assert error_of(result) == "ValueError: the sky fell"
    assert "call_3" in caplog.text
    assert "ValueError" in caplog.text


async def test_exception_without_message() -> None:
    def boom(arguments: dict[str, Any]) -> None:
        raise RuntimeError

    result = await execute_tool_call(make_tool(boom), "probe", "c", '{"lat":0,"lng":0}')
    assert error_of(result) == "RuntimeError"


async def test_a_handler_raising_timeout_error_is_not_reported_as_our_timeout() -> None:
    async def slow_backend(arguments: dict[str, Any]) -> None:
        raise TimeoutError("backend took too long")

    result = await execute_tool_call(make_tool(slow_backend, timeout=30), "probe", "c", '{"lat":0,"lng":0}')
    assert error_of(result) == "TimeoutError: backend took too long"


async def test_timeout_cancels_an_async_handler() -> None:
    never = anyio.Event()
    cleaned_up: list[bool] = []

    async def stuck(arguments: dict[str, Any]) -> None:
        try:
            await never.wait()
        finally:
            cleaned_up.append(True)

    with anyio.fail_after(5):
        result = await execute_tool_call(make_tool(stuck, timeout=0.01), "probe", "c", '{"lat":0,"lng":0}')
    assert error_of(result) == "tool 'probe' timed out after 0.01 s"
    assert cleaned_up == [True]
    assert result.duration >= 0.01


async def test_timeout_answers_a_blocked_sync_handler_on_time() -> None:
    release = threading.Event()
    entered = threading.Event()

    def blocked(arguments: dict[str, Any]) -> None:
        entered.set()
        release.wait(10)

    try:
        with anyio.fail_after(5):
            result = await execute_tool_call(
                make_tool(blocked, timeout=0.01), "probe", "c", '{"lat":0,"lng":0}'
            )
        assert error_of(result) == "tool 'probe' timed out after 0.01 s"
        assert entered.is_set()
    finally:
        release.set()  # let the abandoned worker thread finish


async def test_sync_handler_runs_in_a_worker_thread() -> None:
    recorder = Recorder({"ok": True})
    result = await execute_tool_call(make_tool(recorder.sync_handler), "probe", "c", '{"lat":0,"lng":0}')
    assert result.ok
    assert result.output == '{"ok":true}'
    assert recorder.calls == [{"lat": 0, "lng": 0}]
    assert recorder.threads != [threading.get_ident()]


async def test_sync_callable_returning_an_awaitable_is_awaited() -> None:
    async def produce() -> str:
        return "later"

    def handler(arguments: dict[str, Any]) -> Awaitable[str]:
        return produce()

    result = await execute_tool_call(make_tool(handler), "probe", "c", '{"lat":0,"lng":0}')
    assert result.output == '"later"'


async def test_async_callable_object() -> None:
    class Handler:
        async def __call__(self, arguments: dict[str, Any]) -> int:
            return int(arguments["lat"]) * 2

    result = await execute_tool_call(make_tool(Handler()), "probe", "c", '{"lat":21,"lng":0}')
    assert result.output == "42"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (object(), "Object of type object is not JSON serializable"),
        ({1, 2}, "Object of type set is not JSON serializable"),
        (float("nan"), "Out of range float values are not JSON compliant"),
    ],
)
async def test_unencodable_result(value: object, message: str) -> None:
    result = await execute_tool_call(
        make_tool(Recorder(value).async_handler), "probe", "c", '{"lat":0,"lng":0}'
    )
    assert error_of(result).startswith("result is not JSON-encodable: ")
    assert message in error_of(result)


async def test_cancellation_propagates() -> None:
    started = anyio.Event()
    finished: list[ToolResult] = []

    async def waits(arguments: dict[str, Any]) -> None:
        started.set()
        await anyio.Event().wait()

    async def run() -> None:
        finished.append(await execute_tool_call(make_tool(waits), "probe", "c", '{"lat":0,"lng":0}'))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(run)
            await started.wait()
            group.cancel_scope.cancel()
    assert finished == []
