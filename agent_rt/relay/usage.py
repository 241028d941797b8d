"""Token usage per identity, read from ``response.done``, and the budgets it is checked against.

The ledger lives in the relay's process (the relay keeps nothing else outside a session): with
several workers or hosts each has its own ledger, so a budget is per process unless the
application passes a shared :class:`UsageLedger` subclass (backed by Redis, a database...).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

USAGE_KINDS = (
    "total",
    "input",
    "output",
    "input_text",
    "input_audio",
    "input_cached",
    "output_text",
    "output_audio",
)


def usage_of(response: Mapping[str, Any]) -> Counter[str]:
    """Token counts of one ``response.done``'s ``response`` (GA and beta name them the same)."""
    counts: Counter[str] = Counter()
    usage = response.get("usage")
    if not isinstance(usage, Mapping):
        return counts

    def take(kind: str, value: object) -> None:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            counts[kind] += value

    take("total", usage.get("total_tokens"))
    take("input", usage.get("input_tokens"))
    take("output", usage.get("output_tokens"))
    details_in = usage.get("input_token_details")
    if isinstance(details_in, Mapping):
        take("input_text", details_in.get("text_tokens"))
        take("input_audio", details_in.get("audio_tokens"))
        take("input_cached", details_in.get("cached_tokens"))
    details_out = usage.get("output_token_details")
    if isinstance(details_out, Mapping):
        take("output_text", details_out.get("text_tokens"))
        take("output_audio", details_out.get("audio_tokens"))
    if "total" not in counts and ("input" in counts or "output" in counts):
        counts["total"] = counts["input"] + counts["output"]
    return counts


class UsageLedger:
    """Tokens spent per identity in this process; override :meth:`add` / :meth:`spent` to share it."""

    def __init__(self) -> None:
        self._spent: dict[str, Counter[str]] = {}

    def add(self, identity: str, counts: Mapping[str, int]) -> None:
        self._spent.setdefault(identity, Counter()).update(counts)

    def spent(self, identity: str) -> int:
        """Total tokens ``identity`` used so far."""
        return self._spent.get(identity, Counter())["total"]

    def usage(self, identity: str) -> dict[str, int]:
        return dict(self._spent.get(identity, Counter()))
