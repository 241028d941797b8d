"""Find, filter and load agent_rt plugins, keeping one broken plugin from stopping the others.

Plugins come from the entry-point group ``agent_rt`` (installed packages) and from objects or modules
passed explicitly. Which ones load is decided *before* importing anything, by name:
``enabled``/``disabled`` arguments and the ``AGENT_RT_PLUGINS`` / ``AGENT_RT_DISABLE_PLUGINS``
environment variables (the stricter of the two wins). Nothing is cached between calls.

One plugin's problem never costs the others: a plugin that fails to import, implements an unknown
hook (a misspelt name, found with pluggy's ``check_pending``) or whose hook raises is reported in
``errors`` and not loaded; when two plugins offer a tool of the same name, the one loaded first (explicit
plugins, then entry points by name) keeps it and the other's copy is reported as a
:class:`PluginConflictError`, while both plugins stay loaded with their other tools.

``agent-rt plugins`` (or ``python -m agent_rt.plugins``) lists what loads.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.metadata
import logging
import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pluggy

from . import hookspecs
from . import session_defaults as _defaults
from .errors import ConfigurationError, RealtimeError
from .tools.definition import Tool

if TYPE_CHECKING:
    from .client import RealtimeClient
    from .observers import ObserverHandle

__all__ = [
    "ENTRY_POINT_GROUP",
    "ENV_DISABLE",
    "ENV_ENABLE",
    "LoadedPlugins",
    "PluginConflictError",
    "PluginError",
    "PluginInfo",
    "PluginLoader",
    "apply_to_client",
    "format_report",
    "load_plugins",
    "main",
    "report_dict",
]

logger = logging.getLogger("agent_rt.plugins")

ENTRY_POINT_GROUP = "agent_rt"
#: Comma-separated names: load only these ("none" loads no plugin).
ENV_ENABLE = "AGENT_RT_PLUGINS"
#: Comma-separated names never to load.
ENV_DISABLE = "AGENT_RT_DISABLE_PLUGINS"

_MAX_REASON = 300


class PluginError(RealtimeError):
    """A plugin that could not be loaded: ``plugin`` is its name, ``reason`` a one-line explanation."""

    def __init__(self, plugin: str, reason: str) -> None:
        super().__init__(f"plugin {plugin!r}: {reason}")
        self.plugin = plugin
        self.reason = reason


class PluginConflictError(PluginError, ConfigurationError):
    """Two plugins offer the same tool (or session default): the plugin loaded first keeps it.

    Reported in :attr:`LoadedPlugins.errors` (and :attr:`LoadedPlugins.conflicts`), not raised by
    the loader. ``plugins`` is ``(first, second)``; ``plugin`` is the second, whose copy is unused.
    ``kind`` is ``"tool"`` or ``"session default"``; ``tool`` names the tool or the field.
    """

    def __init__(self, tool: str, first: str, second: str, *, kind: str = "tool") -> None:
        RealtimeError.__init__(
            self,
            f"plugins {first!r} and {second!r} both provide the {kind} {tool!r}; {first!r} loaded first "
            f"and keeps it, the copy from {second!r} is ignored; disable one of them "
            f"(e.g. {ENV_DISABLE}={second})",
        )
        self.plugin = second
        self.reason = (
            f"{kind} {tool!r} is also provided by plugin {first!r}, which keeps it; this one's is unused"
        )
        self.tool = tool
        self.kind = kind
        self.plugins = (first, second)


@dataclass(frozen=True)
class PluginInfo:
    """One loaded plugin. ``dist``/``version`` are those of the installed package, if any.

    ``tools`` are the tools in use (a tool another plugin already provided is left out), ``hooks``
    the hooks the plugin implements, ``session_defaults`` what its ``agent_rt_session_defaults``
    returned (flat spelling) and ``config`` the settings it was given.
    """

    name: str
    tools: tuple[Tool, ...]
    source: Literal["entry point", "explicit"]
    dist: str | None = None
    version: str | None = None
    plugin: object = field(default=None, repr=False, compare=False)
    hooks: tuple[str, ...] = ()
    session_defaults: Mapping[str, Any] = field(default_factory=dict, compare=False)
    config: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class LoadedPlugins:
    """The outcome of one load: what loaded, what failed or clashed, and what configuration skipped.

    ``session_defaults`` is the plugins' defaults combined: instruction fragments joined in load
    order, any other field from the first plugin that set it.
    """

    plugins: tuple[PluginInfo, ...]
    errors: tuple[PluginError, ...]
    skipped: tuple[str, ...]
    manager: pluggy.PluginManager = field(repr=False, compare=False)
    session_defaults: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def tools(self) -> tuple[Tool, ...]:
        """Every tool in use, each with ``tool.plugin`` set to its plugin's name; names are unique."""
        return tuple(tool for info in self.plugins for tool in info.tools)

    @property
    def conflicts(self) -> tuple[PluginConflictError, ...]:
        """The clashes among loaded plugins (the first plugin kept the tool or setting)."""
        return tuple(error for error in self.errors if isinstance(error, PluginConflictError))

    @property
    def failures(self) -> tuple[PluginError, ...]:
        """The plugins that did not load (import errors, invalid or failing hooks, missing names)."""
        return tuple(error for error in self.errors if not isinstance(error, PluginConflictError))

    def get(self, name: str) -> PluginInfo | None:
        return next((info for info in self.plugins if info.name == name), None)

    def call(self, hook: str, plugin: str, **kwargs: Any) -> list[object]:
        """Call one plugin's implementations of ``hook`` alone; raises :class:`PluginError` if one fails.

        ``kwargs`` are the hook's arguments (``config`` is filled in from the plugin's settings).
        Results that are None are left out.
        """
        info = self.get(plugin)
        kwargs.setdefault("config", info.config if info is not None else {})
        return _call_hook(self.manager, hook, plugin, kwargs)


