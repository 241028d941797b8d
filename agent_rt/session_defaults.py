"""Session defaults from plugins: the fields allowed, one plugin's checked, several combined.

Pure functions over dicts (no plugin machinery): :mod:`agent_rt.plugins` calls the hooks and turns
the problems reported here into plugin errors and conflicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .errors import ConfigurationError
from .protocol.dialect import config_to_wire, flatten_config

__all__ = ["FIELDS", "Combined", "SessionDefaultsError", "check"]

#: Session fields (flat spelling) a plugin may default; tools come from ``agent_rt_tools`` only.
FIELDS = frozenset(
    {
        "instructions",
        "voice",
        "speed",
        "turn_detection",
        "input_audio_transcription",
        "input_audio_noise_reduction",
        "modalities",
        "temperature",
        "max_response_output_tokens",
        "truncation",
    }
)


class SessionDefaultsError(ValueError):
    """A plugin's defaults are unusable; the message is the one-line reason."""


def check(results: Iterable[object]) -> dict[str, Any]:
    """One plugin's hook results (dicts, flat or GA spelling) as one flat dict, checked."""
    fields: dict[str, Any] = {}
    for result in results:
        if not isinstance(result, Mapping):
            raise SessionDefaultsError(
                f"agent_rt_session_defaults returned {type(result).__name__}, expected a dict"
            )
        try:
            flat = flatten_config(result)
        except ConfigurationError as exc:
            raise SessionDefaultsError(f"invalid session defaults: ConfigurationError: {exc}") from exc
        refused = sorted(set(flat) - FIELDS)
        if refused:
            raise SessionDefaultsError(
                f"session default {refused[0]!r} is not allowed (allowed: {', '.join(sorted(FIELDS))})"
            )
        if "instructions" in flat and not isinstance(flat["instructions"], str):
            raise SessionDefaultsError("session default 'instructions' must be a string")
        fields.update(flat)
    if fields:
        try:
            config_to_wire(fields, "ga")
        except ConfigurationError as exc:
            raise SessionDefaultsError(f"invalid session defaults: ConfigurationError: {exc}") from exc
    return fields


class Combined:
    """Several plugins' defaults in load order: instruction fragments add up, other fields go to the first."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self._owner: dict[str, str] = {}
        self._fragments: list[str] = []

    def add(self, plugin: str, fields: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Take ``plugin``'s fields; returns ``(field, first plugin)`` for each field already taken."""
        taken: list[tuple[str, str]] = []
        for key, value in fields.items():
            if key == "instructions":
                if value.strip():
                    self._fragments.append(value.strip())
                    self.fields["instructions"] = "\n\n".join(self._fragments)
                continue
            first = self._owner.setdefault(key, plugin)
            if first == plugin:
                self.fields[key] = value
            else:
                taken.append((key, first))
        return taken
