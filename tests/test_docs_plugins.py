"""The Python snippets of the plugin, tracing and install pages run as written, in fresh interpreters."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = ("plugins.md", "telemetry.md", "install.md")


def snippets() -> list[tuple[str, int, str]]:
    found: list[tuple[str, int, str]] = []
    for page in PAGES:
        blocks = re.findall(r"^```python\n(.*?)^```", (DOCS / page).read_text(), re.S | re.M)
        found.extend((page, index, block) for index, block in enumerate(blocks))
    return found


def test_the_pages_have_snippets() -> None:
    pages = {page for page, _, _ in snippets()}
    assert pages == {"plugins.md", "telemetry.md"}


@pytest.mark.parametrize(("page", "index", "code"), snippets(), ids=lambda value: str(value)[:20])
def test_snippet_runs(page: str, index: int, code: str, tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "OPENAI_API_KEY"}
    env["AGENT_RT_PLUGINS"] = "none"  # the snippets' own plugins only
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert result.returncode == 0, f"{page} snippet {index}:\n{result.stderr}"


def test_the_explicit_plugin_snippet_prints_what_the_page_says(tmp_path: Path) -> None:
    [code] = [code for page, _, code in snippets() if page == "plugins.md" and "Counts" in code]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "marin / The application decides.", result.stderr
    assert lines[-1] == "1 session, 1 response"