@dataclass
class _Candidate:
    name: str
    source: Literal["entry point", "explicit"]
    load: Callable[[], object]
    dist: str | None = None
    version: Callable[[], str | None] = lambda: None


class PluginLoader:
    """Loads plugins according to its filters; each :meth:`load` starts from scratch.

    ``enabled``: only these names (``None``: all); ``disabled``: never these. ``environ`` (default
    ``os.environ``, read at each load) adds ``AGENT_RT_PLUGINS`` / ``AGENT_RT_DISABLE_PLUGINS``.
    ``entry_points=False`` skips installed plugins, e.g. for tests or embedded use.
    """

    def __init__(
        self,
        *,
        enabled: Collection[str] | None = None,
        disabled: Collection[str] = (),
        environ: Mapping[str, str] | None = None,
        entry_points: bool = True,
        group: str = ENTRY_POINT_GROUP,
    ) -> None:
        if isinstance(enabled, str) or isinstance(disabled, str):
            raise ConfigurationError("enabled and disabled take a collection of plugin names, not a string")
        self.enabled = None if enabled is None else frozenset(enabled)
        self.disabled = frozenset(disabled)
        self.environ = environ
        self.use_entry_points = entry_points
        self.group = group

    def allowed(self) -> tuple[frozenset[str] | None, frozenset[str]]:
        """The effective (allow list or ``None`` for all, deny list) after the environment."""
        environ = os.environ if self.environ is None else self.environ
        allowed = self.enabled
        raw = environ.get(ENV_ENABLE, "").strip()
        if raw:
            from_env = frozenset() if raw.lower() == "none" else _names(raw)
            allowed = from_env if allowed is None else allowed & from_env
        return allowed, self.disabled | _names(environ.get(ENV_DISABLE, ""))

    def load(
        self,
        plugins: Iterable[object] | Mapping[str, object] = (),
        *,
        config: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> LoadedPlugins:
        """Load the explicit ``plugins`` (objects or modules) and the installed ones.

        ``plugins`` may map names to objects; otherwise a plugin's name is its ``__name__`` (modules,
        classes) or its class name. Never raises for a plugin's fault: failures and conflicts are
        reported in ``errors`` (and logged) while the rest load.
        """
        manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        manager.add_hookspecs(hookspecs)
        allowed, denied = self.allowed()
        config = config or {}
        loaded: list[PluginInfo] = []
        errors: list[PluginError] = []
        skipped: list[str] = []
        combined = _defaults.Combined()
        tool_owner: dict[str, str] = {}
        seen: dict[str, _Candidate] = {}
        for candidate in [*_explicit(plugins), *self._entry_points()]:
            name = candidate.name
            if name in seen:
                first = seen[name]
                where = f" (from {candidate.dist})" if candidate.dist else ""
                errors.append(
                    PluginError(
                        name,
                        f"name already used by a plugin from {_origin(first)}; "
                        f"this one{where} was not loaded",
                    )
                )
                continue
            seen[name] = candidate
            if (allowed is not None and name not in allowed) or name in denied:
                skipped.append(name)
                continue
            try:
                info = _load_one(manager, candidate, config.get(name) or {})
            except PluginError as error:
                errors.append(error)
                continue
            info, clashes = _drop_taken_tools(info, tool_owner)
            errors.extend(clashes)
            errors.extend(
                PluginConflictError(field_name, first, info.name, kind="session default")
                for field_name, first in combined.add(info.name, info.session_defaults)
            )
            loaded.append(info)
        if allowed is not None:
            errors.extend(
                PluginError(name, "enabled but neither installed nor registered")
                for name in sorted(allowed - set(seen))
            )
        for problem in errors:
            logger.warning("agent_rt %s", problem)
        return LoadedPlugins(tuple(loaded), tuple(errors), tuple(skipped), manager, combined.fields)

    def _entry_points(self) -> list[_Candidate]:
        if not self.use_entry_points:
            return []
        found = importlib.metadata.entry_points(group=self.group)
        return [_from_entry_point(point) for point in sorted(found, key=lambda point: point.name)]


def load_plugins(
    plugins: Iterable[object] | Mapping[str, object] = (),
    *,
    enabled: Collection[str] | None = None,
    disabled: Collection[str] = (),
    config: Mapping[str, Mapping[str, Any]] | None = None,
    environ: Mapping[str, str] | None = None,
    entry_points: bool = True,
) -> LoadedPlugins:
    """Shortcut for ``PluginLoader(...).load(plugins, config=config)``."""
    loader = PluginLoader(enabled=enabled, disabled=disabled, environ=environ, entry_points=entry_points)
    return loader.load(plugins, config=config)


def _names(raw: str) -> frozenset[str]:
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def _origin(candidate: _Candidate) -> str:
    return candidate.dist or candidate.source


def _explicit(plugins: Iterable[object] | Mapping[str, object]) -> list[_Candidate]:
    if isinstance(plugins, Mapping):
        items = list(plugins.items())
    else:
        items = [(_name_of(plugin), plugin) for plugin in plugins]
    return [_Candidate(str(name), "explicit", _returning(plugin)) for name, plugin in items]


def _returning(plugin: object) -> Callable[[], object]:
    return lambda: plugin


def _name_of(plugin: object) -> str:
    name = getattr(plugin, "__name__", None)
    return name if isinstance(name, str) else type(plugin).__name__


def _from_entry_point(point: importlib.metadata.EntryPoint) -> _Candidate:
    dist = getattr(point, "dist", None)  # None for entry points made by hand

    def version() -> str | None:
        return dist.version if dist is not None else None

    return _Candidate(point.name, "entry point", point.load, dist.name if dist is not None else None, version)


def _reason(stage: str, exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return _shorten(f"{stage}: {type(exc).__name__}" + (f": {lines[0]}" if lines else ""))


def _shorten(text: str) -> str:
    """One line of at most ``_MAX_REASON`` characters."""
    lines = text.strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= _MAX_REASON else line[: _MAX_REASON - 1] + "…"


def _load_one(manager: pluggy.PluginManager, candidate: _Candidate, config: Mapping[str, Any]) -> PluginInfo:
    name = candidate.name
    try:
        plugin = candidate.load()
    except Exception as exc:
        raise PluginError(name, _reason("import failed", exc)) from exc
    try:
        manager.register(plugin, name=name)
    except (ValueError, pluggy.PluginValidationError) as exc:
        raise PluginError(name, _reason("invalid plugin", exc)) from exc
    try:
        _check_known_hooks(manager, name)
        tools = _collect_tools(manager, name, config)
        defaults = _collect_session_defaults(manager, name, config)
    except PluginError:
        manager.unregister(name=name)
        raise
    try:
        version = candidate.version()
    except Exception:  # a broken METADATA file shouldn't cost the plugin
        version = None
    hooks = _implemented_hooks(manager, plugin)
    return PluginInfo(name, tools, candidate.source, candidate.dist, version, plugin, hooks, defaults, config)


def _check_known_hooks(manager: pluggy.PluginManager, name: str) -> None:
    """pluggy's ``check_pending``: an implementation of a hook nobody defined is a typo, not a no-op.

    Plugins are registered one at a time and a failing one is unregistered, so what this finds
    belongs to the plugin just registered.
    """
    try:
        manager.check_pending()
    except pluggy.PluginValidationError:
        unknown = sorted(
            caller.name
            for caller in manager.get_hookcallers(manager.get_plugin(name)) or ()
            if not caller.has_spec()
        )
        hook = unknown[0] if unknown else "?"
        close = difflib.get_close_matches(hook, hookspecs.HOOK_NAMES, n=1)
        hint = (
            f" (did you mean {close[0]!r}?)"
            if close
            else f" (known hooks: {', '.join(hookspecs.HOOK_NAMES)})"
        )
        raise PluginError(name, f"implements an unknown hook {hook!r}{hint}") from None


def _implemented_hooks(manager: pluggy.PluginManager, plugin: object) -> tuple[str, ...]:
    names = {caller.name for caller in manager.get_hookcallers(plugin) or ()}
    known = [hook for hook in hookspecs.HOOK_NAMES if hook in names]
    return (*known, *sorted(names - set(known)))


def _call_hook(
    manager: pluggy.PluginManager, hook: str, name: str, kwargs: Mapping[str, Any]
) -> list[object]:
    """Call plugin ``name``'s implementations of ``hook`` alone, so that a failure is attributed to it."""
    caller = getattr(manager.hook, hook, None)
    if caller is None:
        return []
    results: list[object] = []
    for impl in caller.get_hookimpls():
        if impl.plugin_name != name:
            continue
        if impl.hookwrapper or impl.wrapper:
            raise PluginError(name, f"{hook} can't be a hook wrapper")
        try:
            result = impl.function(*(kwargs[arg] for arg in impl.argnames))
        except Exception as exc:
            raise PluginError(name, _reason(f"{hook} failed", exc)) from exc
        if result is not None:
            results.append(result)
    return results


def _collect_tools(manager: pluggy.PluginManager, name: str, config: Mapping[str, Any]) -> tuple[Tool, ...]:
    tools: list[Tool] = []
    for result in _call_hook(manager, "agent_rt_tools", name, {"config": config}):
        tools.extend(_check_result(name, result))
    names = [tool.name for tool in tools]
    duplicates = sorted({tool for tool in names if names.count(tool) > 1})
    if duplicates:
        raise PluginError(name, f"provides the tool {duplicates[0]!r} twice")
    return tuple(tool.evolve(plugin=name) for tool in tools)


def _check_result(name: str, result: object) -> Sequence[Tool]:
    if isinstance(result, Tool):
        return (result,)
    if isinstance(result, (str, bytes)) or not isinstance(result, Iterable):
        raise PluginError(name, f"agent_rt_tools returned {type(result).__name__}, expected a list of Tool")
    items = list(result)
    for item in items:
        if not isinstance(item, Tool):
            raise PluginError(
                name,
                f"agent_rt_tools returned a {type(item).__name__} in its list, expected agent_rt.tools.Tool",
            )
    return items


def _drop_taken_tools(info: PluginInfo, owner: dict[str, str]) -> tuple[PluginInfo, list[PluginError]]:
    """Keep the tools no earlier plugin provides; each clash is a conflict naming both plugins."""
    kept: list[Tool] = []
    clashes: list[PluginError] = []
    for tool in info.tools:
        first = owner.setdefault(tool.name, info.name)
        if first == info.name:
            kept.append(tool)
        else:
            clashes.append(PluginConflictError(tool.name, first, info.name))
    if len(kept) == len(info.tools):
        return info, clashes
    return dataclasses.replace(info, tools=tuple(kept)), clashes


def _collect_session_defaults(
    manager: pluggy.PluginManager, name: str, config: Mapping[str, Any]
) -> dict[str, Any]:
    """The plugin's ``agent_rt_session_defaults``, flattened and checked (fields, wire shape)."""
    results = _call_hook(manager, "agent_rt_session_defaults", name, {"config": config})
    try:
        return _defaults.check(results)
    except _defaults.SessionDefaultsError as exc:
        raise PluginError(name, _shorten(str(exc))) from exc


def apply_to_client(client: RealtimeClient, loaded: LoadedPlugins) -> list[ObserverHandle]:
    """What a new client takes from its plugins besides tools: session defaults, then observers.

    Called once by ``RealtimeClient.__init__``. The defaults are merged into the client's config
    before the application touches it, so every later ``update_session`` overrides them;
    ``RealtimeClient(session_defaults=False)`` leaves them out. Defaults the client's dialect
    refuses are logged and left out. Returns the handles of the attached observers.
    """
    from .observers import attach_plugin_observers

    settings = client.settings
    if settings.defaults and loaded.session_defaults:
        try:
            settings.update(loaded.session_defaults)
        except ConfigurationError as exc:
            logger.warning("agent_rt plugins' session defaults not used: %s", exc)
    return attach_plugin_observers(client, loaded)


def format_report(loaded: LoadedPlugins) -> str:
    """A plain-text listing: each plugin and its tools, then skipped plugins, failures and conflicts."""
    lines: list[str] = []
    for info in loaded.plugins:
        origin = f"{info.dist} {info.version or ''}".strip() if info.dist else info.source
        tools = ", ".join(tool.name for tool in info.tools) or "(no tools)"
        lines.append(f"{info.name} [{origin}]: {tools}")
    if not loaded.plugins:
        lines.append("no plugins loaded")
    lines.extend(f"skipped: {name}" for name in loaded.skipped)
    lines.extend(f"error: {error}" for error in loaded.failures)
    lines.extend(f"conflict: {error}" for error in loaded.conflicts)
    return "\n".join(lines)


def report_dict(loaded: LoadedPlugins) -> dict[str, Any]:
    """The load as JSON-ready data (what ``agent-rt plugins --json`` prints, less the commands)."""
    return {
        "plugins": [
            {
                "name": info.name,
                "source": info.source,
                "distribution": info.dist,
                "version": info.version,
                "hooks": list(info.hooks),
                "tools": [tool.name for tool in info.tools],
                "session_defaults": sorted(info.session_defaults),
            }
            for info in loaded.plugins
        ],
        "skipped": list(loaded.skipped),
        "errors": [
            {"plugin": error.plugin, "reason": error.reason, "message": str(error)}
            for error in loaded.failures
        ],
        "conflicts": [
            {
                "kind": error.kind,
                "name": error.tool,
                "plugins": list(error.plugins),
                "kept_by": error.plugins[0],
                "message": str(error),
            }
            for error in loaded.conflicts
        ],
    }


def main(argv: Sequence[str] | None = None) -> int:
    """List the plugins that load here; exit status 1 when one failed to load (a conflict alone: 0)."""
    del argv  # no options: `agent-rt plugins` has them
    loaded = load_plugins()
    print(format_report(loaded))
    return 1 if loaded.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
