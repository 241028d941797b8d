"""SessionSettings: the session config a client sends, and how to read a setting in effect.

Pure: it merges the application's fields (the reference client's flat names or GA names), keeps
the tools declared without a handler, builds the ``session.update`` payload in the dialect's wire
shape, and reads a setting from the application's config or else from the session the server
last reported (``session_defaults=False``: a session an ephemeral key is bound to keeps its own).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .errors import ConfigurationError
from .protocol.dialect import (
    Dialect,
    config_to_wire,
    flatten_config,
    merge_config,
    normalize_format,
    read_setting,
)
from .tools import ToolRegistry

__all__ = ["DEFAULT_SESSION_CONFIG", "SessionSettings"]

#: The session config sent on connect, as the reference client does (flat names; translated for GA).
DEFAULT_SESSION_CONFIG: Mapping[str, Any] = {
    "modalities": ["text", "audio"],
    "instructions": "",
    "voice": "verse",
    "input_audio_format": "pcm16",
    "output_audio_format": "pcm16",
    "input_audio_transcription": None,
    "turn_detection": None,
    "tool_choice": "auto",
    "temperature": 0.8,
    "max_response_output_tokens": 4096,
}


class SessionSettings:
    """The application's config (``config``), its handler-less tools, and the server's session."""

    def __init__(self, tools: ToolRegistry, dialect: Dialect, *, defaults: bool = True) -> None:
        self.tools = tools
        self.dialect = dialect
        self.defaults = defaults
        self.config: dict[str, Any] = self.initial_config()
        self.session_tools: list[dict[str, Any]] = []
        self.session: dict[str, Any] | None = None  # the effective session the server last reported
        self.tools_sent = False  # tools went out on this connection: [] must follow to remove the last

    def initial_config(self) -> dict[str, Any]:
        return copy.deepcopy(dict(DEFAULT_SESSION_CONFIG)) if self.defaults else {}

    def reset(self) -> None:
        """Back to the defaults, no session tools (``RealtimeClient.reset()``)."""
        self.config = self.initial_config()
        self.session_tools = []
        self.session = None

    def update(self, fields: Mapping[str, Any]) -> None:
        """Merge ``fields``; validated now (a bad value raises here, not at connect)."""
        flat = flatten_config(dict(fields))
        if "tools" in flat:
            tools = flat.pop("tools")
            if tools is None:
                tools = []
            if not isinstance(tools, list) or not all(isinstance(tool, Mapping) for tool in tools):
                raise ConfigurationError("tools must be a list of tool definitions (dicts)")
            session_tools = [{"type": "function", **tool} for tool in tools]
            self.tools.merge_with_session_tools(session_tools)  # raises on a clash with added tools
            self.session_tools = session_tools
        merged = merge_config(self.config, flat)
        config_to_wire(merged, self.dialect)
        self.config = merged

    def payload(self) -> dict[str, Any] | None:
        """The ``session.update`` payload; None when there is nothing to send (``defaults=False``)."""
        config = dict(self.config)
        tools = self.tools.merge_with_session_tools(self.session_tools)
        if self.defaults or tools or self.tools_sent:
            config["tools"] = tools
        if not config:
            return None
        wire = config_to_wire(config, self.dialect)
        self.tools_sent = self.tools_sent or "tools" in wire
        return wire

    def declared_without_handler(self, name: str) -> bool:
        return any(tool.get("name") == name for tool in self.session_tools)

    def declared_by_another_party(self, name: str) -> bool:
        """The server's session lists tool ``name`` though this client never declared it.

        Someone else put it there (a relay's server-side tools, a second connection to the same
        session) and answers its calls; answering them too would give the model two outputs.
        """
        tools = self.session.get("tools") if self.session is not None else None
        return isinstance(tools, list) and any(
            isinstance(tool, Mapping) and tool.get("name") == name for tool in tools
        )

    def answers(self, name: str) -> bool:
        """Whether this client answers a call of ``name``: its own tools, and names nobody declared
        (with an "unknown tool" error, so the model is never left waiting)."""
        if name in self.tools:
            return True
        return not self.declared_without_handler(name) and not self.declared_by_another_party(name)

    def setting(self, flat_name: str) -> Any:
        """A setting in effect: the application's, else (``session_defaults=False``) the server's."""
        value = read_setting(self.config, flat_name)
        if value is None and flat_name not in self.config and self.session is not None:
            value = read_setting(self.session, flat_name)
        return value

    def turn_detection(self) -> Mapping[str, Any] | None:
        """The turn detection in effect, or None when it is off."""
        value = self.setting("turn_detection")
        return value if isinstance(value, Mapping) and value.get("type") != "none" else None

    def audio_format(self, direction: str) -> str:
        """``"input"`` or ``"output"``: the audio format in effect (``pcm16`` when unset)."""
        return normalize_format(self.setting(f"{direction}_audio_format")) or "pcm16"
