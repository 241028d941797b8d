"""Stopping the relay on SIGTERM or SIGINT: its sessions close with 1001 before the server stops.

uvicorn's own handler, as soon as it runs, stops the server: every open WebSocket gets close
code 1012 with no reason, and the relay only learns of it as a client that left. The relay's
lifespan therefore puts :func:`drain_on_signals` in front of that handler (uvicorn installs its
handlers before the lifespan starts): the first signal closes the sessions as the relay decides
(1001, "the relay is shutting down", both legs closed, summary lines written), then passes the
signal on, so the server stops the way it always does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from enum import Enum
from types import FrameType
from typing import Any

import anyio
import anyio.abc

from .upstream import on_asyncio

logger = logging.getLogger("agent_rt.relay")

SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: Seconds the sessions get to close (the ASGI server then gives the connections as long again).
DEFAULT_SHUTDOWN_TIMEOUT = 5


class Verdict(Enum):
    DRAIN = "drain"  # the first signal: close the sessions, then pass the signal on
    DROP = "drop"  # while the sessions close: already on its way
    FORWARD = "forward"  # after: straight to the server's handler (uvicorn: a second Ctrl-C forces)


class DrainState:
    """What a signal does, by when it comes (pure: called on the event loop, no awaits)."""

    def __init__(self) -> None:
        self.draining = False
        self.drained = False

    def received(self) -> Verdict:
        if self.drained:
            return Verdict.FORWARD
        if self.draining:
            # One signal reaches the server: under uvicorn --workers a Ctrl-C brings SIGINT from the
            # terminal and SIGTERM from the supervisor, and a second SIGINT would skip the lifespan's
            # shutdown (MCP servers, the embedded local server).
            return Verdict.DROP
        self.draining = True
        return Verdict.DRAIN

    def finished(self) -> None:
        self.drained = True


def _pass_on(handler: Any, sig: int, frame: FrameType | None) -> None:
    """Run the handler that was installed before ours, as the signal would have."""
    if callable(handler):
        handler(sig, frame)
        return
    if handler is signal.SIG_IGN:
        return
    signal.signal(sig, signal.SIG_DFL)  # SIG_DFL, or a handler set outside Python
    signal.raise_signal(sig)


@contextlib.asynccontextmanager
async def drain_on_signals(
    close_sessions: Callable[[], Awaitable[None]], timeout: float
) -> AsyncIterator[None]:
    """While the block runs, SIGTERM/SIGINT first run ``close_sessions`` (up to ``timeout`` s).

    Only on asyncio in the main thread (uvicorn as a command, or its workers): elsewhere the
    server's signals are not ours to take, and the block does nothing.
    """
    if threading.current_thread() is not threading.main_thread() or not on_asyncio():
        yield
        return
    loop = asyncio.get_running_loop()
    signals: asyncio.Queue[int] = asyncio.Queue()
    previous: dict[int, Any] = {sig: signal.getsignal(sig) for sig in SIGNALS}
    state = DrainState()

    async def drain(sig: int) -> None:
        try:
            with anyio.move_on_after(timeout) as waited:
                await close_sessions()
            if waited.cancelled_caught:
                logger.warning("relay: sessions still open after %g s; stopping anyway", timeout)
        except Exception:  # the server must stop even so
            logger.exception("relay: closing the sessions failed")
        state.finished()
        _pass_on(previous[sig], sig, None)

    async def dispatch(tasks: anyio.abc.TaskGroup) -> None:
        while True:
            sig = await signals.get()
            verdict = state.received()
            if verdict is Verdict.DRAIN:
                tasks.start_soon(drain, sig)
            elif verdict is Verdict.FORWARD:
                _pass_on(previous[sig], sig, None)

    def on_signal(sig: int, frame: FrameType | None) -> None:
        # A signal handler runs between two bytecodes of the loop's thread: hand over, nothing else.
        loop.call_soon_threadsafe(signals.put_nowait, sig)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(dispatch, tasks)
        for number in SIGNALS:
            signal.signal(number, on_signal)
        try:
            yield
        finally:
            for signum, handler in previous.items():
                if signal.getsignal(signum) is on_signal:
                    signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
            tasks.cancel_scope.cancel()


@contextlib.contextmanager
def stop_signal_recorded() -> Iterator[list[int]]:
    """Record SIGTERM/SIGINT instead of acting on them; yields the signals received so far.

    uvicorn raises the signal that stopped it again once it has shut down, to act as that signal
    would have; a command running uvicorn in its own event loop still has cleanup to do (the
    embedded local server) and ends the process its own way afterwards.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def record(sig: int, frame: FrameType | None) -> None:
        received.append(sig)

    previous = {sig: signal.signal(sig, record) for sig in SIGNALS}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
