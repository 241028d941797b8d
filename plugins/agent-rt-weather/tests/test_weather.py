"""agent_rt_weather against httpx.MockTransport: no network, every failure mode readable."""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Callable
from typing import Any

import agent_rt_weather
import httpx
import pytest
from agent_rt_weather import (
    DEFAULT_FORECAST_URL,
    ENV_URL,
    WeatherError,
    WeatherService,
    agent_rt_tools,
    make_weather_tool,
)

from agent_rt.plugins import load_plugins
from agent_rt.tools import execute_tool_call

pytestmark = pytest.mark.anyio

BERLIN = {
    "latitude": 52.52,
    "longitude": 13.419998,
    "generationtime_ms": 0.03,
    "utc_offset_seconds": 0,
    "timezone": "GMT",
    "elevation": 38.0,
    "current_units": {
        "time": "iso8601",
        "interval": "seconds",
        "temperature_2m": "°C",
        "wind_speed_10m": "km/h",
    },
    "current": {"time": "2025-01-15T12:00", "interval": 900, "temperature_2m": 3.4, "wind_speed_10m": 11.2},
}


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Server:
    """Answers with a fixed response (or raises) and records the requests."""

    def __init__(self, respond: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self.respond = respond

    def transport(self) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return self.respond(request)

        return httpx.MockTransport(handler)

    def service(self, **kwargs: Any) -> WeatherService:
        kwargs.setdefault("environ", {})
        return WeatherService(transport=self.transport(), **kwargs)


def answer(status: int = 200, body: Any = BERLIN, **kwargs: Any) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json=body, **kwargs)


def fail(exc: type[httpx.TransportError], message: str) -> Callable[[httpx.Request], httpx.Response]:
    def respond(request: httpx.Request) -> httpx.Response:
        raise exc(message, request=request)

    return respond


async def test_current_weather_and_the_request_sent() -> None:
    server = Server(answer())
    result = await server.service().current(52.52, 13.41, "Berlin")
    assert result == {
        "location": "Berlin",
        "latitude": 52.52,
        "longitude": 13.419998,
        "temperature": 3.4,
        "unit": "°C",
        "wind_speed": 11.2,
        "wind_speed_unit": "km/h",
        "time": "2025-01-15T12:00",
        "source": "open-meteo.com",
    }
    [request] = server.requests
    assert request.method == "GET"
    assert str(request.url.copy_with(query=None)) == DEFAULT_FORECAST_URL
    assert dict(request.url.params) == {
        "latitude": "52.52",
        "longitude": "13.41",
        "current": "temperature_2m,wind_speed_10m",
    }


async def test_through_the_executor() -> None:
    server = Server(answer())
    tool = make_weather_tool(server.service())
    arguments = json.dumps({"lat": 52.52, "lng": 13.41, "location": "Berlin"})
    result = await execute_tool_call(tool, "get_weather", "call_1", arguments)
    assert result.ok, result.error
    output = json.loads(result.output)
    assert (output["location"], output["temperature"], output["unit"]) == ("Berlin", 3.4, "°C")


async def test_out_of_range_coordinates_never_reach_the_service() -> None:
    server = Server(answer())
    tool = make_weather_tool(server.service())
    arguments = json.dumps({"lat": 100, "lng": 13.41, "location": "Nowhere"})
    result = await execute_tool_call(tool, "get_weather", "c", arguments)
    assert not result.ok
    assert "$.lat: 100 is greater than the maximum of 90" in str(result.error)
    assert server.requests == []


