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
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import numpy as np
import pytest

from agent_rt.console import static_dir
from agent_rt.console.scenario import CONSOLE_SCENARIO, FIRST_RESPONSE_DELAY
from agent_rt.server import ConnectionInfo, LocalRealtimeServer

from .standin import standin_relay

pytest.importorskip("playwright.sync_api", reason="the browser tests need the dev extra (playwright)")
from playwright.sync_api import Browser, Playwright, sync_playwright  # noqa: E402

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


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
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


# -- a speech-like microphone ----------------------------------------------------------------------


def speech_like(seconds: float, rate: int = 48000, seed: int = 7) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Voiced "syllables": a gliding pitch with formant-shaped harmonics under a 4 Hz envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 135 + 25 * np.sin(2 * np.pi * 0.7 * t) + 3 * rng.standard_normal(len(t)).cumsum() / np.sqrt(rate)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    vowels = [(700, 1200, 2500), (350, 2000, 2800), (500, 900, 2400), (300, 850, 2300)]
    syllable = (t * 4).astype(int)
    signal = np.zeros(len(t))
    for k in range(1, 30):
        freq = k * f0
        gain = np.zeros(len(t))
        for index, formants in enumerate(vowels):
            mask = syllable % len(vowels) == index
            gain[mask] = sum(np.exp(-(((freq[mask] - f) / 110) ** 2)) for f in formants) / k**0.5
        signal += gain * np.sin(k * phase)
    envelope = np.clip(np.sin(np.pi * ((t * 4) % 1.0)) * 1.6, 0, 1) ** 0.7
    signal *= envelope
    return 0.3 * signal / np.max(np.abs(signal))


def write_wav(path: Path, samples: np.ndarray[Any, np.dtype[np.float64]], rate: int = 48000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def speech_then_silence(path: Path, speech_s: float, silence_s: float, rate: int = 48000) -> Path:
    """A WAV of ``speech_s`` of speech then ``silence_s`` of silence (Chromium loops it)."""
    samples = np.concatenate((speech_like(speech_s, rate), np.zeros(int(silence_s * rate))))
    return write_wav(path, samples, rate)


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


@pytest.fixture
def console_server() -> Iterator[ConsoleServer]:
    """The console page in front of a local server paced like the service (in a thread of its own)."""
    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        upstream = LocalRealtimeServer(
            scenario=CONSOLE_SCENARIO, realtime_audio=True, first_response_delay=FIRST_RESPONSE_DELAY
        )
        with portal.wrap_async_context_manager(upstream):
            with portal.wrap_async_context_manager(standin_relay(upstream.url)) as url:
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
