"""Plugin loading: explicit plugins, entry points of (fake) installed packages, filters, failures."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import types
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent_rt import RealtimeClient
from agent_rt import plugins as plugins_module
from agent_rt.errors import ConfigurationError
from agent_rt.hookspecs import hookimpl
from agent_rt.plugins import (
    ENV_DISABLE,
    ENV_ENABLE,
    LoadedPlugins,
    PluginConflictError,
    PluginError,
    PluginLoader,
    format_report,
    load_plugins,
)
from agent_rt.tools import Tool


def make_tool(name: str, timeout: float | None = None) -> Tool:
    return Tool(
        {"name": name, "description": f"{name} tool", "parameters": {"type": "object"}}, noop, timeout
    )


def noop(arguments: dict[str, Any]) -> str:
    return "ok"


class Provides:
    """A plugin object offering the named tools and remembering its config."""

    def __init__(self, *names: str) -> None:
        self.names = names
        self.configs: list[Mapping[str, Any]] = []

    @hookimpl
    def agent_rt_tools(self, config: Mapping[str, Any]) -> list[Tool]:
        self.configs.append(config)
        return [make_tool(name) for name in self.names]


class NoConfig:
    @hookimpl
    def agent_rt_tools(self) -> list[Tool]:
        return [make_tool("plain")]


class Raises:
    @hookimpl
    def agent_rt_tools(self) -> list[Tool]:
        raise RuntimeError("database unreachable\nsecond line of detail")


class Returns:
    def __init__(self, value: object) -> None:
        self.value = value

    @hookimpl
    def agent_rt_tools(self) -> object:
        return self.value


def load(plugins: Mapping[str, object], **kwargs: Any) -> LoadedPlugins:
    """Explicit plugins only, with an empty environment unless given."""
    kwargs.setdefault("environ", {})
    return load_plugins(plugins, entry_points=False, **kwargs)


def names(loaded: LoadedPlugins) -> list[str]:
    return [info.name for info in loaded.plugins]


# -- explicit plugins (nothing installed) -------------------------------------------------


def test_explicit_plugin_objects_load_without_any_installation() -> None:
    first, second = Provides("alpha"), Provides("beta", "gamma")
    loaded = load({"first": first, "second": second})
    assert names(loaded) == ["first", "second"]
    assert [tool.name for tool in loaded.tools] == ["alpha", "beta", "gamma"]
    assert [tool.plugin for tool in loaded.tools] == ["first", "second", "second"]
    info = loaded.get("second")
    assert info is not None
    assert (info.source, info.dist, info.version, info.plugin) == ("explicit", None, None, second)
    assert loaded.errors == ()
    assert loaded.skipped == ()
    assert loaded.manager.get_plugin("first") is first
    assert loaded.get("ghost") is None


def test_names_of_modules_and_objects() -> None:
    module = types.ModuleType("my_tools")

    @hookimpl
    def agent_rt_tools() -> list[Tool]:
        return [make_tool("from_module")]

    module.agent_rt_tools = agent_rt_tools  # type: ignore[attr-defined]
    loaded = load_plugins([module, NoConfig()], entry_points=False, environ={})
    assert names(loaded) == ["my_tools", "NoConfig"]
    assert [tool.name for tool in loaded.tools] == ["from_module", "plain"]


def test_config_reaches_its_plugin_only() -> None:
    first, second = Provides("a"), Provides("b")
    loaded = load({"first": first, "second": second, "plain": NoConfig()}, config={"first": {"unit": "F"}})
    assert first.configs == [{"unit": "F"}]
    assert second.configs == [{}]
    assert names(loaded) == ["first", "second", "plain"]


def test_plugin_keeps_tool_timeouts() -> None:
    class Timed:
        @hookimpl
        def agent_rt_tools(self) -> list[Tool]:
            return [make_tool("slow", timeout=60)]

    [tool] = load({"timed": Timed()}).tools
    assert (tool.timeout, tool.plugin) == (60, "timed")


def test_each_load_starts_from_scratch() -> None:
    plugin = Provides("a")
    one, two = load({"p": plugin}), load({"p": plugin})
    assert one.manager is not two.manager
    assert len(plugin.configs) == 2
    assert one.tools[0] is not two.tools[0]


# -- enable / disable ------------------------------------------------------------------------

THREE = {"a": Provides("ta"), "b": Provides("tb"), "c": Provides("tc")}


def test_enabled_and_disabled_arguments() -> None:
    loaded = load(THREE, enabled={"a", "b"}, disabled={"b"})
    assert names(loaded) == ["a"]
    assert loaded.skipped == ("b", "c")
    assert loaded.errors == ()


def test_enabled_but_missing_is_reported() -> None:
    loaded = load(THREE, enabled=["a", "typo"])
    assert names(loaded) == ["a"]
    [error] = loaded.errors
    assert (error.plugin, error.reason) == ("typo", "enabled but neither installed nor registered")


def test_filters_must_be_collections_of_names() -> None:
    with pytest.raises(ConfigurationError, match="not a string"):
        PluginLoader(enabled="a,b")
    with pytest.raises(ConfigurationError, match="not a string"):
        PluginLoader(disabled="a")


def test_env_allow_list() -> None:
    loaded = load(THREE, environ={ENV_ENABLE: " a , c ,"})
    assert names(loaded) == ["a", "c"]
    assert loaded.skipped == ("b",)


def test_env_none_loads_nothing() -> None:
    loaded = load(THREE, environ={ENV_ENABLE: "None"})
    assert loaded.plugins == ()
    assert loaded.skipped == ("a", "b", "c")
    assert loaded.errors == ()


def test_env_disable_list() -> None:
    assert names(load(THREE, environ={ENV_DISABLE: "a,c"})) == ["b"]


def test_env_and_arguments_combine_to_the_stricter() -> None:
    assert names(load(THREE, enabled={"a", "b"}, environ={ENV_ENABLE: "b,c"})) == ["b"]
    assert names(load(THREE, disabled={"a"}, environ={ENV_DISABLE: "b"})) == ["c"]


def test_empty_env_values_change_nothing() -> None:
    assert names(load(THREE, environ={ENV_ENABLE: " ", ENV_DISABLE: ""})) == ["a", "b", "c"]


def test_environment_is_read_at_each_load(monkeypatch: pytest.MonkeyPatch) -> None:
    loader = PluginLoader(entry_points=False)
    monkeypatch.setenv(ENV_DISABLE, "a")
    assert names(loader.load(THREE)) == ["b", "c"]
    monkeypatch.setenv(ENV_DISABLE, "b")
    assert names(loader.load(THREE)) == ["a", "c"]


# -- failures ------------------------------------------------------------------------------


def test_two_plugins_with_the_same_tool_name_first_wins_and_both_are_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="agent_rt.plugins"):
        loaded = load({"weather_a": Provides("get_weather"), "weather_b": Provides("other", "get_weather")})
    assert names(loaded) == ["weather_a", "weather_b"]
    assert [(tool.name, tool.plugin) for tool in loaded.tools] == [
        ("get_weather", "weather_a"),
        ("other", "weather_b"),
    ]
    [error] = loaded.errors
    assert loaded.conflicts == (error,)
    assert loaded.failures == ()
    assert isinstance(error, PluginConflictError)
    assert isinstance(error, ConfigurationError)
    assert (error.tool, error.kind, error.plugins, error.plugin) == (
        "get_weather",
        "tool",
        ("weather_a", "weather_b"),
        "weather_b",
    )
    for name in ("'weather_a'", "'weather_b'", "'get_weather'"):
        assert name in str(error)
    assert "plugins 'weather_a' and 'weather_b' both provide the tool 'get_weather'" in caplog.text


def test_a_conflict_does_not_stop_later_plugins() -> None:
    loaded = load({"a": Provides("same"), "b": Provides("same"), "c": Provides("same", "own")})
    assert names(loaded) == ["a", "b", "c"]
    assert [(tool.name, tool.plugin) for tool in loaded.tools] == [("same", "a"), ("own", "c")]
    assert [error.plugins for error in loaded.conflicts] == [("a", "b"), ("a", "c")]
    assert format_report(loaded).splitlines()[-2:] == [f"conflict: {error}" for error in loaded.conflicts]


def test_a_misspelt_hook_is_reported_by_check_pending() -> None:
    class Typo:
        @hookimpl
        def agent_rt_tool(self) -> list[Tool]:
            return [make_tool("never_loaded")]

    loaded = load({"typo": Typo(), "good": NoConfig()})
    assert names(loaded) == ["good"]
    assert [(error.plugin, error.reason) for error in loaded.errors] == [
        ("typo", "implements an unknown hook 'agent_rt_tool' (did you mean 'agent_rt_tools'?)")
    ]
    assert loaded.manager.get_plugin("typo") is None


def test_an_optional_unknown_hook_is_accepted() -> None:
    class Future:
        @hookimpl(optionalhook=True)
        def agent_rt_from_a_later_version(self) -> None:
            raise AssertionError("never called")

        @hookimpl
        def agent_rt_tools(self) -> list[Tool]:
            return [make_tool("now")]

    loaded = load({"future": Future()})
    assert loaded.errors == ()
    assert [tool.name for tool in loaded.tools] == ["now"]


def test_a_clash_disappears_when_one_plugin_is_disabled() -> None:
    loaded = load({"a": Provides("same"), "b": Provides("same")}, disabled={"b"})
    assert [tool.plugin for tool in loaded.tools] == ["a"]


def test_hook_exception_is_reported_and_the_others_load(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="agent_rt.plugins"):
        loaded = load({"good": Provides("fine"), "bad": Raises(), "also_good": NoConfig()})
    assert names(loaded) == ["good", "also_good"]
    [error] = loaded.errors
    assert isinstance(error, PluginError)
    assert error.plugin == "bad"
    assert error.reason == "agent_rt_tools failed: RuntimeError: database unreachable"
    assert loaded.manager.get_plugin("bad") is None
    assert "plugin 'bad': agent_rt_tools failed: RuntimeError: database unreachable" in caplog.text


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("get_weather", "agent_rt_tools returned str, expected a list of Tool"),
        (42, "agent_rt_tools returned int, expected a list of Tool"),
        ([{"name": "x"}], "agent_rt_tools returned a dict in its list, expected agent_rt.tools.Tool"),
    ],
)
def test_bad_hook_results_are_reported(value: object, reason: str) -> None:
    loaded = load({"odd": Returns(value), "good": NoConfig()})
    assert names(loaded) == ["good"]
    assert [(error.plugin, error.reason) for error in loaded.errors] == [("odd", reason)]


def test_single_tool_and_none_results_are_accepted() -> None:
    loaded = load({"single": Returns(make_tool("one")), "nothing": Returns(None)})
    assert names(loaded) == ["single", "nothing"]
    assert [tool.name for tool in loaded.tools] == ["one"]


def test_a_plugin_offering_a_tool_twice_is_reported() -> None:
    loaded = load({"dup": Provides("x", "x"), "good": NoConfig()})
    assert names(loaded) == ["good"]
    assert [(error.plugin, error.reason) for error in loaded.errors] == [
        ("dup", "provides the tool 'x' twice")
    ]


def test_hookimpl_with_unknown_arguments_is_invalid() -> None:
    class Wrong:
        @hookimpl
        def agent_rt_tools(self, settings: object) -> list[Tool]:
            return []

    loaded = load({"wrong": Wrong(), "good": NoConfig()})
    assert names(loaded) == ["good"]
    [error] = loaded.errors
    assert error.plugin == "wrong"
    assert error.reason.startswith("invalid plugin: PluginValidationError: ")
    assert "\n" not in error.reason


def test_hook_wrappers_are_refused() -> None:
    class Wrapper:
        @hookimpl(wrapper=True)
        def agent_rt_tools(self) -> Any:
            return (yield)

    loaded = load({"wrapper": Wrapper()})
    assert [(error.plugin, error.reason) for error in loaded.errors] == [
        ("wrapper", "agent_rt_tools can't be a hook wrapper")
    ]


def test_the_same_object_under_two_names_is_reported() -> None:
    plugin = Provides("a")
    loaded = load({"one": plugin, "two": plugin})
    assert names(loaded) == ["one"]
    assert loaded.errors[0].plugin == "two"
    assert loaded.errors[0].reason.startswith("invalid plugin: ValueError")


# -- entry points of installed packages (fake distributions on sys.path) --------------------


@dataclass
class FakeSite:
    root: Path
    prefix: str
    group: str

    def module(self, name: str, body: str) -> str:
        """Write a module; returns its importable (unique) name."""
        module = f"{self.prefix}_{name}"
        (self.root / f"{module}.py").write_text(textwrap.dedent(body))
        return module

    def tools_module(self, name: str, *tool_names: str) -> str:
        tools = ", ".join(f"make({tool!r})" for tool in tool_names)
        return self.module(
            name,
            f"""
            from agent_rt.hookspecs import hookimpl
            from agent_rt.tools import Tool

            def make(name):
                return Tool({{"name": name, "description": "d", "parameters": {{"type": "object"}}}}, print)

            @hookimpl
            def agent_rt_tools():
                return [{tools}]
            """,
        )

    def dist(
        self, dist: str, version: str, entry_points: Mapping[str, str], group: str | None = None
    ) -> None:
        """An installed distribution as importlib.metadata sees it: a .dist-info folder."""
        info = self.root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
        (info / "entry_points.txt").write_text(f"[{group or self.group}]\n{lines}")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSite]:
    prefix = f"fake_rt_{uuid.uuid4().hex[:8]}"
    monkeypatch.syspath_prepend(str(tmp_path))
    yield FakeSite(tmp_path, prefix, f"agent_rt_test_{prefix}")
    for module in [name for name in sys.modules if name.startswith(prefix)]:
        del sys.modules[module]


def test_entry_point_plugins_are_discovered(site: FakeSite) -> None:
    site.dist("agent-rt-fake", "1.2.3", {"fake": site.tools_module("fake", "fake_tool")})
    loaded = PluginLoader(group=site.group, environ={}).load()
    [info] = loaded.plugins
    assert (info.name, info.source, info.dist, info.version) == (
        "fake",
        "entry point",
        "agent-rt-fake",
        "1.2.3",
    )
    assert [(tool.name, tool.plugin) for tool in info.tools] == [("fake_tool", "fake")]


def test_entry_points_in_the_real_group(site: FakeSite) -> None:
    name = f"{site.prefix}_plugin"
    site.dist("agent-rt-fake-real", "0.9", {name: site.tools_module("real", "real_group_tool")}, "agent_rt")
    loaded = load_plugins(enabled=[name], environ={})
    assert names(loaded) == [name]
    assert [tool.name for tool in loaded.tools] == ["real_group_tool"]
    assert loaded.errors == ()


def test_broken_imports_are_reported_while_the_others_load(site: FakeSite) -> None:
    crashing = site.module("crashing", "raise RuntimeError('missing setting\\nmore')\n")
    site.dist(
        "agent-rt-mixed",
        "1.0",
        {
            "good": site.tools_module("good", "good_tool"),
            "crashing": crashing,
            "missing": f"{site.prefix}_does_not_exist",
            "bad_attr": f"{crashing.replace('crashing', 'good')}:no_such_object",
        },
    )
    loaded = PluginLoader(group=site.group, environ={}).load()
    assert names(loaded) == ["good"]
    reasons = {error.plugin: error.reason for error in loaded.errors}
    assert reasons == {
        "bad_attr": f"import failed: AttributeError: module '{site.prefix}_good' has no attribute "
        "'no_such_object'",
        "crashing": "import failed: RuntimeError: missing setting",
        "missing": f"import failed: ModuleNotFoundError: No module named '{site.prefix}_does_not_exist'",
    }


def test_disabled_entry_points_are_never_imported(site: FakeSite) -> None:
    module = site.tools_module("heavy", "heavy_tool")
    site.dist("agent-rt-heavy", "1.0", {"heavy": module, "light": site.tools_module("light", "light_tool")})
    loaded = PluginLoader(group=site.group, environ={ENV_DISABLE: "heavy"}).load()
    assert names(loaded) == ["light"]
    assert loaded.skipped == ("heavy",)
    assert module not in sys.modules


def test_explicit_plugin_wins_over_an_entry_point_of_the_same_name(site: FakeSite) -> None:
    site.dist("agent-rt-shadowed", "2.0", {"shared": site.tools_module("shadowed", "from_entry_point")})
    loaded = PluginLoader(group=site.group, environ={}).load({"shared": Provides("from_object")})
    assert [tool.name for tool in loaded.tools] == ["from_object"]
    [error] = loaded.errors
    assert error.plugin == "shared"
    assert "name already used by a plugin from explicit" in error.reason
    assert "agent-rt-shadowed" in error.reason


def test_entry_points_can_be_switched_off(site: FakeSite) -> None:
    site.dist("agent-rt-off", "1.0", {"off": site.tools_module("off", "off_tool")})
    assert PluginLoader(group=site.group, environ={}, entry_points=False).load().plugins == ()


# -- listing ---------------------------------------------------------------------------------


def test_format_report() -> None:
    loaded = load(
        {"ok": Provides("a", "b"), "empty": Returns(None), "bad": Raises(), "off": NoConfig()},
        disabled={"off"},
    )
    assert format_report(loaded).splitlines() == [
        "ok [explicit]: a, b",
        "empty [explicit]: (no tools)",
        "skipped: off",
        "error: plugin 'bad': agent_rt_tools failed: RuntimeError: database unreachable",
    ]


def test_main_lists_plugins(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(ENV_ENABLE, "none")
    assert plugins_module.main([]) == 0
    assert capsys.readouterr().out.startswith("no plugins loaded\n")


# -- installed plugins that clash: the client and the CLI keep working (issue 10, item 4) -------


def clashing_site(site: FakeSite) -> tuple[str, str]:
    """Two installed distributions whose plugins both offer ``dup_tool`` (in the real group)."""
    first, second = f"{site.prefix}_a", f"{site.prefix}_b"
    site.dist("agentrt-dup-a", "1.0", {first: site.tools_module("dup_a", "dup_tool", "only_a")}, "agent_rt")
    site.dist("agentrt-dup-b", "2.0", {second: site.tools_module("dup_b", "dup_tool", "only_b")}, "agent_rt")
    return first, second


def test_a_client_loads_clashing_installed_plugins(site: FakeSite, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = clashing_site(site)
    monkeypatch.setenv(ENV_ENABLE, f"{first},{second}")
    client = RealtimeClient(api_key="local", url="ws://127.0.0.1:9/v1/realtime")
    assert client.tools.names() == ["dup_tool", "only_a", "only_b"]
    tool = client.tools.get("dup_tool")
    assert tool is not None
    assert tool.plugin == first
    assert client.plugins is not None
    [conflict] = client.plugins.conflicts
    assert conflict.plugins == (first, second)


def run_cli(site: FakeSite, *args: str, enable: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "OPENAI_API_KEY"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site.root), env.get("PYTHONPATH")]))
    env[ENV_ENABLE] = enable
    return subprocess.run(
        [sys.executable, "-m", "agent_rt", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_tools_list_shows_a_conflict_and_exits_0(site: FakeSite) -> None:
    first, second = clashing_site(site)
    result = run_cli(site, "tools", "list", enable=f"{first},{second}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"{first} [agentrt-dup-a 1.0]: dup_tool, only_a" in lines
    assert f"{second} [agentrt-dup-b 2.0]: only_b" in lines
    assert (
        f"conflict: plugins '{first}' and '{second}' both provide the tool 'dup_tool'; "
        f"'{first}' loaded first and keeps it, the copy from '{second}' is ignored; "
        f"disable one of them (e.g. {ENV_DISABLE}={second})"
    ) in lines
    for tool in ("dup_tool", "only_a", "only_b"):
        assert f"\n{tool} (plugin " in result.stdout


def test_tools_list_exits_1_when_a_plugin_fails_to_load(site: FakeSite) -> None:
    typo = site.module(
        "typo",
        """
        from agent_rt.hookspecs import hookimpl

        @hookimpl
        def agent_rt_tool():
            return []
        """,
    )
    site.dist("agentrt-typo", "0.1", {typo: typo}, "agent_rt")
    result = run_cli(site, "tools", "list", enable=typo)
    assert result.returncode == 1
    assert (
        f"error: plugin '{typo}': implements an unknown hook 'agent_rt_tool' (did you mean 'agent_rt_tools'?)"
        in result.stdout.splitlines()
    )


def test_tools_list_json_and_plugins_json_report_the_conflict(site: FakeSite) -> None:
    first, second = clashing_site(site)
    result = run_cli(site, "tools", "list", "--json", enable=f"{first},{second}")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [(tool["name"], tool["plugin"]) for tool in data["tools"]] == [
        ("dup_tool", first),
        ("only_a", first),
        ("only_b", second),
    ]
    assert data["tools"][0]["definition"]["name"] == "dup_tool"
    assert data["errors"] == []
    [conflict] = data["conflicts"]
    assert (conflict["kind"], conflict["name"], conflict["plugins"], conflict["kept_by"]) == (
        "tool",
        "dup_tool",
        [first, second],
        first,
    )

    listing = run_cli(site, "plugins", "--json", enable=f"{first},{second}")
    assert listing.returncode == 0, listing.stderr
    plugins = json.loads(listing.stdout)
    assert [
        (entry["name"], entry["distribution"], entry["version"], entry["tools"])
        for entry in plugins["plugins"]
    ] == [
        (first, "agentrt-dup-a", "1.0", ["dup_tool", "only_a"]),
        (second, "agentrt-dup-b", "2.0", ["only_b"]),
    ]
    assert plugins["conflicts"] == data["conflicts"]
    text = run_cli(site, "plugins", enable=f"{first},{second}")
    assert text.returncode == 0
    assert f"conflict: plugins '{first}' and '{second}' both provide the tool 'dup_tool'" in text.stdout


def test_plugins_command_exits_1_and_lists_a_plugin_that_failed(site: FakeSite) -> None:
    crashing = site.module("crash", "raise RuntimeError('no config file')\n")
    good = site.tools_module("fine", "fine_tool")
    site.dist("agentrt-crash", "0.1", {crashing: crashing, good: good}, "agent_rt")
    result = run_cli(site, "plugins", "--json", enable=f"{crashing},{good}")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert [entry["name"] for entry in data["plugins"]] == [good]
    assert data["errors"] == [
        {
            "plugin": crashing,
            "reason": "import failed: RuntimeError: no config file",
            "message": f"plugin '{crashing}': import failed: RuntimeError: no config file",
        }
    ]
