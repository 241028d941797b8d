"""The ``agent-rt`` command, driven as a subprocess the way a user runs it (local server, no key)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from agent_rt import audio

TIMEOUT = 60


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "OPENAI_API_KEY"}
    return subprocess.run(
        [sys.executable, "-m", "agent_rt", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("extra", [[], ["--protocol", "beta"]])
def test_demo_shows_a_full_conversation_with_tool_calls(extra: list[str]) -> None:
    result = run("demo", *extra)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "the local Realtime server" in out
    assert 'tool call  calculate({"expression": "(17 + 4) * 23"})' in out
    assert "tool done  calculate [ok" in out
    assert "assistant> (17 + 4) * 23 is 483." in out
    assert "tool done  get_time [ok" in out
    assert "assistant> In Tokyo it is " in out
    assert "{output" not in out
    assert "the server heard the audio as: 'tell me a joke'" in out
    assert "samples at 24 kHz" in out
    assert "Traceback" not in result.stderr


def test_demo_runs_on_trio() -> None:
    result = run("--trio", "demo")
    assert result.returncode == 0, result.stderr
    assert "is 483." in result.stdout


def test_chat_answers_each_line_and_exits_on_eof() -> None:
    result = run("chat", stdin="hello there\n\nsecond line\n")
    assert result.returncode == 0, result.stderr
    assert "assistant> You said: hello there" in result.stdout
    assert "assistant> You said: second line" in result.stdout


def test_say_writes_a_24khz_mono_reply(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    stereo = (rng.normal(0, 6000, (16000, 2))).astype(np.int16)  # 1 s at 16 kHz, stereo
    source, reply = tmp_path / "in.wav", tmp_path / "out.wav"
    audio.write_wav(source, stereo, 16000)
    result = run("say", str(source), "-o", str(reply))
    assert result.returncode == 0, result.stderr
    assert "transcript: You said: [1.0 s of audio]" in result.stdout
    with wave.open(str(reply)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (24000, 1, 2)
        assert wav.getnframes() > 0


def test_say_reports_a_missing_file() -> None:
    result = run("say", "/no/such/file.wav")
    assert result.returncode == 1
    assert result.stderr.strip() == "agent-rt: error: no such file: /no/such/file.wav"


def test_tools_list_shows_installed_plugins_and_schemas() -> None:
    result = run("tools", "list")
    assert result.returncode == 0, result.stderr
    assert "clock [agentrt-clock" in result.stdout
    assert "weather [agentrt-weather" in result.stdout
    assert '"name": "calculate"' in result.stdout


def test_tools_call_runs_a_tool() -> None:
    result = run("tools", "call", "calculate", '{"expression": "2 ** 10"}')
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"expression": "2 ** 10", "result": 1024}


@pytest.mark.parametrize(
    ("arguments", "status", "message"),
    [
        ('{"expression": 3}', 1, "agent-rt: error: invalid arguments"),
        ("{bad", 1, "arguments are not valid JSON"),
    ],
)
def test_tools_call_rejects_bad_arguments(arguments: str, status: int, message: str) -> None:
    result = run("tools", "call", "calculate", arguments)
    assert result.returncode == status
    assert message in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr


def test_tools_call_unknown_tool() -> None:
    result = run("tools", "call", "nope", "{}")
    assert result.returncode == 1
    assert "unknown tool 'nope'" in result.stderr


def test_live_without_a_key_is_one_clear_line() -> None:
    result = run("demo", "--live")
    assert result.returncode == 1
    assert result.stderr.strip() == "agent-rt: error: --live needs OPENAI_API_KEY in the environment"


def test_unreachable_url_is_one_clear_line() -> None:
    result = run("chat", "--url", "ws://127.0.0.1:1/v1/realtime", stdin="")
    assert result.returncode == 1
    assert result.stderr.startswith("agent-rt: error: could not connect")
    assert "Traceback" not in result.stderr


def test_serve_prints_its_url_and_stops_on_terminate() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "agent_rt", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("local Realtime server listening at ws://127.0.0.1:")
        port = int(line.split("127.0.0.1:")[1].split("/")[0])
        assert port > 0
    finally:
        process.terminate()
        process.wait(timeout=TIMEOUT)


def _read_until(process: subprocess.Popen[str], text: str, seen: list[str]) -> None:
    """Read the process's stdout line by line until a line contains ``text`` (bounded by TIMEOUT)."""
    import selectors

    assert process.stdout is not None
    deadline = time.monotonic() + TIMEOUT
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=deadline - time.monotonic()):
                break
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
            if text in line:
                return
    raise AssertionError(f"{text!r} never came; output so far: {''.join(seen)}")


