"""The two protocol generations, mapped onto one vocabulary.

agent_rt speaks GA (the only interface the service still runs) and the original beta shape
(``OpenAI-Beta: realtime=v1``) for compatible servers and recorded traffic. Inside the library
every server event uses the GA name; the beta renames are mapped here, once, at the edge.

Session configuration is kept the way the application gave it (the reference client's flat
fields, GA's nested fields, or a mix) and translated to the wire shape of the dialect only when
sent: GA nests audio settings under ``audio.input`` / ``audio.output``; beta keeps them flat.
Everything here is pure: dicts in, dicts out, inputs never mutated.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Literal

from ..errors import ConfigurationError

Dialect = Literal["ga", "beta"]
DIALECTS: tuple[Dialect, ...] = ("ga", "beta")

#: Beta server event names and their GA equivalents (protocol.md §5.2).
BETA_TO_GA_EVENTS: Mapping[str, str] = {
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "transcription_session.created": "session.created",
    "transcription_session.updated": "session.updated",
}

#: Assistant content types in items: beta spelling -> GA spelling.
BETA_TO_GA_CONTENT: Mapping[str, str] = {"text": "output_text", "audio": "output_audio"}

#: Flat (reference / beta) audio format names and their GA objects.
_FORMAT_TO_GA: Mapping[str, dict[str, Any]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
_GA_TYPE_TO_FORMAT: Mapping[str, str] = {
    "audio/pcm": "pcm16",
    "audio/pcmu": "g711_ulaw",
    "audio/pcma": "g711_alaw",
}

#: Flat field -> (GA path) for fields that move into ``audio``.
_FLAT_AUDIO_FIELDS: Mapping[str, tuple[str, str]] = {
    "voice": ("output", "voice"),
    "speed": ("output", "speed"),
    "output_audio_format": ("output", "format"),
    "input_audio_format": ("input", "format"),
    "input_audio_transcription": ("input", "transcription"),
    "turn_detection": ("input", "turn_detection"),
    "input_audio_noise_reduction": ("input", "noise_reduction"),
}
_GA_AUDIO_TO_FLAT: Mapping[tuple[str, str], str] = {path: flat for flat, path in _FLAT_AUDIO_FIELDS.items()}

#: Beta-only fields that GA rejects and that have no GA equivalent.
GA_DROPPED_FIELDS = frozenset({"temperature"})


def check_dialect(dialect: str) -> Dialect:
    if dialect not in DIALECTS:
        raise ConfigurationError(f"protocol must be 'ga' or 'beta', not {dialect!r}")
    return dialect


def normalize_event_type(event_type: str) -> str:
    """The GA name of a server event type (beta names are renamed, others unchanged)."""
    return BETA_TO_GA_EVENTS.get(event_type, event_type)


def normalize_format(value: Any) -> str | None:
    """A flat audio format name (``pcm16``, ``g711_ulaw``, ``g711_alaw``) from either spelling."""
    if isinstance(value, str):
        return value if value in _FORMAT_TO_GA else None
    if isinstance(value, Mapping):
        kind = value.get("type")
        return _GA_TYPE_TO_FORMAT.get(kind) if isinstance(kind, str) else None
    return None


def _checked_format(value: Any) -> str | None:
    """The flat name of a format in either spelling; ``None`` stays ``None`` (server default)."""
    if value is None:
        return None
    name = normalize_format(value)
    if name is None:
        shown = dict(value) if isinstance(value, Mapping) else value
        raise ConfigurationError(
            f"unknown audio format {shown!r}: use 'pcm16', 'g711_ulaw' or 'g711_alaw' "
            "(or their GA objects, e.g. {'type': 'audio/pcmu'})"
        )
    return name


def _format_to_ga(value: Any) -> Any:
    name = _checked_format(value)
    if name is None or isinstance(value, Mapping):
        return value  # GA objects are kept as given (already copied)
    return dict(_FORMAT_TO_GA[name])


def _format_to_flat(value: Any) -> Any:
    return _checked_format(value)


def _audio_sides(value: Any) -> dict[str, Mapping[str, Any]]:
    """The ``input`` / ``output`` parts of a GA ``audio`` setting, checked (a ``None`` part is absent)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigurationError("audio must be a dict with 'input' and/or 'output'")
    sides: dict[str, Mapping[str, Any]] = {}
    for side, part in value.items():
        if side not in ("input", "output"):
            raise ConfigurationError(f"audio.{side} is not a valid audio setting: use 'input' and 'output'")
        if part is None:
            continue
        if not isinstance(part, Mapping):
            raise ConfigurationError(f"audio.{side} must be a dict, not {type(part).__name__}")
        sides[side] = part
    return sides


