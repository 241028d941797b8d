"""``agent-rt console`` as a user runs it: the command prints the URL, the page works offline, and
a plugin tool runs in the relay with its call and output shown in the page."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio.from_thread
import pytest
from playwright.sync_api import Browser, expect

from agent_rt.server import LocalRealtimeServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


@contextlib.contextmanager
def running_console(*options: str, key: str | None = None) -> Iterator[tuple[str, list[str]]]:
    """Run ``agent-rt console --port 0 --no-browser [options]``; yield its URL and what it printed."""
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    if key is not None:
        env["OPENAI_API_KEY"] = key
    command = [sys.executable, "-m", "agent_rt", "console", "--port", "0", "--no-browser", *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert process.stdout is not None
        lines: list[str] = []
        for line in process.stdout:
            lines.append(line)
            found = re.search(r"open (http://127\.0\.0\.1:\d+/)", line)
            if found:
                yield found.group(1), lines
                break
        else:
            pytest.fail(f"agent-rt console printed no URL: {''.join(lines)}")
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def console_url() -> Iterator[str]:
    with running_console() as (url, _):
        yield url


def test_the_console_command_serves_the_page_with_the_local_server_and_plugin_tools(
    browser: Browser, console_url: str
) -> None:
    page = browser.new_page()
    page.goto(console_url)
    page.get_by_test_id("connect").click()
    expect(page.get_by_test_id("status")).to_have_text(re.compile(r"^connected$"))
    page.get_by_test_id("text-input").fill("Hello!")
    page.get_by_test_id("send").click()
    assistant = page.get_by_test_id("conversation").locator('li[data-role="assistant"]')
    expect(assistant).to_have_text(  # 65 characters of paced speech: about 4 s
        ["Hi! I'm the local stand-in model. Ask me the time, or some maths."], timeout=15_000
    )
    log = page.get_by_test_id("event-log")
    expect(log.locator('li[data-type="response.done"][data-direction="server"]')).to_have_count(
        1, timeout=15_000
    )
    page.get_by_test_id("text-input").fill("What is (17 + 4) * 23?")  # the clock plugin's calculate
    page.get_by_test_id("send").click()
    tool = page.get_by_test_id("conversation").locator('li[data-role="tool"]')
    expect(tool.locator(".tool-output")).to_contain_text('"result": 483', timeout=15_000)
    expect(assistant.last).to_contain_text("(17 + 4) * 23 is 483", timeout=15_000)
    assert log.locator('li[data-type="error"]').count() == 0
    lines = page.evaluate("window.agentConsole.inspector.exportLines()").splitlines()
    created = next(e["event"] for e in map(json.loads, lines) if e["event"]["type"] == "session.created")
    assert created["session"]["type"] == "realtime"  # GA by default


def test_the_console_command_says_what_it_needs_without_the_relay_extra(tmp_path: Path) -> None:
    blocker = tmp_path / "starlette.py"
    blocker.write_text("raise ImportError('starlette is not installed')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    command = [sys.executable, "-m", "agent_rt", "console", "--port", "0", "--no-browser"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1
    assert 'pip install "agentrt[relay]"' in done.stderr


def test_the_console_command_relays_to_the_upstream_it_is_given(browser: Browser) -> None:
    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        upstream = LocalRealtimeServer()
        with (
            portal.wrap_async_context_manager(upstream),
            running_console("--upstream", upstream.url) as (url, lines),
        ):
            assert any(upstream.url in line for line in lines)
            page = browser.new_page()
            page.goto(url)
            page.get_by_test_id("connect").click()
            expect(page.get_by_test_id("status")).to_have_text(re.compile(r"^connected$"))
            assert len(upstream.connections) == 1
            assert upstream.connections[0].dialect == "ga"


def test_with_a_key_the_console_names_the_service_and_never_prints_the_key() -> None:
    key = "sk-test-console-0123456789abcdef"
    with running_console(key=key) as (url, lines):
        assert url.startswith("http://127.0.0.1:")
        assert any("OpenAI Realtime API" in line for line in lines)
        assert not any(key in line for line in lines)
