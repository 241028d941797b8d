"""Find, filter and load agent_rt plugins, keeping one broken plugin from stopping the others.

Plugins come from the entry-point group ``agent_rt`` (installed packages) and from objects or modules
passed explicitly. Which ones load is decided *before* importing anything, by name:
``enabled``/``disabled`` arguments and the ``AGENT_RT_PLUGINS`` / ``AGENT_RT_DISABLE_PLUGINS``
environment variables (the stricter of the two wins). Nothing is cached between calls.

Run ``python -m agent_rt.plugins`` to list what loads.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import sys
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pluggy

from . import hookspecs
from .errors import ConfigurationError, RealtimeError
from .tools.definition import Tool

__all__ = [
    "ENTRY_POINT_GROUP",
    "ENV_DISABLE",
    "ENV_ENABLE",
    "LoadedPlugins",
    "PluginConflictError",
    "PluginError",
    "PluginInfo",
    "PluginLoader",
    "format_report",
    "load_plugins",
    "main",
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
    """Two plugins offer a tool of the same name; the application must disable one of them."""

    def __init__(self, tool: str, first: str, second: str) -> None:
        RealtimeError.__init__(
            self,
            f"plugins {first!r} and {second!r} both provide the tool {tool!r}; "
            f"disable one of them (e.g. {ENV_DISABLE}={second})",
        )
        self.plugin = second
        self.reason = f"tool {tool!r} is also provided by plugin {first!r}"
        self.tool = tool
        self.plugins = (first, second)


@dataclass(frozen=True)
class PluginInfo:
    """One loaded plugin. ``dist``/``version`` are those of the installed package, if any."""

    name: str
    tools: tuple[Tool, ...]
    source: Literal["entry point", "explicit"]
    dist: str | None = None
    version: str | None = None
    plugin: object = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class LoadedPlugins:
    """The outcome of one load: what loaded, what failed, and what was skipped by configuration."""

    plugins: tuple[PluginInfo, ...]
    errors: tuple[PluginError, ...]
    skipped: tuple[str, ...]
    manager: pluggy.PluginManager = field(repr=False, compare=False)

    @property
    def tools(self) -> tuple[Tool, ...]:
        """Every tool of every loaded plugin, each with ``tool.plugin`` set to its plugin's name."""
        return tuple(tool for info in self.plugins for tool in info.tools)

    def get(self, name: str) -> PluginInfo | None:
        return next((info for info in self.plugins if info.name == name), None)


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
        classes) or its class name. Raises :class:`PluginConflictError` when two plugins offer the
        same tool; every other failure is reported in ``errors`` (and logged) while the rest load.
        """
        manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        manager.add_hookspecs(hookspecs)
        allowed, denied = self.allowed()
        config = config or {}
        loaded: list[PluginInfo] = []
        errors: list[PluginError] = []
        skipped: list[str] = []
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
            loaded.append(info)
        if allowed is not None:
            errors.extend(
                PluginError(name, "enabled but neither installed nor registered")
                for name in sorted(allowed - set(seen))
            )
        for problem in errors:
            logger.warning("agent_rt %s", problem)
        _check_tool_clashes(loaded)
        return LoadedPlugins(tuple(loaded), tuple(errors), tuple(skipped), manager)

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
    text = f"{stage}: {type(exc).__name__}" + (f": {lines[0]}" if lines else "")
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


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
        tools = _collect_tools(manager, name, config)
    except PluginError:
        manager.unregister(name=name)
        raise
    try:
        version = candidate.version()
    except Exception:  # a broken METADATA file shouldn't cost the plugin
        version = None
    return PluginInfo(name, tools, candidate.source, candidate.dist, version, plugin)


def _collect_tools(manager: pluggy.PluginManager, name: str, config: Mapping[str, Any]) -> tuple[Tool, ...]:
    """Call this plugin's ``agent_rt_tools`` alone, so that its failure is attributed to it."""
    kwargs = {"config": config}
    tools: list[Tool] = []
    for impl in manager.hook.agent_rt_tools.get_hookimpls():
        if impl.plugin_name != name:
            continue
        if impl.hookwrapper or impl.wrapper:
            raise PluginError(name, "agent_rt_tools can't be a hook wrapper")
        try:
            result = impl.function(*(kwargs[arg] for arg in impl.argnames))
        except Exception as exc:
            raise PluginError(name, _reason("agent_rt_tools failed", exc)) from exc
        tools.extend(_check_result(name, result))
    names = [tool.name for tool in tools]
    duplicates = sorted({tool for tool in names if names.count(tool) > 1})
    if duplicates:
        raise PluginError(name, f"provides the tool {duplicates[0]!r} twice")
    return tuple(tool.evolve(plugin=name) for tool in tools)


def _check_result(name: str, result: object) -> Sequence[Tool]:
    if result is None:
        return ()
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


def _check_tool_clashes(loaded: Sequence[PluginInfo]) -> None:
    owner: dict[str, str] = {}
    for info in loaded:
        for tool in info.tools:
            first = owner.setdefault(tool.name, info.name)
            if first != info.name:
                raise PluginConflictError(tool.name, first, info.name)


def format_report(loaded: LoadedPlugins) -> str:
    """A plain-text listing of plugins, their tools, and errors."""
    lines: list[str] = []
    for info in loaded.plugins:
        origin = f"{info.dist} {info.version or ''}".strip() if info.dist else info.source
        tools = ", ".join(tool.name for tool in info.tools) or "(no tools)"
        lines.append(f"{info.name} [{origin}]: {tools}")
    if not loaded.plugins:
        lines.append("no plugins loaded")
    lines.extend(f"skipped: {name}" for name in loaded.skipped)
    lines.extend(f"error: {error}" for error in loaded.errors)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """List the plugins that load here; exit status 1 when one failed."""
    del argv  # no options yet
    try:
        loaded = load_plugins()
    except PluginConflictError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(format_report(loaded))
    return 1 if loaded.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