def test_chat_reconnects_when_the_session_cap_ends_the_session() -> None:
    env = {key: value for key, value in os.environ.items() if key != "OPENAI_API_KEY"}
    command = [sys.executable, "-m", "agent_rt"]
    server = subprocess.Popen(
        [*command, "serve", "--port", "0", "--max-session-seconds", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split(" at ")[1].split()[0]
        chat = subprocess.Popen(
            [*command, "chat", "--url", url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        seen: list[str] = []
        try:
            assert chat.stdin is not None
            chat.stdin.write("first line\n")
            chat.stdin.flush()
            _read_until(chat, "assistant> You said: first line", seen)
            _read_until(chat, "connection lost (code 1001): reconnecting, attempt 1 of 5 in 0.0 s", seen)
            _read_until(
                chat, "reconnected: a new session (the server no longer has the 2 items before)", seen
            )
            chat.stdin.write("second line\n")
            chat.stdin.close()
            _read_until(chat, "assistant> You said: second line", seen)
            assert chat.wait(timeout=TIMEOUT) == 0
        finally:
            chat.kill()
            chat.wait()
        assert "Traceback" not in (chat.stderr.read() if chat.stderr else "")
    finally:
        server.terminate()
        server.wait(timeout=TIMEOUT)


def test_serve_rejects_a_bad_session_cap() -> None:
    result = run("serve", "--max-session-seconds", "0")
    assert result.returncode == 2
    assert "must be > 0" in result.stderr


def test_global_options_work_after_the_command_too() -> None:
    after = run("tools", "call", "calculate", '{"expression": "1 + 1"}', "--debug", "--trio")
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)["result"] == 2
    before = run("--debug", "tools", "list")
    assert before.returncode == 0, before.stderr
    assert before.stderr  # the debug log is on: the subcommand did not reset --debug to False


def test_help_is_plain_text_with_defaults() -> None:
    for args in (["--help"], ["serve", "--help"], ["tools", "call", "--help"], ["demo", "--help"]):
        result = run(*args)
        assert result.returncode == 0
        assert "``" not in result.stdout, args
    serve = " ".join(run("serve", "--help").stdout.split())
    assert "(default: 127.0.0.1;" in serve
    assert "(default: 8765)" in serve
    assert "--api-key" in serve


def _free_port_in_use() -> tuple[object, int]:
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder, int(holder.getsockname()[1])


@pytest.mark.parametrize("backend", [[], ["--trio"]])
def test_serve_on_a_busy_port_names_it(backend: list[str]) -> None:
    holder, port = _free_port_in_use()
    try:
        result = run(*backend, "serve", "--port", str(port))
    finally:
        holder.close()  # type: ignore[attr-defined]
    assert result.returncode == 1
    assert result.stderr.startswith("agent-rt: error: ")
    assert f"port {port}" in result.stderr
    assert "already in use" in result.stderr
    assert "Traceback" not in result.stderr


def _serve(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "agent_rt", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    return process, line


def test_serve_on_all_interfaces_warns_and_prints_a_connectable_url() -> None:
    process, line = _serve("--host", "0.0.0.0")
    try:
        assert line.startswith("local Realtime server listening at ws://127.0.0.1:"), line
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=TIMEOUT)
    assert "0.0.0.0" not in line
    assert stderr.startswith("agent-rt: warning: listening on 0.0.0.0")
    assert "--api-key" in stderr


def _handshake_status(url: str, headers: dict[str, str]) -> int:
    import anyio

    from agent_rt.errors import HandshakeError
    from agent_rt.transport import connect

    async def attempt() -> int:
        try:
            ws = await connect(url, headers)
        except HandshakeError as exc:
            return int(exc.status or 0)
        await ws.close()
        return 101

    return anyio.run(attempt)


@pytest.mark.parametrize("how", ["flag", "env"])
def test_serve_with_an_api_key_refuses_clients_without_it(how: str) -> None:
    key = "cli-test-key-42"
    env = {k: v for k, v in os.environ.items() if k != "AGENT_RT_SERVER_API_KEY"}
    if how == "env":
        env["AGENT_RT_SERVER_API_KEY"] = key
    process, line = _serve("--debug", *(["--api-key", key] if how == "flag" else []), env=env)
    try:
        url = line.split("listening at ")[1].split()[0]
        assert _handshake_status(url, {}) == 401
        assert _handshake_status(url, {"Authorization": "Bearer nope"}) == 401
        assert _handshake_status(url, {"Authorization": f"Bearer {key}"}) == 101
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    assert "Authorization" in stderr  # the debug log shows the handshakes...
    assert key not in line + stdout + stderr  # ...without the key


def test_a_failing_tool_exits_1_with_one_line() -> None:
    result = run("tools", "call", "calculate", '{"expression": "1/0"}')
    assert result.returncode == 1
    assert result.stderr == "agent-rt: error: CalculatorError: division by zero\n"
    assert result.stdout == ""


@pytest.mark.parametrize("args", [["tools", "call"], ["serve", "--port", "x"], ["nope"]])
def test_usage_errors_exit_2_with_the_same_prefix(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith("agent-rt: error: ")


def test_module_commands_get_the_global_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import argparse
    import types

    from agent_rt import cli

    module = types.ModuleType("agent_rt_test_extra_command")

    def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        extra = commands.add_parser("extra", help="a command from a module: ``literal``")
        extra.set_defaults(handler=lambda args: 0)

    module.register = register  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(cli, "COMMAND_MODULES", (module.__name__,))
    parser = cli._parser()
    args = parser.parse_args(["extra", "--trio", "--debug"])
    assert (args.trio, args.debug, args.command) == (True, True, "extra")
    args = parser.parse_args(["--trio", "extra"])
    assert (args.trio, args.debug) == (True, False)
    assert "``" not in parser.format_help()
    assert cli.main(["extra", "--trio"]) == 0


def test_a_command_with_its_own_debug_option_still_takes_trio_after_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from agent_rt import cli

    parser = cli._parser()
    args = parser.parse_args(["relay", "--trio"])  # the relay defines --debug itself
    assert (args.trio, args.debug) == (True, False)
    args = parser.parse_args(["relay", "--debug", "--trio"])
    assert (args.trio, args.debug) == (True, True)
    args = parser.parse_args(["--trio", "relay"])
    assert (args.trio, args.debug) == (True, False)
    with pytest.raises(SystemExit):
        parser.parse_args(["relay", "--help"])
    help_text = capsys.readouterr().out
    assert "log every event" in help_text  # the relay's own --debug, not the global one
    assert "run on trio" in help_text
