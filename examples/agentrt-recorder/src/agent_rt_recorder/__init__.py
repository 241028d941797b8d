"""Example agent_rt plugin: records sessions as JSON Lines, lists them, and turns input transcription on.

One module is the whole plugin: three hook implementations, found through the entry point
``recorder = "agent_rt_recorder"`` in the group ``agent_rt``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from agent_rt import RealtimeClient, hookimpl

__version__ = "0.2.0"

__all__ = ["ENV_DIR", "Recorder", "__version__", "summarise"]

#: Where recordings go; the plugin's config key ``dir`` does the same. Unset: nothing is recorded.
ENV_DIR = "AGENT_RT_RECORD_DIR"


class Recorder:
    """An observer: one JSON line per event (``{"name", "payload"}``), to a file opened on the first event
    and closed on ``close``.

    Writes are small and buffered; an application with heavy traffic would hand them to a thread.
    """

    def __init__(self, directory: Path) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.path = directory / f"{stamp}-{uuid.uuid4().hex[:8]}.jsonl"
        self._file: IO[str] | None = None

    def __call__(self, name: str, payload: Mapping[str, Any]) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        record = {"name": name, "payload": _without_audio(payload)}
        self._file.write(json.dumps(record, default=str) + "\n")
        if name == "close":
            self._file.close()
            self._file = None


def _without_audio(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload with base64 audio replaced by its length (``realtime.event`` carries the raw event)."""
    data = dict(payload)
    event = data.get("event")
    if isinstance(event, Mapping) and "audio" in str(event.get("type", "")):
        event = dict(event)
        for key in ("audio", "delta"):
            if isinstance(event.get(key), str):
                event[key] = f"<{len(event[key])} base64 characters>"
        data["event"] = event
    return data


def summarise(directory: Path) -> list[str]:
    """One line per recording: events, tool calls and the session id."""
    lines = []
    for path in sorted(directory.glob("*.jsonl")):
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        names = Counter(record["name"] for record in records)
        session = next(
            (
                record["payload"]["event"]["session"].get("id")
                for record in records
                if record["name"] == "realtime.event"
                and record["payload"]["event"].get("type") == "session.created"
            ),
            "?",
        )
        lines.append(
            f"{path.name}: session {session}, {len(records)} events, "
            f"{names['tool.call.finished']} tool calls, {names['error']} errors"
        )
    return lines


def _recordings(args: argparse.Namespace) -> int:
    directory = Path(args.dir or os.environ.get(ENV_DIR) or ".")
    if not directory.is_dir():
        print(f"agent-rt recordings: no such directory: {directory}", file=sys.stderr)
        return 1
    lines = summarise(directory)
    print("\n".join(lines) if lines else f"no recordings in {directory}")
    return 0


@hookimpl
def agent_rt_observer(client: RealtimeClient, config: Mapping[str, Any]) -> Recorder | None:
    directory = config.get("dir") or os.environ.get(ENV_DIR)
    return Recorder(Path(directory)) if directory else None


@hookimpl
def agent_rt_register_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub = commands.add_parser("recordings", help="summarise the sessions agentrt-recorder wrote")
    sub.add_argument("dir", nargs="?", help=f"the recordings directory (default: ${ENV_DIR} or .)")
    sub.set_defaults(handler=_recordings)


@hookimpl
def agent_rt_session_defaults() -> dict[str, Any]:
    return {
        "input_audio_transcription": {"model": "whisper-1"},
        "instructions": "If asked, say that this conversation is being recorded.",
    }
