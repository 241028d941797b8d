"""The reconnect loop of a client: attempts, backoff, the application's hook, the outcome.

The client decides *whether* to reconnect (its lifecycle and the policy); this module runs the
attempts. It knows nothing of the client's state: it gets the I/O to do as callables and reports
the attempts through ``emit``, so the loop can be read (and changed) on its own.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio

from ._secrets import redact
from .errors import RealtimeError, ReconnectHookError
from .reconnect import ReconnectPolicy

__all__ = ["Outcome", "attempts_already_used", "reconnect"]

logger = logging.getLogger("agent_rt.client")


@dataclass(frozen=True)
class Outcome:
    """How a reconnect ended: ``attempts`` used; ``error`` of the last failed attempt (None: success)."""

    succeeded: bool
    attempts: int
    error: Exception | None


def attempts_already_used(policy: ReconnectPolicy, last: tuple[float, int] | None, fresh: bool) -> int:
    """Attempts of the outage a drop continues: the last new session (``last``: when, attempts
    used) did not stay up ``stable_after``. ``fresh``: a renewal or the session cap start anew."""
    if last is None or fresh:
        return 0
    reconnected_at, used = last
    return used if anyio.current_time() - reconnected_at < policy.stable_after else 0


async def reconnect(
    policy: ReconnectPolicy,
    *,
    first_attempt: int,
    immediate: bool,
    info: dict[str, Any],
    emit: Callable[[str, dict[str, Any]], None],
    open_session: Callable[[float], Awaitable[None]],
    opened: Callable[[int], dict[str, Any] | None],
    close_socket: Callable[[], Awaitable[None]],
    before_attempt: Callable[[dict[str, Any]], Awaitable[None] | None] | None,
) -> Outcome:
    """Try up to the policy's attempts (from ``first_attempt + 1``); ``info`` goes into each event.

    Emits ``reconnecting`` before each attempt, then ``reconnected`` or ``reconnect.failed``;
    ``opened(attempts)`` runs before ``reconnected`` is emitted and returns the new session.
    """
    last_error: Exception | None = None
    attempt = first_attempt
    while attempt < policy.max_attempts:
        attempt += 1
        delay = policy.delay(attempt, immediate=immediate)
        emit(
            "reconnecting",
            {
                "attempt": attempt,
                "max_attempts": policy.max_attempts,
                "delay": delay,
                "error": last_error,
                **info,
            },
        )
        await anyio.sleep(delay)
        try:
            if before_attempt is not None:
                await _run_hook(before_attempt, attempt, policy, info)
            await open_session(policy.attempt_timeout)
        except (RealtimeError, OSError, TimeoutError) as exc:
            last_error = exc
            logger.warning("reconnect attempt %d of %d failed: %s", attempt, policy.max_attempts, exc)
            await close_socket()
            if not policy.can_retry_after(exc):
                break
            continue
        session = opened(attempt)
        emit("reconnected", {"attempt": attempt, **info, "session": session})
        return Outcome(True, attempt, None)
    emit("reconnect.failed", {"attempts": attempt, "error": last_error, **info})
    return Outcome(False, attempt, last_error)


def failure_message(code: int | None, outcome: Outcome) -> str:
    """The message of the error a client that gave up reconnecting raises from then on."""
    error = outcome.error
    failure = (
        f"{type(error).__name__}: {error}" if error else "each new session closed again within stable_after"
    )
    return (
        f"connection closed (code {code}); reconnecting failed after {outcome.attempts} attempt(s): {failure}"
    )


async def _run_hook(
    hook: Callable[[dict[str, Any]], Awaitable[None] | None],
    attempt: int,
    policy: ReconnectPolicy,
    info: dict[str, Any],
) -> None:
    """The application's hook; if it raises, this attempt fails (and the next may retry)."""
    details = {
        "attempt": attempt,
        "max_attempts": policy.max_attempts,
        "code": info.get("code"),
        "reason": info.get("reason"),
    }
    try:
        with anyio.fail_after(policy.attempt_timeout):
            result = hook(details)
            if result is not None and inspect.isawaitable(result):
                await result
    except (RealtimeError, OSError, TimeoutError):
        raise
    except Exception as exc:
        message = redact(f"before_reconnect failed: {type(exc).__name__}: {exc}")
        raise ReconnectHookError(message) from exc
