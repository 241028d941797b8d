"""A small MCP server for the tests, written with the official SDK (stdio, or streamable HTTP).

Run: ``python calc_server.py [--http PORT] [--marker TEXT] [--fail | --hang]``. ``--marker`` only labels
the process (the orphan test finds it by its command line); ``--fail`` exits before serving, ``--hang``
never serves.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import time
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("calc")


@server.tool(description="Add two numbers.")
def add(a: int, b: int) -> int:
    return a + b


@server.tool(description="Divide a by b.")
def divide(a: float, b: float) -> float:
    if b == 0:
        raise ToolError("cannot divide by zero")
    return a / b


@server.tool()
def shout(text: str) -> str:
    return text.upper()


@server.tool(description="Sleep, then answer.")
async def slow(seconds: float) -> str:
    sys.stderr.write(f"slow: sleeping {seconds} s\n")
    sys.stderr.flush()
    await anyio.sleep(seconds)
    return "awake"


@server.tool(description="The process exits in the middle of the call.")
def crash() -> str:
    sys.stderr.write("calc server: crashing on purpose\n")
    sys.stderr.flush()
    os._exit(3)


@server.tool(description="A tiny PNG and a caption.")
def picture() -> list[Any]:
    from mcp.types import ImageContent, TextContent

    png = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
    return [TextContent(text="a red dot"), ImageContent(data=png, mime_type="image/png")]


@server.tool(description="Add a tool named 'multiply' and tell the client the tool list changed.")
async def grow(ctx: Context) -> str:
    def multiply(a: float, b: float) -> float:
        """Multiply two numbers."""
        return a * b

    server.add_tool(multiply, name="multiply", description="Multiply two numbers.")
    await ctx.session.send_tool_list_changed()
    return "grown"


@server.tool(description="Say where the server runs and what it was given.")
def whoami() -> dict[str, Any]:
    return {"cwd": os.getcwd(), "greeting": os.environ.get("CALC_GREETING"), "pid": os.getpid()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int)
    parser.add_argument("--marker", default="")
    parser.add_argument("--fail", action="store_true")
    parser.add_argument("--hang", action="store_true")
    args = parser.parse_args()
    sys.stderr.write(f"calc server starting (marker {args.marker})\n")
    sys.stderr.flush()
    if args.hang:  # started, but never answers (nor notices that its stdin closed)
        while True:
            time.sleep(60)
    if args.fail:
        time.sleep(0.05)
        sys.exit("calc server: refusing to start (--fail)")
    if args.http:
        server.run("streamable-http", host="127.0.0.1", port=args.http)
    else:
        server.run()


if __name__ == "__main__":
    main()
