"""The session configuration of one connection, in the wire shape of its dialect.

GA keeps audio settings nested (``audio.input.*`` / ``audio.output.*``, ``output_modalities``,
``max_output_tokens``); beta keeps them flat (``voice``, ``input_audio_format``, ``modalities``,
``max_response_output_tokens``), protocol.md §2. The effective session is stored exactly as
``session.created`` / ``session.updated`` show it; the properties read it back in one
normalised vocabulary so the rest of the server does not care about the dialect.

``session.update`` merges the fields present (nested ``audio`` objects merge key by key; a
``turn_detection`` or ``transcription`` object replaces the old one and is completed with the
service's defaults) and is all-or-nothing: any invalid field raises
:class:`~agent_rt.server.errors.ClientEventError` and the session stays unchanged.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal

from . import errors
from .validate import (
    check_bool,
    check_enum,
    check_int,
    check_keys,
    check_list,
    check_metadata,
    check_number,
    check_object,
    check_optional_str,
    check_str,
    check_token_limit,
    check_tool_choice,
    check_tools,
)

Dialect = Literal["ga", "beta"]
AudioFormat = Literal["pcm16", "g711_ulaw", "g711_alaw"]

GA_DEFAULT_MODEL = "gpt-realtime"
BETA_DEFAULT_MODEL = "gpt-4o-realtime-preview-2024-12-17"
DEFAULT_INSTRUCTIONS = (
    "You are a helpful, friendly voice assistant running on the agent_rt local Realtime server. "
    "Answers come from a deterministic script, not from a model."
)
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")
FLAT_FORMATS: tuple[AudioFormat, ...] = ("pcm16", "g711_ulaw", "g711_alaw")
_GA_FORMAT_TYPES: dict[str, AudioFormat] = {
    "audio/pcm": "pcm16",
    "audio/pcmu": "g711_ulaw",
    "audio/pcma": "g711_alaw",
}
_INCLUDE_VALUES = ("item.input_audio_transcription.logprobs",)
#: The session lasts 60 minutes in GA and 30 in late beta (protocol.md §1.6).
SESSION_SECONDS: dict[Dialect, int] = {"ga": 3600, "beta": 1800}

_GA_SESSION_KEYS = (
    "type", "model", "output_modalities", "instructions", "audio", "include", "tracing", "tools",
    "tool_choice", "max_output_tokens", "truncation", "prompt", "reasoning", "parallel_tool_calls",
)  # fmt: skip
_BETA_SESSION_KEYS = (
    "model", "modalities", "instructions", "voice", "input_audio_format", "output_audio_format",
    "input_audio_transcription", "turn_detection", "input_audio_noise_reduction", "tools", "tool_choice",
    "temperature", "max_response_output_tokens", "speed", "tracing", "prompt", "include",
)  # fmt: skip


def _server_vad_defaults(*, ga: bool) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 200,
    }
    if ga:
        defaults["idle_timeout_ms"] = None
    defaults["create_response"] = True
    defaults["interrupt_response"] = True
    return defaults


def default_session(dialect: Dialect, *, session_id: str, model: str, expires_at: int) -> dict[str, Any]:
    """The effective session of ``session.created``, shaped like the recorded ones (protocol.md §2)."""
    if dialect == "ga":
        return {
            "type": "realtime",
            "object": "realtime.session",
            "id": session_id,
            "model": model,
            "output_modalities": ["audio"],
            "instructions": DEFAULT_INSTRUCTIONS,
            "tools": [],
            "tool_choice": "auto",
            "max_output_tokens": "inf",
            "tracing": None,
            "truncation": "auto",
            "prompt": None,
            "expires_at": expires_at,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": None,
                    "noise_reduction": None,
                    "turn_detection": _server_vad_defaults(ga=True),
                },
                "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy", "speed": 1.0},
            },
            "include": None,
        }
    return {
        "id": session_id,
        "object": "realtime.session",
        "expires_at": expires_at,
        "input_audio_noise_reduction": None,
        "turn_detection": _server_vad_defaults(ga=False),
        "input_audio_format": "pcm16",
        "input_audio_transcription": None,
        "client_secret": None,
        "include": None,
        "model": model,
        "modalities": ["text", "audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "voice": "alloy",
        "output_audio_format": "pcm16",
        "tool_choice": "auto",
        "temperature": 0.8,
        "max_response_output_tokens": "inf",
        "speed": 1,
        "tools": [],
    }


# -- shared field checkers ---------------------------------------------------------------------


def _turn_detection(value: Any, param: str, *, ga: bool) -> dict[str, Any] | None:
    if value is None:
        return None
    given = check_object(value, param)
    kind = given.get("type", None if ga else "server_vad")
    if kind is None:
        raise errors.missing_parameter(f"{param}.type")
    check_enum(kind, f"{param}.type", ["server_vad", "semantic_vad"])
    if kind == "server_vad":
        check_keys(given, param, (*_server_vad_defaults(ga=True), "type"))
        result = _server_vad_defaults(ga=ga)
        for key, item in given.items():
            where = f"{param}.{key}"
            if key == "threshold":
                result[key] = check_number(item, where, minimum=0.0, maximum=1.0)
            elif key in ("prefix_padding_ms", "silence_duration_ms"):
                result[key] = check_int(item, where, minimum=0)
            elif key == "idle_timeout_ms":
                result[key] = None if item is None else check_int(item, where, minimum=5000, maximum=30000)
            elif key in ("create_response", "interrupt_response"):
                result[key] = check_bool(item, where)
        return result
    check_keys(given, param, ("type", "eagerness", "create_response", "interrupt_response"))
    result = {
        "type": "semantic_vad",
        "eagerness": "auto",
        "create_response": True,
        "interrupt_response": True,
    }
    for key, item in given.items():
        where = f"{param}.{key}"
        if key == "eagerness":
            result[key] = check_enum(item, where, ["low", "medium", "high", "auto"])
        elif key in ("create_response", "interrupt_response"):
            result[key] = check_bool(item, where)
    return result


def _transcription(value: Any, param: str, *, ga: bool) -> dict[str, Any] | None:
    if value is None:
        return None
    given = check_object(value, param)
    allowed = ("model", "language", "prompt", "languages", "keywords", "delay") if ga else (
        "model", "language", "prompt")  # fmt: skip
    check_keys(given, param, allowed)
    result: dict[str, Any] = {"model": None, "language": None, "prompt": None}
    for key, item in given.items():
        where = f"{param}.{key}"
        if key in ("model", "language", "prompt"):
            result[key] = check_optional_str(item, where)
        elif key in ("languages", "keywords"):
            result[key] = [
                check_str(entry, f"{where}[{i}]") for i, entry in enumerate(check_list(item, where))
            ]
        else:
            result[key] = check_enum(item, where, ["minimal", "low", "medium", "high", "xhigh"])
    return result


def _noise_reduction(value: Any, param: str) -> dict[str, Any] | None:
    if value is None:
        return None
    given = check_object(value, param)
    check_keys(given, param, ("type",))
    return {"type": check_enum(given.get("type"), f"{param}.type", ["near_field", "far_field"])}


def _ga_format(value: Any, param: str) -> dict[str, Any]:
    given = check_object(value, param)
    check_keys(given, param, ("type", "rate"))
    kind = check_enum(given.get("type"), f"{param}.type", list(_GA_FORMAT_TYPES))
    if kind == "audio/pcm":
        return {"type": kind, "rate": check_enum(given.get("rate", 24000), f"{param}.rate", [24000])}
    if "rate" in given:
        check_enum(given["rate"], f"{param}.rate", [8000])
    return {"type": kind}


def _ga_voice(value: Any, param: str) -> Any:
    if isinstance(value, dict):
        check_keys(value, param, ("id",))
        return {"id": check_str(value.get("id"), f"{param}.id")}
    return check_enum(check_str(value, param), param, VOICES)


def _include(value: Any, param: str) -> list[str] | None:
    if value is None:
        return None
    return [
        check_enum(entry, f"{param}[{i}]", _INCLUDE_VALUES)
        for i, entry in enumerate(check_list(value, param))
    ]


def _tracing(value: Any, param: str) -> Any:
    if value is None or value == "auto":
        return value
    given = check_object(value, param)
    check_keys(given, param, ("workflow_name", "group_id", "metadata"))
    return given


def _prompt(value: Any, param: str) -> Any:
    if value is None:
        return None
    given = check_object(value, param)
    check_keys(given, param, ("id", "version", "variables"))
    check_str(given.get("id"), f"{param}.id")
    return given


def _truncation(value: Any, param: str) -> Any:
    if isinstance(value, str):
        return check_enum(value, param, ["auto", "disabled"])
    given = check_object(value, param)
    check_keys(given, param, ("type", "retention_ratio", "token_limits"))
    check_enum(given.get("type"), f"{param}.type", ["retention_ratio"])
    check_number(given.get("retention_ratio"), f"{param}.retention_ratio", minimum=0.0, maximum=1.0)
    return given


def _modalities(value: Any, param: str, *, ga: bool) -> list[str]:
    given = check_list(value, param)
    for i, entry in enumerate(given):
        check_enum(entry, f"{param}[{i}]", ["text", "audio"])
    allowed = ({"text"}, {"audio"}) if ga else ({"text"}, {"text", "audio"})
    if len(set(given)) != len(given) or set(given) not in allowed:
        combos = "['text'] and ['audio']" if ga else "['text'] and ['audio', 'text']"
        raise errors.ClientEventError(
            "invalid_value",
            f"Invalid modalities: {given!r}. Supported combinations are: {combos}.",
            param=param,
        )
    return list(given)


# -- the session --------------------------------------------------------------------------------


class SessionConfig:
    """The effective session of one connection, kept in its dialect's wire shape."""

    def __init__(self, dialect: Dialect, data: dict[str, Any], *, model_fixed: bool = True) -> None:
        self.dialect = dialect
        self._data = data
        self._model_fixed = model_fixed

    @classmethod
    def create(
        cls, dialect: Dialect, *, session_id: str, model: str, expires_at: int, model_fixed: bool = True
    ) -> SessionConfig:
        """``model_fixed=False``: the URL named no model, so the first ``session.update`` may pick one."""
        data = default_session(dialect, session_id=session_id, model=model, expires_at=expires_at)
        return cls(dialect, data, model_fixed=model_fixed)

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of the full effective session (what ``session.updated`` carries)."""
        return copy.deepcopy(self._data)

    # -- normalised reads -----------------------------------------------------------------------

    @property
    def ga(self) -> bool:
        return self.dialect == "ga"

    @property
    def model(self) -> str:
        return str(self._data["model"])

    @property
    def input_format(self) -> AudioFormat:
        if self.ga:
            return _GA_FORMAT_TYPES[self._data["audio"]["input"]["format"]["type"]]
        fmt: AudioFormat = self._data["input_audio_format"]
        return fmt

    @property
    def output_format(self) -> AudioFormat:
        if self.ga:
            return _GA_FORMAT_TYPES[self._data["audio"]["output"]["format"]["type"]]
        fmt: AudioFormat = self._data["output_audio_format"]
        return fmt

    @property
    def output_format_object(self) -> Any:
        """The output format as the dialect writes it in response objects."""
        return (
            copy.deepcopy(self._data["audio"]["output"]["format"])
            if self.ga
            else self._data["output_audio_format"]
        )

    @property
    def voice(self) -> Any:
        return copy.deepcopy(self._data["audio"]["output"]["voice"] if self.ga else self._data["voice"])

    @property
    def modalities(self) -> list[str]:
        """``output_modalities`` (GA) or ``modalities`` (beta), as configured."""
        return list(self._data["output_modalities"] if self.ga else self._data["modalities"])

    @property
    def turn_detection(self) -> dict[str, Any] | None:
        td: dict[str, Any] | None = (
            self._data["audio"]["input"]["turn_detection"] if self.ga else self._data["turn_detection"]
        )
        return copy.deepcopy(td)

    @property
    def transcription(self) -> dict[str, Any] | None:
        tr: dict[str, Any] | None = (
            self._data["audio"]["input"]["transcription"]
            if self.ga
            else self._data["input_audio_transcription"]
        )
        return copy.deepcopy(tr)

    @property
    def instructions(self) -> str:
        return str(self._data["instructions"])

    @property
    def tools(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._data["tools"])

    @property
    def tool_choice(self) -> Any:
        return copy.deepcopy(self._data["tool_choice"])

    @property
    def max_output_tokens(self) -> int | str:
        value: int | str = self._data["max_output_tokens" if self.ga else "max_response_output_tokens"]
        return value

    @property
    def temperature(self) -> float | None:
        return None if self.ga else float(self._data["temperature"])

    # -- updates ---------------------------------------------------------------------------------

    def update(self, patch: Any, *, voice_locked: bool = False) -> None:
        """Apply a ``session.update`` payload, or raise ``ClientEventError`` and change nothing.

        ``voice_locked``: the model already produced audio, so the voice may no longer change.
        """
        given = check_object(patch, "session")
        updated = copy.deepcopy(self._data)
        if self.ga:
            self._update_ga(given, updated)
        else:
            self._update_beta(given, updated)
        new_voice = updated["audio"]["output"]["voice"] if self.ga else updated["voice"]
        if voice_locked and new_voice != self.voice:
            param = "session.audio.output.voice" if self.ga else "session.voice"
            raise errors.ClientEventError(
                "cannot_update_voice",
                "Cannot update a conversation's voice if assistant audio is present.",
                param=param,
            )
        if "model" in given:
            self._model_fixed = True
        self._data = updated

    def _check_model(self, value: Any, param: str, data: dict[str, Any]) -> None:
        if not self._model_fixed:
            data["model"] = check_str(value, param)
        elif check_str(value, param) != self._data["model"]:
            raise errors.ClientEventError(
                "invalid_value", "The model of a session cannot be changed with session.update.", param=param
            )

    def _update_ga(self, given: dict[str, Any], data: dict[str, Any]) -> None:
        check_keys(given, "session", _GA_SESSION_KEYS)
        if "type" not in given:
            raise errors.missing_parameter("session.type")
        check_enum(given["type"], "session.type", ["realtime"])
        for key, value in given.items():
            param = f"session.{key}"
            if key == "model":
                self._check_model(value, param, data)
            elif key == "output_modalities":
                data[key] = _modalities(value, param, ga=True)
            elif key == "instructions":
                data[key] = check_str(value, param)
            elif key == "tools":
                data[key] = copy.deepcopy(check_tools(value, param, allow_mcp=True))
            elif key == "tool_choice":
                data[key] = copy.deepcopy(check_tool_choice(value, param, allow_objects=True))
            elif key == "max_output_tokens":
                data[key] = check_token_limit(value, param)
            elif key == "include":
                data[key] = _include(value, param)
            elif key == "tracing":
                data[key] = copy.deepcopy(_tracing(value, param))
            elif key == "truncation":
                data[key] = copy.deepcopy(_truncation(value, param))
            elif key == "prompt":
                data[key] = copy.deepcopy(_prompt(value, param))
            elif key == "reasoning":
                reasoning = check_object(value, param)
                check_keys(reasoning, param, ("effort",))
                check_enum(
                    reasoning.get("effort"), f"{param}.effort", ["minimal", "low", "medium", "high", "xhigh"]
                )
                data[key] = copy.deepcopy(reasoning)
            elif key == "parallel_tool_calls":
                data[key] = check_bool(value, param)
            elif key == "audio":
                self._update_ga_audio(value, data["audio"])

    @staticmethod
    def _update_ga_audio(value: Any, audio: dict[str, Any]) -> None:
        given = check_object(value, "session.audio")
        check_keys(given, "session.audio", ("input", "output"))
        if "input" in given:
            inp = check_object(given["input"], "session.audio.input")
            check_keys(
                inp, "session.audio.input", ("format", "transcription", "noise_reduction", "turn_detection")
            )
            for key, item in inp.items():
                param = f"session.audio.input.{key}"
                if key == "format":
                    audio["input"][key] = _ga_format(item, param)
                elif key == "transcription":
                    audio["input"][key] = _transcription(item, param, ga=True)
                elif key == "noise_reduction":
                    audio["input"][key] = _noise_reduction(item, param)
                else:
                    audio["input"][key] = _turn_detection(item, param, ga=True)
        if "output" in given:
            out = check_object(given["output"], "session.audio.output")
            check_keys(out, "session.audio.output", ("format", "voice", "speed"))
            for key, item in out.items():
                param = f"session.audio.output.{key}"
                if key == "format":
                    audio["output"][key] = _ga_format(item, param)
                elif key == "voice":
                    audio["output"][key] = _ga_voice(item, param)
                else:
                    audio["output"][key] = check_number(item, param, minimum=0.25, maximum=1.5)

    def _update_beta(self, given: dict[str, Any], data: dict[str, Any]) -> None:
        check_keys(given, "session", _BETA_SESSION_KEYS)
        for key, value in given.items():
            param = f"session.{key}"
            if key == "model":
                self._check_model(value, param, data)
            elif key == "modalities":
                data[key] = _modalities(value, param, ga=False)
            elif key == "instructions":
                data[key] = check_str(value, param)
            elif key == "voice":
                data[key] = check_enum(check_str(value, param), param, VOICES)
            elif key in ("input_audio_format", "output_audio_format"):
                data[key] = check_enum(value, param, FLAT_FORMATS)
            elif key == "input_audio_transcription":
                data[key] = _transcription(value, param, ga=False)
            elif key == "turn_detection":
                data[key] = _turn_detection(value, param, ga=False)
            elif key == "input_audio_noise_reduction":
                data[key] = _noise_reduction(value, param)
            elif key == "tools":
                data[key] = copy.deepcopy(check_tools(value, param, allow_mcp=False))
            elif key == "tool_choice":
                data[key] = copy.deepcopy(check_tool_choice(value, param, allow_objects=True))
            elif key == "temperature":
                data[key] = check_number(value, param, minimum=0.6, maximum=1.2)
            elif key == "max_response_output_tokens":
                data[key] = check_token_limit(value, param)
            elif key == "speed":
                data[key] = check_number(value, param, minimum=0.25, maximum=1.5)
            elif key == "tracing":
                data[key] = copy.deepcopy(_tracing(value, param))
            elif key == "prompt":
                data[key] = copy.deepcopy(_prompt(value, param))
            elif key == "include":
                data[key] = _include(value, param)


# -- per-response overrides (protocol.md §2.7) ---------------------------------------------------

_GA_RESPONSE_KEYS = (
    "output_modalities", "instructions", "audio", "tools", "tool_choice", "max_output_tokens", "conversation",
    "metadata", "input", "prompt", "reasoning", "parallel_tool_calls",
)  # fmt: skip
_BETA_RESPONSE_KEYS = (
    "modalities", "instructions", "voice", "output_audio_format", "tools", "tool_choice", "temperature",
    "max_response_output_tokens", "conversation", "metadata", "input", "prompt",
)  # fmt: skip


@dataclass
class ResponseConfig:
    """What one response uses: the session's settings with the ``response.create`` overrides applied."""

    modalities: list[str]
    voice: Any
    output_format: AudioFormat
    output_format_object: Any
    instructions: str
    tools: list[dict[str, Any]]
    tool_choice: Any
    max_output_tokens: int | str
    temperature: float | None
    conversation: str
    metadata: dict[str, str] | None
    input: list[Any] | None

    @property
    def audio(self) -> bool:
        return "audio" in self.modalities

    @property
    def out_of_band(self) -> bool:
        return self.conversation == "none"


