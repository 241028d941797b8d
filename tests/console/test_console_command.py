"""``agent-rt console`` as a user runs it: the command prints the URL, the page works offline, and
a plugin tool runs in the relay with its call and output shown in the page."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

DOCS_IMAGE = Path(__file__).resolve().parents[2] / "docs" / "images" / "console.png"


@pytest.fixture
def console_url() -> Iterator[str]:
    """Run ``agent-rt console --port 0 --no-browser`` and yield the URL it prints."""
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    command = [sys.executable, "-m", "agent_rt", "console", "--port", "0", "--no-browser"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            found = re.search(r"open (http://127\.0\.0\.1:\d+/)", line)
            if found:
                yield found.group(1)
                break
        else:
            pytest.fail(f"agent-rt console printed no URL: {''.join(lines)}")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_console_command_serves_the_page_and_runs_plugin_tools(
    browser: Browser, console_url: str, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(console_url)
    page.get_by_test_id("connect").click()
    expect(page.get_by_test_id("status")).to_have_text(re.compile(r"^connected$"))
    page.get_by_test_id("text-input").fill("What time is it in Tokyo?")
    page.get_by_test_id("send").click()
    tool = page.get_by_test_id("conversation").locator('li[data-role="tool"]')
    expect(tool).to_have_count(1, timeout=15_000)
    expect(tool).to_contain_text("get_time")
    expect(tool).to_contain_text("Asia/Tokyo")
    expect(tool.locator(".tool-output")).to_contain_text('"weekday"', timeout=15_000)  # the plugin's output
    assistant = page.get_by_test_id("conversation").locator('li[data-role="assistant"]')
    expect(assistant.last).to_contain_text("In Tokyo it is", timeout=15_000)
    # The relay answered the call: the page sent no output itself, the server echoed the relay's.
    lines = page.evaluate("window.agentConsole.inspector.exportLines()").splitlines()
    log = [(e["direction"], e["event"]) for e in map(json.loads, lines)]
    outputs = [
        direction
        for direction, event in log
        if event["type"] in ("conversation.item.create", "conversation.item.added")
        and event["item"]["type"] == "function_call_output"
    ]
    assert outputs == ["server"]
    assert not [event for _, event in log if event["type"] == "error"]
    shot = tmp_path / "console.png"
    page.screenshot(path=str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG")
    if os.environ.get("AGENT_RT_UPDATE_SCREENSHOTS"):
        shutil.copyfile(shot, DOCS_IMAGE)
