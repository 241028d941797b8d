"""The hooks beyond tools: commands, observers and session defaults, each with its failure modes."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from typing import Any

import anyio
import pytest

from agent_rt import RealtimeClient, hookimpl
from agent_rt.observers import OBSERVED_EVENTS, attach, attach_plugin_observers
from agent_rt.plugins import LoadedPlugins, PluginConflictError, load_plugins
from agent_rt.plugins_cli import register_plugin_commands
from agent_rt.server import LocalRealtimeServer

Events = list[tuple[str, dict[str, Any]]]


def load(plugins: Mapping[str, object]) -> LoadedPlugins:
    return load_plugins(plugins, entry_points=False, environ={})


# -- commands ----------------------------------------------------------------------------------


def hello(args: argparse.Namespace) -> int:
    print(f"hello {args.name}")
    return 0


class Greets:
    @hookimpl
    def agent_rt_register_commands(
        self, commands: argparse._SubParsersAction[argparse.ArgumentParser]
    ) -> None:
        sub = commands.add_parser("hello", help="say hello")
        sub.add_argument("name")
        sub.set_defaults(handler=hello)


class Takes:
    """Adds a command of its own, then one whose name is taken."""

    def __init__(self, taken: str) -> None:
        self.taken = taken

    @hookimpl
    def agent_rt_register_commands(
        self, commands: argparse._SubParsersAction[argparse.ArgumentParser]
    ) -> None:
        commands.add_parser("mine").set_defaults(handler=hello)
        commands.add_parser(self.taken).set_defaults(handler=hello)


class NoHandler:
    @hookimpl
    def agent_rt_register_commands(
        self, commands: argparse._SubParsersAction[argparse.ArgumentParser]
    ) -> None:
        commands.add_parser("lonely")


def parser_with_demo() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction[argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(prog="agent-rt")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo").set_defaults(handler="the built-in demo")
    return parser, commands


def test_a_plugin_adds_a_command_that_parses_and_runs(capsys: pytest.CaptureFixture[str]) -> None:
    parser, commands = parser_with_demo()
    added = register_plugin_commands(load({"greets": Greets()}), commands)
    assert (added.commands, added.errors) == ({"greets": ["hello"]}, [])
    args = parser.parse_args(["hello", "world"])
    assert args.handler(args) == 0
    assert capsys.readouterr().out == "hello world\n"


@pytest.mark.parametrize("taken", ["demo", "hello"])
def test_a_taken_name_is_refused_and_the_plugins_commands_are_removed(taken: str) -> None:
    parser, commands = parser_with_demo()
    added = register_plugin_commands(load({"greets": Greets(), "takes": Takes(taken)}), commands)
    assert added.commands == {"greets": ["hello"]}
    [error] = added.errors
    assert (error.plugin, error.reason) == (
        "takes",
        f"agent_rt_register_commands failed: PluginError: plugin 'takes': command {taken!r} already exists; "
        "not replaced",
    )
    assert sorted(commands.choices) == ["demo", "hello"]
    assert parser.parse_args(["demo"]).handler == "the built-in demo"
    with pytest.raises(SystemExit):
        parser.parse_args(["mine"])


def test_a_command_without_handler_is_refused() -> None:
    _, commands = parser_with_demo()
    added = register_plugin_commands(load({"no_handler": NoHandler()}), commands)
    assert [(error.plugin, error.reason) for error in added.errors] == [
        ("no_handler", "command 'lonely' has no handler (set_defaults(handler=fn))")
    ]
    assert sorted(commands.choices) == ["demo"]


# -- session defaults (collected at load) ---------------------------------------------------------


class Defaults:
    def __init__(self, **fields: Any) -> None:
        self.fields = fields

    @hookimpl
    def agent_rt_session_defaults(self) -> dict[str, Any]:
        return self.fields


def test_defaults_combine_fragments_and_the_first_plugin_wins_a_field() -> None:
    loaded = load(
        {
            "a": Defaults(instructions="Be brief.", voice="marin"),
            "b": Defaults(
                instructions="Speak French.", voice="cedar", audio={"input": {"noise_reduction": None}}
            ),
        }
    )
    assert loaded.session_defaults == {
        "instructions": "Be brief.\n\nSpeak French.",
        "voice": "marin",
        "input_audio_noise_reduction": None,
    }
    [conflict] = loaded.conflicts
    assert isinstance(conflict, PluginConflictError)
    assert (conflict.kind, conflict.tool, conflict.plugins) == ("session default", "voice", ("a", "b"))
    assert dict(loaded.plugins[1].session_defaults)["voice"] == "cedar"  # what b asked for, for the listing


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"tools": []}, "session default 'tools' is not allowed"),
        ({"model": "x"}, "session default 'model' is not allowed"),
        ({"instructions": 3}, "session default 'instructions' must be a string"),
        ({"turn_detection": "loud"}, "invalid session defaults: ConfigurationError"),
    ],
)
def test_bad_defaults_fail_their_plugin_only(fields: dict[str, Any], reason: str) -> None:
    loaded = load({"bad": Defaults(**fields), "good": Defaults(voice="marin")})
    assert [info.name for info in loaded.plugins] == ["good"]
    [error] = loaded.failures
    assert error.plugin == "bad"
    assert error.reason.startswith(reason)


def test_defaults_must_be_a_mapping() -> None:
    class Wrong:
        @hookimpl
        def agent_rt_session_defaults(self) -> object:
            return ["voice", "marin"]

    loaded = load({"wrong": Wrong()})
    assert [error.reason for error in loaded.failures] == [
        "agent_rt_session_defaults returned list, expected a dict"
    ]


# -- observers --------------------------------------------------------------------------------

SCENARIO = {"rules": [{"match": "hi", "reply": "Hello there."}]}


async def one_turn(client: RealtimeClient) -> None:
    """One text turn, until the response is done (its message may complete before ``response.done``)."""
    done = anyio.Event()
    client.realtime.on("server.response.done", lambda event: done.set())
    async with client:
        await client.send_user_message_content([{"type": "input_text", "text": "hi"}])
        with anyio.fail_after(10):
            await done.wait()


@pytest.mark.anyio
async def test_an_observer_sees_wire_events_and_the_close_in_order() -> None:
    seen: Events = []
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client = RealtimeClient(url=server.url, plugins=False)
        handle = attach(client, lambda name, payload: seen.append((name, dict(payload))), name="test")
        await one_turn(client)
    names = [name for name, _ in seen]
    assert set(names) <= set(OBSERVED_EVENTS)
    wire = [
        (payload["source"], payload["event"]["type"]) for name, payload in seen if name == "realtime.event"
    ]
    assert ("server", "session.created") in wire
    assert wire.index(("client", "conversation.item.create")) < wire.index(("server", "response.done"))
    assert "conversation.item.completed" in names
    assert names[-1] == "close"
    assert handle.failures == 0
    count = len(seen)
    handle.detach()
    handle.detach()
    client.emit("error", {"type": "after"})
    assert len(seen) == count


@pytest.mark.anyio
async def test_a_broken_observer_never_breaks_the_session(caplog: pytest.LogCaptureFixture) -> None:
    def broken(name: str, payload: Mapping[str, Any]) -> None:
        raise RuntimeError(f"observer bug on {name}")

    async def asynchronous(name: str, payload: Mapping[str, Any]) -> None:
        raise AssertionError("never awaited")

    errors: list[dict[str, Any]] = []
    with caplog.at_level(logging.DEBUG, logger="agent_rt.observers"):
        async with LocalRealtimeServer(scenario=SCENARIO) as server:
            client = RealtimeClient(url=server.url, plugins=False)
            client.on("error", errors.append)
            first = attach(client, broken, name="broken")
            second = attach(client, asynchronous, name="async")
            items: list[str] = []
            client.on("conversation.item.completed", lambda event: items.append(event["item"]["type"]))
            await one_turn(client)
    assert items.count("message") == 2  # the user's and the assistant's: the session went on
    assert first.failures > 5
    assert second.failures > 5
    assert [(error["type"], error["observer"]) for error in errors] == [
        ("observer_error", "broken"),
        ("observer_error", "async"),
    ]
    assert (
        errors[0]["message"]
        == "observer 'broken' failed on 'realtime.event': RuntimeError: observer bug on realtime.event"
    )
    assert "observers must be synchronous" in errors[1]["message"]
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 2  # once per observer; the rest at DEBUG


@pytest.mark.anyio
async def test_plugin_observers_are_asked_per_client_and_failures_are_contained() -> None:
    made: list[RealtimeClient] = []
    seen: list[str] = []

    class Watches:
        @hookimpl
        def agent_rt_observer(self, client: RealtimeClient) -> Any:
            made.append(client)
            return lambda name, payload: seen.append(name)

    class Crashes:
        @hookimpl
        def agent_rt_observer(self) -> Any:
            raise RuntimeError("cannot observe")

    class NotCallable:
        @hookimpl
        def agent_rt_observer(self) -> Any:
            return 42

    loaded = load({"watches": Watches(), "crashes": Crashes(), "odd": NotCallable()})
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client = RealtimeClient(url=server.url, plugins=False)
        handles = attach_plugin_observers(client, loaded)
        assert [handle.name for handle in handles] == ["watches"]
        assert made == [client]
        await one_turn(client)
    assert "realtime.event" in seen
    assert seen[-1] == "close"


# -- what a client takes from its plugins ---------------------------------------------------------


@pytest.mark.anyio
async def test_a_client_starts_from_the_plugins_defaults_and_the_application_overrides_them() -> None:
    plugin = Defaults(voice="marin", instructions="Be brief.")
    client = RealtimeClient(api_key="x", plugins={"prefs": plugin})
    assert (client.session_config["voice"], client.session_config["instructions"]) == ("marin", "Be brief.")
    await client.update_session(voice="cedar")
    assert (client.session_config["voice"], client.session_config["instructions"]) == ("cedar", "Be brief.")
    bound = RealtimeClient(api_key="x", plugins={"prefs": plugin}, session_defaults=False)
    assert bound.session_config == {}


@pytest.mark.anyio
async def test_a_plugins_broken_observer_never_breaks_a_clients_session() -> None:
    class Broken:
        @hookimpl
        def agent_rt_observer(self) -> Any:
            def observe(name: str, payload: Mapping[str, Any]) -> None:
                raise ValueError("bug")

            return observe

    errors: list[dict[str, Any]] = []
    async with LocalRealtimeServer(scenario=SCENARIO) as server:
        client = RealtimeClient(url=server.url, plugins={"broken": Broken()})
        client.on("error", errors.append)
        await one_turn(client)
        assert client.conversation.get_items()[-1]["formatted"]["transcript"] == "Hello there."
    assert [(error["type"], error["observer"]) for error in errors] == [("observer_error", "broken")]
