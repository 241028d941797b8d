"""Runs one documentation snippet in a fresh interpreter, offline (used by test_docs_snippets.py).

``python tests/snippet_runner.py CONTEXT FILE BACKEND`` with ``AGENT_RT_SNIPPET_URL`` (a local Realtime
server's WebSocket URL) and ``AGENT_RT_SNIPPET_HTTP`` (its REST base URL) in the environment.

The only thing changed for a snippet: the service's default endpoints (``agent_rt.api.DEFAULT_URL``,
``agent_rt.client_secrets.DEFAULT_BASE_URL``) point at that local server, so code written for the real
service runs as written without a network. Contexts (see the test module):

- ``program``: the file as a script (``__main__``).
- ``async``: the file as a module whose top level may ``await`` (compiled with
  ``PyCF_ALLOW_TOP_LEVEL_AWAIT``), run with ``anyio.run`` on BACKEND.
- ``client``: like ``async``, with a connected ``client = RealtimeClient()`` in the module's globals.
"""

from __future__ import annotations

import ast
import inspect
import os
import runpy
import sys
from typing import Any

# Snippets see installed packages, not the test folders beside this script (tests/mcp is not ``mcp``).
sys.path[:] = [
    entry for entry in sys.path if os.path.abspath(entry or ".") != os.path.dirname(os.path.abspath(__file__))
]

import anyio  # noqa: E402

import agent_rt.api  # noqa: E402
import agent_rt.client_secrets  # noqa: E402


def point_defaults_at_the_local_server() -> None:
    for module, name, variable in (
        (agent_rt.api, "DEFAULT_URL", "AGENT_RT_SNIPPET_URL"),
        (agent_rt.client_secrets, "DEFAULT_BASE_URL", "AGENT_RT_SNIPPET_HTTP"),
    ):
        if not hasattr(module, name):  # never fall through to the real service
            raise SystemExit(f"snippet runner: {module.__name__}.{name} is gone; update this runner")
        setattr(module, name, os.environ[variable])


async def run_async(code: Any, with_client: bool) -> None:
    """Run top-level-await code in a module namespace (so its functions see its imports)."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    if not with_client:
        result = eval(code, namespace)
        if inspect.iscoroutine(result):
            await result
        return
    from agent_rt import RealtimeClient

    async with RealtimeClient() as client:
        await client.wait_for_session_created(timeout=10)
        namespace["client"] = client
        result = eval(code, namespace)
        if inspect.iscoroutine(result):
            await result


def main(context: str, path: str, backend: str) -> None:
    point_defaults_at_the_local_server()
    if context == "program":
        runpy.run_path(path, run_name="__main__")
        return
    if context not in ("async", "client"):
        raise SystemExit(f"snippet runner: unknown context {context!r}")
    with open(path, encoding="utf-8") as source:
        code = compile(source.read(), path, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    anyio.run(run_async, code, context == "client", backend=backend)


if __name__ == "__main__":
    main(*sys.argv[1:4])
