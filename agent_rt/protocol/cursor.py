"""ItemCursor: the ``wait_for_next_*`` rule of the design (§3), as a pure log with a position.

On loopback a whole response can arrive in one burst, so "the next event after this call" loses
items. Instead a ``wait_for_next_*`` call returns the first matching record made after the later
of (a) the record the previous call returned and (b) the application's last sending call. Records
are kept only while some later call could still return them.
"""

from __future__ import annotations

from collections import deque
from typing import Any

__all__ = ["ItemCursor"]


class ItemCursor:
    """A log of ``(seq, kind, value)`` records and the position of the last one handed out."""

    __slots__ = ("_log", "_position", "_seq")

    def __init__(self) -> None:
        self._seq = 0
        self._position = 0
        self._log: deque[tuple[int, str, Any]] = deque()

    def __len__(self) -> int:
        return len(self._log)

    def record(self, kind: str, value: Any) -> None:
        """Something happened (an item appended or completed, a response done)."""
        self._seq += 1
        self._log.append((self._seq, kind, value))

    def mark(self) -> None:
        """The application sent something: only later records count from now on."""
        self._position = self._seq
        self._log.clear()

    def take(self, kind: str) -> Any | None:
        """The first ``kind`` record after the position, which moves there; None if none yet."""
        for seq, logged_kind, value in self._log:
            if logged_kind == kind:
                self._position = seq
                self._prune()
                return value
        return None

    def _prune(self) -> None:
        log = self._log
        while log and log[0][0] <= self._position:
            log.popleft()

    def reset(self) -> None:
        """The session is gone: its records can no longer be waited for."""
        self.mark()
