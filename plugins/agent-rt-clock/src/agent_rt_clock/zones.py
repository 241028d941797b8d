"""Time zones by IANA name, with an error that tells the model what a valid name looks like."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["UnknownTimeZoneError", "describe_time", "load_zone"]

_HINT = "use an IANA name such as 'Europe/Paris', 'America/New_York' or 'UTC'"
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class UnknownTimeZoneError(ValueError):
    """No IANA time zone has this name."""


def load_zone(name: str) -> ZoneInfo:
    """The zone called ``name``; raises :class:`UnknownTimeZoneError` for anything else."""
    if not isinstance(name, str) or not name.strip():
        raise UnknownTimeZoneError(f"the time zone name is empty; {_HINT}")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory such as 'America'
        raise UnknownTimeZoneError(f"unknown time zone {name!r}; {_HINT}") from None


def describe_time(moment: datetime) -> dict[str, Any]:
    """The parts of an aware ``moment`` that a spoken answer needs."""
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return {
        "iso": moment.isoformat(timespec="seconds"),
        "date": moment.date().isoformat(),
        "time": moment.strftime("%H:%M:%S"),
        "weekday": _WEEKDAYS[moment.weekday()],
        "utc_offset": f"{sign}{hours:02d}:{rest:02d}",
        "abbreviation": moment.tzname(),
    }
