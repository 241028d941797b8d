"""A small event emitter with sync and async handlers and one-shot waiters.

Sync handlers run inline, in registration order, so they see events in wire order. Async
handlers are started as tasks in the owner's task group: a slow handler never stalls the
receive loop, and a handler may itself wait for later events. A handler that raises is logged
and reported through the ``error`` event; it never breaks the emitter.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.abc

from .errors import ConnectionClosedError

logger = logging.getLogger("agent_rt.events")

Handler = Callable[[Any], Awaitable[None] | None]


class _Waiter:
    __slots__ = ("error", "event", "value")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class EventEmitter:
    """``on`` / ``off`` / ``emit`` / ``wait_for_next`` over named events."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}
        self._waiters: dict[str, list[_Waiter]] = {}
        self._task_group: anyio.abc.TaskGroup | None = None

    def on(self, name: str, handler: Handler) -> Handler:
        """Call ``handler(payload)`` on every ``name`` event; returns the handler (usable as a decorator)."""
        self._handlers.setdefault(name, []).append(handler)
        return handler

    def off(self, name: str, handler: Handler | None = None) -> None:
        """Remove one handler, or all handlers of ``name`` when ``handler`` is None."""
        if handler is None:
            self._handlers.pop(name, None)
            return
        handlers = self._handlers.get(name, [])
        try:
            handlers.remove(handler)
        except ValueError:
            raise ValueError(f"handler {handler!r} is not registered for {name!r}") from None

    def has_listeners(self, name: str) -> bool:
        return bool(self._handlers.get(name)) or bool(self._waiters.get(name))

    def emit(self, name: str, payload: Any = None) -> None:
        waiters = self._waiters.pop(name, None) if self._waiters else None
        if waiters:
            for waiter in waiters:
                waiter.value = payload
                waiter.event.set()
        handlers = self._handlers.get(name)
        if not handlers:
            return
        for handler in tuple(handlers):
            try:
                result = handler(payload)
            except Exception as exc:
                self._handler_failed(name, handler, exc)
                continue
            if result is not None and inspect.isawaitable(result):  # sync handlers: no ABC check
                self._spawn(name, handler, result)

    def _spawn(self, name: str, handler: Handler, awaitable: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await awaitable
            except Exception as exc:
                self._handler_failed(name, handler, exc)

        if self._task_group is None:
            # No running owner (e.g. emitted after disconnect): the coroutine can't run; close it cleanly.
            close = getattr(awaitable, "close", None)
            if close is not None:
                close()
            logger.warning("async handler for %r dropped: the emitter is not running", name)
            return
        self._task_group.start_soon(run, name=f"agent_rt handler {name}")

    def _handler_failed(self, name: str, handler: Handler, exc: Exception) -> None:
        logger.exception("handler %r for %r raised", handler, name, exc_info=exc)
        if name != "error":
            self.emit("error", {"type": "handler_error", "event": name, "error": exc, "message": str(exc)})

    async def wait_for_next(self, name: str, timeout: float | None = None) -> Any:
        """The payload of the next ``name`` event; ``TimeoutError`` after ``timeout`` seconds."""
        waiter = _Waiter()
        self._waiters.setdefault(name, []).append(waiter)
        try:
            with anyio.fail_after(timeout):
                await waiter.event.wait()
        finally:
            waiters = self._waiters.get(name)
            if waiters and waiter in waiters:
                waiters.remove(waiter)
                if not waiters:  # keep ``_waiters`` empty when nobody waits: emit() checks it first
                    del self._waiters[name]
        if waiter.error is not None:
            raise waiter.error
        return waiter.value

    def fail_waiters(self, error: ConnectionClosedError, only: Callable[[str], bool] | None = None) -> None:
        """Wake ``wait_for_next`` callers with ``error`` (used when the connection drops).

        ``only`` picks the event names whose waiters fail; by default all of them.
        """
        for name in [name for name in self._waiters if only is None or only(name)]:
            for waiter in self._waiters.pop(name):
                waiter.error = error
                waiter.event.set()
