"""Observers: functions that see a client's events, kept apart from the session they watch.

An observer is ``observer(name, payload)`` (:data:`agent_rt.hookspecs.Observer`), called
synchronously, in order, for each event of :data:`OBSERVED_EVENTS`. Plugins supply them through the
``agent_rt_observer`` hook; :mod:`agent_rt.telemetry` is one. An observer that raises is logged
(with its traceback the first time) and reported once as an ``error`` event of type
``observer_error``; the event still reaches the application's handlers and later events still reach
the observer, so a bug in a logger or a metrics exporter never breaks a conversation.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._secrets import redact
from .hookspecs import Observer

if TYPE_CHECKING:
    from .events import EventEmitter
    from .plugins import LoadedPlugins

__all__ = ["OBSERVED_EVENTS", "ObserverHandle", "attach", "attach_plugin_observers"]

logger = logging.getLogger("agent_rt.observers")

#: The client events an observer sees. ``realtime.event`` carries every event sent and received
#: (``{"time", "source": "client"|"server", "event"}``); the others are the client's own.
OBSERVED_EVENTS: tuple[str, ...] = (
    "realtime.event",
    "tool.call.started",
    "tool.call.finished",
    "conversation.item.completed",
    "conversation.interrupted",
    "error",
    "reconnecting",
    "reconnected",
    "close",
)


@dataclass
class ObserverHandle:
    """One attached observer: how often it failed, the last error, and :meth:`detach`."""

    name: str
    observer: Observer
    failures: int = 0
    last_error: Exception | None = None
    _client: EventEmitter | None = field(default=None, repr=False)
    _handlers: list[tuple[str, Any]] = field(default_factory=list, repr=False)

    def detach(self) -> None:
        """Stop observing (idempotent)."""
        client, self._client = self._client, None
        if client is None:
            return
        for event, handler in self._handlers:
            with contextlib.suppress(ValueError):  # the application removed that event's handlers itself
                client.off(event, handler)
        self._handlers.clear()

    def _deliver(self, event: str, payload: Any) -> None:
        if type(payload) is not dict and not isinstance(payload, Mapping):  # the client's payloads are dicts
            payload = {"value": payload}
        try:
            result = self.observer(event, payload)
            if result is not None and inspect.isawaitable(result):
                close = getattr(result, "close", None)
                if close is not None:
                    close()
                raise TypeError("observers must be synchronous functions (it returned an awaitable)")
        except Exception as exc:
            self._failed(event, exc)

    def _failed(self, event: str, exc: Exception) -> None:
        self.failures += 1
        self.last_error = exc
        message = redact(f"observer {self.name!r} failed on {event!r}: {type(exc).__name__}: {exc}")
        if self.failures > 1:
            logger.debug("%s (failure %d)", message, self.failures)
            return
        logger.warning("%s; the session goes on (later failures are logged at DEBUG)", message, exc_info=exc)
        client = self._client
        if client is not None:
            client.emit(
                "error", {"type": "observer_error", "observer": self.name, "event": event, "message": message}
            )


def attach(client: EventEmitter, observer: Observer, *, name: str | None = None) -> ObserverHandle:
    """Call ``observer(event, payload)`` for each of the client's :data:`OBSERVED_EVENTS`."""
    if not callable(observer):
        raise TypeError(f"an observer must be callable, not {type(observer).__name__}")
    label = name or str(getattr(observer, "__qualname__", None) or type(observer).__name__)
    handle = ObserverHandle(label, observer, _client=client)
    for event in OBSERVED_EVENTS:

        def handler(payload: Any, event: str = event) -> None:
            handle._deliver(event, payload)

        client.on(event, handler)
        handle._handlers.append((event, handler))
    return handle


def attach_plugin_observers(client: EventEmitter, loaded: LoadedPlugins) -> list[ObserverHandle]:
    """Ask each plugin implementing ``agent_rt_observer`` for an observer of ``client`` and attach it.

    A plugin whose hook raises or returns something that is not callable is logged and skipped.
    """
    from .plugins import PluginError

    handles: list[ObserverHandle] = []
    for info in loaded.plugins:
        if "agent_rt_observer" not in info.hooks:
            continue
        try:
            results = loaded.call("agent_rt_observer", info.name, client=client)
        except PluginError as error:
            logger.warning("agent_rt %s; no observer from it for this client", error)
            continue
        for result in results:
            if callable(result):
                handles.append(attach(client, result, name=info.name))
            else:
                logger.warning(
                    "agent_rt plugin %r: agent_rt_observer returned %s, expected a function or None",
                    info.name,
                    type(result).__name__,
                )
    return handles
