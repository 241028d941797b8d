"""agent_rt plugin: the time in any IANA zone and a safe calculator, without network access."""

from __future__ import annotations

from .calculator import CalculatorError, evaluate
from .plugin import agent_rt_tools, make_clock_tools
from .zones import UnknownTimeZoneError, describe_time, load_zone

__version__ = "0.2.0"

__all__ = [
    "CalculatorError",
    "UnknownTimeZoneError",
    "__version__",
    "agent_rt_tools",
    "describe_time",
    "evaluate",
    "load_zone",
    "make_clock_tools",
]
