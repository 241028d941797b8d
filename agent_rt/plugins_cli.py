"""``agent-rt plugins``, ``agent-rt tools list`` and the subcommands plugins add to ``agent-rt``.

The CLI loads the plugins once per run (:func:`add_plugin_commands`, called after the built-in
commands exist) and keeps the result on the parsed arguments, so that listing them and running
their commands see the same load. A plugin's command that would replace an existing one, or that
has no handler, is refused and reported; everything else keeps working.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import __version__
from .plugins import ENTRY_POINT_GROUP, LoadedPlugins, PluginError, format_report, load_plugins, report_dict

__all__ = [
    "PluginCommands",
    "add_plugin_commands",
    "register",
    "register_plugin_commands",
    "tools_list",
    "tools_payload",
]

logger = logging.getLogger("agent_rt.plugins")

DISTRIBUTION = "agentrt"

Subparsers = argparse._SubParsersAction  # the object `add_subparsers()` returns


@dataclass
class PluginCommands:
    """Which plugin added which commands, and the registrations that were refused."""

    commands: dict[str, list[str]] = field(default_factory=dict)
    errors: list[PluginError] = field(default_factory=list)


def register(commands: Subparsers[Any]) -> None:
    """The ``plugins`` command (a module of ``agent_rt.cli.COMMAND_MODULES``)."""
    sub = commands.add_parser(
        "plugins", help="installed plugins: versions, hooks, tools, commands, load errors and conflicts"
    )
    sub.add_argument("--json", action="store_true", help="print the listing as JSON")
    sub.set_defaults(handler=plugins_command)


def add_plugin_commands(parser: argparse.ArgumentParser, commands: Subparsers[Any]) -> None:
    """Load the plugins, let them add commands, and keep both results on the parsed arguments."""
    loaded = load_plugins()
    added = register_plugin_commands(loaded, commands)
    parser.set_defaults(loaded_plugins=loaded, plugin_commands=added)


def register_plugin_commands(loaded: LoadedPlugins, commands: Subparsers[Any]) -> PluginCommands:
    """Call each plugin's ``agent_rt_register_commands`` on ``commands``, one plugin at a time.

    A plugin whose hook raises, reuses a taken name or adds a command without a handler has all of
    its commands removed again, and the problem is reported (and logged).
    """
    result = PluginCommands()
    for info in loaded.plugins:
        if "agent_rt_register_commands" not in info.hooks:
            continue
        before = set(commands.choices)
        try:
            with _refusing_taken_names(commands, info.name):
                loaded.call("agent_rt_register_commands", info.name, commands=commands)
            added = [name for name in commands.choices if name not in before]
            for name in added:
                if commands.choices[name].get_default("handler") is None:
                    raise PluginError(
                        info.name, f"command {name!r} has no handler (set_defaults(handler=fn))"
                    )
        except PluginError as error:
            _remove_commands(commands, set(commands.choices) - before)
            logger.warning("agent_rt %s", error)
            result.errors.append(error)
            continue
        result.commands[info.name] = added
    return result


@contextlib.contextmanager
def _refusing_taken_names(commands: Subparsers[Any], plugin: str) -> Iterator[None]:
    """Make ``commands.add_parser`` refuse a name or alias already taken, on every Python version."""
    original = commands.add_parser

    def add_parser(name: str, **kwargs: Any) -> Any:  # the parser class of `commands`
        for wanted in (name, *kwargs.get("aliases", ())):
            if wanted in commands.choices:
                raise PluginError(plugin, f"command {wanted!r} already exists; not replaced")
        return original(name, **kwargs)

    setattr(commands, "add_parser", add_parser)  # noqa: B010 - shadows the method on this instance only
    try:
        yield
    finally:
        vars(commands).pop("add_parser", None)


def _remove_commands(commands: Subparsers[Any], names: set[str]) -> None:
    for name in names:
        commands.choices.pop(name, None)
    actions = getattr(commands, "_choices_actions", None)  # the help listing
    if isinstance(actions, list):
        actions[:] = [action for action in actions if action.dest not in names]


def _loaded(args: argparse.Namespace) -> LoadedPlugins:
    loaded = getattr(args, "loaded_plugins", None)
    return loaded if isinstance(loaded, LoadedPlugins) else load_plugins()


def _commands(args: argparse.Namespace) -> PluginCommands:
    added = getattr(args, "plugin_commands", None)
    return added if isinstance(added, PluginCommands) else PluginCommands()


def plugins_command(args: argparse.Namespace) -> int:
    """``agent-rt plugins [--json]``: exit status 1 when a plugin failed to load, 0 otherwise."""
    loaded, added = _loaded(args), _commands(args)
    if args.json:
        print(json.dumps(plugins_payload(loaded, added), indent=2))
    else:
        print(plugins_text(loaded, added))
    return 1 if loaded.failures or added.errors else 0


def plugins_payload(loaded: LoadedPlugins, added: PluginCommands) -> dict[str, Any]:
    payload = {
        "agent_rt": {"distribution": DISTRIBUTION, "version": __version__},
        "entry_point_group": ENTRY_POINT_GROUP,
        **report_dict(loaded),
    }
    for entry in payload["plugins"]:
        entry["commands"] = added.commands.get(entry["name"], [])
    payload["errors"].extend(
        {"plugin": error.plugin, "reason": error.reason, "message": str(error)} for error in added.errors
    )
    return payload


def plugins_text(loaded: LoadedPlugins, added: PluginCommands) -> str:
    count = len(loaded.plugins)
    lines = [
        f"{DISTRIBUTION} {__version__}: {count} plugin{'' if count == 1 else 's'} loaded "
        f"(entry-point group {ENTRY_POINT_GROUP!r})"
    ]
    for info in loaded.plugins:
        where = f"{info.dist} {info.version or '?'}" if info.dist else info.source
        lines.append(f"\n{info.name}  [{where}]")
        lines.append(f"  hooks:    {', '.join(info.hooks) or '(none)'}")
        lines.append(f"  tools:    {', '.join(tool.name for tool in info.tools) or '(none)'}")
        if added.commands.get(info.name):
            lines.append(f"  commands: {', '.join(added.commands[info.name])}")
        if info.session_defaults:
            lines.append(f"  session defaults: {', '.join(sorted(info.session_defaults))}")
    problems = [f"skipped: {name}" for name in loaded.skipped]
    problems += [f"error: {error}" for error in (*loaded.failures, *added.errors)]
    problems += [f"conflict: {error}" for error in loaded.conflicts]
    if problems:
        lines.append("")
        lines.extend(problems)
    return "\n".join(lines)


def tools_payload(loaded: LoadedPlugins) -> dict[str, Any]:
    """What ``agent-rt tools list --json`` prints: the tools, load errors and conflicts."""
    report = report_dict(loaded)
    tools = [
        {"name": tool.name, "plugin": tool.plugin, "definition": tool.definition} for tool in loaded.tools
    ]
    return {"tools": tools, "errors": report["errors"], "conflicts": report["conflicts"]}


def tools_list(args: argparse.Namespace) -> int:
    """``agent-rt tools list [--json]``: exit status 1 when a plugin failed to load; a conflict alone: 0."""
    loaded = _loaded(args)
    if getattr(args, "json", False):
        print(json.dumps(tools_payload(loaded), indent=2))
    else:
        print(format_report(loaded))
        for tool in loaded.tools:
            print(f"\n{tool.name} (plugin {tool.plugin}):")
            print(json.dumps(tool.definition, indent=2))
    return 1 if loaded.failures else 0
