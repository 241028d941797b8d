"""A stand-in for the relay in tests: the console's files at ``/`` and ``/v1/realtime`` piped to an
upstream Realtime URL (frames untouched, browser subprotocols kept except the token).

Temporary: the browser tests use it only until the relay (``agent_rt.relay``) is merged.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
from collections.abc import AsyncIterator, Sequence
from http import HTTPStatus
from urllib.parse import urlsplit

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from agent_rt.console import static_dir


def _static(path: str) -> Response:
    root = static_dir()
    name = urlsplit(path).path.lstrip("/") or "index.html"
    file = (root / name).resolve()
    if root not in file.parents or not file.is_file():
        return Response(404, "Not Found", Headers([("Content-Length", "0")]), b"")
    body = file.read_bytes()
    kind = "text/javascript" if file.suffix == ".js" else mimetypes.guess_type(file.name)[0] or "text/plain"
    headers = Headers([("Content-Type", f"{kind}; charset=utf-8"), ("Content-Length", str(len(body)))])
    return Response(HTTPStatus.OK, "OK", headers, body)


async def _pipe(source: object, sink: object) -> None:
    try:
        async for message in source:  # type: ignore[attr-defined]
            await sink.send(message)  # type: ignore[attr-defined]
    except ConnectionClosed:
        pass
    finally:
        await sink.close()  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def standin_relay(upstream: str) -> AsyncIterator[str]:
    """Yield the page URL (``http://127.0.0.1:P/``) of a server in front of ``upstream``."""

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        if urlsplit(request.path).path == "/v1/realtime":
            return None
        return _static(request.path)

    async def handler(browser: ServerConnection) -> None:
        assert browser.request is not None
        offered = [p.strip() for p in browser.request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        kept = [p for p in offered if p and not p.startswith("openai-insecure-api-key.")]
        query = urlsplit(browser.request.path).query
        async with connect(upstream + (f"?{query}" if query else ""), subprotocols=kept or None) as up:  # type: ignore[arg-type]
            await asyncio.gather(_pipe(browser, up), _pipe(up, browser))

    def select(connection: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
        return Subprotocol("realtime") if "realtime" in offered else None

    async with serve(
        handler, "127.0.0.1", 0, process_request=process_request, select_subprotocol=select
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"http://127.0.0.1:{port}/"
