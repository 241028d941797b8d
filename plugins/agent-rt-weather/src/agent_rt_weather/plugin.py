"""The ``get_weather`` tool and the plugin hook that offers it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent_rt.hookspecs import hookimpl
from agent_rt.tools import Tool

from .service import DEFAULT_TIMEOUT, WeatherService

__all__ = ["WEATHER_DEFINITION", "agent_rt_tools", "make_weather_tool"]

#: The same shape as the reference client's demo tool, with coordinate ranges the executor enforces.
WEATHER_DEFINITION: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Retrieves the current weather (temperature and wind speed) for a latitude and longitude.",
    "parameters": {
        "type": "object",
        "properties": {
            "lat": {"type": "number", "minimum": -90, "maximum": 90, "description": "Latitude in degrees"},
            "lng": {"type": "number", "minimum": -180, "maximum": 180, "description": "Longitude in degrees"},
            "location": {"type": "string", "description": "Name of the location, e.g. 'Berlin'"},
        },
        "required": ["lat", "lng", "location"],
        "additionalProperties": False,
    },
}

#: Extra seconds over the HTTP timeout, so that the service's own "did not answer" message wins.
_TOOL_TIMEOUT_MARGIN = 5.0


def make_weather_tool(service: WeatherService | None = None) -> Tool:
    """The ``get_weather`` tool, answered by ``service`` (a default one when omitted)."""
    service = service or WeatherService()

    async def get_weather(arguments: dict[str, Any]) -> dict[str, Any]:
        return await service.current(arguments["lat"], arguments["lng"], arguments["location"])

    return Tool(WEATHER_DEFINITION, get_weather, timeout=service.timeout + _TOOL_TIMEOUT_MARGIN)


@hookimpl
def agent_rt_tools(config: Mapping[str, Any]) -> list[Tool]:
    """Config keys: ``url`` (forecast endpoint), ``timeout`` (seconds)."""
    unknown = sorted(set(config) - {"url", "timeout"})
    if unknown:
        raise ValueError(f"unknown weather plugin setting(s): {', '.join(unknown)}")
    service = WeatherService(url=config.get("url"), timeout=config.get("timeout", DEFAULT_TIMEOUT))
    return [make_weather_tool(service)]
