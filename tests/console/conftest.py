"""Browser tests of the console: Playwright for Python driving the system Chromium.

Chromium is never downloaded: it comes from the system packages (``/usr/bin/chromium``, or
``AGENT_RT_CHROMIUM``). Without it these tests skip on a developer machine but fail in CI (``CI``
set), so a CI image that lost its browser cannot pass silently.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import pytest
from playwright.sync_api import Browser, Playwright, expect, sync_playwright

from agent_rt.console import static_dir
from agent_rt.console.cli import listen, relay_server
from agent_rt.console.scenario import CONSOLE_SCENARIO, FIRST_RESPONSE_DELAY
from agent_rt.server import ConnectionInfo, LocalRealtimeServer

# Answers are paced like speech and CI machines are shared: give assertions room (they end on success).
expect.set_options(timeout=10_000)

SAFE_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def chromium_path() -> str:
    """The system Chromium, or fail (in CI) / skip (elsewhere) when there is none."""
    candidate = os.environ.get("AGENT_RT_CHROMIUM") or "/usr/bin/chromium"
    found = candidate if os.access(candidate, os.X_OK) else shutil.which("chromium")
    if found:
        return found
    message = f"no Chromium at {candidate} (apt-get install -y chromium)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def playwright() -> Iterator[Playwright]:
    # Per test, not per session: Playwright's sync API keeps an asyncio loop running in this thread,
    # which would break every async (anyio) test that runs after it.
    with sync_playwright() as pw:
        yield pw


@contextlib.contextmanager
def launch(pw: Playwright, microphone_wav: Path | None = None) -> Iterator[Browser]:
    """A headless Chromium; with ``microphone_wav`` its fake microphone plays that file in a loop."""
    args = list(SAFE_ARGS)
    if microphone_wav is not None:
        args += [
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={microphone_wav}",
        ]
    browser = pw.chromium.launch(executable_path=chromium_path(), args=args)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def browser(playwright: Playwright) -> Iterator[Browser]:
    with launch(playwright) as opened:
        yield opened


# -- servers ---------------------------------------------------------------------------------------


@dataclass
class ConsoleServer:
    url: str
    """The page: ``http://127.0.0.1:P/``."""
    upstream: LocalRealtimeServer
    portal: anyio.from_thread.BlockingPortal

    def wait_closed(self, info: ConnectionInfo, timeout: float = 10.0) -> None:
        """Wait (on the server's loop) until the upstream saw this connection close."""

        async def wait() -> None:
            with anyio.fail_after(timeout):
                await info.closed.wait()

        self.portal.call(wait)


@contextlib.asynccontextmanager
async def relay_console(upstream_url: str, **options: Any) -> AsyncIterator[str]:
    """The relay (as ``agent-rt console`` runs it) in front of ``upstream_url``; yields the page URL."""
    with listen(0) as sock:
        server = relay_server(upstream_url, **options)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(functools.partial(server.serve, sockets=[sock]))
            try:  # the socket listens already: connections wait in its backlog until uvicorn accepts
                yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
            finally:
                server.should_exit = True


@pytest.fixture
def console_server() -> Iterator[ConsoleServer]:
    """The console through the relay, in front of a local server paced like the service.

    Both run on asyncio (uvicorn) in a thread of their own, so the test drives the browser with
    Playwright's synchronous API.
    """
    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        upstream = LocalRealtimeServer(
            scenario=CONSOLE_SCENARIO, realtime_audio=True, first_response_delay=FIRST_RESPONSE_DELAY
        )
        with (
            portal.wrap_async_context_manager(upstream),
            portal.wrap_async_context_manager(relay_console(upstream.url)) as url,
        ):
            yield ConsoleServer(url=url, upstream=upstream, portal=portal)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def static_url() -> Iterator[str]:
    """The console's static files over plain HTTP (for the JS unit tests)."""
    handler = functools.partial(_Quiet, directory=str(static_dir()))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
