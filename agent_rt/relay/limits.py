"""The relay's limits as plain values and small pure counters (no I/O, no awaits).

:class:`Limits` is the configuration; :class:`RateLimiter` decides per event whether a session is
over its events-per-second allowance; :class:`SessionSlots` counts concurrent sessions in total
and per identity. A slot is taken before the session starts (before any await) and given back
once, in a ``finally``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

#: The service's cap on one client event.
MAX_EVENT_BYTES = 15 * 2**20

# Close codes the relay uses, with the reason text sent alongside (RFC 6455 §7.4.1).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001  # idle timeout, maximum session length (as the service)
CLOSE_POLICY = 1008  # events/s over the limit, token budget spent
CLOSE_TOO_BIG = 1009  # an event over the frame size limit
CLOSE_UPSTREAM = 1011  # the upstream failed or could not be reached
CLOSE_TRY_LATER = 1013  # too many concurrent sessions


@dataclass(frozen=True)
class Limits:
    """What one relay allows; ``None`` switches a limit off."""

    max_event_bytes: int = MAX_EVENT_BYTES
    """Largest client event (the service's own cap is 15 MiB)."""
    events_per_second: float | None = 100.0
    """Sustained client events per second per session (real-time audio in 20 ms appends is 50/s)."""
    burst: int = 200
    """Client events a session may send at once above the sustained rate."""
    max_sessions: int | None = 1000
    """Concurrent sessions in this process."""
    max_sessions_per_identity: int | None = 10
    """Concurrent sessions of one identity (one token, or what the auth hook returns)."""
    idle_timeout: float | None = 300.0
    """Seconds without a frame in either direction before the session is closed."""
    max_session_seconds: float | None = 3600.0
    """Longest session (the service's own cap is 60 minutes)."""

    def __post_init__(self) -> None:
        for name in ("events_per_second", "idle_timeout", "max_session_seconds"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"Limits.{name} must be > 0 or None, not {value!r}")
        for name in ("max_event_bytes", "burst", "max_sessions", "max_sessions_per_identity"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"Limits.{name} must be a positive integer or None, not {value!r}")


class RateLimiter:
    """A token bucket: ``rate`` events per second sustained, ``burst`` at once."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.capacity = float(max(burst, 1))
        self.tokens = self.capacity
        self.stamp = now

    def allow(self, now: float) -> bool:
        """Take one token for an event at time ``now``; False if the bucket is empty."""
        tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if tokens < 1.0:
            self.tokens = tokens
            return False
        self.tokens = tokens - 1.0
        return True


class SessionSlots:
    """Concurrent sessions, in total and per identity."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.total = 0
        self.per_identity: Counter[str] = Counter()

    def acquire(self, identity: str) -> str | None:
        """Take a slot for ``identity``; return the refusal reason instead if none is free.

        Give it back with :meth:`release`, or hand it to a :class:`SlotTicket`.
        """
        limit = self.limits.max_sessions
        if limit is not None and self.total >= limit:
            return f"too many concurrent sessions on this relay (limit {limit})"
        per = self.limits.max_sessions_per_identity
        if per is not None and self.per_identity[identity] >= per:
            return f"too many concurrent sessions for this identity (limit {per})"
        self.total += 1
        self.per_identity[identity] += 1
        return None

    def release(self, identity: str) -> None:
        self.total -= 1
        self.per_identity[identity] -= 1
        if self.per_identity[identity] <= 0:
            del self.per_identity[identity]


class SlotTicket:
    """One taken slot, released exactly once however many paths try to release it."""

    def __init__(self, slots: SessionSlots, identity: str) -> None:
        self._slots: SessionSlots | None = slots
        self.identity = identity

    def release(self) -> None:
        slots, self._slots = self._slots, None
        if slots is not None:
            slots.release(self.identity)
