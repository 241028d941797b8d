"""Every ```python block of README.md and docs/*.md runs, offline, against a local Realtime server.

The convention (an HTML comment on the line before a block, invisible on the rendered page):

- no comment, or ``<!-- snippet: program -->``: a complete program, run as a script;
- ``<!-- snippet: async -->``: a complete piece of async code (top-level ``await``/``async with``), run
  as the body of an async function on asyncio and on trio;
- ``<!-- snippet: client -->``: a fragment that uses ``client``: it runs inside
  ``async with RealtimeClient() as client`` (connected), on asyncio and on trio;
- ``<!-- snippet: file NAME -->`` before any other block (e.g. ```json): that text is written to NAME
  in the working directory of the page's snippets (a scenario file the page refers to).

Each snippet runs in a fresh interpreter (tests/snippet_runner.py) whose only change is that the
service's default endpoints point at an ``agent-rt serve`` process started for this module, with a
dummy ``OPENAI_API_KEY``: code written for the real service runs as written. A block with an unknown
marker fails; nothing is skipped.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .serve_process import serve_process

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CONTEXTS = {"program", "async", "client"}
TIMEOUT = 60
_FENCE = re.compile(r"^```(\w*)\s*$")
_MARKER = re.compile(r"^<!--\s*snippet:\s*(.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    language: str
    marker: str | None
    code: str

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of a Markdown page, each with the snippet marker just before it (if any)."""
    found: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if fence is None:
            index += 1
            continue
        before = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        marker = _MARKER.match(before.strip())
        end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == "```")
        code = "\n".join(lines[index + 1 : end]) + "\n"
        found.append(Block(page, index + 1, fence.group(1), marker.group(1) if marker else None, code))
        index = end + 1
    return found


def python_snippets() -> Iterator[tuple[Block, str]]:
    for page in PAGES:
        for block in blocks(page):
            if block.language == "python":
                yield block, block.marker or "program"


SNIPPETS = list(python_snippets())


def _params() -> list[object]:
    params: list[object] = []
    for block, context in SNIPPETS:
        backends = ["asyncio", "trio"] if context in ("async", "client") else ["asyncio"]
        for backend in backends:
            params.append(pytest.param(block, context, backend, id=f"{block.name}-{context}-{backend}"))
    return params


@pytest.fixture(scope="module")
def local_server() -> Iterator[str]:
    """An ``agent-rt serve`` process for the module's snippets; yields its WebSocket URL."""
    with serve_process() as url:
        yield url


def test_the_pages_have_python_snippets_and_every_marker_is_known() -> None:
    assert len(SNIPPETS) >= 10  # README.md and docs/ (a parser that finds nothing must not pass)
    for page in PAGES:
        for block in blocks(page):
            if block.marker is None:
                continue
            if block.language == "python":
                assert block.marker in CONTEXTS, f"{block.name}: unknown snippet context {block.marker!r}"
            else:
                assert block.marker.startswith("file "), f"{block.name}: other blocks can only be files"


@pytest.mark.parametrize(("block", "context", "backend"), _params())
def test_snippet_runs(block: Block, context: str, backend: str, local_server: str, tmp_path: Path) -> None:
    for other in blocks(block.page):  # files the page's snippets refer to
        if other.marker and other.marker.startswith("file "):
            (tmp_path / other.marker.removeprefix("file ").strip()).write_text(other.code, encoding="utf-8")
    snippet = tmp_path / "snippet.py"
    snippet.write_text(block.code, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("AGENT_RT_")}
    http = local_server.replace("ws://", "http://", 1).removesuffix("/realtime")
    env.update(
        OPENAI_API_KEY="sk-snippet-dummy",
        AGENT_RT_SNIPPET_URL=local_server,
        AGENT_RT_SNIPPET_HTTP=http,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "snippet_runner.py"), context, str(snippet), backend],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"{block.name} ({context}) failed:\n{result.stdout}\n{result.stderr}"
