"""``agent-rt serve`` as a real process, for tests that need a server outside their own event loop."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def serve_process(*options: str) -> Iterator[str]:
    """Start ``agent-rt serve --port 0 OPTIONS`` (no OpenAI key in its environment); yield its URL."""
    env = {key: value for key, value in os.environ.items() if key != "OPENAI_API_KEY"}
    command = [sys.executable, "-m", "agent_rt", "serve", "--port", "0", *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        match = re.search(r"ws://\S+/v1/realtime", banner)
        assert match, f"no URL in the server's banner: {banner!r}"
        yield match.group(0)
    finally:
        process.terminate()
        process.wait(timeout=10)
