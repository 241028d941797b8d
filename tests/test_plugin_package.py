"""A plugin package, built and pip-installed, working end to end (examples/agentrt-recorder).

The wheel is built with the standard frontend and installed by pip with ``--target`` into a temporary
directory, which the runs put on ``PYTHONPATH`` (subprocesses) or ``sys.path`` (in-process): pip
writes the same files and entry-point metadata as into a virtualenv, nothing lands in the shared
environment, and no dependency has to be downloaded (agentrt itself comes from this checkout).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from agent_rt import RealtimeClient
from agent_rt.plugins import ENV_ENABLE
from agent_rt.server import LocalRealtimeServer

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "examples" / "agentrt-recorder"
FRAGMENT = "If asked, say that this conversation is being recorded."


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory pip installed the recorder's wheel into."""
    dist = tmp_path_factory.mktemp("recorder-dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(PACKAGE)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    [wheel] = dist.glob("agentrt_recorder-*.whl")
    target = tmp_path_factory.mktemp("recorder-site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert (target / "agent_rt_recorder" / "__init__.py").is_file()
    assert list(target.glob("agentrt_recorder-*.dist-info/entry_points.txt"))
    return target


def agent_rt(installed: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if key not in ("OPENAI_API_KEY", ENV_ENABLE)}
    environ["PYTHONPATH"] = str(installed)
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "agent_rt", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environ,
        check=False,
    )


def test_agent_rt_plugins_lists_the_installed_package_and_its_hooks(installed: Path) -> None:
    result = agent_rt(installed, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    [recorder] = [plugin for plugin in data["plugins"] if plugin["name"] == "recorder"]
    assert recorder["distribution"] == "agentrt-recorder"
    assert recorder["version"] == "0.2.0"
    assert recorder["hooks"] == [
        "agent_rt_register_commands",
        "agent_rt_observer",
        "agent_rt_session_defaults",
    ]
    assert recorder["commands"] == ["recordings"]
    assert recorder["session_defaults"] == ["input_audio_transcription", "instructions"]
    assert data["errors"] == []
    assert "recordings" in agent_rt(installed, "--help").stdout


def test_the_demo_is_recorded_and_the_plugin_command_summarises_it(installed: Path, tmp_path: Path) -> None:
    record = tmp_path / "recordings"
    demo = agent_rt(installed, "demo", AGENT_RT_RECORD_DIR=str(record))
    assert demo.returncode == 0, demo.stderr
    [path] = record.glob("*.jsonl")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    names = [entry["name"] for entry in records]
    assert names.count("tool.call.finished") == 2  # get_time and calculate
    assert names[-1] == "close"
    audio = [
        entry["payload"]["event"]
        for entry in records
        if entry["name"] == "realtime.event"
        and entry["payload"]["event"]["type"] == "response.output_audio.delta"
    ]
    assert audio
    assert all(event["delta"].endswith("base64 characters>") for event in audio)

    summary = agent_rt(installed, "recordings", str(record))
    assert summary.returncode == 0, summary.stderr
    assert summary.stdout.startswith(f"{path.name}: session sess_")
    assert f", {len(records)} events, 2 tool calls, 0 errors" in summary.stdout
    missing = agent_rt(installed, "recordings", str(tmp_path / "nowhere"))
    assert missing.returncode == 1
    assert "no such directory" in missing.stderr


def test_a_broken_observer_of_an_installed_plugin_does_not_break_the_demo(
    installed: Path, tmp_path: Path
) -> None:
    """The recorder cannot create its directory (a file is in the way): every event fails in the observer."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    demo = agent_rt(installed, "demo", AGENT_RT_RECORD_DIR=str(blocker / "recordings"))
    assert demo.returncode == 0, demo.stderr
    assert "is 483." in demo.stdout  # the conversation went on to the end
    lines = demo.stderr.splitlines()
    reported = [line for line in lines if line.startswith("agent-rt: error: observer 'recorder' failed")]
    assert len(reported) == 1, demo.stderr  # reported once as an error event, then only logged at DEBUG
    assert "NotADirectoryError" in reported[0] or "FileExistsError" in reported[0]
    logged = [line for line in lines if "observer 'recorder' failed" in line and line not in reported]
    assert len(logged) == 1, demo.stderr  # the WARNING log line, once


@pytest.fixture
def on_path(installed: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The installed package importable in this process, and only it among the plugins."""
    monkeypatch.syspath_prepend(str(installed))
    monkeypatch.setenv(ENV_ENABLE, "recorder")
    yield
    sys.modules.pop("agent_rt_recorder", None)


async def session_seen_by_server(**settings: Any) -> dict[str, Any]:
    """Connect a client (after ``update_session(**settings)`` if given) and return the server's session."""
    async with LocalRealtimeServer() as server:
        client = RealtimeClient(url=server.url)
        if settings:
            await client.update_session(**settings)
        updated: list[dict[str, Any]] = []
        got = anyio.Event()

        def on_updated(event: dict[str, Any]) -> None:
            updated.append(event["session"])
            got.set()

        client.realtime.on("server.session.updated", on_updated)
        async with client:
            with anyio.fail_after(10):
                await got.wait()
    return updated[-1]


@pytest.mark.anyio
@pytest.mark.usefixtures("on_path")
async def test_the_plugins_session_defaults_reach_the_server() -> None:
    session = await session_seen_by_server()
    assert session["instructions"] == FRAGMENT
    assert session["audio"]["input"]["transcription"]["model"] == "whisper-1"


@pytest.mark.anyio
@pytest.mark.usefixtures("on_path")
async def test_the_applications_update_session_overrides_them() -> None:
    session = await session_seen_by_server(
        instructions="The application's own.", input_audio_transcription={"model": "gpt-4o-transcribe"}
    )
    assert session["instructions"] == "The application's own."
    assert session["audio"]["input"]["transcription"]["model"] == "gpt-4o-transcribe"