def _turn_detection_to_ga(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ConfigurationError("turn_detection must be a dict or None")
    if value.get("type") == "none":  # the reference README's spelling of "off"
        return None
    result = dict(value)
    result.setdefault("type", "server_vad")
    return result


def _turn_detection_to_flat(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ConfigurationError("turn_detection must be a dict or None")
    return None if value.get("type") == "none" else value


def _checked_modalities(value: Any) -> list[str]:
    modalities = list(value) if isinstance(value, (list, tuple)) else None
    if not modalities or any(m not in ("text", "audio") for m in modalities):
        raise ConfigurationError(f"modalities must be a non-empty list of 'text' and 'audio', not {value!r}")
    return modalities


def _modalities_to_ga(value: Any) -> list[str]:
    modalities = _checked_modalities(value)
    # GA takes one output modality: audio always carries its transcript, so ["text", "audio"] is ["audio"].
    return ["audio"] if "audio" in modalities else ["text"]


def _modalities_to_flat(value: Any) -> list[str]:
    modalities = _checked_modalities(value)
    return ["text", "audio"] if "audio" in modalities else ["text"]


def config_to_wire(config: Mapping[str, Any], dialect: Dialect, *, session: bool = True) -> dict[str, Any]:
    """Translate a session (or ``response.create`` override) config to the dialect's wire shape.

    ``config`` may use the reference client's flat fields, GA's nested fields, or both; fields
    the translation does not know pass through unchanged.
    """
    if check_dialect(dialect) == "ga":
        return _to_ga(config, session=session)
    return _to_beta(config)


def _to_ga(config: Mapping[str, Any], *, session: bool) -> dict[str, Any]:
    wire: dict[str, Any] = {}
    audio: dict[str, dict[str, Any]] = {
        side: copy.deepcopy(dict(part)) for side, part in _audio_sides(config.get("audio")).items()
    }
    for key, value in config.items():
        if key == "audio" or key in GA_DROPPED_FIELDS:
            continue
        if key in _FLAT_AUDIO_FIELDS:
            side, field = _FLAT_AUDIO_FIELDS[key]
            audio.setdefault(side, {})[field] = copy.deepcopy(value)
        elif key == "modalities" or key == "output_modalities":
            wire["output_modalities"] = _modalities_to_ga(value)
        elif key == "max_response_output_tokens":
            wire["max_output_tokens"] = value
        else:
            wire[key] = copy.deepcopy(value)
    for part in audio.values():
        if "format" in part:
            part["format"] = _format_to_ga(part["format"])
        if "turn_detection" in part:
            part["turn_detection"] = _turn_detection_to_ga(part["turn_detection"])
    if audio:
        wire["audio"] = audio
    if session:
        wire.setdefault("type", "realtime")
    return wire


def _to_beta(config: Mapping[str, Any]) -> dict[str, Any]:
    wire: dict[str, Any] = {}
    for side, part in _audio_sides(config.get("audio")).items():
        for field, value in part.items():
            flat = _GA_AUDIO_TO_FLAT.get((side, field))
            if flat is not None:
                wire[flat] = copy.deepcopy(value)
    for key, value in config.items():
        if key in ("audio", "type"):
            continue
        if key == "output_modalities":
            wire["modalities"] = _modalities_to_flat(value)
        elif key == "modalities":
            wire["modalities"] = _checked_modalities(value)
        elif key == "max_output_tokens":
            wire["max_response_output_tokens"] = value
        else:
            wire[key] = copy.deepcopy(value)
    for key in ("input_audio_format", "output_audio_format"):
        if key in wire:
            wire[key] = _format_to_flat(wire[key])
    if "turn_detection" in wire:
        wire["turn_detection"] = _turn_detection_to_flat(wire["turn_detection"])
    return wire


def read_setting(config: Mapping[str, Any], flat_name: str) -> Any:
    """Read a setting by its flat name from a config in either shape (``None`` when absent).

    Nested GA values win over flat ones only when the flat one is absent, matching how
    :func:`config_to_wire` lets the flat field override.
    """
    if flat_name in config:
        return config[flat_name]
    path = _FLAT_AUDIO_FIELDS.get(flat_name)
    if path is not None:
        audio = config.get("audio")
        if isinstance(audio, Mapping):
            side = audio.get(path[0])
            if isinstance(side, Mapping):
                return side.get(path[1])
    if flat_name == "modalities" and "output_modalities" in config:
        return config["output_modalities"]
    if flat_name == "max_response_output_tokens":
        return config.get("max_output_tokens")
    return None


def has_key(config: Mapping[str, Any], flat_name: str) -> bool:
    """Whether the config sets ``flat_name`` in either shape."""
    if flat_name in config:
        return True
    path = _FLAT_AUDIO_FIELDS.get(flat_name)
    if path is None:
        return False
    audio = config.get("audio")
    side = audio.get(path[0]) if isinstance(audio, Mapping) else None
    return isinstance(side, Mapping) and path[1] in side


def turn_detection_enabled(config: Mapping[str, Any]) -> bool:
    value = read_setting(config, "turn_detection")
    return isinstance(value, Mapping) and value.get("type") != "none"


def is_assistant_content(content_type: str) -> bool:
    return content_type in ("text", "audio", "output_text", "output_audio")


def flatten_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Rewrite GA-shaped settings under their flat names so that later updates override earlier ones.

    The client keeps its session config in this form; :func:`config_to_wire` turns it into either
    dialect. Nested audio fields the mapping does not know stay under ``audio``.
    """
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if key == "audio":
            residual: dict[str, dict[str, Any]] = {}
            for side, part in _audio_sides(value).items():
                for field, field_value in part.items():
                    name = _GA_AUDIO_TO_FLAT.get((side, field))
                    if name is None:
                        residual.setdefault(side, {})[field] = copy.deepcopy(field_value)
                    else:
                        flat[name] = copy.deepcopy(field_value)
            if residual:
                flat["audio"] = residual
        elif key == "output_modalities":
            flat["modalities"] = _modalities_to_flat(value)
        elif key == "max_output_tokens":
            flat["max_response_output_tokens"] = value
        else:
            flat[key] = copy.deepcopy(value)
    return flat


def merge_config(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Shallow merge as the reference client does, except the residual ``audio`` dict merges per side."""
    merged = dict(base)
    for key, value in update.items():
        if key == "audio" and isinstance(merged.get("audio"), Mapping) and isinstance(value, Mapping):
            audio = {side: dict(part) for side, part in merged["audio"].items()}
            for side, part in value.items():
                audio.setdefault(side, {}).update(part)
            merged["audio"] = audio
        else:
            merged[key] = value
    return merged
