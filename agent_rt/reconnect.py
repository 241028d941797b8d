"""When and how fast to reconnect after the connection drops: a pure policy, no I/O.

The service closes a socket for reasons a new connection can fix (a server restart: 1012; a
network drop: 1006; the 60-minute session cap: 1001, reason "Your session hit the maximum
duration of 60 minutes.") and for reasons it cannot (a bad key, a retired protocol: 4000).
:class:`ReconnectPolicy` tells them apart and spaces the attempts with capped exponential
backoff and jitter, so that many clients dropped at once do not come back in step.

A reconnect opens a *new session*: the server-side conversation is gone. The client restores
the session config and tools; the conversation starts empty (see ``RealtimeClient(reconnect=)``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from .errors import ConfigurationError, ConnectionClosedError, HandshakeError

#: Close codes (RFC 6455 §7.4.1) that the service uses for closes a new connection can recover from.
RECOVERABLE_CLOSE_CODES: frozenset[int] = frozenset(
    {
        1001,  # going away: server shutdown, or the session hit its maximum duration
        1005,  # no status code in the close frame
        1006,  # abnormal closure: the link dropped without a close frame
        1011,  # internal server error
        1012,  # service restart
        1013,  # try again later
        1015,  # TLS failure
    }
)

#: Handshake statuses that another attempt can cure (timeouts, rate limits, server errors).
_RETRYABLE_STATUSES = frozenset({408, 425, 429})

_SESSION_LIMIT_MARKER = "maximum duration"


def is_session_limit(code: int | None, reason: str) -> bool:
    """Whether a close is the one the service sends at the session cap (1001, "... maximum duration ...")."""
    return code == 1001 and _SESSION_LIMIT_MARKER in reason.lower()


@dataclass(frozen=True)
class ReconnectPolicy:
    """Which closes to recover from, how many attempts, and the backoff between them.

    The delay before attempt ``n`` (1-based) is ``min(max_delay, initial_delay * multiplier **
    (n - 1))``, reduced by a random fraction up to ``jitter`` (0: none, 1: anywhere in [0, delay]).
    After the session cap the first attempt goes at once: the close is routine, not a failure.
    """

    max_attempts: int = 5
    """Attempts per outage; the count starts again once a new session has stayed up ``stable_after``."""
    initial_delay: float = 0.5
    max_delay: float = 15.0
    multiplier: float = 2.0
    jitter: float = 0.5
    close_codes: Collection[int] = RECOVERABLE_CLOSE_CODES
    """Close codes to recover from (any collection; kept as a frozenset)."""
    reconnect_at_session_limit: bool = True
    """Start a new session when the old one hits the service's maximum duration."""
    attempt_timeout: float = 10.0
    """Seconds one attempt may take, from opening the socket to the new ``session.created``."""
    stable_after: float = 10.0
    """A new session that drops sooner than this continues the same outage: the attempts and the
    backoff go on from where they were, so a server that accepts and drops at once is not retried
    forever."""
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)
    """Source of jitter in [0, 1); tests pass a fixed one."""

    def __post_init__(self) -> None:
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ConfigurationError(f"max_attempts must be an int >= 1, not {self.max_attempts!r}")
        for name in ("initial_delay", "max_delay", "attempt_timeout", "stable_after"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0:
                raise ConfigurationError(f"{name} must be a number >= 0, not {value!r}")
        if self.attempt_timeout <= 0:
            raise ConfigurationError("attempt_timeout must be > 0")
        if not isinstance(self.multiplier, (int, float)) or self.multiplier < 1:
            raise ConfigurationError(f"multiplier must be >= 1, not {self.multiplier!r}")
        if not isinstance(self.jitter, (int, float)) or not 0 <= self.jitter <= 1:
            raise ConfigurationError(f"jitter must be between 0 and 1, not {self.jitter!r}")
        object.__setattr__(self, "close_codes", frozenset(self.close_codes))

    def should_reconnect(self, code: int | None, reason: str = "") -> bool:
        """Whether a close the server made (``code``, ``reason``) is worth a new connection."""
        if is_session_limit(code, reason):
            return self.reconnect_at_session_limit
        return code in self.close_codes

    def delay(self, attempt: int, *, immediate: bool = False) -> float:
        """Seconds to wait before attempt ``attempt`` (1-based).

        ``immediate``: a routine new session (the session cap, a renewal), not a failure: the first
        attempt goes at once and the backoff starts from the second.
        """
        if attempt < 1:
            raise ValueError("attempts count from 1")
        if immediate and attempt == 1:
            return 0.0
        steps = attempt - 2 if immediate else attempt - 1
        ceiling = min(self.max_delay, self.initial_delay * self.multiplier ** min(steps, 64))
        return ceiling * (1.0 - self.jitter * self.random())

    def can_retry_after(self, error: BaseException) -> bool:
        """Whether a failed attempt may be followed by another: not after refusals that will repeat.

        An unreachable host, a timeout, a 5xx or 429 handshake, or a new socket closed with a
        recoverable code may pass; 401/403 (a bad or expired key), 404 (a wrong URL), other 4xx
        and closes this policy does not recover from will not.
        """
        if isinstance(error, HandshakeError) and error.status is not None:
            return error.status >= 500 or error.status in _RETRYABLE_STATUSES
        if isinstance(error, ConnectionClosedError) and error.code is not None:
            return self.should_reconnect(error.code, error.reason)
        return True


def coerce_policy(value: bool | ReconnectPolicy | None) -> ReconnectPolicy | None:
    """``RealtimeClient(reconnect=...)``: False/None → off, True → the defaults, or a policy."""
    if value is None or value is False:
        return None
    if value is True:
        return ReconnectPolicy()
    if isinstance(value, ReconnectPolicy):
        return value
    raise ConfigurationError(f"reconnect must be a bool or a ReconnectPolicy, not {type(value).__name__}")