@pytest.mark.parametrize(
    ("respond", "message"),
    [
        (
            answer(400, {"error": True, "reason": "Latitude must be in range of -90 to 90°. Given: 100.0."}),
            "the weather service answered HTTP 400: Latitude must be in range of -90 to 90°. Given: 100.0.",
        ),
        (
            lambda request: httpx.Response(503, text="<html>down</html>"),
            "answered HTTP 503: Service Unavailable",
        ),
        (
            lambda request: httpx.Response(200, text="<html>"),
            "the weather service sent an answer that is not JSON",
        ),
        (answer(body=["not", "an", "object"]), "unexpected answer from the weather service: no 'current'"),
        (answer(body={"latitude": 1}), "unexpected answer from the weather service: no 'current'"),
        (
            answer(body={**BERLIN, "current": {"temperature_2m": None, "wind_speed_10m": 1}}),
            "unexpected answer from the weather service: current.temperature_2m is None",
        ),
        (
            answer(body={**BERLIN, "current": {"temperature_2m": 1, "wind_speed_10m": "fast"}}),
            "unexpected answer from the weather service: current.wind_speed_10m is 'fast'",
        ),
        (
            fail(httpx.ConnectError, "[Errno -3] Temporary failure in name resolution"),
            "cannot reach the weather service (api.open-meteo.com): [Errno -3] Temporary failure",
        ),
        (
            fail(httpx.ReadTimeout, "timed out"),
            "the weather service (api.open-meteo.com) did not answer within 10 s",
        ),
    ],
)
async def test_failures_are_readable(
    respond: Callable[[httpx.Request], httpx.Response], message: str
) -> None:
    with pytest.raises(WeatherError) as caught:
        await Server(respond).service().current(0.0, 0.0, "Null Island")
    assert message in str(caught.value)


async def test_failure_becomes_the_error_output_the_model_sees() -> None:
    tool = make_weather_tool(Server(fail(httpx.ConnectError, "offline")).service())
    arguments = json.dumps({"lat": 1, "lng": 2, "location": "X"})
    result = await execute_tool_call(tool, "get_weather", "c", arguments)
    assert json.loads(result.output) == {
        "error": "WeatherError: cannot reach the weather service (api.open-meteo.com): offline"
    }


async def test_other_endpoint_by_argument_and_by_environment() -> None:
    server = Server(answer())
    await server.service(url="http://localhost:8080/v1/forecast").current(1, 2, "a")
    await server.service(environ={ENV_URL: "https://mirror.example/forecast"}).current(1, 2, "b")
    assert [str(request.url.copy_with(query=None)) for request in server.requests] == [
        "http://localhost:8080/v1/forecast",
        "https://mirror.example/forecast",
    ]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="must be http"):
        WeatherService(url="ftp://example.com", environ={})
    with pytest.raises(ValueError, match="positive number"):
        WeatherService(timeout=0, environ={})


def test_hook_builds_the_tool_from_config() -> None:
    [tool] = agent_rt_tools({"url": "http://localhost:1/forecast", "timeout": 2})
    assert tool.name == "get_weather"
    assert tool.timeout == 7.0  # the HTTP timeout plus a margin, so the service's message wins
    assert [tool.name for tool in agent_rt_tools({})] == ["get_weather"]
    with pytest.raises(ValueError, match="unknown weather plugin setting"):
        agent_rt_tools({"api_key": "x"})


def test_definition_matches_the_reference_tool() -> None:
    [tool] = agent_rt_tools({})
    assert tool.parameters["required"] == ["lat", "lng", "location"]
    assert {name: spec["type"] for name, spec in tool.parameters["properties"].items()} == {
        "lat": "number",
        "lng": "number",
        "location": "string",
    }


def test_loads_as_an_explicit_plugin() -> None:
    loaded = load_plugins({"weather": agent_rt_weather}, entry_points=False, environ={})
    assert [(tool.name, tool.plugin) for tool in loaded.tools] == [("get_weather", "weather")]


def test_installed_package_is_found_through_its_entry_point() -> None:
    # Installed by the README's test command; its absence is a failure, not a reason to skip.
    importlib.metadata.distribution("agentrt-weather")
    loaded = load_plugins(enabled=["weather"], environ={})
    assert loaded.errors == ()
    [info] = loaded.plugins
    assert (info.name, info.source, info.dist) == ("weather", "entry point", "agentrt-weather")
    assert [tool.name for tool in info.tools] == ["get_weather"]


async def test_the_source_names_the_endpoint_that_answered() -> None:
    server = Server(answer())
    mirror = server.service(url="http://127.0.0.1:8999/v1/forecast")
    assert (await mirror.current(52.52, 13.41, "Berlin"))["source"] == "127.0.0.1:8999"
    customer = server.service(url="https://customer-api.open-meteo.com/v1/forecast")
    assert (await customer.current(52.52, 13.41, "Berlin"))["source"] == "open-meteo.com"
