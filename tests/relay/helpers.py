"""Run a relay app under uvicorn on a real loopback port, and a raw event-level client for tests.

uvicorn runs on asyncio in its own thread (the relay is an asyncio ASGI app), so the tests that
drive clients can run on asyncio and on trio. The listening socket is bound before the thread
starts: connections made at once wait in the backlog until uvicorn accepts them, so nothing has
to poll for "started".
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import uvicorn
from anyio.streams.memory import MemoryObjectSendStream
from starlette.applications import Starlette

from agent_rt.errors import ConnectionClosedError
from agent_rt.relay.app import Relay
from agent_rt.relay.serving import relay_ws_protocol
from agent_rt.transport import HandshakeRequest, WebSocket, connect, serve

#: A local-server script whose user turns call tools (the clock plugin's ``calculate`` and two test tools).
TOOL_SCENARIO: dict[str, Any] = {
    "rules": [
        {
            "regex": r"what is (?P<expression>[0-9 +*/().-]+)",
            "calls": [{"name": "calculate", "arguments": {"expression": "{expression}"}}],
            "after_output": "{output.expression} is {output.result}.",
        },
        {
            "match": "my order",
            "calls": [{"name": "lookup_order", "arguments": {"order": "A-17"}}],
            "after_output": "Your order is {output.status}.",
        },
        {
            "match": "explode",
            "calls": [{"name": "explode", "arguments": {}}],
            "after_output": "The tool said: {output.error}",
        },
    ]
}


def user_message(text: str) -> dict[str, Any]:
    """A user's text message item, as ``conversation.item.create`` carries it."""
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


@dataclass
class RunningRelay:
    app: Starlette
    port: int
    server: uvicorn.Server

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def relay(self) -> Relay:
        relay: Relay = self.app.state.relay
        return relay


