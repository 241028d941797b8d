"""The plugin hooks of agent_rt (pluggy, project name ``agent_rt``): every hook a plugin may implement.

A plugin is a module or object with functions marked ``@hookimpl``, found through the entry-point
group ``agent_rt`` or passed explicitly. An implementation may leave out parameters it does not
need (pluggy passes only those it names). A hook name that is not defined here (a typo such as
``agent_rt_tool``) makes the plugin fail to load, with the reason shown by ``agent-rt plugins``;
mark an implementation ``@hookimpl(optionalhook=True)`` to implement a hook of a newer agent_rt
that this one may not have. Each hook is called for each plugin separately, so a plugin's failure
is reported against that plugin and never stops the others. Examples: ``docs/plugins.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import argparse

    from .client import RealtimeClient
    from .tools.definition import Tool

__all__ = [
    "HOOK_NAMES",
    "PROJECT_NAME",
    "Observer",
    "agent_rt_observer",
    "agent_rt_register_commands",
    "agent_rt_session_defaults",
    "agent_rt_tools",
    "hookimpl",
    "hookspec",
]

PROJECT_NAME = "agent_rt"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

#: ``observer(name, payload)``: called synchronously for each observed event (see :func:`agent_rt_observer`).
Observer = Callable[[str, Mapping[str, Any]], object]


@hookspec
def agent_rt_tools(config: Mapping[str, Any]) -> Sequence[Tool]:  # type: ignore[empty-body]
    """Return the plugin's tools (:class:`agent_rt.tools.Tool`, e.g. made with ``@function_tool``).

    ``config`` is this plugin's own settings (``load_plugins(config={"<plugin name>": {...}})``),
    empty when none were given. Called once per load. When two plugins offer a tool of the same
    name, the one loaded first keeps it and the other's copy is reported as a conflict.
    """


@hookspec
def agent_rt_register_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``agent-rt`` subcommands, as llm's ``register_commands`` does for ``llm``.

    ``commands`` is the subparsers object of the ``agent-rt`` parser: call
    ``commands.add_parser("name", help=...)``, add arguments, and ``set_defaults(handler=fn)`` where
    ``fn(args)`` returns the exit status (an int; sync or async). A name that is already taken (a
    built-in command or another plugin's) is refused and reported; the built-in one stays.
    """


@hookspec
def agent_rt_observer(client: RealtimeClient, config: Mapping[str, Any]) -> Observer | None:
    """Return an observer for ``client`` (called once for each client that loads the plugin), or None.

    The observer is called as ``observer(name, payload)``, synchronously and in order, for the
    events listed in :data:`agent_rt.observers.OBSERVED_EVENTS`: every client and server event
    (``realtime.event``), tool calls (``tool.call.started`` / ``tool.call.finished``), errors,
    interruptions, reconnects and the close. Keep it quick (hand slow work to a queue or a thread);
    it must not change the payload. An exception in it is logged and reported once as an ``error``
    event (``type: "observer_error"``); the session goes on and later events still reach it.
    """


@hookspec
def agent_rt_session_defaults(config: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Return session settings to use unless the application sets them, or None.

    Fields as for ``RealtimeClient.update_session``: ``instructions`` (a fragment: the fragments of
    all plugins are joined, in load order, into the default instructions), ``voice``, ``speed``,
    ``turn_detection``, ``input_audio_transcription``, ``input_audio_noise_reduction``,
    ``modalities``, ``temperature``, ``max_response_output_tokens``, ``truncation`` (flat or GA
    spelling). For any other field the first plugin to set it wins and a later one is reported as a
    conflict. Whatever the application passes to ``update_session`` overrides these; with
    ``RealtimeClient(session_defaults=False)`` they are not used at all. Called once per load.
    """


#: The hooks above, in the order ``agent-rt plugins`` lists them.
HOOK_NAMES: tuple[str, ...] = (
    "agent_rt_tools",
    "agent_rt_register_commands",
    "agent_rt_observer",
    "agent_rt_session_defaults",
)