def response_config(session: SessionConfig, overrides: Any) -> ResponseConfig:
    """Merge a ``response.create``'s ``response`` object over the session; raise on invalid fields."""
    config = ResponseConfig(
        modalities=session.modalities,
        voice=session.voice,
        output_format=session.output_format,
        output_format_object=session.output_format_object,
        instructions=session.instructions,
        tools=session.tools,
        tool_choice=session.tool_choice,
        max_output_tokens=session.max_output_tokens,
        temperature=session.temperature,
        conversation="auto",
        metadata=None,
        input=None,
    )
    if overrides is None:
        return config
    given = check_object(overrides, "response")
    check_keys(given, "response", _GA_RESPONSE_KEYS if session.ga else _BETA_RESPONSE_KEYS)
    for key, value in given.items():
        param = f"response.{key}"
        if key in ("output_modalities", "modalities"):
            config.modalities = _modalities(value, param, ga=session.ga)
        elif key == "instructions":
            config.instructions = check_str(value, param)
        elif key == "tools":
            config.tools = copy.deepcopy(check_tools(value, param, allow_mcp=session.ga))
        elif key == "tool_choice":
            config.tool_choice = copy.deepcopy(check_tool_choice(value, param, allow_objects=True))
        elif key in ("max_output_tokens", "max_response_output_tokens"):
            config.max_output_tokens = check_token_limit(value, param)
        elif key == "temperature":
            config.temperature = check_number(value, param, minimum=0.6, maximum=1.2)
        elif key == "conversation":
            config.conversation = check_enum(value, param, ["auto", "none"])
        elif key == "metadata":
            config.metadata = copy.deepcopy(check_metadata(value, param))
        elif key == "input":
            config.input = copy.deepcopy(check_list(value, param))
        elif key == "voice":
            config.voice = check_enum(check_str(value, param), param, VOICES)
        elif key == "output_audio_format":
            config.output_format = check_enum(value, param, FLAT_FORMATS)
            config.output_format_object = config.output_format
        elif key == "audio":
            audio = check_object(value, param)
            check_keys(audio, param, ("output",))
            out = check_object(audio.get("output", {}), f"{param}.output")
            check_keys(out, f"{param}.output", ("format", "voice"))
            if "format" in out:
                fmt = _ga_format(out["format"], f"{param}.output.format")
                config.output_format = _GA_FORMAT_TYPES[fmt["type"]]
                config.output_format_object = fmt
            if "voice" in out:
                config.voice = _ga_voice(out["voice"], f"{param}.output.voice")
        elif key == "prompt":
            _prompt(value, param)
        elif key == "parallel_tool_calls":
            check_bool(value, param)
        elif key == "reasoning":
            check_object(value, param)
    return config
