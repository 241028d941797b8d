"""The plugin hooks of agent_rt (pluggy, project name ``agent_rt``).

A plugin is a module or object with functions marked ``@hookimpl``, found through the entry-point
group ``agent_rt`` or registered explicitly. One hook is enough for now: plugins provide tools.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .tools.definition import Tool

__all__ = ["PROJECT_NAME", "agent_rt_tools", "hookimpl", "hookspec"]

PROJECT_NAME = "agent_rt"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def agent_rt_tools(config: Mapping[str, Any]) -> Sequence[Tool]:  # type: ignore[empty-body]
    """Return the plugin's tools (:class:`agent_rt.tools.Tool`, e.g. made with ``@function_tool``).

    ``config`` is this plugin's own settings (``load_plugins(config={"<plugin name>": {...}})``),
    empty when none were given; an implementation may leave the parameter out. Called once per load.
    """
