"""Changes: wake every waiter when the client's state changed, so each re-checks its condition.

One event, replaced at each notification: a waiter checks its predicate, then waits for the next
change, with no await in between, so no change can slip past it. ``wait_in_session`` ties a wait
to the session it began in: a lost session or a close raises instead of waiting on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio

from .errors import ConnectionClosedError
from .protocol.lifecycle import Lifecycle

__all__ = ["Changes", "wait_in_session"]

T = TypeVar("T")


class Changes:
    __slots__ = ("_event", "_waiting")

    def __init__(self) -> None:
        self._event = anyio.Event()
        self._waiting = 0

    def notify(self) -> None:
        if self._waiting:
            event, self._event = self._event, anyio.Event()
            event.set()

    async def wait_until(
        self,
        predicate: Callable[[], T | None],
        timeout: float | None,
        *,
        abandoned: Callable[[], BaseException | None],
        failed: Callable[[], BaseException | None],
    ) -> T:
        """The first non-None ``predicate()``.

        ``abandoned()`` (checked before the predicate: what it waited on is gone) and ``failed()``
        (after it: what already happened still counts) return the error to raise, or None.
        """
        self._waiting += 1
        try:
            with anyio.fail_after(timeout):
                while True:
                    error = abandoned()
                    if error is None:
                        result = predicate()
                        if result is not None:
                            return result
                        error = failed()
                    if error is not None:
                        raise error
                    await self._event.wait()
        finally:
            self._waiting -= 1


async def wait_in_session(
    changes: Changes, lifecycle: Lifecycle, predicate: Callable[[], T | None], timeout: float | None
) -> T:
    """Wait until ``predicate()`` is not None; a lost session or a close raises its error."""
    generation = lifecycle.generation

    def abandoned() -> BaseException | None:  # the session it waited on is gone
        if lifecycle.generation == generation:
            return None
        return lifecycle.closed_error or lifecycle.drop_error or ConnectionClosedError("connection lost")

    return await changes.wait_until(
        predicate, timeout, abandoned=abandoned, failed=lambda: lifecycle.closed_error
    )
