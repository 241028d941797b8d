"""ToolBatches: which function calls of which response are answered, and when the follow-up is due.

A response may call several tools. The model gets its outputs and then one new response: the
follow-up ``response.create`` is due once the response is done *and* every call the client took
on has been answered, and it is due exactly once. A pure state machine: the tool runner tells it
what happened and sends the follow-up when it says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ToolBatches"]


@dataclass
class _Batch:
    pending: set[str] = field(default_factory=set)
    answered: int = 0
    done: bool = False


class ToolBatches:
    """Calls per response; ``True`` from a method means: send the one follow-up now."""

    __slots__ = ("_batches", "_response_of")

    def __init__(self) -> None:
        self._batches: dict[str, _Batch] = {}
        self._response_of: dict[str, str] = {}  # call_id -> response_id

    def __repr__(self) -> str:
        return f"<ToolBatches {self._batches!r}>"

    def __len__(self) -> int:
        return len(self._batches)

    def call_started(self, response_id: str | None, call_id: str) -> None:
        """The client took on ``call_id``; ``response_id`` None: not part of a response (done already)."""
        key = response_id if response_id is not None else f"call:{call_id}"
        batch = self._batches.setdefault(key, _Batch())
        if response_id is None:
            batch.done = True
        batch.pending.add(call_id)
        self._response_of[call_id] = key

    def call_finished(self, call_id: str, *, answered: bool) -> bool:
        """``call_id`` ended; ``answered``: its output reached the server. True: follow-up due now."""
        key = self._response_of.pop(call_id, None)
        batch = self._batches.get(key) if key is not None else None
        if batch is None:
            return False
        batch.pending.discard(call_id)
        if answered:
            batch.answered += 1
        return self._settle(key, batch)  # type: ignore[arg-type]

    def response_done(self, response_id: str) -> bool:
        """``response.done`` for ``response_id`` arrived. True: follow-up due now."""
        batch = self._batches.get(response_id)
        if batch is None:
            return False
        batch.done = True
        return self._settle(response_id, batch)

    def _settle(self, key: str, batch: _Batch) -> bool:
        if batch.pending or not batch.done:
            return False
        del self._batches[key]
        return batch.answered > 0

    def pending_calls(self) -> frozenset[str]:
        return frozenset(self._response_of)

    def reset(self) -> None:
        """The session is gone: no follow-up is due for anything of it."""
        self._batches.clear()
        self._response_of.clear()