@contextlib.contextmanager
def running(app: Any, **config: Any) -> Iterator[RunningRelay]:
    """Serve ``app`` on 127.0.0.1 (a free port) until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    options: dict[str, Any] = {
        "log_level": "warning",
        "access_log": False,
        "timeout_graceful_shutdown": 5,
        "ws": relay_ws_protocol(),  # as agent-rt relay runs it
    }
    options.update(config)
    server = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield RunningRelay(app, port, server)
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


class Peer:
    """A raw Realtime client: send events, read events by type (nothing in between interprets them)."""

    def __init__(self, websocket: WebSocket) -> None:
        self.ws = websocket
        self.seen: list[dict[str, Any]] = []

    async def send(self, event_type: str, **fields: Any) -> None:
        await self.ws.send_text(json.dumps({"type": event_type, **fields}))

    async def next_event(self, timeout: float = 10) -> dict[str, Any]:
        with anyio.fail_after(timeout):
            event: dict[str, Any] = json.loads(await self.ws.receive())
        self.seen.append(event)
        return event

    async def until(self, event_type: str, timeout: float = 10) -> dict[str, Any]:
        """Read events until one of ``event_type`` (the others are kept in ``seen``)."""
        with anyio.fail_after(timeout):
            while True:
                event = await self.next_event(timeout)
                if event.get("type") == event_type:
                    return event

    async def closed(self, timeout: float = 10) -> ConnectionClosedError:
        """Read until the connection closes; the close error (code and reason)."""
        with anyio.fail_after(timeout):
            while True:
                try:
                    await self.next_event(timeout)
                except ConnectionClosedError as exc:
                    return exc

    async def ask(self, text: str, **create: Any) -> None:
        """Say ``text`` as the user and ask for a response (``create``: its other fields)."""
        await self.send("conversation.item.create", item=user_message(text))
        await self.send("response.create", **create)

    async def text_turn(self, text: str) -> dict[str, Any]:
        await self.ask(text)
        return await self.until("response.done")


@contextlib.asynccontextmanager
async def peer(
    url: str,
    *,
    token: str | None = None,
    subprotocols: list[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Any:
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    websocket = await connect(url, all_headers, subprotocols=subprotocols)
    try:
        yield Peer(websocket)
    finally:
        await websocket.close()


class SessionEnds:
    """Collects the relay's session summaries (``on_session_end``); a test can wait for the n-th.

    The relay runs in uvicorn's thread: a threading condition carries the news to the test.
    """

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self._changed = threading.Condition()

    def __call__(self, record: dict[str, Any]) -> None:
        with self._changed:
            self.records.append(record)
            self._changed.notify_all()

    async def wait_for(self, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        def wait() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: len(self.records) >= count, timeout)

        if not await anyio.to_thread.run_sync(wait):
            raise TimeoutError(f"{len(self.records)} sessions ended, not {count}")
        return list(self.records)


_HOP_HEADERS = frozenset({"host", "upgrade", "connection", "content-length"})


class HoldingProxy:
    """A WebSocket proxy between a relay and its upstream that can hold the upstream's frames back.

    It makes an interleaving certain that timing alone would make only likely: while held, what
    the relay sends still reaches the upstream and the upstream still answers (``sent`` and
    ``received`` record both as they pass the proxy, :meth:`wait_for` waits for one), but the
    answers wait in the proxy until :meth:`let_go` (``passed`` records them as they go on). Run
    it with :func:`holding_proxy`; ``url`` is then the relay's upstream.
    """

    def __init__(self, upstream_url: str) -> None:
        self.upstream_url = upstream_url
        self.port = 0
        self.sent: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        self.passed: list[dict[str, Any]] = []
        self._changed = anyio.Event()
        self._open = anyio.Event()
        self._open.set()
        self._quota = math.inf  # frames that may pass before the proxy holds again

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    def hold(self) -> None:
        """From now on the upstream's frames wait in the proxy (those already passed are gone)."""
        self._quota = 0
        self._open = anyio.Event()

    def let_go(self, frames: float = math.inf) -> None:
        """Pass the held frames on, in order, and the later ones as they come; only ``frames``
        of them, then hold again, if given."""
        self._quota = frames
        self._open.set()

    async def wait_for(
        self, events: list[dict[str, Any]], matches: Any, timeout: float = 10
    ) -> dict[str, Any]:
        """The first of ``events`` (``sent`` or ``received``) for which ``matches(event)`` is true."""
        with anyio.fail_after(timeout):
            while True:
                for event in events:
                    if matches(event):
                        return event
                await self._changed.wait()

    def _record(self, events: list[dict[str, Any]], text: str) -> None:
        events.append(json.loads(text))
        self._changed.set()
        self._changed = anyio.Event()

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        async with anyio.create_task_group() as tasks:
            self.port = await tasks.start(serve, self._connection)
            task_status.started()

    async def _connection(self, relay_side: WebSocket, request: HandshakeRequest) -> None:
        query = request.path.partition("?")[2]
        url = f"{self.upstream_url}?{query}" if query else self.upstream_url
        headers = {
            name: value
            for name, value in request.headers.items()
            if name not in _HOP_HEADERS and not name.startswith("sec-websocket")
        }
        upstream = await connect(url, headers)
        held_in, held_out = anyio.create_memory_object_stream[str](math.inf)
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._to_upstream, relay_side, upstream, tasks.cancel_scope)
                tasks.start_soon(self._from_upstream, upstream, held_in)
                async for text in held_out:  # the upstream's frames, in order, once let go
                    while self._quota <= 0:
                        await self._open.wait()
                    self._quota -= 1
                    if self._quota <= 0:
                        self._open = anyio.Event()
                    await relay_side.send_text(text)
                    self._record(self.passed, text)
                tasks.cancel_scope.cancel()
        except ConnectionClosedError:
            pass
        finally:
            await upstream.close()

    async def _to_upstream(
        self, relay_side: WebSocket, upstream: WebSocket, scope: anyio.CancelScope
    ) -> None:
        try:
            while True:
                frame = await relay_side.receive()
                text = frame if isinstance(frame, str) else frame.decode()
                await upstream.send_text(text)
                self._record(self.sent, text)
        except ConnectionClosedError:
            scope.cancel()

    async def _from_upstream(self, upstream: WebSocket, held: MemoryObjectSendStream[str]) -> None:
        async with held:  # closed when the upstream is gone: the forwarding loop ends
            try:
                while True:
                    frame = await upstream.receive()
                    text = frame if isinstance(frame, str) else frame.decode()
                    self._record(self.received, text)
                    held.send_nowait(text)
            except ConnectionClosedError:
                return


@contextlib.asynccontextmanager
async def holding_proxy(upstream_url: str) -> AsyncIterator[HoldingProxy]:
    """A :class:`HoldingProxy` in front of ``upstream_url``, serving until the block ends."""
    proxy = HoldingProxy(upstream_url)
    async with anyio.create_task_group() as tasks:
        await tasks.start(proxy.run)
        yield proxy
        tasks.cancel_scope.cancel()
