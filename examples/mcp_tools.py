"""MCP tools: the agent calls the tools of a local MCP server (stdio), written with the official SDK.

This file is both: run as ``python mcp_tools.py`` it is the agent; the agent starts this same file with
``--serve`` as its MCP server (the ``mcpServers`` entry below). The server's tools become the agent's
tools: their input schemas validate the model's arguments, a tool error reaches the model as an error
output, and the server process stops when the client disconnects. Needs ``pip install "agentrt[mcp]"``.
"""

from __future__ import annotations

import sys
from typing import Any

MCP_SERVERS = {"mcpServers": {"calc": {"command": sys.executable, "args": [__file__, "--serve"]}}}

SCENARIO = {
    "rules": [
        {
            "match": "2 and 3",
            "calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}],
            "after_output": "2 plus 3 is {output}.",
        },
        {
            "match": "by zero",
            "calls": [{"name": "divide", "arguments": {"a": 1, "b": 0}}],
            "after_output": "The calculator refused: {output.error}",
        },
    ]
}


def serve() -> None:
    """The MCP server: two tools, over stdio."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer("calc")

    @server.tool(description="Add two integers.")
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool(description="Divide a by b.")
    def divide(a: float, b: float) -> float:
        if b == 0:
            raise ToolError("cannot divide by zero")  # the model reads this message
        return a / b

    server.run()


async def main() -> None:
    from _common import ask, realtime_client, stream_transcripts

    async with realtime_client(SCENARIO, plugins=False, mcp_servers=MCP_SERVERS) as client:
        client.on("tool.call.started", lambda e: print(f"\n[tool] {e['name']}({e['arguments']})"))
        client.on("tool.call.finished", lambda e: print(f"[tool] ok={e['ok']} -> {e['output']}"))
        stream_transcripts(client)
        async with client:
            print("tools from the MCP server:", ", ".join(client.tools.names()))
            await ask(client, "What are 2 and 3 together?")
            await ask(client, "And 1 divided by zero?")
        print("MCP server stopped:", _stopped(client))


def _stopped(client: Any) -> bool:
    return client.mcp.servers is None or client.mcp.servers.state("calc") != "running"


if __name__ == "__main__":
    if "--serve" in sys.argv[1:]:
        serve()
    else:
        from _common import run

        run(main)
