"""The Open-Meteo client: one GET per call, every failure turned into a sentence the model can use.

httpx is imported on first use, not at plugin discovery, so that listing plugins stays fast.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx

__all__ = ["DEFAULT_FORECAST_URL", "DEFAULT_TIMEOUT", "ENV_URL", "WeatherError", "WeatherService"]

DEFAULT_FORECAST_URL = "https://api.open-meteo.com/v1/forecast"
#: Points the plugin at another forecast endpoint (a mirror, a self-hosted Open-Meteo, a test server).
ENV_URL = "AGENT_RT_WEATHER_URL"
DEFAULT_TIMEOUT = 10.0

_CURRENT = "temperature_2m,wind_speed_10m"


class WeatherError(Exception):
    """The weather could not be fetched; the message explains why in plain words."""


class WeatherService:
    """Fetches current conditions; ``transport`` replaces the network (``httpx.MockTransport`` in tests)."""

    def __init__(
        self,
        *,
        url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        environ = os.environ if environ is None else environ
        self.url = url or environ.get(ENV_URL) or DEFAULT_FORECAST_URL
        if urlsplit(self.url).scheme not in ("http", "https"):
            raise ValueError(f"the weather URL must be http(s), got {self.url!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"the weather timeout must be a positive number of seconds, got {timeout!r}")
        self.timeout = float(timeout)
        self.transport = transport

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def source(self) -> str:
        """Who answered, for the model to cite: open-meteo.com, or the host of another endpoint."""
        hostname = urlsplit(self.url).hostname or ""
        return (
            "open-meteo.com"
            if hostname == "open-meteo.com" or hostname.endswith(".open-meteo.com")
            else self.host
        )

    async def current(self, lat: float, lng: float, location: str) -> dict[str, Any]:
        """Current temperature and wind speed at (``lat``, ``lng``); raises :class:`WeatherError`."""
        import httpx

        params: dict[str, float | str] = {"latitude": lat, "longitude": lng, "current": _CURRENT}
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as client:
                response = await client.get(self.url, params=params)
        except httpx.TimeoutException:
            raise WeatherError(
                f"the weather service ({self.host}) did not answer within {self.timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            detail = str(exc) or type(exc).__name__
            raise WeatherError(f"cannot reach the weather service ({self.host}): {detail}") from None
        if response.is_error:
            reason = _error_reason(response)
            raise WeatherError(
                f"the weather service answered HTTP {response.status_code}"
                + (f": {reason}" if reason else "")
            )
        try:
            body = response.json()
        except ValueError:
            raise WeatherError("the weather service sent an answer that is not JSON") from None
        return _read_current(body, lat, lng, location, self.source)


def _error_reason(response: httpx.Response) -> str:
    """Open-Meteo explains errors as ``{"error": true, "reason": "..."}``."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    reason = body.get("reason") if isinstance(body, dict) else None
    return reason if isinstance(reason, str) else response.reason_phrase


def _number(mapping: Mapping[str, Any], key: str) -> float:
    value = mapping.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise WeatherError(f"unexpected answer from the weather service: current.{key} is {value!r}")
    return value


def _read_current(body: object, lat: float, lng: float, location: str, source: str) -> dict[str, Any]:
    current = body.get("current") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(current, dict):
        raise WeatherError("unexpected answer from the weather service: no 'current' conditions")
    units = body.get("current_units")
    units = units if isinstance(units, dict) else {}
    return {
        "location": location,
        "latitude": body.get("latitude", lat),
        "longitude": body.get("longitude", lng),
        "temperature": _number(current, "temperature_2m"),
        "unit": str(units.get("temperature_2m", "°C")),
        "wind_speed": _number(current, "wind_speed_10m"),
        "wind_speed_unit": str(units.get("wind_speed_10m", "km/h")),
        "time": current.get("time"),
        "source": source,
    }
