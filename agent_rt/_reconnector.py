"""Reconnector: opens a new session after a recoverable drop, for one client.

The client decides *that* a session was lost (its lifecycle, the policy); the reconnector runs the
attempts: the policy's backoff, the application's ``before_reconnect`` hook, a new socket with the
session config and tools, and the wait for the new ``session.created``. It reports through
``reconnecting`` (per attempt), then ``reconnected`` or ``reconnect.failed``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from ._secrets import redact
from ._waiting import Changes
from .api import RealtimeAPI
from .errors import ConnectionClosedError, RealtimeError, ReconnectHookError
from .protocol.lifecycle import Lifecycle
from .reconnect import ReconnectPolicy, is_session_limit

__all__ = ["Reconnector"]

logger = logging.getLogger("agent_rt.client")

Hook = Callable[[dict[str, Any]], Awaitable[None] | None]


class Reconnector:
    """The attempts of one client; ``run`` returns None once a new session is up, else why not."""

    def __init__(
        self,
        policy: ReconnectPolicy | None,
        hook: Hook | None,
        *,
        realtime: RealtimeAPI,
        lifecycle: Lifecycle,
        changes: Changes,
        emit: Callable[[str, dict[str, Any]], None],
        send_session: Callable[[], Awaitable[None]],
        session_created: Callable[[], bool],
        session: Callable[[], dict[str, Any] | None],
    ) -> None:
        self.policy = policy
        self.hook = hook
        self._realtime = realtime
        self._lifecycle = lifecycle
        self._changes = changes
        self._emit = emit
        self._send_session = send_session
        self._session_created = session_created
        self._session = session
        self.attempt_close: dict[str, Any] | None = None  # how the socket of the current attempt closed
        self._last: tuple[float, int] | None = None  # (when, attempts used) of the last success

    def forget(self) -> None:
        """A connect by hand starts a new history: no outage continues."""
        self._last = None

    def attempt_closed(self, payload: dict[str, Any]) -> None:
        """The socket of the current attempt closed: the attempt fails (its wait wakes)."""
        self.attempt_close = payload
        self._changes.notify()

    def should_reconnect(self, code: int | None, reason: str) -> bool:
        return self.policy is not None and self.policy.should_reconnect(code, reason)

    def _attempts_already_used(self, policy: ReconnectPolicy, fresh: bool) -> int:
        """The last new session did not stay up ``stable_after``: this drop continues its outage."""
        if self._last is None or fresh:
            return 0
        reconnected_at, used = self._last
        return used if anyio.current_time() - reconnected_at < policy.stable_after else 0

    async def run(self, code: int | None, reason: str, lost_items: list[Any], immediate: bool) -> str | None:
        """Attempt until a new session is up (None) or the policy gives up (the failure, as text)."""
        policy = self.policy or ReconnectPolicy()  # a renewal without reconnect=
        session_limit = is_session_limit(code, reason)
        immediate = immediate or session_limit
        info = {"code": code, "reason": reason, "session_limit": session_limit, "lost_items": lost_items}
        last_error: Exception | None = None
        attempt = self._attempts_already_used(policy, immediate)
        while attempt < policy.max_attempts:
            attempt += 1
            delay = policy.delay(attempt, immediate=immediate)
            payload = {
                "attempt": attempt,
                "max_attempts": policy.max_attempts,
                "delay": delay,
                "error": last_error,
            }
            self._emit("reconnecting", {**payload, **info})
            await anyio.sleep(delay)
            try:
                if self.hook is not None:
                    await self._run_hook(attempt, policy, code, reason)
                await self._open_session(policy.attempt_timeout)
            except (RealtimeError, OSError, TimeoutError) as exc:
                last_error = exc
                logger.warning("reconnect attempt %d of %d failed: %s", attempt, policy.max_attempts, exc)
                await self._realtime.close_socket()
                if not policy.can_retry_after(exc):
                    break
                continue
            self._lifecycle.opened()
            self._last = (anyio.current_time(), attempt)
            self._changes.notify()
            logger.info("reconnected after close code %s (attempt %d): a new session", code, attempt)
            self._emit("reconnected", {"attempt": attempt, **info, "session": self._session()})
            return None
        self._emit("reconnect.failed", {"attempts": attempt, "error": last_error, **info})
        failure = (
            f"{type(last_error).__name__}: {last_error}"
            if last_error
            else "each new session closed again within stable_after"
        )
        return f"connection closed (code {code}); reconnecting failed after {attempt} attempt(s): {failure}"

    async def _run_hook(self, attempt: int, policy: ReconnectPolicy, code: int | None, reason: str) -> None:
        """The application's hook; if it raises, this attempt fails (and the next may retry)."""
        assert self.hook is not None
        details = {"attempt": attempt, "max_attempts": policy.max_attempts, "code": code, "reason": reason}
        try:
            with anyio.fail_after(policy.attempt_timeout):
                result = self.hook(details)
                if result is not None and inspect.isawaitable(result):
                    await result
        except (RealtimeError, OSError, TimeoutError):
            raise
        except Exception as exc:
            message = redact(f"before_reconnect failed: {type(exc).__name__}: {exc}")
            raise ReconnectHookError(message) from exc

    async def _open_session(self, timeout: float) -> None:
        """One attempt: new socket, session config and tools sent, ``session.created`` received."""
        self.attempt_close = None
        with anyio.fail_after(timeout):
            await self._realtime.reconnect()
            await self._send_session()
            await self._changes.wait_until(
                lambda: True if self._session_created() or self.attempt_close is not None else None,
                None,
                abandoned=lambda: None,
                failed=lambda: self._lifecycle.closed_error,
            )
        closed = self.attempt_close
        if closed is not None or not self._realtime.is_connected():
            code, reason = (closed.get("code"), closed.get("reason") or "") if closed else (None, "")
            message = f"the new connection closed before the session started (code {code})"
            raise ConnectionClosedError(message, code=code, reason=reason)
