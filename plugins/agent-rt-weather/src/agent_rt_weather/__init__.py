"""agent_rt plugin: current weather from the Open-Meteo forecast API (no API key needed)."""

from __future__ import annotations

from .plugin import WEATHER_DEFINITION, agent_rt_tools, make_weather_tool
from .service import DEFAULT_FORECAST_URL, DEFAULT_TIMEOUT, ENV_URL, WeatherError, WeatherService

__version__ = "0.2.0"

__all__ = [
    "DEFAULT_FORECAST_URL",
    "DEFAULT_TIMEOUT",
    "ENV_URL",
    "WEATHER_DEFINITION",
    "WeatherError",
    "WeatherService",
    "__version__",
    "agent_rt_tools",
    "make_weather_tool",
]
